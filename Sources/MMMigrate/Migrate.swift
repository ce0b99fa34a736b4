// Page migration (Linux: mm/migrate.c migrate_pages, unmap_and_move, move_to_new_page;
// the seed's __migrate_pages(…, nocontext) and migrate_pages_nocontext).
//
// A page goes through: lock → writeback → pin anon_vma → unmap (migration entries) →
// reference check → copy → remap → unlock, and ends either migrated (the old frame
// freed) or intact where it was, every mapping restored. Three contexts:
//   process — the caller holds the owner's mmap_lock across the migration (a system
//             call, `policy syscall_lock=held`): the owner's VMA cannot leave the
//             anon_vma, so the anon_vma cannot be freed under us;
//   syscall — a system call that holds a reference on the mm (mm_users) but migrates
//             with no mmap_lock (Linux 6.x, `syscall_lock=isolate`): the owner cannot
//             tear its mm down, but it can munmap; only the anon_vma pin protects;
//   kernel  — no mmap_lock, no mm reference (compaction, hot-remove): the owner may
//             exit at any moment after unmap; only the anon_vma pin keeps
//             page->mapping meaningful.

import MMPhysical
import MMSpace
import MMSync

/// Linux: enum migrate_mode.
public enum MigrateMode: String, Sendable, CaseIterable {
    /// Never block: trylock only, writeback is -EBUSY.
    case async
    /// May block on the page lock, not on writeback.
    case syncLight = "sync-light"
    /// May block on both.
    case sync
}

/// Linux: enum migrate_reason (the ones mmlab drives).
public enum MigrateReason: String, Sendable, CaseIterable {
    case compaction, memoryHotplug = "memory_hotplug", syscall, numaMisplaced = "numa_misplaced"
    var counter: VMStatItem {
        switch self {
        case .compaction: return .migrateReasonCompaction
        case .memoryHotplug: return .migrateReasonHotplug
        case .syscall: return .migrateReasonSyscall
        case .numaMisplaced: return .migrateReasonNuma
        }
    }
}

/// Who asks for the migration (the seed's `nocontext` flag, widened to what Linux 6.x
/// system calls do).
public enum MigrationContext: String, Sendable {
    /// The caller holds the owner's mmap_lock for reading (and a reference on its mm)
    /// across the whole migration: the seed era's system calls (`syscall_lock=held`).
    case process
    /// A system call holding a reference on the owner's mm but no mmap_lock while it
    /// migrates (Linux 6.x move_pages / migrate_pages, `syscall_lock=isolate`). Without
    /// the lock nothing keeps the owner's VMA on the anon_vma: it pins like `kernel`.
    case syscall
    /// The kernel itself, without any mmap_lock: migrate_pages_nocontext.
    case kernel
}

/// What became of one page.
public enum PageOutcome: Sendable, Equatable {
    case migrated(to: PFN)
    /// Nobody referenced it any more: freed instead of moved (counts as success).
    case freed
    case failed(Errno)
}

/// Result of one migratePages call.
public struct MigrationResult: Sendable {
    public var outcomes: [PFN: PageOutcome] = [:]
    /// Linux's return value: folios not migrated (a split large folio counts once).
    public var notMigrated: Int = 0
    /// Folios migrated (or freed under us), split pages included.
    public var succeeded: Int = 0
    /// Base pages migrated (Linux: nr_succeeded, pgmigrate_success).
    public var pagesSucceeded: Int = 0
    /// Base pages not migrated (Linux: nr_failed_pages, pgmigrate_fail); a split folio's
    /// pages are not counted, nor folios left untried on the list after -ENOMEM.
    public var pagesFailed: Int = 0
    /// Large folios split after -ENOMEM (Linux: nr_split).
    public var splitFolios: Int = 0
    public var passes: Int = 0
    /// An allocation of a target page failed: Linux's migrate_pages returns -ENOMEM
    /// instead of a count, and its system-call callers fail with ENOMEM.
    public var outOfMemory = false
}

