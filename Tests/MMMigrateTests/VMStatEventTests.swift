// vmstat counters (pgmigrate_success, pgmigrate_fail, pgmigrate_reason_*) and the
// MigrationEvent stream (Linux: mm_migrate_pages_start, per page, mm_migrate_pages).

import Testing
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck
import MMSync

@Suite struct VMStatEventTests {
    static let migrationCounters: [VMStatItem] = [
        .pgmigrateSuccess, .pgmigrateFail, .migrateReasonSyscall, .migrateReasonCompaction,
        .migrateReasonHotplug, .migrateReasonNuma,
    ]

    static func snapshot(_ m: Machine) -> [VMStatItem: Int64] {
        Dictionary(uniqueKeysWithValues: migrationCounters.map { ($0, m.vmstat[$0]) })
    }

    static func delta(_ m: Machine, since s: [VMStatItem: Int64]) -> [VMStatItem: Int64] {
        var d: [VMStatItem: Int64] = [:]
        for k in migrationCounters where m.vmstat[k] != s[k]! { d[k] = m.vmstat[k] - s[k]! }
        return d
    }

    @Test func countersFollowOutcomesAndReasons() throws {
        let m = makeMachine()
        let a = try makeProcess(m, "A", pages: 6)
        let mig = Migrator(m)
        try m.pinUserPage(a.mm, page(3))

        var s = Self.snapshot(m)
        let r = mig.movePages(target: "A", addresses: (0..<4).map(page), nodes: [1, 1, 1, 1], flags: [.move])
        #expect(r.ret == 1 && r.status == [nil, nil, nil, nil], "a failed batch leaves every status unwritten")
        #expect(Self.delta(m, since: s) == [.pgmigrateSuccess: 3, .pgmigrateFail: 1, .migrateReasonSyscall: 3])

        s = Self.snapshot(m)
        #expect(mig.migrateKernel(target: "A", address: page(4), node: 1).errno == nil)
        #expect(Self.delta(m, since: s) == [.pgmigrateSuccess: 1, .migrateReasonCompaction: 1])

        s = Self.snapshot(m)
        #expect(mig.migratePagesSyscall(target: "A", from: [0], to: [1]).ret == 1, "page 5 moves, pinned page 3 does not")
        #expect(Self.delta(m, since: s) == [.pgmigrateSuccess: 1, .pgmigrateFail: 1, .migrateReasonSyscall: 1])

        // Hot-remove and NUMA reasons go to their own counters.
        for (i, reason) in [(0, MigrateReason.memoryHotplug), (1, .numaMisplaced)] {
            s = Self.snapshot(m)
            let pfn = try frame(m, a, page(i))
            try #require(m.phys.lruOf(pfn).isolate(pfn))
            let res = mig.migratePages([pfn], allocate: onNode(m, 0), mode: .sync, reason: reason, context: .kernel)
            #expect(res.succeeded == 1)
            #expect(Self.delta(m, since: s) == [.pgmigrateSuccess: 1, reason == .memoryHotplug ? .migrateReasonHotplug : .migrateReasonNuma: 1])
        }

        // A page nobody maps any more is "freed under us": a success that moves nothing.
        s = Self.snapshot(m)
        let lone = try frame(m, a, page(2))
        try #require(m.phys.lruOf(lone).isolate(lone))
        try m.munmap(a.mm, page(2), 4096)
        #expect(m.phys.pages.refcount(lone) == 1)
        let freed = mig.migratePages([lone], allocate: onNode(m, 0), mode: .sync, reason: .compaction, context: .kernel)
        #expect(freed.outcomes[lone] == .freed)
        #expect(Self.delta(m, since: s) == [.pgmigrateSuccess: 1, .migrateReasonCompaction: 1])
        #expect(m.phys.pages.refcount(lone) == 0)

        try m.unpinUserPage(a.mm, page(3))
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
    }

    @Test func eventStreamHasStartPagesAndEnd() throws {
        let m = makeMachine()
        let a = try makeProcess(m, "A", pages: 3)
        let events = Collector<MigrationEvent>()
        var mig = Migrator(m)
        mig.onEvent = { events.append($0) }
        let old0 = try frame(m, a, page(0)), old1 = try frame(m, a, page(1))
        _ = mig.movePages(target: "A", addresses: [page(0), page(1)], nodes: [1, 1], flags: [.move])
        let ev = events.all
        try #require(ev.count == 4, "\(ev)")
        guard case let .start(n, mode, reason, ctx) = ev[0] else { Issue.record("\(ev[0])"); return }
        #expect(n == 2 && mode == .sync && reason == .syscall && ctx == .syscall)
        var moved: [PFN: PFN] = [:]
        for e in ev[1...2] {
            guard case let .page(old, pass, .migrated(new)) = e else { Issue.record("\(e)"); continue }
            #expect(pass == 0)
            moved[old] = new
        }
        #expect(moved[old0] == m.frameMapped(a.mm, page(0)) && moved[old1] == m.frameMapped(a.mm, page(1)))
        guard case let .end(succeeded, failed, passes) = ev[3] else { Issue.record("\(ev[3])"); return }
        #expect(succeeded == 2 && failed == 0 && passes == 1)
        #expect("\(ev[0])" == "migrate start: 2 pages mode=sync reason=syscall context=syscall")
        #expect("\(ev[3])" == "migrate end: succeeded=2 failed=0 passes=1")

        // Kernel context on a pinned page: start, nine -EAGAIN retries, the tenth pass's
        // failure, end with one failure.
        try m.pinUserPage(a.mm, page(2))
        let pinned = try frame(m, a, page(2))
        let from = events.all.count
        _ = mig.migrateKernel(target: "A", address: page(2), node: 1)
        let ev2 = Array(events.all[from...])
        try #require(ev2.count == 12, "\(ev2)")
        guard case let .start(1, _, reason2, ctx2) = ev2[0] else { Issue.record("\(ev2[0])"); return }
        #expect(reason2 == .compaction && ctx2 == .kernel)
        for (i, e) in ev2[1...9].enumerated() {
            guard case let .retry(old, pass, err) = e else { Issue.record("\(e)"); continue }
            #expect(old == pinned && pass == i && err == .EAGAIN)
        }
        guard case .page(pinned, 9, .failed(.EAGAIN)) = ev2[10] else { Issue.record("\(ev2[10])"); return }
        guard case let .end(s2, f2, p2) = ev2[11] else { Issue.record("\(ev2[11])"); return }
        #expect(s2 == 0 && f2 == 1 && p2 == 10)

        // ENOMEM: a page event carrying the failure (page 0 is on node 1, now full).
        try m.allocateUnmovable(node: 1, pages: m.phys.freePages(node: 1))
        let from3 = events.all.count
        #expect(mig.migrateKernel(target: "A", address: page(0), node: 1).errno == .ENOMEM)
        let ev3 = Array(events.all[from3...])
        try #require(ev3.count == 3, "\(ev3)")
        guard case .page(_, 0, .failed(.ENOMEM)) = ev3[1], case .end(0, 1, 1) = ev3[2] else {
            Issue.record("\(ev3)")
            return
        }
        try m.unpinUserPage(a.mm, page(2))
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
    }
}
