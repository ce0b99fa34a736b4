// What each pageblock of a zone holds (the pictures and `pageblocks` counts of
// `mmlab compact`; Linux has no such file, the nearest is /proc/pagetypeinfo's
// "Number of blocks type" and page-types' walks of /proc/kpageflags).
//
// A census walks the descriptors of a PFN range once: a buddy head covers its whole free
// block, every other page met is in use and is movable when compaction could move it
// (on an LRU list, isolated, or anonymous) and unmovable otherwise. Run it at a quiet
// point, or accept a view that is only as exact as racy reads of the flags.

/// The class of one pageblock, as a picture colours it.
public enum PageblockClass: UInt8, CaseIterable, Sendable {
    /// Every page of the block is free.
    case free
    /// Some pages in use, all movable.
    case movable
    /// Some pages in use, all unmovable.
    case unmovable
    /// Both movable and unmovable pages in use.
    case mixed
    /// The block's migratetype is MIGRATE_ISOLATE (hot-remove or alloc_contig_range at work).
    case isolated
    /// No memory here: a hole, or a memory block that is offline.
    case offline

    /// The name used in JSON counts and legends.
    public var name: String {
        switch self {
        case .free: "free"
        case .movable: "movable"
        case .unmovable: "unmovable"
        case .mixed: "mixed"
        case .isolated: "isolated"
        case .offline: "offline"
        }
    }
}

/// Page counts of one pageblock.
public struct PageblockUsage: Sendable, Equatable {
    public var free = 0
    public var movable = 0
    public var unmovable = 0
    /// Pages with no memory behind them: a hole, or an offline memory block.
    public var offline = 0
    public var isolated = false

    /// The class a picture shows for these counts.
    public var pageblockClass: PageblockClass {
        if offline > 0 && free == 0 && movable == 0 && unmovable == 0 { return .offline }
        if isolated { return .isolated }
        if movable > 0 && unmovable > 0 { return .mixed }
        if unmovable > 0 { return .unmovable }
        if movable > 0 { return .movable }
        return .free
    }
}

/// The pageblocks of one zone, in PFN order.
public struct PageblockCensus: Sendable {
    public let startPFN: PFN
    public let usage: [PageblockUsage]

    /// Walks the pageblocks of `zone`; the zone's holes and the PFN ranges in `absent`
    /// (offline memory blocks) count as offline.
    public init(_ zone: Zone, absent: [Range<PFN>] = []) {
        let start = zone.startPFN, end = zone.endPFN
        precondition(Int(start) % pageblockPages == 0 && Int(end) % pageblockPages == 0, "zone \(zone.name) not pageblock aligned")
        let d = zone.d
        startPFN = start
        let n = Int(end - start) / pageblockPages
        var u = [PageblockUsage](repeating: PageblockUsage(), count: n)
        for b in 0..<n {
            u[b].isolated = zone.pageblockType(of: start + PFN(b * pageblockPages)) == .isolate
        }
        // Pages with no memory, clipped to the zone, sorted: the walk jumps over them.
        let gaps = (zone.holes + absent).compactMap { r -> Range<Int>? in
            let lo = max(Int(r.lowerBound), Int(start)), hi = min(Int(r.upperBound), Int(end))
            return lo < hi ? lo..<hi : nil
        }.sorted { $0.lowerBound < $1.lowerBound }
        var nextGap = 0
        let movableBits = PageFlag.lru | PageFlag.isolated | PageFlag.anon
        var p = Int(start)
        let stop = Int(end)
        /// Adds `len` pages from `p` to the pageblocks they cover.
        func spread(_ p: Int, _ len: Int, _ field: WritableKeyPath<PageblockUsage, Int>) {
            var q = p
            while q < p + len {
                let b = (q - Int(start)) / pageblockPages
                let inBlock = min(p + len, Int(start) + (b + 1) * pageblockPages) - q
                u[b][keyPath: field] += inBlock
                q += inBlock
            }
        }
        while p < stop {
            while nextGap < gaps.count && gaps[nextGap].upperBound <= p { nextGap += 1 }
            if nextGap < gaps.count && gaps[nextGap].lowerBound <= p {
                let len = gaps[nextGap].upperBound - p
                spread(p, len, \.offline)
                p += len
                continue
            }
            let f = d.flags(PFN(p))
            if f & PageFlag.buddy != 0 {
                // A free block may span several pageblocks (order 10 = two).
                let len = min(1 << d.buddyOrder(PFN(p)), stop - p)
                spread(p, len, \.free)
                p += len
                continue
            }
            let b = (p - Int(start)) / pageblockPages
            // A tail page is what its folio's head is (racy read of compound_head).
            let named = f & PageFlag.tail != 0 ? d.compoundHead(PFN(p)) : PFN(p)
            let h = Int(named) < d.count ? named : PFN(p)
            let hf = h == PFN(p) ? f : d.flags(h)
            if hf & movableBits != 0 || d.mapping(h) != 0 { u[b].movable += 1 } else { u[b].unmovable += 1 }
            p += 1
        }
        usage = u
    }

    /// The census of `zone` with the offline memory blocks of `phys` counted as offline.
    public init(_ zone: Zone, in phys: PhysicalMemory) {
        self.init(zone, absent: phys.blocks.filter { $0.state == .offline && $0.endPFN > zone.startPFN && $0.startPFN < zone.endPFN }
            .map { $0.startPFN..<$0.endPFN })
    }

    /// The class of every pageblock.
    public var classes: [PageblockClass] { usage.map(\.pageblockClass) }

    /// How many pageblocks of each class.
    public var counts: [PageblockClass: Int] {
        var c: [PageblockClass: Int] = [:]
        for k in PageblockClass.allCases { c[k] = 0 }
        for x in usage { c[x.pageblockClass, default: 0] += 1 }
        return c
    }
}