/// A migration event for `--trace` (Linux: tracepoints mm_migrate_pages_start and
/// mm_migrate_pages, plus one per page).
public enum MigrationEvent: Sendable, CustomStringConvertible {
    case start(pages: Int, mode: MigrateMode, reason: MigrateReason, context: MigrationContext)
    case page(old: PFN, pass: Int, outcome: PageOutcome)
    case retry(old: PFN, pass: Int, error: Errno)
    case end(succeeded: Int, failed: Int, passes: Int)

    public var description: String {
        switch self {
        case let .start(n, mode, reason, ctx):
            return "migrate start: \(n) page\(n == 1 ? "" : "s") mode=\(mode.rawValue) reason=\(reason.rawValue) context=\(ctx.rawValue)"
        case let .page(old, pass, outcome):
            switch outcome {
            case .migrated(let new): return "migrate pass \(pass): pfn \(old) → pfn \(new)"
            case .freed: return "migrate pass \(pass): pfn \(old) freed under us"
            case .failed(let e): return "migrate pass \(pass): pfn \(old) failed -\(e.name)"
            }
        case let .retry(old, pass, e):
            return "migrate pass \(pass): pfn \(old) -\(e.name), retry"
        case let .end(s, f, p):
            return "migrate end: succeeded=\(s) failed=\(f) passes=\(p)"
        }
    }
}

/// Test hooks at the seed's race windows. Deterministic tests use them to run another
/// action (an owner's exit) exactly there; the explorer uses the yield points instead.
public struct MigrationHooks: Sendable {
    public var afterUnmap: (@Sendable (PFN) -> Void)?
    /// Called before a sync migration sleeps on PG_writeback: the scenario runner uses
    /// it to complete the I/O when no other thread could (a top-level statement).
    public var beforeWritebackWait: (@Sendable (PFN) -> Void)?
    public init(afterUnmap: (@Sendable (PFN) -> Void)? = nil, beforeWritebackWait: (@Sendable (PFN) -> Void)? = nil) {
        self.afterUnmap = afterUnmap
        self.beforeWritebackWait = beforeWritebackWait
    }
}

/// The migration engine of one machine.
public struct Migrator: Sendable {
    public let machine: Machine
    public var hooks = MigrationHooks()
    /// Receives every migration event (`--trace`); nil costs nothing.
    public var onEvent: (@Sendable (MigrationEvent) -> Void)?

    /// Pages unmapped together before any is copied (Linux: NR_MAX_BATCHED_MIGRATION is
    /// 512). 1 = page-at-a-time.
    public var batchSize = 1
    /// Linux: NR_MAX_BATCHED_MIGRATION.
    public static let maxBatch = 512

    /// How move_pages / migrate_pages hold the owner's mmap_lock (`policy syscall_lock=`).
    public var syscallLock = SyscallLock.isolate

    /// Linux: the 10-pass limit of migrate_pages.
    public static let maxPasses = 10

    public init(_ machine: Machine) { self.machine = machine }

