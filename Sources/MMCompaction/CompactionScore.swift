// The fragmentation figures compaction decides by: the proactive score and its
// watermarks (Linux: mm/compaction.c fragmentation_score_zone/_weighted/_node,
// fragmentation_score_wmark). The integer formulas themselves are Linux's mm/vmstat.c
// ones in MMPhysical/FragmentationIndex.swift, shared with the reports; this file only
// applies them to live zones.

import MMPhysical
import MMSpace

enum FragmentationScore {
    /// Linux: fragmentation_score_zone().
    static func zone(_ z: Zone) -> Int { FragmentationIndex.scoreZone(freeBlocks: z.freeBlockCounts()) }

    /// Linux: fragmentation_score_node(): 0…100.
    static func node(_ n: Node) -> Int {
        FragmentationIndex.scoreNode(n.zones.map { (freeBlocks: $0.freeBlockCounts(), presentPages: $0.presentPages) })
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
