// move_pages(2) and migrate_pages(2): every per-page status, every return value and
// errno, permission rules, and query mode (LTP move_pages01–12 / migrate_pages01–03 in
// spirit). Status values are nodes or negated errnos, as Linux writes them.

import Testing
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck
import MMSync

@Suite struct MovePagesTests {
    /// A (uid 1000) with 8 mapped pages, the first 4 touched.
    static func setup() throws -> (Machine, Process, Migrator) {
        let m = makeMachine()
        let a = try makeProcess(m, "A", pages: 4, mapped: 8, uid: 1000)
        return (m, a, Migrator(m))
    }

    @Test func statusIsTheNodeAfterTheMove() throws {
        let (m, a, mig) = try Self.setup()
        let before = try frame(m, a, page(0))
        let r = mig.movePages(target: "A", addresses: [page(0), page(1)], nodes: [1, 1], flags: [.move])
        #expect(r == ok(0, [1, 1]))
        #expect(nodeOf(m, a, page(0)) == 1 && nodeOf(m, a, page(1)) == 1)
        #expect(try frame(m, a, page(0)) != before)
        #expect(m.phys.pages.refcount(before) == 0, "the old frame is freed")
        // And back, with flags 0 (Linux accepts no flags as a plain move).
        let back = mig.movePages(target: "A", addresses: [page(0)], nodes: [0], flags: [])
        #expect(back == ok(0, [0]))
        for i in 0..<4 { #expect(try m.userRead(a.mm, page(i)).intact) }
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
    }

    @Test func pageAlreadyOnTargetSucceedsWithoutMoving() throws {
        let (m, a, mig) = try Self.setup()
        let pfn = try frame(m, a, page(2))
        let success = m.vmstat[.pgmigrateSuccess]
        let r = mig.movePages(target: "A", addresses: [page(2)], nodes: [0], flags: [.move])
        #expect(r == ok(0, [0]))
        #expect(try frame(m, a, page(2)) == pfn)
        #expect(m.vmstat[.pgmigrateSuccess] == success)
    }

    /// Linux 6.x add_folio_for_migration: the second isolation of an isolated folio
    /// fails (-EBUSY); the batch before it then migrates.
    @Test func sameAddressTwiceMovesOnce() throws {
        let (m, a, mig) = try Self.setup()
        let r = mig.movePages(target: "A", addresses: [page(0), page(0) + 8], nodes: [1, 1], flags: [.move])
        #expect(r == ok(0, [1, st(.EBUSY)]))
        #expect(m.vmstat[.pgmigrateSuccess] == 1)
        #expect(Checker.check(m).isEmpty)
        _ = a
    }

    @Test func untouchedNoVmaAndPerPageErrors() throws {
        let (m, a, mig) = try Self.setup()
        let r = mig.movePages(target: "A", addresses: [page(5), 0x5000_0000, userAddressLimit + 4096, page(1)],
                              nodes: [1, 1, 1, 1], flags: [.move])
        #expect(r == ok(0, [st(.ENOENT), st(.EFAULT), st(.EFAULT), 1]))
        #expect(m.frameMapped(a.mm, page(5)) == nil, "move_pages must not fault pages in")
        #expect(Checker.check(m).isEmpty)
    }

    @Test func queryModeReportsNodeENOENTAndEFAULT() throws {
        let (m, a, mig) = try Self.setup()
        _ = mig.movePages(target: "A", addresses: [page(1)], nodes: [1], flags: [.move])
        let q = mig.movePages(target: "A", addresses: [page(0), page(1), page(6), 0x7000_0000], nodes: nil, flags: [])
        #expect(q == ok(0, [0, 1, st(.ENOENT), st(.EFAULT)]))
        // Query moves nothing and needs no MPOL_MF_MOVE.
        #expect(nodeOf(m, a, page(0)) == 0)
    }

    @Test func sharedPageNeedsMoveAllFromAPrivilegedCaller() throws {
        let (m, a, mig) = try Self.setup()
        let b = try m.fork(a, child: "B")
        _ = try m.createProcess("root", privileged: true)
        let shared = try frame(m, a, page(2))
        try #require(m.frameMapped(b.mm, page(2)) == shared)
        // Without MOVE_ALL: -EACCES, not counted as "not migrated" (never isolated).
        let r = mig.movePages(target: "A", addresses: [page(2)], nodes: [1], flags: [.move])
        #expect(r == ok(0, [st(.EACCES)]))
        #expect(try frame(m, a, page(2)) == shared)
        // MOVE_ALL without privilege: EPERM for the whole call.
        #expect(mig.movePages(target: "A", addresses: [page(2)], nodes: [1], flags: [.move, .moveAll]) == .error(.EPERM))
        // MOVE_ALL from a privileged caller: moved, in both processes.
        let r2 = mig.movePages(target: "A", caller: "root", addresses: [page(2)], nodes: [1], flags: [.move, .moveAll])
        #expect(r2 == ok(0, [1]))
        let new = try frame(m, a, page(2))
        #expect(m.phys.nodeOf(new) == 1)
        #expect(m.frameMapped(b.mm, page(2)) == new, "the child's PTE follows the page")
        #expect(m.phys.pages.mapcount(new) == 2)
        #expect(try m.userRead(a.mm, page(2)).intact)
        #expect(try m.userRead(b.mm, page(2)).intact)
        // A private (COWed) page needs no MOVE_ALL.
        try m.userWrite(b.mm, page(3))
        let r3 = mig.movePages(target: "B", addresses: [page(3)], nodes: [1], flags: [.move])
        #expect(r3 == ok(0, [1]))
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
    }

    /// A page isolated by move_pages that its owner COWs away from before its turn is
    /// "freed under us": a success, and Linux stores the target node as its status —
    /// not -ENOENT (the address is mapped, to the fresh copy).
    @Test func pageFreedUnderUsReportsTheTargetNode() throws {
        let (m, a, _) = try Self.setup()
        let b = try m.fork(a, child: "B")
        try m.userWrite(b.mm, page(0))
        try m.userWrite(b.mm, page(1))   // A's pages 0 and 1: private again, read-only PTEs
        let p0 = try frame(m, a, page(0))
        let events = Collector<MigrationEvent>()
        var mig = Migrator(m)
        mig.onEvent = { events.append($0) }
        // While page 0 migrates, A writes page 1: do_wp_page cannot reuse it (the
        // isolation reference), copies it, and the isolated frame is left to migration.
        mig.hooks = MigrationHooks(afterUnmap: { pfn in if pfn == p0 { try? m.userWrite(a.mm, page(1)) } })
        let r = mig.movePages(target: "A", addresses: [page(0), page(1)], nodes: [1, 1], flags: [.move])
        #expect(r == ok(0, [1, 1]))
        #expect(events.all.contains { if case .page(_, _, .freed) = $0 { return true } else { return false } }, "\(events.all)")
        #expect(m.vmstat[.pgmigrateSuccess] == 2 && m.vmstat[.pgmigrateFail] == 0)
        #expect(nodeOf(m, a, page(0)) == 1 && nodeOf(m, a, page(1)) == 0, "page 1 is A's fresh COW copy")
        #expect(try m.userRead(a.mm, page(1)).intact)
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
    }

    @Test func returnErrors() throws {
        let (m, _, mig) = try Self.setup()
        _ = try m.createProcess("other", uid: 2000)
        _ = try m.createProcess("sameuid", uid: 1000)
        _ = try m.createProcess("root", uid: 0, privileged: true)
        let one = [page(0)]
        // ESRCH: no such process; unknown caller.
        #expect(mig.movePages(target: "nobody", addresses: one, nodes: [1], flags: [.move]) == .error(.ESRCH))
        #expect(mig.movePages(target: "A", caller: "ghost", addresses: one, nodes: [1], flags: [.move]) == .error(.ESRCH))
        #expect(mig.movePages(target: "nobody", addresses: one, nodes: nil, flags: []) == .error(.ESRCH))
        // ENODEV: a node the machine does not have.
        #expect(mig.movePages(target: "A", addresses: one, nodes: [2], flags: [.move]).errno == .ENODEV)
        #expect(mig.movePages(target: "A", addresses: one, nodes: [-1], flags: [.move]).errno == .ENODEV)
        // EINVAL: MPOL_MF_STRICT, unknown bits, nodes and pages of different lengths.
        #expect(mig.movePages(target: "A", addresses: one, nodes: [1], flags: [.move, .strict]) == .error(.EINVAL))
        #expect(mig.movePages(target: "A", addresses: one, nodes: [1], flags: MPolFlags(rawValue: 8)) == .error(.EINVAL))
        #expect(mig.movePages(target: "A", addresses: one, nodes: [1, 1], flags: [.move]) == .error(.EINVAL))
        // EPERM: MOVE_ALL unprivileged; a caller of another uid without privilege.
        #expect(mig.movePages(target: "A", addresses: one, nodes: [1], flags: [.move, .moveAll]) == .error(.EPERM))
        #expect(mig.movePages(target: "A", caller: "other", addresses: one, nodes: [1], flags: [.move]) == .error(.EPERM))
        #expect(mig.movePages(target: "A", caller: "other", addresses: one, nodes: nil, flags: []) == .error(.EPERM))
        #expect(m.vmstat[.pgmigrateSuccess] == 0, "no error path moved anything")
        // Allowed: same uid, or privileged.
        #expect(mig.movePages(target: "A", caller: "sameuid", addresses: one, nodes: [1], flags: [.move])
                == ok(0, [1]))
        #expect(mig.movePages(target: "A", caller: "root", addresses: one, nodes: [0], flags: [.move])
                == ok(0, [0]))
        #expect(Checker.check(m).isEmpty)
    }
}