    /// Migrates isolated folios (Linux: migrate_pages). Up to 10 passes; -EAGAIN retries;
    /// from the fourth pass on (`pass > 2`) it forces: sleeps on the page lock, waits
    /// for writeback (sync mode). -ENOMEM stops the whole call, except that a large
    /// folio that got no target is split first if it can be (MigrateFolio.swift); its
    /// order-0 pages migrate after the rest, async, in one pass. Failed folios go back
    /// to the LRU; migrated ones are freed. Every folio in `pages` (a head, or a small
    /// page) must be isolated by the caller (one reference each) and listed once
    /// (isolation fails for a folio already isolated, so a caller that isolated its list
    /// cannot list one twice). `allocate` gives a target for a folio, of the folio's
    /// order (Linux: get_new_folio; a target of another order counts as none);
    /// `release` takes back a target that was not used (Linux: put_new_folio) — nil
    /// frees it to the buddy allocator.
    public func migratePages(_ pages: [PFN], allocate: (PFN) -> PFN?, release: ((PFN) -> Void)? = nil,
                             mode: MigrateMode, reason: MigrateReason, context: MigrationContext) -> MigrationResult {
        var result = MigrationResult()
        result.outcomes.reserveCapacity(pages.count)
        onEvent?(.start(pages: pages.count, mode: mode, reason: reason, context: context))
        let phys = machine.phys
        // Folio sizes before anything moves (a migrated folio's old head forgets its order).
        var nrOf: [PFN: Int] = [:]
        for p in pages where phys.pages.isHead(p) { nrOf[p] = phys.pages.folioPages(p) }
        var split = SplitList(allowed: reason != .numaMisplaced)
        let main = runPasses(pages, allocate: allocate, release: release, context: context, mode: mode,
                             maxPasses: Self.maxPasses, split: &split, into: &result)
        var rcuOpen = main.rcuOpen
        // Linux counts a folio it never tried, left on the list after -ENOMEM, as not
        // migrated but not among the failed pages (pgmigrate_fail).
        var notTried = Set(main.notTried)
        result.passes = main.passes
        result.outOfMemory = main.outOfMemory
        let splitPages = split.pages
        if !splitPages.isEmpty && !result.outOfMemory {
            // Linux: migrate_pages — the split folios last, async, one pass, no second split.
            var none = SplitList(allowed: false)
            let r2 = runPasses(splitPages, allocate: allocate, release: release, context: context, mode: .async,
                               maxPasses: 1, split: &none, into: &result)
            rcuOpen += r2.rcuOpen
            notTried.formUnion(r2.notTried)
            result.outOfMemory = result.outOfMemory || r2.outOfMemory
        }
        let vm = machine.vmstat
        // In the caller's order, not the dictionary's (whose order changes with the
        // per-process hash seed): putback order decides LRU order, so replays depend on it.
        // (The empty checks spare a hash per page on the usual all-order-0 list.)
        for pfn in pages where split.heads.isEmpty || !split.heads.contains(pfn) {
            guard let o = result.outcomes[pfn] else { continue }
            let nr = nrOf.isEmpty ? 1 : nrOf[pfn] ?? 1
            switch o {
            case .migrated, .freed:
                result.succeeded += 1
                result.pagesSucceeded += nr
            case .failed:
                result.notMigrated += 1
                if !notTried.contains(pfn) { result.pagesFailed += nr }
                phys.putback(pfn)
            }
        }
        // Linux: a split folio counts once as failed (nr_failed), its pages not as
        // failed pages; the split pages' own failures are not counted again.
        result.notMigrated += split.heads.count
        result.splitFolios = split.heads.count
        for pfn in splitPages {
            switch result.outcomes[pfn] {
            case .migrated?, .freed?:
                result.succeeded += 1
                result.pagesSucceeded += 1
            case .failed?, nil:
                result.outcomes[pfn] = result.outcomes[pfn] ?? .failed(.ENOMEM)
                phys.putback(pfn)
            }
        }
        vm.add(.pgmigrateSuccess, Int64(result.pagesSucceeded))
        vm.add(.pgmigrateFail, Int64(result.pagesFailed))
        vm.add(reason.counter, Int64(result.pagesSucceeded))
        if rcuOpen > 0 {
            machine.violations.report(Violation(.rcuImbalance,
                "migration ended with \(rcuOpen) RCU read-side section\(rcuOpen == 1 ? "" : "s") open: the seed's anon_vma_hold never calls rcu_read_unlock"))
        }
        onEvent?(.end(succeeded: result.succeeded, failed: result.notMigrated, passes: result.passes))
        return result
    }

    /// What one run of passes did (the outcomes go into the caller's result).
    struct PassesDone {
        var passes = 0
        var outOfMemory = false
        var rcuOpen = 0
        /// Folios left untried on the list when -ENOMEM stopped the pass.
        var notTried: [PFN] = []
    }

