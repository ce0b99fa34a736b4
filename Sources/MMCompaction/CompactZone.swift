// One compaction run of one zone (Linux: compact_zone, __compact_finished,
// compaction_suitable, __reset_isolation_suitable, reset_cached_positions) and the
// deferral after failures (Linux: defer_compaction, compaction_deferred,
// compaction_defer_reset, compaction_restarting).
//
// Omitted: the capture of a freed page for the direct compactor (capture_control),
// per-CPU list draining (the model frees straight to the buddy, except through a
// replay's `cc.pcp`, MMPhysical/PerCPULists.swift) and the lowmem reserve.

import MMMigrate
import MMPhysical
import MMSpace
import MMSync

/// Compaction's entry points and helpers (Linux: mm/compaction.c).
public enum Compaction {
    /// Linux: COMPACT_MAX_DEFER_SHIFT — at most 2^6 = 64 attempts skipped.
    public static let maxDeferShift = 6
    /// Linux: PAGE_ALLOC_COSTLY_ORDER.
    public static let costlyOrder = 3

    // MARK: deferral

    // Linux: defer_compaction().
    static func deferCompaction(_ zone: Zone, order: Int) {
        zone.withCompactState { s in
            s.considered = 0
            s.deferShift = min(s.deferShift + 1, maxDeferShift)
            if order < s.orderFailed { s.orderFailed = order }
        }
    }

    // Linux: compaction_deferred(): true if this attempt should be skipped.
    static func compactionDeferred(_ zone: Zone, order: Int) -> Bool {
        zone.withCompactState { s in
            let limit = 1 << s.deferShift
            if order < s.orderFailed { return false }
            s.considered += 1
            if s.considered >= limit {
                s.considered = limit
                return false
            }
            return true
        }
    }

    // Linux: compaction_defer_reset().
    static func compactionDeferReset(_ zone: Zone, order: Int, allocSuccess: Bool) {
        zone.withCompactState { s in
            if allocSuccess {
                s.considered = 0
                s.deferShift = 0
            }
            if order >= s.orderFailed { s.orderFailed = order + 1 }
        }
    }

    // Linux: compaction_restarting().
    static func compactionRestarting(_ zone: Zone, order: Int) -> Bool {
        zone.withCompactState { s in
            order >= s.orderFailed && s.deferShift == maxDeferShift && s.considered >= 1 << s.deferShift
        }
    }

    // MARK: cached positions and skip hints

    // Linux: reset_cached_positions().
    static func resetCachedPositions(_ zone: Zone) {
        zone.withCompactState { s in
            s.cachedMigratePFN = [zone.startPFN, zone.startPFN]
            s.cachedFreePFN = pageblockStart(zone.endPFN - 1)
        }
    }

    // Linux: __reset_isolation_suitable(), simplified: after a full pass every skip
    // hint goes and the scanners restart at the zone's ends.
    static func resetIsolationSuitable(_ zone: Zone) {
        let flush: Bool = zone.withCompactState { s in
            let f = s.blockskipFlush
            s.blockskipFlush = false
            return f
        }
        guard flush else { return }
        zone.clearAllPageblockSkip()
        resetCachedPositions(zone)
    }

    // MARK: suitability

    /// Linux: compact_gap(): room for the targets of a run of `order`.
    static func compactGap(_ order: Int) -> Int { 2 << order }

    // Linux: __compaction_suitable(): order-0 free pages above the watermark (low for
    // costly orders, min otherwise) plus the gap.
    static func compactionSuitableWatermark(_ zone: Zone, order: Int) -> Bool {
        let mark = (order > costlyOrder ? zone.watermarks.low : zone.watermarks.min) + compactGap(order)
        return zone.watermarkOK(order: 0, mark: mark)
    }

    /// Linux: compaction_suitable(): enough free memory, and for costly orders a
    /// fragmentation index above vm.extfrag_threshold (else the failure is for lack of
    /// memory and compaction would not help).
    public static func compactionSuitable(_ zone: Zone, order: Int, extfragThreshold: Int) -> Bool {
        guard compactionSuitableWatermark(zone, order: order) else { return false }
        if order > costlyOrder {
            let index = FragmentationIndex.extfrag(order: order, ContigPageInfo(freeBlocks: zone.freeBlockCounts(), suitableOrder: order))
            if index >= 0 && index <= extfragThreshold { return false }
        }
        return true
    }

