// The free scanner and the migration target callbacks (Linux: isolate_freepages,
// isolate_freepages_block, suitable_migration_target, compaction_alloc,
// compaction_free, release_freepages in mm/compaction.c). It walks the zone down from
// its end a pageblock at a time, taking whole free buddy blocks out of the allocator
// and keeping each at its buddy order (Linux 6.x: cc->freepages[order], no
// split_map_pages), only from pageblocks it may use. A target is cut to the source
// folio's order when it is handed out.
//
// Omitted: fast_isolate_freepages (the free-list search near the migrate scanner); the
// scanner always walks linearly down from its cached position (with Linux's stride only
// where fast_isolate_freepages would not have run: order -1).

import MMPhysical
import MMSync

extension Compaction {
    // Linux: suitable_migration_target(). Never a block that is wholly free already
    // (its first page heads a free block of pageblock order or more: moving pages
    // into it gains nothing); otherwise only movable pageblocks, unless told not to care.
    static func suitableMigrationTarget(_ cc: CompactControl, _ pfn: PFN) -> Bool {
        let pages = cc.machine.phys.pages
        if pages.test(pfn, PageFlag.buddy), pages.buddyOrder(pfn) >= pageblockOrder { return false }
        if cc.ignoreBlockSuitable { return true }
        return cc.zone.pageblockType(of: pfn) == .movable
    }

    // Linux: update_pageblock_skip() for the free scanner.
    static func updatePageblockSkipFree(_ cc: CompactControl, _ blockStart: PFN, next: Int) {
        cc.zone.setPageblockSkip(blockStart, true)
        cc.zone.withCompactState { s in
            if next >= Int(cc.zone.startPFN), PFN(next) < s.cachedFreePFN { s.cachedFreePFN = PFN(next) }
        }
    }

    // Linux: isolate_freepages(). Stops once there are as many targets as pages to
    // migrate, or at the migrate scanner's pageblock.
    static func isolateFreepages(_ cc: CompactControl) {
        let zone = cc.zone
        let block = pageblockPages
        // The scan resumes where it stopped (possibly inside a pageblock), but block
        // decisions are made per aligned pageblock: a block taken from an unaligned start
        // would straddle two, and the suitability test would read a page that heads no
        // buddy block inside a wholly free one — and take it apart.
        var blockStart = Int(pageblockStart(cc.freePFN))
        let low = Int(pageblockEnd(cc.migratePFN))
        var isolateStart = Int(cc.freePFN)
        var blockEnd = min(blockStart + block, Int(zone.endPFN))
        // Linux samples a block every `stride` pages after blocks that gave nothing (1,
        // doubling to COMPACT_CLUSTER_MAX; async starts at the maximum): a long run of
        // full blocks is crossed quickly — and, on memory freed every other page, a
        // stride of 32 lands on the in-use parity only and finds nothing for a long way.
        // Only for order -1 (compact_memory, proactive): for an order-N request Linux first
        // takes targets from the free lists near the migrate scanner
        // (fast_isolate_freepages), which the model omits; striding there would miss
        // targets the kernel finds, so the model scans every page instead.
        let strided = cc.order < 0
        var stride = strided && cc.mode == .async ? CompactControl.clusterMax : 1
        // Bounded: one step per pageblock down to the migrate scanner.
        while blockStart >= low {
            if !zone.blockHasNoPages(PFN(blockStart), PFN(blockEnd)),
               suitableMigrationTarget(cc, PFN(blockStart)), isolationSuitable(cc, PFN(blockStart)) {
                var start = PFN(isolateStart)
                let isolated = isolateFreepagesBlock(cc, &start, end: PFN(blockEnd), stride: stride)
                isolateStart = Int(start)
                if isolateStart == blockEnd { updatePageblockSkipFree(cc, PFN(blockStart), next: blockStart - block) }
                if cc.nrFreePages >= cc.nrMigratePages {
                    // Enough: resume below this block if it was used up, else inside it.
                    if isolateStart >= blockEnd { isolateStart = blockStart - block }
                    break
                } else if isolateStart < blockEnd {
                    break   // stopped early: contention or the watermark
                }
                if strided { stride = isolated > 0 ? 1 : min(CompactControl.clusterMax, stride << 1) }
            }
            blockEnd = blockStart
            blockStart -= block
            isolateStart = blockStart
        }
        // Never negative: `low` is at least one pageblock above the zone start.
        assert(isolateStart >= 0, "free scanner below pfn 0 in zone \(zone.node)/\(zone.name)")
        cc.freePFN = PFN(max(isolateStart, 0))
    }

