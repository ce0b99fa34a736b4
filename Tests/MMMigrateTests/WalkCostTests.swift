// Walks follow what is populated, not what is mapped (issue: a 16 TiB mapping with one
// touched page took over 60 s to migrate_pages). Each operation is run on a mapping of
// 4 GiB and of 4 TiB (1,024×) holding the same three touched pages; the number of
// directory entries and PTE slots it looks at (PageTable.visited) must be the same.

import Testing
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck

@Suite struct WalkCostTests {
    static let small: UInt64 = 4 << 30
    static let large: UInt64 = 4 << 40

    /// A process with a mapping of `len` at `base` and pages touched at its start,
    /// middle and last page.
    func setUp(_ len: UInt64) throws -> (Machine, Process) {
        let m = makeMachine()
        let p = try m.createProcess("W", node: 0)
        try m.mmap(p.mm, base, len)
        for a in [base, base + (len / 2 & ~4095), base + len - 4096] { try m.userWrite(p.mm, a) }
        return (m, p)
    }

    /// Entries visited by `op` on a mapping of `len`.
    func visits(_ len: UInt64, _ op: (Machine, Process) throws -> Void) throws -> Int {
        let (m, p) = try setUp(len)
        let before = p.mm.pageTable.visited.load(ordering: .relaxed)
        try op(m, p)
        let n = p.mm.pageTable.visited.load(ordering: .relaxed) - before
        #expect(Checker.check(m).isEmpty, "checker after the walk on \(len >> 30) GiB: \(describe(Checker.check(m)))")
        return n
    }

    @Test func migratePagesCostFollowsPopulatedTables() throws {
        let op: (Machine, Process) throws -> Void = { m, p in
            let r = Migrator(m).migratePagesSyscall(target: p.name, from: [0], to: [1])
            #expect(r.errno == nil && r.ret == 0, "migrate_pages: \(r)")
            #expect(nodeOf(m, p, base) == 1)
        }
        let s = try visits(Self.small, op), l = try visits(Self.large, op)
        #expect(s == l, "migrate_pages visited \(s) entries for 4 GiB, \(l) for 4 TiB")
        #expect(l <= 3 * PteTable.entries + 8, "migrate_pages visited \(l) entries for 3 populated tables")
    }

    @Test func forkCostFollowsPopulatedTables() throws {
        let op: (Machine, Process) throws -> Void = { m, p in
            let c = try m.fork(p, child: "C")
            try m.exit(c.name)
        }
        let s = try visits(Self.small, op), l = try visits(Self.large, op)
        #expect(s == l, "fork+exit visited \(s) entries for 4 GiB, \(l) for 4 TiB")
    }

    @Test func munmapAndExitCostFollowPopulatedTables() throws {
        let munmap: (Machine, Process) throws -> Void = { m, p in try m.munmap(p.mm, base + 4096, Self.small - 8192) }
        #expect(try visits(Self.small, munmap) == visits(Self.large, { m, p in try m.munmap(p.mm, base + 4096, Self.large - 8192) }))
        let exit: (Machine, Process) throws -> Void = { m, p in try m.exit(p.name) }
        let s = try visits(Self.small, exit), l = try visits(Self.large, exit)
        #expect(s == l, "exit visited \(s) entries for 4 GiB, \(l) for 4 TiB")
    }

    @Test func mremapCostFollowsPopulatedTables() throws {
        let s = try visits(Self.small) { m, p in try m.mremap(p.mm, base, Self.small, base + Self.small) }
        let l = try visits(Self.large) { m, p in try m.mremap(p.mm, base, Self.large, base + Self.large) }
        #expect(s == l, "mremap visited \(s) entries for 4 GiB, \(l) for 4 TiB")
    }
}
