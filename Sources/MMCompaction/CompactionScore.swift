// The fragmentation figures compaction decides by (Linux: mm/vmstat.c
// fill_contig_page_info, __fragmentation_index, extfrag_for_order; mm/compaction.c
// fragmentation_score_zone/_weighted/_node, fragmentation_score_wmark). Integer
// arithmetic exactly as Linux does it. Internal: the report's own copy of the index
// formulas lives in MMPhysical/FragmentationIndex.swift on the report branch.

import MMPhysical
import MMSpace

/// Linux: struct contig_page_info.
struct ContigPageInfo: Equatable {
    var freePages = 0
    var freeBlocksTotal = 0
    var freeBlocksSuitable = 0
}

/// Linux: fill_contig_page_info() from a buddyinfo row (free blocks per order 0…10).
func contigPageInfo(_ freeBlocks: [Int], order: Int) -> ContigPageInfo {
    var info = ContigPageInfo()
    for (o, blocks) in freeBlocks.enumerated() {
        info.freeBlocksTotal += blocks
        info.freePages += blocks << o
        if o >= order { info.freeBlocksSuitable += blocks << (o - order) }
    }
    return info
}

/// Linux: __fragmentation_index(), ×1000: -1000 when a block of `order` is free, 0 when
/// nothing is free, towards 1000 when the failure is due to fragmentation.
func fragmentationIndex(_ freeBlocks: [Int], order: Int) -> Int {
    let info = contigPageInfo(freeBlocks, order: order)
    if info.freeBlocksTotal == 0 { return 0 }
    if info.freeBlocksSuitable > 0 { return -1000 }
    let requested = 1 << order
    return 1000 - (1000 + info.freePages * 1000 / requested) / info.freeBlocksTotal
}

/// Linux: extfrag_for_order(): the percentage of free memory not in blocks of `order`.
func extfragForOrder(_ freeBlocks: [Int], order: Int) -> Int {
    let info = contigPageInfo(freeBlocks, order: order)
    if info.freePages == 0 { return 0 }
    return (info.freePages - (info.freeBlocksSuitable << order)) * 100 / info.freePages
}

/// Linux: COMPACTION_HPAGE_ORDER (HPAGE_PMD_ORDER on x86-64).
let compactionHpageOrder = 9

enum FragmentationScore {
    /// Linux: fragmentation_score_zone().
    static func zone(_ z: Zone) -> Int { extfragForOrder(z.freeBlockCounts(), order: compactionHpageOrder) }

    /// Linux: fragmentation_score_zone_weighted(): scaled by the zone's share of the node.
    static func zoneWeighted(_ z: Zone, nodePresent: Int) -> Int { z.presentPages * zone(z) / (nodePresent + 1) }

    /// Linux: fragmentation_score_node(): 0…100.
    static func node(_ n: Node) -> Int {
        let present = n.presentPages
        return n.zones.reduce(0) { $0 + zoneWeighted($1, nodePresent: present) }
    }

    /// Linux: fragmentation_score_wmark(): low = max(100 − proactiveness, 5), high = min(low + 10, 100).
    static func wmark(low: Bool, proactiveness: Int) -> Int {
        let l = max(100 - proactiveness, 5)
        return low ? l : min(l + 10, 100)
    }
}

extension Compaction {
    /// The node's fragmentation score (Linux: fragmentation_score_node), 0…100.
    public static func fragmentationScore(machine: Machine, node: Int) -> Int {
        FragmentationScore.node(machine.phys.nodes[node])
    }
}
