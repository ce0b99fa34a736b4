// The one place `mmlab compact` and the demo call the compaction engine (module
// MMCompaction, issue 9 items 2–5) and read the zone topology.

import CMMSupport
import MMCompaction
import MMMigrate
import MMPhysical
import MMSpace
import MMSync
#if canImport(Glibc)
import Glibc
#endif

/// What one compaction request did, zone by zone.
public struct CompactionRun: Sendable {
    public var zones: [ZoneCompaction]
    /// Wall-clock seconds the request took.
    public var seconds: Double
    /// Proactive runs: rounds kcompactd ran before it went back to sleep.
    public var proactiveRounds: Int?
}

/// The compaction entry points as the report uses them.
public enum CompactEngine {
    /// Why the engine cannot run in this build, or nil.
    public static var unavailable: String? { nil }

    /// Runs the compaction `o` asks for on a quiet, fragmented machine.
    public static func run(_ m: Machine, _ o: CompactOptions) -> CompactionRun? {
        let t0 = mm_now_ns()
        var rounds: Int?
        let results: [CompactResult]
        if o.proactive {
            let (r, n) = proactive(m)
            results = r
            rounds = n
        } else if o.order == nil && o.mode == .sync {
            results = Compaction.compactMemory(machine: m)
        } else {
            let mode = MigrateMode(rawValue: o.mode.rawValue) ?? .sync
            results = (0..<m.config.nodes).flatMap { Compaction.compactNode(machine: m, node: $0, order: o.order, mode: mode) }
        }
        return CompactionRun(zones: results.map(ZoneCompaction.init), seconds: Double(mm_now_ns() - t0) / 1e9, proactiveRounds: rounds)
    }

    /// Starts kcompactd on every node and waits until all of them sleep: every wait
    /// queue occupied and no proactive round begun for 2.4 check intervals (kcompactd
    /// checks every 500 ms; after a round without progress it backs off 64 intervals, as
    /// Linux's does), or until `proactiveLimitNs`. kcompactd keeps no per-zone results,
    /// so none are returned; the rounds it ran are.
    static func proactive(_ m: Machine) -> ([CompactResult], Int) {
        let k = Kcompactd(machine: m)
        let t0 = mm_now_ns()
        let settle = Kcompactd.defaultIntervalNs * 12 / 5
        var lastRounds = -1, since = t0
        while mm_now_ns() - t0 < proactiveLimitNs {
            usleep(20_000)
            let now = mm_now_ns(), rounds = k.proactiveRounds
            let asleep = m.phys.nodes.allSatisfy { $0.kcompactdWait.hasSleeper }
            if rounds != lastRounds || !asleep { lastRounds = rounds; since = now }
            if now - since >= settle { break }
        }
        k.stop()
        return ([], k.proactiveRounds)
    }

    /// How long `--proactive` waits for kcompactd to go to sleep.
    static let proactiveLimitNs: UInt64 = 120_000_000_000

    /// Linux: compact_memory — every zone of every node, order -1, sync. May run while
    /// processes work.
    public static func compactMemory(_ m: Machine) -> [ZoneCompaction]? {
        Compaction.compactMemory(machine: m).map(ZoneCompaction.init)
    }

    /// Starts one kcompactd per node and returns the function that stops them.
    public static func startKcompactd(_ m: Machine) -> (() -> Void)? {
        let k = Kcompactd(machine: m)
        return { k.stop() }
    }

    /// The zone's name as /proc/zoneinfo prints it.
    public static func zoneName(_ z: Zone) -> String { z.name }

    /// Pages of the zone backed by memory (Linux: zone->present_pages).
    public static func presentPages(_ z: Zone) -> Int { z.presentPages }
}

extension ZoneCompaction {
    init(_ r: CompactResult) {
        self.init(node: r.node, zone: r.zone, status: r.status.name, migratePFN: Int(r.migratePFN), freePFN: Int(r.freePFN),
                  pagesMigrated: r.pagesMigrated, pagesFailed: r.pagesFailed, migrateScanned: r.migrateScanned, freeScanned: r.freeScanned)
    }
}