    // MARK: the run

    // Linux: compact_scanners_met().
    static func scannersMet(_ cc: CompactControl) -> Bool {
        cc.freePFN >> PFN(pageblockOrder) <= cc.migratePFN >> PFN(pageblockOrder)
    }

    // Linux: __compact_finished() (COMPACT_NO_SUITABLE_PAGE is turned into
    // COMPACT_CONTINUE by the caller, as compact_finished() does).
    static func compactFinished(_ cc: CompactControl) -> CompactStatus {
        let zone = cc.zone
        if scannersMet(cc) {
            resetCachedPositions(zone)
            if cc.directCompaction { zone.withCompactState { $0.blockskipFlush = true } }
            return cc.wholeZone ? .complete : .partialSkipped
        }
        var ret: CompactStatus
        if cc.proactiveCompaction {
            let low = FragmentationScore.wmark(low: true, proactiveness: cc.machine.phys.sysctl[.compactionProactiveness])
            ret = FragmentationScore.zone(zone) > low ? .continue : .success
        } else {
            if cc.order < 0 { return .continue }
            // Finish a pageblock before judging: fewer fallbacks later.
            if !pageblockAligned(cc.migratePFN) { return .continue }
            if zone.hasSuitableFreeBlock(order: cc.order, cc.migratetype) { return .success }
            ret = .noSuitablePage
        }
        if cc.contended { ret = .contended }
        return ret
    }

    /// Linux: compact_zone(). Runs `cc` to its end and returns the result.
    public static func compactZone(_ cc: CompactControl) -> CompactResult {
        let zone = cc.zone
        let sync = cc.mode != .async
        if cc.order >= 0 {
            // Allocation can already succeed: nothing to do.
            if zone.watermarkOK(order: cc.order, mark: zone.watermarks.min, cc.migratetype) {
                cc.migratePFN = zone.startPFN
                cc.freePFN = pageblockStart(zone.endPFN - 1)
                return cc.result(.success)
            }
            if !compactionSuitable(zone, order: cc.order, extfragThreshold: cc.machine.phys.sysctl[.extfragThreshold]) {
                return cc.result(.skipped)
            }
        }
        if compactionRestarting(zone, order: cc.order) { resetIsolationSuitable(zone) }
        startPositions(cc)
        var updateCached = !sync && zone.withCompactState { $0.cachedMigratePFN[0] == $0.cachedMigratePFN[1] }
        Sched.note("compact \(zone.node)/\(zone.name) order \(cc.order) \(cc.mode.rawValue): migrate \(cc.migratePFN) free \(cc.freePFN)")
        cc.trace?.record(.begin(zoneStart: zone.startPFN, migratePFN: cc.migratePFN, freePFN: cc.freePFN, zoneEnd: zone.endPFN, sync: sync))

        var ret = CompactStatus.continue
        var lastMigrated: PFN? = nil
        // Bounded: every round moves the migrate scanner forward or ends the run.
        var rounds = 0
        let maxRounds = zone.spannedPages + 64
        run: while rounds < maxRounds {
            rounds += 1
            ret = compactFinished(cc)
            if ret == .noSuitablePage { ret = .continue }
            guard ret == .continue else { break }
            cc.finishPageblock = lastMigrated.map { pageblockStart($0) == pageblockStart(cc.migratePFN) } ?? false
            rescan: while true {
                switch isolateMigratepages(cc) {
                case .abort:
                    ret = .contended
                    putbackMigratepages(cc)
                    break run
                case .none:
                    if updateCached { zone.withCompactState { $0.cachedMigratePFN[1] = $0.cachedMigratePFN[0] } }
                    continue run
                case .success:
                    updateCached = false
                    lastMigrated = max(zone.startPFN, pageblockStart(cc.migratePFN - 1))
                }
                let outcome = migrate(cc)
                if outcome.failed > 0 {
                    // Out of targets before the scanners met: give up (Linux: -ENOMEM → contended).
                    if outcome.outOfMemory && !scannersMet(cc) {
                        ret = .contended
                        break run
                    }
                    // Async / sync-light: take the rest of a partly failed block once,
                    // so it gets marked skip instead of being revisited.
                    if !pageblockAligned(cc.migratePFN), !cc.ignoreSkipHint, !cc.finishPageblock, cc.mode != .sync {
                        cc.finishPageblock = true
                        continue rescan
                    }
                }
                continue run
            }
        }
        assert(rounds < maxRounds, "compact_zone of \(zone.node)/\(zone.name) did not end in \(maxRounds) rounds")
        finishRun(cc)
        cc.trace?.record(.end(zoneStart: zone.startPFN, migratePFN: cc.migratePFN, freePFN: cc.freePFN, zoneEnd: zone.endPFN,
                              sync: sync, status: ret))
        return cc.result(ret)
    }