    /// The pass loop of migrate_pages (Linux: migrate_pages_batch) over `list` in `mode`.
    func runPasses(_ list: [PFN], allocate: (PFN) -> PFN?, release: ((PFN) -> Void)?, context: MigrationContext,
                   mode: MigrateMode, maxPasses: Int, split: inout SplitList,
                   into result: inout MigrationResult) -> PassesDone {
        let m = self
        var done = PassesDone()
        var retry = list
        var pass = 0
        var outOfMemory = false
        // RCU read-side sections the seed's anon_vma_hold left open (it never calls
        // rcu_read_unlock); migration sleeps inside them.
        var rcuOpen = 0
        // Linux 6.3+: a batch is unmapped as a whole (one TLB flush), copied, then
        // remapped; batchSize 1 is the classic page-at-a-time engine. Results agree.
        while pass < maxPasses && !retry.isEmpty && !outOfMemory {
            var next: [PFN] = []
            let force = pass > 2
            func record(_ pfn: PFN, _ rc: PageOutcome) {
                switch rc {
                case .failed(.ENOMEM):
                    // Linux: a large folio with no target is split if it can be and
                    // its pages migrate later; else -ENOMEM stops taking folios
                    // (those already unmapped finish).
                    if split.allowed, m.machine.phys.pages.isHead(pfn), let parts = m.trySplitFolio(pfn) {
                        split.heads.insert(pfn)
                        split.pages += parts
                        m.onEvent?(.retry(old: pfn, pass: pass, error: .ENOMEM))
                        return
                    }
                    outOfMemory = true
                    result.outcomes[pfn] = rc
                    m.onEvent?(.page(old: pfn, pass: pass, outcome: rc))
                case .failed(.EAGAIN):
                    // The last pass gives up: report a failure, not a retry that never comes.
                    m.onEvent?(pass == maxPasses - 1 ? .page(old: pfn, pass: pass, outcome: rc)
                                                     : .retry(old: pfn, pass: pass, error: .EAGAIN))
                    next.append(pfn)
                default:
                    result.outcomes[pfn] = rc
                    m.onEvent?(.page(old: pfn, pass: pass, outcome: rc))
                }
            }
            var i = 0
            var inFlight: [InFlight] = []
            inFlight.reserveCapacity(max(1, m.batchSize))
            while i < retry.count && !outOfMemory {
                if m.batchSize <= 1 {
                    // Page-at-a-time: no batch bookkeeping on the hot path.
                    let pfn = retry[i]
                    i += 1
                    switch m.unmapStage(pfn, allocate: allocate, release: release, force: force, mode: mode,
                                        context: context, holdingOthers: false) {
                    case .unmapped(var f):
                        m.copyStage(&f)
                        if f.pin?.policy == .seedV2 { rcuOpen += 1 }
                        record(pfn, m.remapStage(f, release: release))
                    case .done(let rc):
                        record(pfn, rc)
                    }
                    continue
                }
                let batch = retry[i..<min(i + m.batchSize, retry.count)]
                i = batch.endIndex
                inFlight.removeAll(keepingCapacity: true)
                for pfn in batch {
                    if outOfMemory {
                        result.outcomes[pfn] = .failed(.ENOMEM)
                        done.notTried.append(pfn)
                        continue
                    }
                    switch m.unmapStage(pfn, allocate: allocate, release: release, force: force, mode: mode,
                                        context: context, holdingOthers: !inFlight.isEmpty) {
                    case .unmapped(let f):
                        inFlight.append(f)
                    case .done(let rc):
                        record(pfn, rc)
                    }
                }
                m.copyBatch(&inFlight)
                for f in inFlight {
                    if f.pin?.policy == .seedV2 { rcuOpen += 1 }
                    record(f.old, m.remapStage(f, release: release))
                }
            }
            if outOfMemory {
                // Linux: the pass's -EAGAIN folios count as failed pages, the untried ones not.
                for p in retry[i...] { result.outcomes[p] = .failed(.ENOMEM) }
                done.notTried += retry[i...]
                for p in next { result.outcomes[p] = .failed(.ENOMEM) }
                next = []
            }
            retry = next
            pass += 1
        }
        for p in retry { result.outcomes[p] = .failed(.EAGAIN) }
        done.passes = pass
        done.outOfMemory = outOfMemory
        done.rcuOpen = rcuOpen
        return done
    }

