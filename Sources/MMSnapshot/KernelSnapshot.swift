// A real machine's physical memory map, read back from a snapshot directory written by
// `mmlab snapshot` (docs/SNAPSHOT.md): zones, holes, one class byte per PFN, the
// inferred migratetype of every pageblock, and the kernel's own buddyinfo and vmstat.

/// Pageblock migratetypes as /proc/pagetypeinfo names them (Linux: migratetype_names[]).
public enum PageblockType: UInt8, Sendable, CaseIterable {
    case unmovable = 0, movable, reclaimable, highAtomic, cma, isolate
    /// Not counted by pagetypeinfo: outside every zone, wholly a hole, or past the
    /// zone's initialised end.
    case none

    /// The column name in /proc/pagetypeinfo.
    public var procName: String {
        switch self {
        case .unmovable: "Unmovable"
        case .movable: "Movable"
        case .reclaimable: "Reclaimable"
        case .highAtomic: "HighAtomic"
        case .cma: "CMA"
        case .isolate: "Isolate"
        case .none: "none"
        }
    }
}

/// One zone of the snapshot.
public struct SnapshotZone: Sendable, Equatable {
    public var info: ZoneInfo
    /// One past the last initialised PFN (lazy memory init: see docs/SNAPSHOT.md).
    public var initialisedEnd: Int
    /// Pageblocks per migratetype as /proc/pagetypeinfo counted them (empty when the
    /// file has no line for this zone).
    public var pagetypeBlocks: [String: Int]
    /// The same totals over the inferred per-pageblock types (equal to
    /// `pagetypeBlocks` whenever `inferenceMatches`).
    public var inferredBlocks: [String: Int]
    public var inferenceMatches: Bool
    public var node: Int { info.node }
    public var name: String { info.name }
    public var startPFN: Int { info.startPFN }
    public var endPFN: Int { info.endPFN }
}

/// Read-time metadata from snapshot.json.
public struct SnapshotMeta: Sendable, Equatable {
    public var kernelRelease: String
    public var timeUTC: String
    /// Seconds each capture step took, by file name.
    public var readSeconds: [String: Double]
}

/// A snapshot of a machine's physical memory, ready for a replay.
public struct KernelSnapshot: Sendable {
    public var meta: SnapshotMeta?
    public var pfnCount: Int
    public var pageblockOrder: Int
    public var zones: [SnapshotZone]
    /// System RAM from iomem, and the PFN ranges below `pfnCount` that are not RAM.
    public var ram: [PFNRange]
    public var holes: [PFNRange]
    /// One `PageCell` byte per PFN.
    public var cells: [UInt8]
    /// One `PageblockType` byte per pageblock (index = PFN >> pageblockOrder).
    public var pageblockTypes: [UInt8]
    public var buddyinfo: [BuddyInfoLine]
    public var vmstat: [String: Int]
    public var meminfo: [String: Int]
    /// Counts over every PFN.
    public var counts: ClassCounts
    /// Every file folio head with its dirty / writeback / locked / private bits (FileFolios.swift).
    public var fileFolios = FileFolioTable()
    /// How long `load` took: "read" (files read, page arrays decompressed, text parsed)
    /// and "classify" (classification and pageblock inference), in seconds.
    public var loadSeconds: [(phase: String, seconds: Double)] = []

    public var pageblockPages: Int { 1 << pageblockOrder }

    public func cell(_ pfn: Int) -> PageCell { PageCell(raw: cells[pfn]) }

    public func pageblockType(ofPFN pfn: Int) -> PageblockType {
        PageblockType(rawValue: pageblockTypes[pfn >> pageblockOrder]) ?? .none
    }

    /// Class counts over one zone's span.
    public func counts(zone z: SnapshotZone) -> ClassCounts {
        var c = ClassCounts()
        for pfn in z.startPFN..<min(z.endPFN, pfnCount) { c.pages[Int(cells[pfn] & 0xF)] += 1 }
        return c
    }

    /// Free buddy blocks per order in one zone, from the classification (compare with
    /// the kernel's `buddyinfo` line for the zone).
    public func derivedBuddyinfo(zone z: SnapshotZone) -> [Int] {
        var free = [Int](repeating: 0, count: PageClassifier.maxOrder + 1)
        for pfn in z.startPFN..<min(z.endPFN, pfnCount) {
            let c = PageCell(raw: cells[pfn])
            if c.cls == .buddy, let o = c.headOrder, o < free.count { free[o] += 1 }
        }
        return free
    }

    /// Pageblocks of the zone's initialised part whose every page is free: in the buddy,
    /// or (with `countZeroFree`) also "flags 0, count 0".
    public func whollyFreePageblocks(zone z: SnapshotZone, countZeroFree: Bool) -> Int {
        Self.whollyFreePageblocks(cells: cells, from: z.startPFN, to: min(z.initialisedEnd, pfnCount),
                                  order: pageblockOrder, countZeroFree: countZeroFree)
    }

    /// The same count over any class array (e.g. the kernel's state after compaction).
    public static func whollyFreePageblocks(cells: [UInt8], from start: Int, to end: Int, order: Int, countZeroFree: Bool) -> Int {
        let size = 1 << order
        var block = (start + size - 1) & ~(size - 1)
        var n = 0
        while block + size <= min(end, cells.count) {
            var free = true
            for pfn in block..<(block + size) {
                let cls = cells[pfn] & 0xF
                if !(cls == PageClass.buddy.rawValue || (countZeroFree && cls == PageClass.zeroFree.rawValue)) { free = false; break }
            }
            if free { n += 1 }
            block += size
        }
        return n
    }

    /// The kernel's buddyinfo line for a zone, if the snapshot has one.
    public func kernelBuddyinfo(zone z: SnapshotZone) -> [Int]? {
        buddyinfo.first { $0.node == z.node && $0.zone == z.name }?.free
    }
}
