// The model's copy of Linux's compaction tracepoints (include/trace/events/compaction.h:
// mm_compaction_begin / _end, _isolate_migratepages, _isolate_freepages,
// _migratepages). A run given a trace records one event where Linux fires one, with
// the same fields, and prints them in the kernel's own text format: a replayed
// snapshot's trace can then be set line by line beside the kernel's (`mmlab kernel
// compact` keeps both; docs/FIDELITY.md). Recording costs nothing when no trace is given.

import MMPhysical

/// Events of compaction runs, in the order they happened. Bounded: past `limit` events
/// the rest are counted, not kept.
public final class CompactionTrace {
    public enum Event: Equatable, Sendable {
        /// Linux: trace_mm_compaction_begin() (zone start, scanners, zone end, sync?).
        case begin(zoneStart: PFN, migratePFN: PFN, freePFN: PFN, zoneEnd: PFN, sync: Bool)
        /// Linux: trace_mm_compaction_end(), with the run's result.
        case end(zoneStart: PFN, migratePFN: PFN, freePFN: PFN, zoneEnd: PFN, sync: Bool, status: CompactStatus)
        /// Linux: trace_mm_compaction_isolate_migratepages(): one call of the block helper.
        case isolateMigrate(start: PFN, end: PFN, scanned: Int, taken: Int)
        /// Linux: trace_mm_compaction_isolate_freepages(): one call of the block helper.
        case isolateFree(start: PFN, end: PFN, scanned: Int, taken: Int)
        /// Linux: trace_mm_compaction_migratepages(): one migrate_pages() batch.
        case migratepages(migrated: Int, failed: Int)
    }

    public private(set) var events: [Event] = []
    /// Events past `limit`, not kept.
    public private(set) var dropped = 0
    public let limit: Int

    public init(limit: Int = 4 << 20) { self.limit = max(0, limit) }

    func record(_ e: Event) {
        if events.count < limit { events.append(e) } else { dropped += 1 }
    }

    /// One line per event, as the kernel's trace prints the event's own part
    /// (`mm_compaction_isolate_freepages: range=(0x… ~ 0x…) nr_scanned=N nr_taken=N`).
    public var text: String {
        var out = ""
        out.reserveCapacity(events.count * 80)
        for e in events { out += Self.line(e); out += "\n" }
        if dropped > 0 { out += "# \(dropped) more events not kept (limit \(limit))\n" }
        return out
    }

    static func hex(_ p: PFN) -> String { "0x" + String(p, radix: 16) }

    static func line(_ e: Event) -> String {
        switch e {
        case let .begin(zs, m, f, ze, sync):
            "mm_compaction_begin: zone_start=\(hex(zs)) migrate_pfn=\(hex(m)) free_pfn=\(hex(f)) zone_end=\(hex(ze)), mode=\(sync ? "sync" : "async")"
        case let .end(zs, m, f, ze, sync, status):
            "mm_compaction_end: zone_start=\(hex(zs)) migrate_pfn=\(hex(m)) free_pfn=\(hex(f)) zone_end=\(hex(ze)), mode=\(sync ? "sync" : "async") status=\(status.name)"
        case let .isolateMigrate(s, end, n, t):
            "mm_compaction_isolate_migratepages: range=(\(hex(s)) ~ \(hex(end))) nr_scanned=\(n) nr_taken=\(t)"
        case let .isolateFree(s, end, n, t):
            "mm_compaction_isolate_freepages: range=(\(hex(s)) ~ \(hex(end))) nr_scanned=\(n) nr_taken=\(t)"
        case let .migratepages(m, f):
            "mm_compaction_migratepages: nr_migrated=\(m) nr_failed=\(f)"
        }
    }
}
