// Pageblock migratetypes of a snapshot. The kernel exports them only as totals per zone
// (/proc/pagetypeinfo, Linux: pagetypeinfo_showblockcount_print()); this file infers one
// type per pageblock so that the totals match. The rule (docs/SNAPSHOT.md):
//
//   1. A zone's counted pageblocks are, from the zone's first pageblock upward, those
//      that are not wholly a hole, up to pagetypeinfo's total for the zone; the end of
//      the last counted block is the zone's initialised end (lazy memory init grows a
//      zone from its start).
//   2. Counted blocks are ranked by their unmovable pages (most first), then by their
//      movable pages (fewest first), then by PFN (lowest first): unmovable allocations
//      claim whole pageblocks, and boot-time ones sit low.
//   3. Down that ranking, the first blocks get Unmovable, then Reclaimable, HighAtomic,
//      CMA and Isolate, as many of each as pagetypeinfo counts; the rest are Movable.

struct PageblockInference {
    let cells: [UInt8]
    let order: Int
    let ram: [PFNRange]

    /// Whether every PFN of the block starting at `block` is outside RAM.
    func whollyHole(_ block: Int) -> Bool {
        let end = block + (1 << order)
        return !ram.contains { $0.start < end && $0.end > block }
    }

    /// Returns the zone's initialised end and assigns its counted blocks' types into
    /// `types`; `inferred` gets the per-type totals actually assigned.
    func infer(zone z: ZoneInfo, totals: [String: Int], types: inout [UInt8]) -> (initialisedEnd: Int, inferred: [String: Int]) {
        let size = 1 << order
        let want = totals.values.reduce(0, +)
        var counted: [Int] = []   // pageblock indices
        var block = z.startPFN & ~(size - 1)
        while block < z.endPFN && counted.count < want {   // bounded by the zone's span
            if !whollyHole(block) { counted.append(block >> order) }
            block += size
        }
        let initEnd = counted.last.map { min(z.endPFN, ($0 + 1) << order) } ?? z.startPFN
        // Rank by (unmovable pages desc, movable pages asc, pfn asc).
        var ranked: [(idx: Int, unmovable: Int, movable: Int)] = counted.map { idx in
            var u = 0, m = 0
            let lo = max(idx << order, z.startPFN), hi = min((idx + 1) << order, min(z.endPFN, cells.count))
            if lo < hi {
                for pfn in lo..<hi {
                    let cls = PageClass(rawValue: cells[pfn] & 0xF)
                    if cls == .unmovable { u += 1 } else if cls?.isMovable == true { m += 1 }
                }
            }
            return (idx, u, m)
        }
        ranked.sort { a, b in
            if a.unmovable != b.unmovable { return a.unmovable > b.unmovable }
            if a.movable != b.movable { return a.movable < b.movable }
            return a.idx < b.idx
        }
        var inferred: [String: Int] = [:]
        var next = 0
        for t in [PageblockType.unmovable, .reclaimable, .highAtomic, .cma, .isolate] {
            let n = min(totals[t.procName] ?? 0, ranked.count - next)
            for r in ranked[next..<(next + n)] where r.idx < types.count { types[r.idx] = t.rawValue }
            if n > 0 { inferred[t.procName] = n }
            next += n
        }
        for r in ranked[next...] where r.idx < types.count { types[r.idx] = PageblockType.movable.rawValue }
        inferred[PageblockType.movable.procName] = ranked.count - next
        return (initEnd, inferred)
    }
}