    // Linux: the scanner set-up of compact_zone(): whole zone, or the cached positions
    // checked to lie inside the zone.
    static func startPositions(_ cc: CompactControl) {
        let zone = cc.zone
        let start = zone.startPFN, lastBlock = pageblockStart(zone.endPFN - 1)
        if cc.wholeZone {
            cc.migratePFN = start
            cc.freePFN = lastBlock
            return
        }
        let sync = cc.mode != .async
        zone.withCompactState { s in
            cc.migratePFN = s.cachedMigratePFN[sync ? 1 : 0]
            cc.freePFN = s.cachedFreePFN
            if cc.freePFN < start || cc.freePFN >= zone.endPFN {
                cc.freePFN = lastBlock
                s.cachedFreePFN = lastBlock
            }
            if cc.migratePFN < start || cc.migratePFN >= zone.endPFN {
                cc.migratePFN = start
                s.cachedMigratePFN = [start, start]
            }
        }
        if cc.migratePFN <= start { cc.wholeZone = true }
    }

    /// Migrates the isolated pages in kernel context with the machine's pin policy;
    /// targets come from (and unused ones go back to) the free scanner's list.
    static func migrate(_ cc: CompactControl) -> (failed: Int, outOfMemory: Bool) {
        // The list stays in cc while it migrates: the free scanner sizes its batch by it.
        let list = cc.migratepages
        let batchPages = cc.nrMigratePages
        defer {
            cc.migratepages.removeAll(keepingCapacity: true)
            cc.nrMigratePages = 0
        }
        let r = cc.migrator.migratePages(list, allocate: { compactionAlloc(cc, $0) },
                                         release: { compactionFree(cc, $0) },
                                         mode: cc.mode, reason: .compaction, context: .kernel)
        cc.pagesMigrated += r.pagesSucceeded
        cc.pagesFailed += r.pagesFailed
        // Linux's tracepoint counts every page of the batch not migrated, tried or not.
        cc.trace?.record(.migratepages(migrated: r.pagesSucceeded, failed: batchPages - r.pagesSucceeded))
        cc.pcp?.sourcePagesFreed(r.pagesSucceeded, phys: cc.machine.phys)
        return (r.notMigrated, r.outOfMemory)
    }

    // Linux: putback_movable_pages().
    static func putbackMigratepages(_ cc: CompactControl) {
        for p in cc.migratepages { cc.machine.phys.putback(p) }
        cc.migratepages.removeAll()
        cc.nrMigratePages = 0
    }

    // Linux: the `out:` of compact_zone(): free targets back (the free scanner resumes
    // no higher than the highest of them), scan counters out.
    static func finishRun(_ cc: CompactControl) {
        putbackMigratepages(cc)
        if let high = releaseFreepages(cc) {
            let start = pageblockStart(high)
            cc.zone.withCompactState { s in if start > s.cachedFreePFN { s.cachedFreePFN = start } }
        }
        let vm = cc.machine.vmstat
        vm.add(.compactMigrateScanned, Int64(cc.totalMigrateScanned))
        vm.add(.compactFreeScanned, Int64(cc.totalFreeScanned))
    }
}
