// `mmlab compact` (docs/COMPACTION.md): build a machine, fragment it, compact it, verify it, and
// report buddyinfo, Linux's fragmentation indices, pageblock classes and counters before
// and after — as text, as one JSON object, and as a picture.

import CMMSupport
import MMCheck
import MMPhysical
import MMSpace
import MMSync

/// Parameters of one `mmlab compact` run.
public struct CompactOptions: Sendable {
    public var nodes = 1
    /// Total memory, split evenly across nodes (as `mmlab stress`).
    public var memBytes = 1 << 30
    public var content: ContentMode = .full
    /// Size of the Movable zone at the top of each node (0: none).
    public var movableBytes = 0
    public var seed: UInt64 = 1
    public var fragment: FragmentKind = .alternate
    /// Request order; nil: full compaction (Linux: /proc/sys/vm/compact_memory, order -1).
    public var order: Int?
    public var mode: CompactModeName = .sync
    /// Let kcompactd's proactive compaction alone do the work, until it sleeps.
    public var proactive = false
    public init() {}

    /// The machine these options describe (one owner of the geometry: MachineConfig).
    public var machineConfig: MachineConfig {
        MachineConfig(nodes: nodes, nodeMemBytes: memBytes / max(1, nodes), content: content, movableBytes: movableBytes)
    }

    /// Why these options cannot run, or nil.
    public var problem: String? {
        if movableBytes < 0 { return "--movable must not be negative" }
        if let o = order, o < 0 || o > maxOrder { return "--order must be 0…\(maxOrder) (leave it out for full compaction)" }
        if let p = MachineConfig.problemSplitting(totalBytes: memBytes, nodes: nodes) { return "--nodes/--mem: \(p)" }
        if let p = machineConfig.problem { return "--movable: \(p)" }
        return nil
    }
}

/// Compaction modes with Linux's names (Linux: enum migrate_mode).
public enum CompactModeName: String, Sendable, CaseIterable {
    case async, syncLight = "sync-light", sync
}

/// One zone at one moment: its free lists, Linux's indices over them, and its pageblocks.
public struct ZoneState: Sendable {
    public let node: Int
    public let zone: String
    public let startPFN: PFN
    public let presentPages: Int
    /// Free blocks per order 0…10 (a /proc/buddyinfo row).
    public let free: [Int]
    public let census: PageblockCensus

    init(_ z: Zone, _ phys: PhysicalMemory) {
        node = z.node
        zone = CompactEngine.zoneName(z)
        startPFN = z.startPFN
        presentPages = CompactEngine.presentPages(z)
        free = z.freeBlockCounts()
        census = PageblockCensus(z, in: phys)
    }

    public var extfrag: [Int] { FragmentationIndex.extfragRow(free) }
    public var unusable: [Int] { FragmentationIndex.unusableRow(free) }
    /// Linux: fragmentation_score_zone().
    public var score: Int { FragmentationIndex.scoreZone(freeBlocks: free) }
    public var freePages: Int { free.enumerated().reduce(0) { $0 + $1.element << $1.offset } }
    /// Free blocks of order ≥ 9, counted in order-9 units.
    public var freeHugeBlocks: Int { free.enumerated().reduce(0) { $1.offset >= 9 ? $0 + $1.element << ($1.offset - 9) : $0 } }

    /// `{"node":…,"zone":…,"free":[…],"extfrag_index":[…],"unusable_index":[…],"fragmentation_score":N}`
    var json: JSONValue {
        .object([
            ("node", .int(node)), ("zone", .string(zone)), ("free", .array(free.map { .int($0) })),
            ("extfrag_index", .array(extfrag.map { .int($0) })), ("unusable_index", .array(unusable.map { .int($0) })),
            ("fragmentation_score", .int(score)),
        ])
    }
}

/// Every zone of a machine at one moment.
public struct MachineState: Sendable {
    public let zones: [ZoneState]

    /// Reads a quiet machine.
    public init(_ m: Machine) { zones = m.phys.zones.map { ZoneState($0, m.phys) } }

    /// Linux: fragmentation_score_node() of each node.
    public var nodeScores: [Int] {
        let nodes = Set(zones.map(\.node)).sorted()
        return nodes.map { n in FragmentationIndex.scoreNode(zones.filter { $0.node == n }.map { ($0.free, $0.presentPages) }) }
    }
    public var freeHugeBlocks: Int { zones.reduce(0) { $0 + $1.freeHugeBlocks } }
    public var freePages: Int { zones.reduce(0) { $0 + $1.freePages } }
    public var pageblockCounts: [PageblockClass: Int] {
        var c: [PageblockClass: Int] = [:]
        for z in zones { for (k, v) in z.census.counts { c[k, default: 0] += v } }
        return c
    }
    public var pageblockTotal: Int { zones.reduce(0) { $0 + $1.census.usage.count } }

    /// `{"buddyinfo":[…],"pageblocks":{…}}`
    var json: JSONValue {
        let c = pageblockCounts
        return .object([
            ("buddyinfo", .array(zones.map(\.json))),
            ("pageblocks", .object([("total", .int(pageblockTotal))] + [PageblockClass.free, .movable, .unmovable, .mixed, .isolated].map {
                ($0.name, .int(c[$0] ?? 0))
            })),
        ])
    }

    /// The /proc/buddyinfo layout (`Node 0, zone   Normal` then `%6lu ` per order).
    public var buddyinfoLines: [String] {
        zones.map { z in Self.rowHead(z) + z.free.map { String($0).leftPad(6) + " " }.joined() }
    }
    /// The /sys/kernel/debug/extfrag/extfrag_index layout.
    public var extfragLines: [String] {
        zones.map { z in Self.rowHead(z) + z.extfrag.map { FragmentationIndex.formatExtfrag($0) + " " }.joined() }
    }
    /// The /sys/kernel/debug/extfrag/unusable_index layout.
    public var unusableLines: [String] {
        zones.map { z in Self.rowHead(z) + z.unusable.map { FragmentationIndex.formatUnusable($0) + " " }.joined() }
    }
    static func rowHead(_ z: ZoneState) -> String { "Node \(z.node), zone \(z.zone.leftPad(8)) " }
}

/// One zone's compaction result as the report shows it (from MMCompaction's CompactResult).
public struct ZoneCompaction: Sendable {
    public var node: Int
    public var zone: String
    public var status: String
    public var migratePFN: Int
    public var freePFN: Int
    public var pagesMigrated: Int
    public var pagesFailed: Int
    public var migrateScanned: Int
    public var freeScanned: Int

    var json: JSONValue {
        .object([("node", .int(node)), ("zone", .string(zone)), ("status", .string(status)),
                 ("migrate_pfn", .int(migratePFN)), ("free_pfn", .int(freePFN))])
    }
}
