// Fragmentation indices (Linux: mm/vmstat.c fill_contig_page_info, __fragmentation_index,
// unusable_free_index, extfrag_for_order) and the proactive-compaction fragmentation
// score (Linux: mm/compaction.c fragmentation_score_zone, _zone_weighted, _node).
//
// Pure integer functions over one zone's free-block counts per order (a /proc/buddyinfo
// row), with Linux's integer semantics: the two indices are kept ×1000 (1000 means 1.000),
// the extfrag percentage and the score are 0…100. Nothing here takes a lock: callers pass
// counts they read under the zone lock (Zone.freeBlockCounts()).

/// Free memory of a zone seen from one request order (Linux: struct contig_page_info).
public struct ContigPageInfo: Sendable, Equatable {
    /// Free base pages.
    public var freePages: Int
    /// Free blocks of every order.
    public var freeBlocksTotal: Int
    /// How many blocks of the request order the free blocks of that order or above make.
    public var freeBlocksSuitable: Int

    /// Linux: fill_contig_page_info(). `freeBlocks[o]` is the count of free order-o blocks;
    /// orders beyond the list count as empty.
    public init(freeBlocks: [Int], suitableOrder: Int) {
        precondition(suitableOrder >= 0 && suitableOrder <= maxOrder, "suitable order \(suitableOrder) outside 0…\(maxOrder)")
        precondition(freeBlocks.count <= maxOrder + 1, "free-block row of \(freeBlocks.count) orders, at most \(maxOrder + 1)")
        var pages = 0, total = 0, suitable = 0
        for (order, blocks) in freeBlocks.enumerated() {
            precondition(blocks >= 0, "negative free-block count \(blocks) at order \(order)")
            total += blocks
            pages += blocks << order
            if order >= suitableOrder { suitable += blocks << (order - suitableOrder) }
        }
        freePages = pages
        freeBlocksTotal = total
        freeBlocksSuitable = suitable
    }
}

/// Linux's fragmentation indices and score (values exactly as the kernel computes them).
public enum FragmentationIndex {
    /// Linux: COMPACTION_HPAGE_ORDER (the order the proactive score is measured at).
    public static let hpageOrder = pageblockOrder

    /// Linux: __fragmentation_index(). ×1000: 0 when the zone has no free block at all,
    /// -1000 when a block of `order` exists (the request would not fail), else a value
    /// towards 1000 the more the failure is due to fragmentation rather than lack of memory.
    public static func extfrag(order: Int, _ info: ContigPageInfo) -> Int {
        guard order >= 0, order <= maxOrder else { return 0 }   // Linux warns and returns 0
        if info.freeBlocksTotal == 0 { return 0 }
        if info.freeBlocksSuitable > 0 { return -1000 }
        let requested = 1 << order
        return 1000 - (1000 + info.freePages * 1000 / requested) / info.freeBlocksTotal
    }

    /// Linux: unusable_free_index(). ×1000: the share of free memory that cannot serve a
    /// request of `order`; 1000 when nothing is free.
    public static func unusable(order: Int, _ info: ContigPageInfo) -> Int {
        if info.freePages == 0 { return 1000 }
        return (info.freePages - (info.freeBlocksSuitable << order)) * 1000 / info.freePages
    }

    /// Linux: extfrag_for_order(). Percent (0…100) of free memory in blocks below `order`;
    /// 0 when nothing is free.
    public static func extfragPercent(freeBlocks: [Int], order: Int) -> Int {
        let info = ContigPageInfo(freeBlocks: freeBlocks, suitableOrder: order)
        if info.freePages == 0 { return 0 }
        return (info.freePages - (info.freeBlocksSuitable << order)) * 100 / info.freePages
    }

    /// The extfrag index for every order 0…10 (one /sys/kernel/debug/extfrag/extfrag_index row).
    public static func extfragRow(_ freeBlocks: [Int]) -> [Int] {
        (0...maxOrder).map { extfrag(order: $0, ContigPageInfo(freeBlocks: freeBlocks, suitableOrder: $0)) }
    }

    /// The unusable index for every order 0…10 (one …/extfrag/unusable_index row).
    public static func unusableRow(_ freeBlocks: [Int]) -> [Int] {
        (0...maxOrder).map { unusable(order: $0, ContigPageInfo(freeBlocks: freeBlocks, suitableOrder: $0)) }
    }

    /// Linux: fragmentation_score_zone(): extfrag_for_order at COMPACTION_HPAGE_ORDER.
    public static func scoreZone(freeBlocks: [Int]) -> Int {
        extfragPercent(freeBlocks: freeBlocks, order: hpageOrder)
    }

    /// Linux: fragmentation_score_zone_weighted(): the zone's score scaled by its share of
    /// the node's present pages (the +1 keeps an empty node from dividing by zero).
    public static func scoreZoneWeighted(freeBlocks: [Int], presentPages: Int, nodePresentPages: Int) -> Int {
        precondition(presentPages >= 0 && presentPages <= nodePresentPages, "zone present \(presentPages) > node present \(nodePresentPages)")
        return presentPages * scoreZone(freeBlocks: freeBlocks) / (nodePresentPages + 1)
    }

    /// Linux: fragmentation_score_node(): the sum of the weighted scores of the node's
    /// populated zones. `zones` holds each zone's free-block row and present pages.
    public static func scoreNode(_ zones: [(freeBlocks: [Int], presentPages: Int)]) -> Int {
        let nodePresent = zones.reduce(0) { $0 + $1.presentPages }
        return zones.filter { $0.presentPages > 0 }.reduce(0) {
            $0 + scoreZoneWeighted(freeBlocks: $1.freeBlocks, presentPages: $1.presentPages, nodePresentPages: nodePresent)
        }
    }

    /// One index as Linux prints it in extfrag_index (`%2d.%03d` of v/1000 and v%1000:
    /// ` 0.972`, `-1.000`; C's truncating division, so -500 prints ` 0.-500` there too).
    public static func formatExtfrag(_ v: Int) -> String {
        String(v / 1000).leftPadded(2) + "." + zeroPadded3(v % 1000)
    }

    /// One index as Linux prints it in unusable_index (`%d.%03d`: `0.500`, `1.000`).
    public static func formatUnusable(_ v: Int) -> String {
        String(v / 1000) + "." + zeroPadded3(v % 1000)
    }

    /// printf's `%03d`: width 3 counting the sign, zeros after it.
    static func zeroPadded3(_ v: Int) -> String {
        let digits = String(v.magnitude)
        let width = v < 0 ? 2 : 3
        return (v < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

extension String {
    /// Pads on the left with spaces to `n` characters (printf's `%Nd`).
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
