// Real threads: users write and read stamped pages while a migrator bounces the same
// pages between two nodes, in process context (move_pages, under the mmap_lock) and in
// kernel context (migrate_kernel, no mmap_lock), pin policy refcount. Afterwards: no
// violation, every write preserved, pages really migrated. And the seed's race itself —
// kernel-context migration against the owner's exit — run on real threads.
//
// Each run is bounded (fixed rounds; users stop when the migrator is done or after a
// fixed number of operations) and seeded; every failure message prints the seed.

import Testing
import Synchronization
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck
import MMSync

@Suite(.serialized)
struct ConcurrentMigrationTests {
    static let pagesPerProcess = 32
    static let rounds = 200
    /// Upper bound on each user thread's operations (the migrator normally ends first).
    static let maxUserOps = 400_000

    /// What one user thread did.
    struct UserReport: Sendable {
        let process: String
        var lastWritten: [UInt64: UInt64] = [:]
        var ops = 0, lost = 0, errors = 0
    }

    /// What the migrator saw.
    struct MigratorReport: Sendable {
        var onTarget = 0, busy = 0, unexpected: [String] = []
    }

    @Test func processContextBounceKeepsEveryWrite() throws {
        try bounce(context: .process, seed: 0x5EED_0000_0001)
    }

    /// move_pages as Linux 6.x runs it: the mmap_lock only per page while isolating.
    @Test func syscallContextBounceKeepsEveryWrite() throws {
        try bounce(context: .syscall, seed: 0x5EED_0000_0003)
    }

    @Test func kernelContextBounceKeepsEveryWrite() throws {
        try bounce(context: .kernel, seed: 0x5EED_0000_0002)
    }

    /// Two processes (A and its fork child B, pages partly shared until COW breaks them),
    /// two user threads each, one migrator moving every page of both to node 1, then 0,
    /// `rounds` times.
    func bounce(context: MigrationContext, seed: UInt64) throws {
        let m = makeMachine()
        m.pinPolicy = .refcount
        let n = Self.pagesPerProcess
        let a = try makeProcess(m, "A", pages: n, privileged: true)
        let b = try m.fork(a, child: "B")
        for i in stride(from: 0, to: n, by: 4) { try m.userWrite(b.mm, page(i)) }   // some COW up front
        try #require(Checker.check(m).isEmpty, "seed \(seed)")

        let addrs = (0..<n).map(page)
        let shared = Shared()
        let users = Collector<UserReport>()
        let migReport = Collector<MigratorReport>()
        var migrator = Migrator(m)
        migrator.syscallLock = context == .process ? .held : .isolate
        let mig = migrator

        var threads: [(name: String, body: @Sendable () -> Void)] = []
        for (t, proc) in [(0, a), (1, a), (2, b), (3, b)] {
            let owned = addrs.enumerated().filter { $0.offset % 2 == t % 2 }.map(\.element)
            threads.append(("user\(t)", {
                var rng = SplitMix64(seed: seed &+ UInt64(t) &* 0x1000)
                var rep = UserReport(process: proc.name)
                var pinnedAt: UInt64? = nil
                while !shared.isDone && rep.ops < Self.maxUserOps {
                    rep.ops += 1
                    let mine = owned[rng.below(owned.count)]
                    do {
                        // Threads 0 and 2 hold a long-term pin now and then, so that
                        // migrations also fail (-EAGAIN) and restore the old PTEs.
                        if t % 2 == 0, rep.ops % 16 == 0 {
                            if let p = pinnedAt { try m.unpinUserPage(proc.mm, p); pinnedAt = nil } else {
                                try m.pinUserPage(proc.mm, mine)
                                pinnedAt = mine
                            }
                        }
                        try m.userWrite(proc.mm, mine)
                        let r = try m.userRead(proc.mm, mine)
                        if !r.intact { rep.lost += 1 }
                        rep.lastWritten[mine] = r.value
                        let any = try m.userRead(proc.mm, addrs[rng.below(n)])
                        if !any.intact { rep.lost += 1 }
                    } catch {
                        rep.errors += 1
                    }
                }
                if let p = pinnedAt, (try? m.unpinUserPage(proc.mm, p)) == nil { rep.errors += 1 }
                users.append(rep)
            }))
        }
        threads.append(("migrator", {
            var rep = MigratorReport()
            for round in 0..<Self.rounds {
                let dst = round % 2 == 0 ? 1 : 0
                for name in ["A", "B"] {
                    switch context {
                    case .process, .syscall:
                        let r = mig.movePages(target: name, addresses: addrs, nodes: Array(repeating: dst, count: n),
                                              flags: [.move, .moveAll])
                        if let e = r.errno { rep.unexpected.append("round \(round) \(name): errno \(e)"); continue }
                        for (i, s) in (r.status ?? []).enumerated() {
                            // nil: its batch failed (a pinned page), so Linux wrote no status.
                            if s == dst { rep.onTarget += 1 } else if s == nil || s == st(.EBUSY) { rep.busy += 1 } else {
                                rep.unexpected.append("round \(round) \(name) page \(i): status \(s)")
                            }
                        }
                    case .kernel:
                        for addr in addrs {
                            let r = mig.migrateKernel(target: name, address: addr, node: dst)
                            switch r.errno {
                            case nil: rep.onTarget += 1
                            case .EBUSY?, .EAGAIN?: rep.busy += 1
                            case let e?: rep.unexpected.append("round \(round) \(name) \(hex(addr)): errno \(e)")
                            }
                        }
                    }
                }
            }
            migReport.append(rep)
            shared.finish()
        }))
        ModelThreads.runConcurrently(threads)

        let violations = Checker.check(m)
        #expect(violations.isEmpty, "seed \(seed), context \(context): \(describe(violations))")
        let mr = try #require(migReport.all.first)
        #expect(mr.unexpected.isEmpty, "seed \(seed): \(mr.unexpected.prefix(10))")
        let reports = users.all
        #expect(reports.count == 4)
        for rep in reports {
            #expect(rep.lost == 0 && rep.errors == 0, "seed \(seed): \(rep.process) lost \(rep.lost) errors \(rep.errors)")
            // Every write preserved: what each thread last wrote is what its page holds now.
            let proc = rep.process == "A" ? a : b
            for (addr, stamp) in rep.lastWritten {
                let now = try m.userRead(proc.mm, addr)
                #expect(now.value == stamp, "seed \(seed): \(rep.process) at \(hex(addr)) holds \(hex(now.value)), last wrote \(hex(stamp))")
            }
        }
        let success = m.vmstat[.pgmigrateSuccess], fail = m.vmstat[.pgmigrateFail]
        #expect(success > 0, "seed \(seed): nothing migrated")
        #expect(fail > 0 && mr.busy > 0, "seed \(seed): the pins never made a migration fail")
        let reason: VMStatItem = context == .kernel ? .migrateReasonCompaction : .migrateReasonSyscall
        #expect(m.vmstat[reason] == success, "seed \(seed)")
        #expect(m.violations.isEmpty, "seed \(seed)")
        print("bounce \(context) seed \(hex(seed)): pgmigrate_success=\(success) pgmigrate_fail=\(fail) "
              + "on-target=\(mr.onTarget) busy=\(mr.busy) migration_entry_wait=\(m.vmstat[.migrationEntryWait]) "
              + "cow=\(m.vmstat[.cowFault]) user-ops=\(reports.map(\.ops))")

        try m.exit("A")
        try m.exit("B")
        #expect(Checker.check(m).isEmpty, "seed \(seed)")
        #expect(machineIsEmpty(m), "seed \(seed): memory or anon_vmas left after both exits")
    }