@Suite struct MigratePagesSyscallTests {
    @Test func movesEveryPageFromTo() throws {
        let m = makeMachine()
        let a = try makeProcess(m, "A", pages: 6, mapped: 8)
        let mig = Migrator(m)
        let r = mig.migratePagesSyscall(target: "A", from: [0], to: [1])
        #expect(r == ok(0, nil))
        for i in 0..<6 { #expect(nodeOf(m, a, page(i)) == 1) }
        #expect(m.frameMapped(a.mm, page(7)) == nil)
        #expect(m.vmstat[.pgmigrateSuccess] == 6)
        let q = mig.movePages(target: "A", addresses: (0..<8).map(page), nodes: nil, flags: [])
        #expect(q.status == [1, 1, 1, 1, 1, 1, st(.ENOENT), st(.ENOENT)])
        // Nothing on the source node: nothing to do.
        #expect(mig.migratePagesSyscall(target: "A", from: [0], to: [1]) == ok(0, nil))
        #expect(mig.migratePagesSyscall(target: "A", from: [1], to: [0]).ret == 0)
        for i in 0..<6 { #expect(try m.userRead(a.mm, page(i)).intact) }
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
    }

    /// Linux: kernel_migrate_pages — get_nodes (EINVAL for a node outside any mask),
    /// find the task (ESRCH), ptrace access (EPERM), new ⊄ the task's nodes without
    /// CAP_SYS_NICE (EPERM), new ∩ the caller's nodes empty (EINVAL).
    @Test func errors() throws {
        let m = makeMachine()
        _ = try makeProcess(m, "A", pages: 2, uid: 1000)
        _ = try m.createProcess("other", uid: 2000)
        _ = try m.createProcess("root", privileged: true)
        let mig = Migrator(m)
        #expect(mig.migratePagesSyscall(target: "nobody", from: [0], to: [1]) == .error(.ESRCH))
        #expect(mig.migratePagesSyscall(target: "A", caller: "ghost", from: [0], to: [1]) == .error(.ESRCH))
        #expect(mig.migratePagesSyscall(target: "A", from: [0], to: [2]) == .error(.EPERM))
        #expect(mig.migratePagesSyscall(target: "A", caller: "root", from: [0], to: [2]) == .error(.EINVAL))
        #expect(mig.migratePagesSyscall(target: "A", from: [-1], to: [1]) == .error(.EINVAL))
        #expect(mig.migratePagesSyscall(target: "A", from: [0], to: [maxNumNodes]) == .error(.EINVAL))
        #expect(mig.migratePagesSyscall(target: "A", from: [], to: []) == .error(.EINVAL))
        #expect(mig.migratePagesSyscall(target: "A", caller: "other", from: [0], to: [1]) == .error(.EPERM))
        #expect(m.vmstat[.pgmigrateSuccess] == 0)
        // A privileged caller's mask may name nodes the machine lacks: they are dropped.
        #expect(mig.migratePagesSyscall(target: "A", caller: "root", from: [0, 5], to: [1, 9]).ret == 0)
        #expect(m.vmstat[.pgmigrateSuccess] == 2)
        #expect(Checker.check(m).isEmpty)
    }

    @Test func sharedPagesMoveOnlyForAPrivilegedCaller() throws {
        let m = makeMachine()
        let a = try makeProcess(m, "A", pages: 4)
        let b = try m.fork(a, child: "B")
        try m.userWrite(a.mm, page(0))   // page 0 private to each, pages 1–3 shared
        _ = try m.createProcess("root", privileged: true)
        let mig = Migrator(m)
        #expect(mig.migratePagesSyscall(target: "A", from: [0], to: [1]).ret == 0)
        #expect(nodeOf(m, a, page(0)) == 1)
        for i in 1..<4 { #expect(nodeOf(m, a, page(i)) == 0, "shared page \(i) must stay") }
        #expect(mig.migratePagesSyscall(target: "A", caller: "root", from: [0], to: [1]).ret == 0)
        for i in 0..<4 { #expect(nodeOf(m, a, page(i)) == 1) }
        for i in 1..<4 { #expect(m.frameMapped(b.mm, page(i)) == m.frameMapped(a.mm, page(i))) }
        #expect(nodeOf(m, b, page(0)) == 0, "B's private page is not A's to move")
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
    }

    /// from = [0, 1], to = [1, 2]: each page moves once, by the node it was on when the
    /// call began (Linux do_migrate_pages orders the moves so that a destination that is
    /// also a source is emptied first): node-0 pages end on 1, node-1 pages on 2.
    @Test func chainedNodeMapMovesEachPageOnce() throws {
        let m = makeMachine(nodes: 3)
        let a = try makeProcess(m, "A", pages: 4)
        let mig = Migrator(m)
        _ = mig.movePages(target: "A", addresses: [page(2), page(3)], nodes: [1, 1], flags: [.move])
        let before = m.vmstat[.pgmigrateSuccess]
        let r = mig.migratePagesSyscall(target: "A", from: [0, 1], to: [1, 2])
        #expect(r == ok(0, nil))
        #expect((0..<4).map { nodeOf(m, a, page($0)) } == [1, 1, 2, 2])
        #expect(m.vmstat[.pgmigrateSuccess] - before == 4, "each page moved exactly once")
        #expect(Checker.check(m).isEmpty)
    }

    /// Masks, not lists (Linux: node_remap pairs the n-th set node of each): {0,1} → {1,0}
    /// is {0,1} → {0,1}, every node to itself — nothing moves, in any order written.
    @Test func masksInAnyOrderMapEachNodeToItself() throws {
        let m = makeMachine()
        let a = try makeProcess(m, "A", pages: 4)
        let mig = Migrator(m)
        _ = mig.movePages(target: "A", addresses: [page(2), page(3)], nodes: [1, 1], flags: [.move])
        let before = m.vmstat[.pgmigrateSuccess]
        #expect(mig.migratePagesSyscall(target: "A", from: [0, 1], to: [1, 0]) == ok(0, nil))
        #expect(mig.migratePagesSyscall(target: "A", from: [1, 0], to: [0, 1]) == ok(0, nil))
        #expect((0..<4).map { nodeOf(m, a, page($0)) } == [0, 0, 1, 1])
        #expect(m.vmstat[.pgmigrateSuccess] == before)
        #expect(Checker.check(m).isEmpty)
    }

    /// Weights that differ are legal (Linux: do_migrate_pages): a source that is also a
    /// destination stays; the others wrap around the destination mask.
    @Test func masksOfDifferentWeights() throws {
        let m = makeMachine(nodes: 3)
        let a = try makeProcess(m, "A", pages: 6)
        let mig = Migrator(m)
        _ = mig.movePages(target: "A", addresses: [page(2), page(3)], nodes: [1, 1], flags: [.move])
        _ = mig.movePages(target: "A", addresses: [page(4), page(5)], nodes: [2, 2], flags: [.move])
        // {0,1,2} → {1}: 0 → 1 and 2 → 1 (n mod 1), 1 stays (it is in `to`).
        #expect(mig.migratePagesSyscall(target: "A", from: [0, 1, 2], to: [1]) == ok(0, nil))
        #expect((0..<6).map { nodeOf(m, a, page($0)) } == [1, 1, 1, 1, 1, 1])
        // {1} → {0,2}: 1 is the 0th node of `from`, so it goes to the 0th of `to`.
        #expect(mig.migratePagesSyscall(target: "A", from: [1], to: [2, 0]) == ok(0, nil))
        #expect((0..<6).map { nodeOf(m, a, page($0)) } == [0, 0, 0, 0, 0, 0])
        #expect(Migrator.nodeRemap(2, from: [0, 2], to: [1]) == 1)
        #expect(Migrator.nodeRemap(3, from: [0, 2], to: [1]) == 3, "not in `from`: itself")
        for i in 0..<6 { #expect(try m.userRead(a.mm, page(i)).intact) }
        #expect(Checker.check(m).isEmpty)
    }
}