    // Linux: isolate_freepages_block(). Takes the zone lock at the first free page it
    // meets (async: trylock, else `contended`) and isolates whole buddy blocks.
    @discardableResult
    static func isolateFreepagesBlock(_ cc: CompactControl, _ start: inout PFN, end: PFN, stride: Int = 1) -> Int {
        let zone = cc.zone, pages = cc.machine.phys.pages
        var pfn = start
        var scanned = 0, isolated = 0
        var locked = false
        let step = PFN(max(stride, 1))
        while pfn < end {
            scanned += 1
            let f = pages.flags(pfn)
            if f & PageFlag.head != 0 {
                // Linux steps over a whole compound page that fits in the block, then on by
                // the stride: the step is odd for any order, so it changes the parity the
                // stride samples (on memory freed every other page, whether it finds any).
                let n = PFN(pages.folioPages(pfn))
                if pfn + n <= end { pfn += n - 1; scanned += Int(n) - 1 }
                pfn += step
                continue
            }
            guard f & PageFlag.buddy != 0 else { pfn += step; continue }
            if !locked {
                if cc.mode == .async {
                    guard zone.lock.tryLock() else { cc.contended = true; break }
                } else {
                    zone.lock.lock()
                }
                locked = true
            }
            // Linux: __isolate_free_page — fails if the zone would drop below min.
            guard let order = zone.isolateFreeBlockLocked(pfn) else {
                if pages.test(pfn, PageFlag.buddy) { break }   // the watermark: stop here
                pfn += step
                continue
            }
            // Linux 6.x: the block stays whole on the list of its order.
            cc.freepages[order].append(pfn)
            cc.nrFreePages += 1 << order
            scanned += (1 << order) - 1   // Linux counts the block's pages as scanned
            // Past the block just taken, then on by the stride (Linux: blockpfn += isolated - 1,
            // then the loop's += stride).
            pfn += PFN(1 << order) - 1 + step
            isolated += 1 << order
            if cc.nrMigratePages <= cc.nrFreePages { pfn = pfn - step + 1; break }
        }
        if locked { zone.lock.unlock() }
        cc.trace?.record(.isolateFree(start: start, end: min(pfn, end), scanned: scanned, taken: isolated))
        start = min(pfn, end)
        cc.totalFreeScanned += scanned
        cc.pagesIsolated += isolated
        cc.machine.vmstat.add(.compactIsolated, Int64(isolated))
        return isolated
    }

    // Linux: compaction_alloc() — the migration target callback. A free block of the
    // source folio's order or the smallest bigger one, cut down (the rest goes on the
    // lower lists); when none is isolated the free scanner runs once more; still none
    // is -ENOMEM (nil). The target comes back as a folio: head refcount 1, compound.
    static func compactionAlloc(_ cc: CompactControl, _ src: PFN) -> PFN? {
        let pages = cc.machine.phys.pages
        let order = pages.folioOrder(src)
        var isolatedAgain = false
        while true {
            if let start = (order...maxOrder).first(where: { !cc.freepages[$0].isEmpty }) {
                // Linux's list order: isolated blocks are taken oldest first, the
                // remainders of a cut go to the front of their lists.
                let head = cc.freepages[start].removeFirst()
                var o = start
                while o > order {
                    o -= 1
                    cc.freepages[o].insert(head + PFN(1 << o), at: 0)
                }
                cc.nrFreePages -= 1 << order
                pages.getRefFromZeroForSplit(head)
                pages.prepCompound(head, order: order)
                return head
            }
            if isolatedAgain { return nil }
            isolateFreepages(cc)
            isolatedAgain = true
        }
    }

    // Linux: compaction_free() — an unused target goes back on its order's list, not
    // to the buddy.
    static func compactionFree(_ cc: CompactControl, _ pfn: PFN) {
        let pages = cc.machine.phys.pages
        let order = pages.folioOrder(pfn)
        pages.clearCompound(pfn, order: order)
        let frozen = pages.freezeRefs(pfn, expected: 1)
        assert(frozen, "compaction_free of pfn \(pfn): the unused target is referenced elsewhere")
        cc.freepages[order].insert(pfn, at: 0)
        cc.nrFreePages += 1 << order
    }

    // Linux: release_freepages(): every unused block back to the buddy at its order;
    // returns the highest page released.
    static func releaseFreepages(_ cc: CompactControl) -> PFN? {
        var high: PFN? = nil
        for order in 0...maxOrder {
            for p in cc.freepages[order] {
                let last = p + PFN(1 << order) - 1
                high = max(high ?? last, last)
                cc.zone.freePages(p, order: order)
            }
            cc.freepages[order].removeAll()
        }
        cc.nrFreePages = 0
        return high
    }
}
