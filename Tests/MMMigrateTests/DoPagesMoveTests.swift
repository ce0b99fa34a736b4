// move_pages(2)'s rules as Linux 6.x applies them, one row per rule, each citing the
// Linux function (mm/migrate.c) whose behaviour it checks. Every row runs on a fresh
// 3-node machine where A has pages 0–3 touched (node 0), 4–7 mapped but untouched, and
// page 0 pinned (a long-term reference: its migration fails every pass).

import Testing
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck

/// One rule: the call, and what Linux answers.
struct MovePagesRule: Sendable, CustomStringConvertible {
    let linux: String
    let rule: String
    let addresses: [UInt64]
    let nodes: [Int]
    var flags: MPolFlags = [.move]
    /// Node 2 filled with unmovable pages first (no memory for targets there).
    var node2Full = false
    let expected: SyscallResult
    /// Where each listed page is afterwards (nil: not checked).
    var nodesAfter: [Int?]? = nil
    var description: String { "\(linux): \(rule)" }
}

private let pinned = page(0)
private let rules: [MovePagesRule] = [
    MovePagesRule(linux: "do_pages_move", rule: "one batch per run of equal nodes, in the caller's order: the same page moves to 1, then to 2",
                  addresses: [page(1), page(1) + 8], nodes: [1, 2], expected: ok(0, [1, 2]), nodesAfter: [2, 2]),
    MovePagesRule(linux: "add_folio_for_migration", rule: "the same page twice for one node: the second isolation fails (-EBUSY)",
                  addresses: [page(1), page(1) + 8], nodes: [1, 1], expected: ok(0, [1, st(.EBUSY)]), nodesAfter: [1, 1]),
    MovePagesRule(linux: "add_folio_for_migration", rule: "a page already on its target node gets the node, nothing moves",
                  addresses: [page(1)], nodes: [0], expected: ok(0, [0]), nodesAfter: [0]),
    MovePagesRule(linux: "add_folio_for_migration", rule: "no VMA: -EFAULT; in a VMA, never touched: -ENOENT",
                  addresses: [0x5000_0000, page(5)], nodes: [1, 1], expected: ok(0, [st(.EFAULT), st(.ENOENT)])),
    MovePagesRule(linux: "move_pages_and_store_status", rule: "a failed batch returns failures + entries never looked at; no status for the batch or later",
                  addresses: [pinned, page(1), page(2)], nodes: [1, 1, 2], expected: ok(2, [nil, nil, nil]), nodesAfter: [0, 1, 0]),
    MovePagesRule(linux: "do_pages_move", rule: "an entry with its own status flushes the batch; a failure does not count that entry twice",
                  addresses: [pinned, 0x5000_0000, page(2)], nodes: [1, 1, 1], expected: ok(2, [nil, st(.EFAULT), nil]), nodesAfter: [0, nil, 0]),
    MovePagesRule(linux: "do_move_pages_to_node", rule: "migrate_pages' -ENOMEM fails the call with ENOMEM; the batch before it keeps its status",
                  addresses: [page(1), page(2)], nodes: [1, 2], node2Full: true,
                  expected: SyscallResult(ret: -1, errno: .ENOMEM, status: [1, nil]), nodesAfter: [1, 0]),
    MovePagesRule(linux: "do_pages_move", rule: "a node the machine lacks: the batch before it migrates, then ENODEV",
                  addresses: [page(1), page(2)], nodes: [1, 7], expected: SyscallResult(ret: -1, errno: .ENODEV, status: [1, nil]), nodesAfter: [1, 0]),
    MovePagesRule(linux: "do_pages_move", rule: "a negative node: ENODEV before anything moves",
                  addresses: [page(1)], nodes: [-1], expected: SyscallResult(ret: -1, errno: .ENODEV, status: [nil]), nodesAfter: [0]),
    MovePagesRule(linux: "do_pages_move", rule: "ENODEV beyond MAX_NUMNODES",
                  addresses: [page(1)], nodes: [maxNumNodes], expected: SyscallResult(ret: -1, errno: .ENODEV, status: [nil])),
]

@Suite struct DoPagesMoveTests {
    static func machine(node2Full: Bool) throws -> (Machine, Process, Migrator) {
        let m = makeMachine(nodes: 3)
        let a = try makeProcess(m, "A", pages: 4, mapped: 8)
        try m.pinUserPage(a.mm, pinned)
        if node2Full { try m.allocateUnmovable(node: 2, pages: m.phys.freePages(node: 2)) }
        return (m, a, Migrator(m))
    }

    @Test(arguments: rules)
    func rule(_ r: MovePagesRule) throws {
        let (m, a, mig) = try Self.machine(node2Full: r.node2Full)
        let got = mig.movePages(target: "A", addresses: r.addresses, nodes: r.nodes, flags: r.flags)
        #expect(got == r.expected, "\(r)")
        if let after = r.nodesAfter {
            for (addr, want) in zip(r.addresses, after) where want != nil {
                #expect(nodeOf(m, a, addr) == want, "\(r): page \(hex(addr))")
            }
        }
        for i in 0..<4 { #expect(try m.userRead(a.mm, page(i)).intact, "\(r)") }
        try m.unpinUserPage(a.mm, pinned)
        #expect(Checker.check(m).isEmpty, "\(r): \(describe(Checker.check(m)))")
    }

    /// Linux: add_folio_for_migration / do_pages_stat_array — follow_page finds no page
    /// behind a migration entry: -ENOENT in both modes, and the entry is left alone.
    @Test func migrationEntryIsENOENTInMoveAndQueryMode() throws {
        let (m, a, mig) = try Self.machine(node2Full: false)
        let pfn = try frame(m, a, page(1))
        try #require(m.phys.lruOf(pfn).isolate(pfn))
        try #require(m.phys.trylockPage(pfn))
        let anon = try #require(AnonVmaRef(encoded: m.phys.pages.mapping(pfn)))
        try #require(m.tryToUnmapMigration(pfn) == 1)
        #expect(mig.movePages(target: "A", addresses: [page(1)], nodes: nil, flags: []) == ok(0, [st(.ENOENT)]))
        #expect(mig.movePages(target: "A", addresses: [page(1)], nodes: [1], flags: [.move]) == ok(0, [st(.ENOENT)]))
        #expect(m.pte(a.mm, page(1)).isMigration)
        m.removeMigrationPtes(old: pfn, new: pfn, anonVma: anon)
        m.phys.unlockPage(pfn)
        m.phys.putback(pfn)
        try m.unpinUserPage(a.mm, pinned)
        #expect(try m.userRead(a.mm, page(1)).intact)
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
    }

    /// `syscall_lock=held` keeps 2.6.22's lock but not its answers: statuses are 6.x's.
    @Test func heldLockGivesTheSameAnswers() throws {
        for r in rules {
            var (m, a, mig) = try Self.machine(node2Full: r.node2Full)
            mig.syscallLock = .held
            #expect(mig.movePages(target: "A", addresses: r.addresses, nodes: r.nodes, flags: r.flags) == r.expected, "\(r)")
            try m.unpinUserPage(a.mm, pinned)
            #expect(Checker.check(m).isEmpty, "\(r)")
        }
    }
}
