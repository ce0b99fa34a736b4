// The control block of one compaction run (Linux: struct compact_control in
// mm/internal.h) and its result codes (Linux: enum compact_result). Every helper of
// compaction takes the control block; policy is its fields, not copied functions.
//
// Compaction heavily depends on page migration (MMMigrate): it only chooses which
// pages move (the migrate scanner) and where to (the free scanner).

import MMMigrate
import MMPhysical
import MMSpace

/// Linux: enum compact_result, in Linux's order (callers take the maximum over zones).
public enum CompactStatus: Int, Sendable, Comparable, CaseIterable {
    /// The zone's fragmentation index says a failure would be for lack of memory.
    case notSuitableZone = 0
    /// Not enough free memory above the watermark to compact at all.
    case skipped
    /// Deferred after recent failures (defer_compaction).
    case deferred
    /// Internal: no free block of the order yet (becomes `.continue`).
    case noSuitablePage
    /// Internal: keep going.
    case `continue`
    /// The scanners met on a whole-zone run.
    case complete
    /// The scanners met on a run that started at the cached positions.
    case partialSkipped
    /// Async compaction met a held lock, or migration ran out of targets early.
    case contended
    /// A free block of the requested order exists (or the proactive target was met).
    case success

    /// The name used in `--json` and reports.
    public var name: String {
        switch self {
        case .notSuitableZone: "not_suitable_zone"
        case .skipped: "skipped"
        case .deferred: "deferred"
        case .noSuitablePage: "no_suitable_page"
        case .continue: "continue"
        case .complete: "complete"
        case .partialSkipped: "partial_skipped"
        case .contended: "contended"
        case .success: "success"
        }
    }

    public static func < (a: CompactStatus, b: CompactStatus) -> Bool { a.rawValue < b.rawValue }
}

/// What one compaction run of one zone did (the report and `compact` statement read it).
public struct CompactResult: Sendable, Equatable {
    public var node: Int
    /// Zone name: "DMA32", "Normal" or "Movable".
    public var zone: String
    public var status: CompactStatus
    /// Where the migrate scanner ended.
    public var migratePFN: PFN
    /// Where the free scanner ended.
    public var freePFN: PFN
    public var pagesMigrated: Int
    public var pagesFailed: Int
    public var migrateScanned: Int
    public var freeScanned: Int
    /// Pages isolated by both scanners (Linux: compact_isolated).
    public var pagesIsolated: Int
}

/// Linux: struct compact_control. One per run of one zone.
public final class CompactControl {
    public let machine: Machine
    public let zone: Zone
    /// The order the run works for; -1 compacts the whole zone (Linux: compact_memory).
    public let order: Int
    public let mode: MigrateMode
    /// Migratetype of the allocation the run is for (movable unless a kernel allocation).
    public let migratetype: MigrateType
    /// Scan the whole zone from its ends rather than from the cached positions.
    public var wholeZone: Bool
    /// Ignore (but still set) pageblock skip hints.
    public var ignoreSkipHint: Bool
    /// Take free targets from any pageblock, not only movable ones (Linux: MIN_COMPACT_PRIORITY).
    public var ignoreBlockSuitable = false
    /// Run on behalf of a failing allocation (Linux: direct_compaction).
    public var directCompaction = false
    /// Run by kcompactd's proactive compaction: ends when the zone's score is low enough.
    public var proactiveCompaction = false

    /// The migrate scanner's position: it walks up from the zone start.
    public internal(set) var migratePFN: PFN = 0
    /// The free scanner's position (a pageblock start): it walks down from the zone end.
    public internal(set) var freePFN: PFN = 0
    /// Isolated folios waiting to migrate (at most `clusterMax` pages unless finishing a block).
    var migratepages: [PFN] = []
    /// Base pages in `migratepages` (Linux: cc->nr_migratepages counts pages).
    var nrMigratePages = 0
    /// Isolated free blocks kept at their buddy order, one list per order (Linux 6.x:
    /// cc->freepages[order]); every page of a block has refcount 0 and no flags.
    var freepages: [[PFN]] = Array(repeating: [], count: maxOrder + 1)
    /// Base pages in `freepages` (Linux: cc->nr_freepages).
    var nrFreePages = 0
    /// Isolate the rest of the current pageblock in one go (Linux: finish_pageblock).
    var finishPageblock = false
    /// Async: a lock was held by someone else (Linux: cc->contended).
    public internal(set) var contended = false

    public internal(set) var totalMigrateScanned = 0
    public internal(set) var totalFreeScanned = 0
    public internal(set) var pagesIsolated = 0
    public internal(set) var pagesMigrated = 0
    public internal(set) var pagesFailed = 0

    /// The migration engine the run uses (kernel context, the machine's pin policy).
    var migrator: Migrator
    /// The compacting CPU's per-CPU list of this zone, when the machine models one (a
    /// replayed snapshot, MMPhysical/PerCPULists.swift): each migrated page's freed
    /// source may push a held free page into the buddy. Nil: frees go to the buddy.
    public var pcp: PerCPULists?
    /// Where the run records Linux's compaction tracepoints (CompactionTrace.swift); nil: none.
    public var trace: CompactionTrace?

    /// Linux: COMPACT_CLUSTER_MAX (= SWAP_CLUSTER_MAX): pages isolated per batch.
    public static let clusterMax = 32

    public init(machine: Machine, zone: Zone, order: Int, mode: MigrateMode, migratetype: MigrateType = .movable,
                wholeZone: Bool, ignoreSkipHint: Bool, migrator: Migrator? = nil) {
        precondition(order >= -1 && order <= maxOrder, "compaction of order \(order)")
        self.machine = machine
        self.zone = zone
        self.order = order
        self.mode = mode
        self.migratetype = migratetype
        self.wholeZone = wholeZone
        self.ignoreSkipHint = ignoreSkipHint
        self.migrator = migrator ?? Self.defaultMigrator(machine)
    }

    /// Compaction's engine when the caller gives none: Linux 6.3+ migrates a list as
    /// batches (migrate_pages_batch, NR_MAX_BATCHED_MIGRATION = 512 folios), so a
    /// compaction list of at most `clusterMax` pages is unmapped, copied and remapped as one.
    static func defaultMigrator(_ machine: Machine) -> Migrator {
        var m = Migrator(machine)
        m.batchSize = Migrator.maxBatch
        return m
    }

    /// The result record of this run, with `status`.
    func result(_ status: CompactStatus) -> CompactResult {
        CompactResult(node: zone.node, zone: zone.name, status: status, migratePFN: migratePFN, freePFN: freePFN,
                      pagesMigrated: pagesMigrated, pagesFailed: pagesFailed, migrateScanned: totalMigrateScanned,
                      freeScanned: totalFreeScanned, pagesIsolated: pagesIsolated)
    }
}

/// Pageblock arithmetic (Linux: pageblock_start_pfn, pageblock_end_pfn, pageblock_aligned).
@inline(__always) func pageblockStart(_ pfn: PFN) -> PFN { pfn & ~PFN(pageblockPages - 1) }
@inline(__always) func pageblockEnd(_ pfn: PFN) -> PFN { pageblockStart(pfn) + PFN(pageblockPages) }
@inline(__always) func pageblockAligned(_ pfn: PFN) -> Bool { pfn & PFN(pageblockPages - 1) == 0 }