    /// A page between its unmap and its remap (Linux: the src/dst pair that
    /// migrate_folio_unmap hands to migrate_folio_move).
    struct InFlight {
        let old: PFN
        let new: PFN
        let pin: AnonVmaPin?
        let anonVma: AnonVmaRef?
        let wasMapped: Bool
        /// The page cache the folio is in (no unmap, no anon_vma: MigrateFolio.swift).
        let file: FileMapping?
        var rc: PageOutcome = .failed(.EAGAIN)
    }

    enum UnmapResult {
        /// Finished (or failed) without reaching the unmapped state.
        case done(PageOutcome)
        /// Locked, pinned, unmapped: must go through copyStage and remapStage.
        case unmapped(InFlight)
    }

    /// Allocate, lock, writeback, pin, unmap (Linux: the first half of the seed's
    /// unmap_and_move; migrate_folio_unmap today). With
    /// `holdingOthers` the caller already holds other pages' locks (a batch): sleeping on
    /// this one could deadlock against another migrator, so it only trylocks.
    func unmapStage(_ old: PFN, allocate: (PFN) -> PFN?, release: ((PFN) -> Void)?, force: Bool, mode: MigrateMode,
                    context: MigrationContext, holdingOthers: Bool) -> UnmapResult {
        let phys = machine.phys, pages = phys.pages
        Sched.point("migrate pfn \(old): start")
        // Only our isolation reference left: the owner let go of it meanwhile.
        if pages.refcount(old) == 1 {
            pages.clearFlags(old, PageFlag.isolated)
            phys.putPage(old)
            return .done(.freed)
        }
        guard let new = allocate(old) else { return .done(.failed(.ENOMEM)) }
        // Linux: compaction_alloc / alloc_migration_target give a folio of the source's
        // order; one of another order is no target at all.
        if pages.folioOrder(new) != pages.folioOrder(old) { return .done(abort(new, .ENOMEM, release)) }

        if !phys.trylockPage(old) {
            guard force, mode != .async, !holdingOthers else { return .done(abort(new, .EAGAIN, release)) }
            phys.lockPage(old)
        }
        Sched.point("migrate pfn \(old): locked")
        if pages.test(old, PageFlag.writeback) {
            // Only full sync migration waits for writeback (the retry loop is too short
            // for async, the stall too costly for sync-light).
            guard mode == .sync else { phys.unlockPage(old); return .done(abort(new, .EBUSY, release)) }
            guard force, !holdingOthers else { phys.unlockPage(old); return .done(abort(new, .EAGAIN, release)) }
            hooks.beforeWritebackWait?(old)
            phys.waitOnWriteback(old)
        }

        let policy = machine.pinPolicy
        // The seed pins only without context; the corrected scheme always does.
        // Without the owner's mmap_lock (kernel, or a 6.x system call) the seed's
        // nocontext path applies: only the pin keeps the anon_vma.
        let pinNeeded = policy == .refcount || (policy == .seedV2 && context != .process)
        // A page-cache folio is never mapped: no pin, no unmap, no anon_vma walk.
        let file = machine.pageCache.file(encoded: pages.mapping(old))
        var pin: AnonVmaPin? = nil
        if pinNeeded, file == nil, pages.isMapped(old) { pin = machine.holdAnonVma(old, policy: policy) }
        let anonVma = file == nil ? AnonVmaRef(encoded: pages.mapping(old)) : nil

        // The seed's first fix: a page nobody maps can still be a migration target.
        let wasMapped = pages.isMapped(old)
        if wasMapped { machine.tryToUnmapMigration(old) }
        hooks.afterUnmap?(old)
        Sched.point("migrate pfn \(old): unmapped")
        return .unmapped(InFlight(old: old, new: new, pin: pin, anonVma: anonVma, wasMapped: wasMapped, file: file))
    }

    /// The reference check and the copy (Linux: migrate_folio_move → move_to_new_folio).
    func copyStage(_ f: inout InFlight) {
        if anonymousCopyDue(&f) { moveToNewPage(f.old, f.new) }
    }