    /// The seed's race on real threads: kernel-context migration of every page of a
    /// process while that process exits, `iterations` times, pin policy refcount. No
    /// use-after-free, no leak, everything freed.
    @Test func kernelMigrationRacingExitIsSafeWithRefcount() throws {
        let seed: UInt64 = 0x5EED_0000_0003
        let iterations = 150
        let m = makeMachine()
        m.pinPolicy = .refcount
        var rng = SplitMix64(seed: seed)
        let mig = Migrator(m)
        let outcomes = Collector<String>()
        for it in 0..<iterations {
            let name = "P\(it)"
            let p = try makeProcess(m, name, pages: 8)
            if it % 3 == 0 { try m.fork(p, child: "C\(it)") }   // a shared anon_vma half the time
            let delay = rng.below(2_000)
            ModelThreads.runConcurrently([
                ("migrator", {
                    for i in 0..<8 {
                        let r = mig.migrateKernel(target: name, address: page(i), node: 1)
                        outcomes.append(r.errno.map { "\($0)" } ?? "ok")
                    }
                }),
                ("exit", {
                    var x = 0
                    for k in 0..<delay { x &+= k }   // a seeded, bounded head start for the migrator
                    if x == -1 { print(x) }
                    try? m.exit(name)
                }),
            ])
            let v = Checker.check(m)
            #expect(v.isEmpty, "seed \(seed) iteration \(it): \(describe(v))")
            if !v.isEmpty { break }
            if it % 3 == 0 { try m.exit("C\(it)") }
            #expect(machineIsEmpty(m), "seed \(seed) iteration \(it): memory or anon_vma left")
        }
        let all = outcomes.all
        print("migrate vs exit seed \(hex(seed)): \(all.filter { $0 == "ok" }.count) ok of \(all.count), "
              + "pgmigrate_success=\(m.vmstat[.pgmigrateSuccess]) anon_vma alloc/free=\(m.vmstat[.anonVmaAlloc])/\(m.vmstat[.anonVmaFree])")
        #expect(all.allSatisfy { ["ok", "EBUSY", "EAGAIN", "ESRCH"].contains($0) }, "seed \(seed): \(Set(all))")
        #expect(m.vmstat[.anonVmaAlloc] == m.vmstat[.anonVmaFree])
    }
}
