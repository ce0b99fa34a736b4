// Migration failures that must leave the page where it was, mapped and intact: a
// long-term pin (-EAGAIN for all 10 passes; move_pages -EBUSY), no memory on the target
// node (-ENOMEM), and writeback (async -EBUSY; sync waits for it, from pass 3 on).

import Testing
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck
import MMSync
#if canImport(Glibc)
import Glibc
#endif

@Suite struct PinnedPageTests {
    @Test func pinnedPageFailsWithEAGAINAfterTenPasses() throws {
        let m = makeMachine()
        let a = try makeProcess(m, "A", pages: 2)
        try m.pinUserPage(a.mm, page(0))
        let pfn = try frame(m, a, page(0))
        let pteBefore = m.pte(a.mm, page(0))
        let stamp = a.mm.expectedStamp(page(0))
        try #require(m.phys.lruOf(pfn).isolate(pfn))
        let r = Migrator(m).migratePages([pfn], allocate: onNode(m, 1), mode: .sync, reason: .syscall, context: .process)
        #expect(r.passes == 10)
        #expect(r.outcomes[pfn] == .failed(.EAGAIN))
        #expect(r.notMigrated == 1 && r.succeeded == 0)
        // The mapping is intact: same frame, same PTE, same contents, back on the LRU.
        #expect(m.frameMapped(a.mm, page(0)) == pfn)
        #expect(m.pte(a.mm, page(0)) == pteBefore)
        #expect(m.phys.frames.readStamp(pfn) == stamp)
        #expect(try m.userRead(a.mm, page(0)).intact)
        #expect(m.phys.pages.test(pfn, PageFlag.lru))
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
        try m.unpinUserPage(a.mm, page(0))
        #expect(m.phys.pages.refcount(pfn) == 1)
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
        #expect(m.phys.freePages(node: 1) == m.config.pagesPerNode, "every target page given back")
    }

    /// Linux 6.x: a page still failing after the passes fails its batch; the call
    /// returns the failures and writes no status for the batch (not -EBUSY).
    @Test func movePagesLeavesAPinnedPagesBatchUnwritten() throws {
        let m = makeMachine()
        let a = try makeProcess(m, "A", pages: 2)
        try m.pinUserPage(a.mm, page(0))
        let pfn = try frame(m, a, page(0))
        let mig = Migrator(m)
        let r = mig.movePages(target: "A", addresses: [page(0), page(1)], nodes: [1, 1], flags: [.move])
        #expect(r == ok(1, [nil, nil]))
        #expect(nodeOf(m, a, page(1)) == 1, "the batch's other page did move")
        #expect(m.frameMapped(a.mm, page(0)) == pfn)
        #expect(try m.userRead(a.mm, page(0)).intact)
        // Kernel context: the same refcount check.
        let k = mig.migrateKernel(target: "A", address: page(0), node: 1)
        #expect(k.errno == .EAGAIN && k.ret == 1)
        #expect(m.frameMapped(a.mm, page(0)) == pfn)
        try m.unpinUserPage(a.mm, page(0))
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
        // Unpinned, it moves.
        let r2 = mig.movePages(target: "A", addresses: [page(0)], nodes: [1], flags: [.move])
        #expect(r2 == ok(0, [1]))
        #expect(try m.userRead(a.mm, page(0)).intact)
        #expect(Checker.check(m).isEmpty)
    }
}