    /// copyStage for a whole batch (Linux: migrate_pages_batch's move loop): the frames
    /// of the anonymous pages that pass the reference check are copied back to back and
    /// fenced once, then each page's descriptor moves. Every page stays locked and
    /// unmapped throughout, so no one sees a frame between its copy and its move.
    func copyBatch(_ batch: inout [InFlight]) {
        let frames = machine.phys.frames
        for j in batch.indices where anonymousCopyDue(&batch[j]) {
            frames.copyUnfenced(from: batch[j].old, to: batch[j].new)
        }
        frames.fence()
        for f in batch where f.file == nil {
            if case .migrated = f.rc { moveDescriptor(f.old, f.new) }
        }
    }

    /// The decision both copy paths share. A page-cache folio is migrated here whole
    /// (moveFileFolio); an anonymous page that someone else still holds fails -EAGAIN
    /// (Linux: folio_migrate_mapping's refcount check). True: an anonymous page whose
    /// frame and descriptor the caller must now move (`f.rc` already says migrated).
    private func anonymousCopyDue(_ f: inout InFlight) -> Bool {
        let pages = machine.phys.pages
        if let file = f.file {
            f.rc = moveFileFolio(f.old, f.new, file)
            return false
        }
        guard !pages.isMapped(f.old), pages.refcount(f.old) == 1 else {
            f.rc = .failed(.EAGAIN)
            return false
        }
        f.rc = .migrated(to: f.new)
        return true
    }

    /// Remap, unpin, unlock, then free the old frame or undo (Linux: the rest of
    /// migrate_folio_move, or migrate_folio_undo_src/dst).
    func remapStage(_ f: InFlight, release: ((PFN) -> Void)?) -> PageOutcome {
        let phys = machine.phys, pages = phys.pages
        let old = f.old, new = f.new
        Sched.point("migrate pfn \(old): before remap")
        // The seed walks the anon_vma whatever happened; the corrected scheme only when
        // it actually installed migration entries (Linux 2.6.34).
        if let anonVma = f.anonVma, f.wasMapped || machine.pinPolicy != .refcount {
            if case .migrated = f.rc {
                machine.removeMigrationPtes(old: old, new: new, anonVma: anonVma)
            } else {
                machine.removeMigrationPtes(old: old, new: old, anonVma: anonVma)
            }
        }
        machine.releaseAnonVma(f.pin)
        phys.unlockPage(old)

        guard case .migrated = f.rc else { return abort(new, f.rc == .failed(.EAGAIN) ? .EAGAIN : .EBUSY, release) }
        // Point of no return passed: the old frame goes, the new one joins the LRU.
        pages.clearFlags(old, PageFlag.isolated)
        phys.putPage(old)
        phys.lruOf(new).add(new)
        phys.putPage(new)   // the allocation reference; mappings hold their own
        return f.rc
    }

    /// Gives an unused target back (Linux: put_new_folio, or folio_put without one).
    private func abort(_ new: PFN, _ e: Errno, _ release: ((PFN) -> Void)?) -> PageOutcome {
        if let release { release(new) } else { machine.phys.putPage(new) }
        return .failed(e)
    }

    /// Linux: move_to_new_page → migrate_folio: contents, flags, mapping and index move
    /// to the new frame; the old one forgets its mapping.
    private func moveToNewPage(_ old: PFN, _ new: PFN) {
        machine.phys.frames.copy(from: old, to: new)
        moveDescriptor(old, new)
    }

    /// The descriptor half of moveToNewPage: flags, mapping and index.
    private func moveDescriptor(_ old: PFN, _ new: PFN) {
        let pages = machine.phys.pages
        pages.setFlags(new, pages.flags(old) & PageFlag.migrateCopyMask)
        pages.setIndex(new, pages.index(old))
        pages.setMapping(new, pages.mapping(old))
        pages.setMapping(old, 0)
        pages.clearFlags(old, PageFlag.migrateCopyMask)
        Sched.note("copy pfn \(old) → pfn \(new)")
    }
}
