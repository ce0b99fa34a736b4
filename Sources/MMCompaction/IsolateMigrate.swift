// The migrate scanner (Linux: isolate_migratepages, isolate_migratepages_block,
// suitable_migration_source in mm/compaction.c). It walks the zone up from its start a
// pageblock at a time and isolates in-use movable folios — LRU folios not pinned —
// at most COMPACT_CLUSTER_MAX pages at a time. Never a free page, never an unmovable
// one. A large folio is isolated whole, or stepped over whole (its order too large).
//
// Omitted: fast_find_migrateblock (the free-list search for a starting block) and the
// too_many_isolated throttle; the scanner always walks linearly from its cached position.

import MMPhysical
import MMSpace
import MMSync

/// Linux: isolate_migrate_t.
enum IsolateMigrateResult {
    case abort, none, success
}

extension Compaction {
    // Linux: isolation_suitable().
    static func isolationSuitable(_ cc: CompactControl, _ pfn: PFN) -> Bool {
        cc.ignoreSkipHint || !cc.zone.isPageblockSkip(pfn)
    }

    // Linux: suitable_migration_source(). Only async direct compaction is picky: it
    // takes pages only from pageblocks of the requester's kind (movable for movable).
    static func suitableMigrationSource(_ cc: CompactControl, _ pfn: PFN) -> Bool {
        guard cc.mode == .async, cc.directCompaction else { return true }
        return cc.zone.pageblockType(of: pfn) == cc.migratetype
    }

    // Linux: skip_isolation_on_order(): compact_memory (order -1) leaves folios of a
    // pageblock or more alone (moving them frees nothing bigger); a request of order N
    // leaves folios of order >= N (no free block of that order exists, else the run
    // would have ended, so their migration would fail).
    static func skipIsolationOnOrder(_ cc: CompactControl, _ order: Int) -> Bool {
        if cc.order >= 0, order >= cc.order { return true }
        return order >= pageblockOrder
    }

    // Linux: update_cached_migrate().
    static func updateCachedMigrate(_ cc: CompactControl, _ pfn: PFN) {
        let end = pageblockEnd(pfn - 1)
        let async = cc.mode == .async
        cc.zone.withCompactState { s in
            if end > s.cachedMigratePFN[0] { s.cachedMigratePFN[0] = end }
            if !async && end > s.cachedMigratePFN[1] { s.cachedMigratePFN[1] = end }
        }
    }

    // Linux: isolate_migratepages().
    static func isolateMigratepages(_ cc: CompactControl) -> IsolateMigrateResult {
        let zone = cc.zone
        var low = cc.migratePFN
        var blockEnd = pageblockEnd(low)
        // Bounded: one step per pageblock up to the free scanner.
        while blockEnd <= cc.freePFN {
            let blockStart = max(pageblockStart(low), zone.startPFN)
            let skip = zone.blockHasNoPages(blockStart, blockEnd)
                || (pageblockAligned(low) || low == zone.startPFN) && !isolationSuitable(cc, blockStart)
            if !skip {
                if suitableMigrationSource(cc, blockStart) {
                    // The block helper leaves migratePFN where it stopped.
                    isolateMigratepagesBlock(cc, from: low, to: blockEnd)
                    return cc.migratepages.isEmpty ? .none : .success
                }
                updateCachedMigrate(cc, blockEnd)
            }
            cc.migratePFN = blockEnd
            low = blockEnd
            blockEnd += PFN(pageblockPages)
        }
        return cc.migratepages.isEmpty ? .none : .success
    }

    // Linux: isolate_migratepages_block(). Scans [low, end) of one pageblock; stops
    // after COMPACT_CLUSTER_MAX isolations unless finishing the block. Async gives up
    // the rest of the block when the LRU lock is held elsewhere (`contended`).
    static func isolateMigratepagesBlock(_ cc: CompactControl, from low: PFN, to end: PFN) {
        let phys = cc.machine.phys, pages = phys.pages
        let trylock = cc.mode == .async
        var pfn = low
        var scanned = 0, isolated = 0
        while pfn < end {
            let f = pages.flags(pfn)
            scanned += 1
            if f & PageFlag.buddy != 0 {
                // A free block: skip it whole (its order read racily, as buddy_order_unsafe),
                // its pages counted as scanned (as Linux counts them, past `end` too).
                let n = 1 << min(max(pages.buddyOrder(pfn), 0), maxOrder)
                scanned += n - 1
                pfn = min(end, pfn + PFN(n))
                continue
            }
            if f & PageFlag.tail != 0 {
                // Linux: a tail is stepped over to its folio's end (compound_order racy).
                pfn = min(end, folioEnd(pages, of: pfn))
                continue
            }
            let nr = f & PageFlag.head != 0 ? PFN(pages.folioPages(pfn)) : 1
            if nr > 1, skipIsolationOnOrder(cc, pages.folioOrder(pfn)) {
                scanned += Int(nr) - 1
                pfn = min(end, pfn + nr)
                continue
            }
            // Only folios on the LRU move; kernel pages (unmovable, or not on the LRU)
            // and holes never do; a non-LRU compound page is stepped over whole.
            guard f & PageFlag.lru != 0, f & (PageFlag.unmovable | PageFlag.reserved) == 0 else { pfn += nr; continue }
            // Racy pre-check (Linux does the same, for anonymous folios only): references
            // beyond the mappings are a pin; migration would only fail with -EAGAIN.
            if !FileMapping.isFile(pages.mapping(pfn)), pages.refcount(pfn) > pages.mapcount(pfn) { pfn += 1; continue }
            // Linux: ISOLATE_ASYNC_MIGRATE takes only folios it can move without blocking.
            if trylock, f & PageFlag.writeback != 0, FileMapping.isFile(pages.mapping(pfn)) { pfn += nr; continue }
            switch phys.lruOf(pfn).isolate(pfn, trylock: trylock) {
            case .isolated:
                // Re-read under our reference: the folio cannot change size now.
                let got = pages.folioPages(pfn)
                cc.migratepages.append(pfn)
                cc.nrMigratePages += got
                isolated += got
                pfn += PFN(got)
            case .notIsolated:
                pfn += 1
            case .contended:
                cc.contended = true
                pfn = end
                continue
            }
            if cc.nrMigratePages >= CompactControl.clusterMax && !cc.finishPageblock { break }
        }
        // A whole block that gave nothing is skipped next time.
        if pfn >= end, isolated == 0 || cc.finishPageblock, !cc.contended {
            cc.zone.setPageblockSkip(pageblockStart(end - 1), true)
            updateCachedMigrate(cc, end)
        }
        cc.migratePFN = min(pfn, end)
        cc.trace?.record(.isolateMigrate(start: low, end: cc.migratePFN, scanned: scanned, taken: isolated))
        cc.totalMigrateScanned += scanned
        cc.pagesIsolated += isolated
        cc.machine.vmstat.add(.compactIsolated, Int64(isolated))
    }
}

/// Where the folio that tail page `pfn` belongs to ends (racy: the head named by the
/// tail is trusted only if its order covers `pfn`; else one page on).
func folioEnd(_ pages: PageDescriptors, of pfn: PFN) -> PFN {
    let head = pages.compoundHead(pfn)
    guard head < pfn, pages.isHead(head) else { return pfn + 1 }
    let end = head + PFN(pages.folioPages(head))
    return end > pfn ? end : pfn + 1
}