@Suite struct OutOfMemoryTests {
    @Test func fullTargetNodeGivesENOMEMAndLosesNothing() throws {
        let m = makeMachine()
        let a = try makeProcess(m, "A", pages: 3)
        let before = try (0..<3).map { try frame(m, a, page($0)) }
        try m.allocateUnmovable(node: 1, pages: m.phys.freePages(node: 1))
        #expect(m.phys.freePages(node: 1) == 0)
        let fail = m.vmstat[.pgmigrateFail]
        let mig = Migrator(m)
        // Linux 6.x: migrate_pages' -ENOMEM fails the call (ret -1, errno ENOMEM); the
        // batch's statuses stay unwritten, and the pages after it are not migrated either.
        let r = mig.movePages(target: "A", addresses: [page(0)], nodes: [1], flags: [.move])
        #expect(r == SyscallResult(ret: -1, errno: .ENOMEM, status: [nil]))
        let r2 = mig.movePages(target: "A", addresses: [page(1), page(2)], nodes: [1, 1], flags: [.move])
        #expect(r2 == SyscallResult(ret: -1, errno: .ENOMEM, status: [nil, nil]))
        #expect(mig.migratePagesSyscall(target: "A", from: [0], to: [1]) == .error(.ENOMEM))
        let k = mig.migrateKernel(target: "A", address: page(0), node: 1)
        #expect(k.errno == .ENOMEM)
        // One page per call met -ENOMEM; the pages after it were never tried, and Linux
        // does not count those in pgmigrate_fail.
        #expect(m.vmstat[.pgmigrateFail] == fail + 4)
        #expect(try (0..<3).map { try frame(m, a, page($0)) } == before)
        for i in 0..<3 { #expect(try m.userRead(a.mm, page(i)).intact) }
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
        // ENOMEM in the middle of a list: what was done stays done, the rest stays put.
        let isolated = try [frame(m, a, page(0)), frame(m, a, page(1)), frame(m, a, page(2))]
        for p in isolated { try #require(m.phys.lruOf(p).isolate(p)) }
        var calls = 0
        let res = mig.migratePages(isolated, allocate: { _ in
            calls += 1
            return calls == 1 ? m.phys.allocPage(node: 0, fallback: false) : nil
        }, mode: .sync, reason: .syscall, context: .process)
        guard case .migrated(let new)? = res.outcomes[isolated[0]] else {
            Issue.record("first page not migrated: \(res.outcomes)")
            return
        }
        #expect(res.outcomes[isolated[1]] == .failed(.ENOMEM) && res.outcomes[isolated[2]] == .failed(.ENOMEM))
        #expect(calls == 2, "no allocation attempted after -ENOMEM")
        #expect(res.passes == 1 && res.succeeded == 1 && res.notMigrated == 2)
        #expect(m.frameMapped(a.mm, page(0)) == new)
        #expect(m.frameMapped(a.mm, page(1)) == isolated[1] && m.frameMapped(a.mm, page(2)) == isolated[2])
        for i in 0..<3 { #expect(try m.userRead(a.mm, page(i)).intact) }
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
    }
}

@Suite(.serialized) struct WritebackTests {
    /// A page under writeback (set under the page lock, as Linux does).
    static func underWriteback(_ m: Machine, _ a: Process) throws -> PFN {
        let pfn = try frame(m, a, page(0))
        m.phys.lockPage(pfn)
        m.phys.setWriteback(pfn)
        m.phys.unlockPage(pfn)
        return pfn
    }

    @Test(arguments: [MigrateMode.async, .syncLight])
    func nonSyncModesGiveEBUSYOnWriteback(mode: MigrateMode) throws {
        let m = makeMachine()
        let a = try makeProcess(m, "A", pages: 1)
        let pfn = try Self.underWriteback(m, a)
        try #require(m.phys.lruOf(pfn).isolate(pfn))
        let r = Migrator(m).migratePages([pfn], allocate: onNode(m, 1), mode: mode, reason: .compaction, context: .kernel)
        #expect(r.outcomes[pfn] == .failed(.EBUSY), "EBUSY is permanent: no retry")
        #expect(r.passes == 1)
        #expect(m.frameMapped(a.mm, page(0)) == pfn)
        #expect(m.phys.pages.test(pfn, PageFlag.writeback))
        m.phys.endWriteback(pfn)
        #expect(try m.userRead(a.mm, page(0)).intact)
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
    }

    /// Sync mode: passes 0–2 give -EAGAIN, pass 3 (force) sleeps on the writeback until
    /// another thread ends it, then migrates. Bounded: the other thread ends the writeback
    /// after at most 5 s whether or not it saw the migrator sleep.
    @Test func syncModeWaitsForWriteback() throws {
        let m = makeMachine()
        let a = try makeProcess(m, "A", pages: 1)
        let pfn = try Self.underWriteback(m, a)
        try #require(m.phys.lruOf(pfn).isolate(pfn))
        let events = Collector<String>()
        let results = Collector<MigrationResult>()
        let sawSleeper = Collector<Bool>()
        var mig = Migrator(m)
        mig.onEvent = { events.append("\($0)") }
        let migrator = mig
        ModelThreads.runConcurrently([
            ("migrator", {
                results.append(migrator.migratePages([pfn], allocate: onNode(m, 1), mode: .sync,
                                                     reason: .syscall, context: .process))
            }),
            ("writeback", {
                let deadline = ContinuousClock.now + .seconds(5)
                var slept = false
                // PG_waiters is set by the migrator just before it sleeps on writeback.
                while ContinuousClock.now < deadline {
                    if m.phys.pages.test(pfn, PageFlag.waiters) { slept = true; break }
                    usleepShort()
                }
                sawSleeper.append(slept)
                m.phys.endWriteback(pfn)
            }),
        ])
        let r = try #require(results.all.first)
        #expect(sawSleeper.all == [true], "the migrator never slept on writeback")
        guard case .migrated(let new)? = r.outcomes[pfn] else {
            Issue.record("not migrated: \(String(describing: r.outcomes[pfn])); events \(events.all)")
            return
        }
        #expect(r.passes == 4, "\(events.all)")
        #expect(events.all.filter { $0.contains("-EAGAIN, retry") }.count == 3, "\(events.all)")
        #expect(m.phys.nodeOf(new) == 1)
        #expect(m.frameMapped(a.mm, page(0)) == new)
        #expect(try m.userRead(a.mm, page(0)).intact)
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
    }
}

/// Sleeps about 100 µs.
func usleepShort() {
    var ts = timespec(tv_sec: 0, tv_nsec: 100_000)
    nanosleep(&ts, nil)
}
