// The anon_vma pin policies, deterministically: the afterUnmap hook runs the owner's exit
// exactly between unmap and remap of a migration (the seed's race window).
//   none     — kernel context: remap walks the freed anon_vma (use-after-free);
//   seed-v2  — no use-after-free, but the inverted test in anon_vma_release leaks it;
//              with two pins the first release frees it under the second;
//   refcount — clean; the anon_vma is freed when the last pin goes.
// And process context: the caller's mm reference keeps the anon_vma alive, any policy.

import Testing
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck
import MMSync

@Suite struct PinPolicyTests {
    /// What the hook saw right after the owner's exit.
    struct AfterExit: Sendable {
        var live: Bool
        var vmasLeft: Int
        var pinCount: Int32
        var seedCount: Int
    }

    static func snapshot(_ m: Machine, _ r: AnonVmaRef) -> AfterExit {
        let slot = m.slab.slot(r)!
        let live = slot.isAllocated && slot.generation == r.generation
        return AfterExit(live: live, vmasLeft: slot.lock.withLock { slot.vmaList.count },
                         pinCount: slot.pinCount, seedCount: slot.seedCount)
    }

    /// A with 4 touched pages; a migrator whose afterUnmap hook makes A exit (once).
    static func exitDuringMigration(_ policy: AnonVmaPinPolicy) throws
        -> (m: Machine, anon: AnonVmaRef, mig: Migrator, seen: Collector<AfterExit>) {
        let m = makeMachine()
        m.pinPolicy = policy
        let a = try makeProcess(m, "A", pages: 4)
        let r = try #require(a.mm.vmaList.first?.anonVma)
        let seen = Collector<AfterExit>()
        var mig = Migrator(m)
        mig.hooks = MigrationHooks(afterUnmap: { _ in
            guard (try? m.exit("A")) != nil else { return }
            seen.append(snapshot(m, r))
        })
        return (m, r, mig, seen)
    }

    // MARK: kernel context, one migration

    @Test func noPinKernelContextRemapWalksFreedAnonVma() throws {
        let (m, r, mig, seen) = try Self.exitDuringMigration(.none)
        let res = mig.migrateKernel(target: "A", address: page(0), node: 1)
        #expect(res.errno == nil)
        let after = try #require(seen.all.first)
        #expect(!after.live, "nothing pins \(r): the exit must free it before the remap")
        let v = Checker.check(m)
        #expect(v.count == 1, "\(describe(v))")
        #expect(v.allSatisfy { $0.kind == .useAfterFree }, "\(describe(v))")
        #expect(v.first?.message.contains("remap") == true, "\(describe(v))")
        #expect(v.first?.message.contains("\(r)") == true, "\(describe(v))")
        #expect(m.phys.freePages() == m.config.totalPages)
    }

    @Test func seedV2KernelContextLeaksTheAnonVma() throws {
        let (m, r, mig, seen) = try Self.exitDuringMigration(.seedV2)
        let res = mig.migrateKernel(target: "A", address: page(0), node: 1)
        #expect(res.errno == nil)
        let after = try #require(seen.all.first)
        #expect(after.live && after.vmasLeft == 0 && after.seedCount == 1, "\(after)")
        // After the migration: still allocated, empty, seed count back to 0 — leaked.
        let end = Self.snapshot(m, r)
        #expect(end.live && end.vmasLeft == 0 && end.seedCount == 0, "\(end)")
        // The seed's anon_vma_hold also leaves its RCU read-side section open.
        let all = Checker.check(m)
        #expect(all.filter { $0.kind == .rcuImbalance }.count == 1, "\(describe(all))")
        let v = all.filter { $0.kind != .rcuImbalance }
        #expect(v.count == 1, "\(describe(v))")
        #expect(v.first?.kind == .leak, "\(describe(v))")
        #expect(v.first?.message.contains("\(r)") == true, "\(describe(v))")
        #expect(!v.contains { $0.kind == .useAfterFree })
        #expect(m.phys.freePages() == m.config.totalPages, "only the anon_vma leaks, no page")
    }

    @Test func refcountKernelContextFreesTheAnonVmaWhenMigrationEnds() throws {
        let (m, r, mig, seen) = try Self.exitDuringMigration(.refcount)
        let success = m.vmstat[.pgmigrateSuccess]
        let res = mig.migrateKernel(target: "A", address: page(0), node: 1)
        #expect(res.errno == nil)
        let after = try #require(seen.all.first)
        #expect(after.live && after.vmasLeft == 0 && after.pinCount == 1, "the pin alone keeps it: \(after)")
        let v = Checker.check(m)
        #expect(v.isEmpty, "\(describe(v))")
        #expect(!Self.snapshot(m, r).live)
        #expect(machineIsEmpty(m), "no allocated anon_vma, every frame free")
        #expect(m.vmstat[.anonVmaAlloc] == m.vmstat[.anonVmaFree])
        #expect(m.vmstat[.pgmigrateSuccess] == success + 1)
    }

    // MARK: two migrations of pages of one anon_vma

    /// seed-v2, two pins taken directly on two locked, isolated pages: the owner exits,
    /// the first release frees the anon_vma although the second pin still holds it, and
    /// the second release uses it after free.
    @Test func seedV2FirstOfTwoReleasesFreesUnderTheSecond() throws {
        let m = makeMachine()
        m.pinPolicy = .seedV2
        let a = try makeProcess(m, "A", pages: 4)
        let r = try #require(a.mm.vmaList.first?.anonVma)
        let p0 = try frame(m, a, page(0)), p1 = try frame(m, a, page(1))
        for p in [p0, p1] {
            try #require(m.phys.lruOf(p).isolate(p))
            m.phys.lockPage(p)
        }
        let pin0 = try #require(m.holdAnonVma(p0, policy: .seedV2))
        let pin1 = try #require(m.holdAnonVma(p1, policy: .seedV2))
        #expect(Self.snapshot(m, r).seedCount == 2)
        try m.exit("A")
        #expect(Self.snapshot(m, r).live, "seed: unlink keeps it while ref != 0")
        m.releaseAnonVma(pin0)
        #expect(!Self.snapshot(m, r).live, "inverted test: freed while pin1 still holds it")
        #expect(m.violations.isEmpty)
        m.releaseAnonVma(pin1)
        // The posted release runs its steps on the freed slot (lock, ref 1 → 0, no free).
        let v = m.violations.all
        #expect(v.count == 1 && v.first?.kind == .useAfterFree, "\(describe(v))")
        #expect(v.first?.message.contains("anon_vma_release") == true, "\(describe(v))")
        for p in [p0, p1] {
            m.phys.unlockPage(p)
            m.phys.putback(p)
        }
        #expect(m.phys.freePages() == m.config.totalPages)
    }

    /// The same two pins under refcount: the anon_vma lives until the second release.
    @Test func refcountTwoPinsFreeOnTheLastRelease() throws {
        let m = makeMachine()
        m.pinPolicy = .refcount
        let a = try makeProcess(m, "A", pages: 4)
        let r = try #require(a.mm.vmaList.first?.anonVma)
        let p0 = try frame(m, a, page(0)), p1 = try frame(m, a, page(1))
        for p in [p0, p1] {
            try #require(m.phys.lruOf(p).isolate(p))
            m.phys.lockPage(p)
        }
        let pin0 = try #require(m.holdAnonVma(p0, policy: .refcount))
        let pin1 = try #require(m.holdAnonVma(p1, policy: .refcount))
        #expect(Self.snapshot(m, r).pinCount == 3, "the list's reference plus two pins")
        try m.exit("A")
        #expect(Self.snapshot(m, r).pinCount == 2)
        m.releaseAnonVma(pin0)
        #expect(Self.snapshot(m, r).live && Self.snapshot(m, r).pinCount == 1)
        m.releaseAnonVma(pin1)
        #expect(!Self.snapshot(m, r).live)
        #expect(m.violations.isEmpty, "\(describe(m.violations.all))")
        for p in [p0, p1] {
            m.phys.unlockPage(p)
            m.phys.putback(p)
        }
        #expect(machineIsEmpty(m))
    }

    /// Two nested kernel-context migrations of two pages of one anon_vma: the outer one's
    /// afterUnmap hook runs the inner one, whose hook makes the owner exit.
    @Test(arguments: AnonVmaPinPolicy.allCases)
    func nestedKernelMigrationsWithExit(policy: AnonVmaPinPolicy) throws {
        let m = makeMachine()
        m.pinPolicy = policy
        let a = try makeProcess(m, "A", pages: 4)
        let r = try #require(a.mm.vmaList.first?.anonVma)
        var inner = Migrator(m)
        inner.hooks = MigrationHooks(afterUnmap: { _ in try? m.exit("A") })
        let innerMigrator = inner
        var outer = Migrator(m)
        outer.hooks = MigrationHooks(afterUnmap: { _ in _ = innerMigrator.migrateKernel(target: "A", address: page(1), node: 1) })
        let res = outer.migrateKernel(target: "A", address: page(0), node: 1)
        #expect(res.errno == nil)
        let all = Checker.check(m)
        #expect(all.filter { $0.kind == .rcuImbalance }.count == (policy == .seedV2 ? 2 : 0), "\(describe(all))")
        let v = all.filter { $0.kind != .rcuImbalance }
        switch policy {
        case .none:
            // Freed at the exit: both remaps walk it.
            #expect(v.count == 2 && v.allSatisfy { $0.kind == .useAfterFree }, "\(describe(v))")
        case .seedV2:
            // Kept by the count at exit, freed by the inner release (count 2 → 1, list
            // empty, inverted test), then the outer remap and release use it after free.
            #expect(v.count == 2 && v.allSatisfy { $0.kind == .useAfterFree }, "\(describe(v))")
            #expect(v.contains { $0.message.contains("remap") } && v.contains { $0.message.contains("anon_vma_release") },
                    "\(describe(v))")
        case .refcount:
            #expect(v.isEmpty, "\(describe(v))")
            #expect(!Self.snapshot(m, r).live)
            #expect(machineIsEmpty(m))
        }
        #expect(m.phys.freePages() == m.config.totalPages)
        #expect(m.vmstat[.pgmigrateSuccess] == 2)
    }

    // MARK: process context

    /// move_pages holds a reference on the owner's mm (and its mmap_lock): an exit during
    /// the migration only drops a user, the VMA stays on the anon_vma, the remap is safe —
    /// even with no pin at all. The address space goes when move_pages lets go of it.
    @Test(arguments: AnonVmaPinPolicy.allCases, SyscallLock.allCases)
    func processContextExitDuringMigrationIsSafe(policy: AnonVmaPinPolicy, lock: SyscallLock) throws {
        let m = makeMachine()
        m.pinPolicy = policy
        let a = try makeProcess(m, "A", pages: 4)
        let r = try #require(a.mm.vmaList.first?.anonVma)
        let users = Collector<Int>()
        let seen = Collector<AfterExit>()
        var mig = Migrator(m)
        mig.syscallLock = lock
        mig.hooks = MigrationHooks(afterUnmap: { _ in
            guard (try? m.exit("A")) != nil else { return }
            users.append(a.mm.userCount)
            seen.append(Self.snapshot(m, r))
        })
        let res = mig.movePages(target: "A", addresses: [page(0)], nodes: [1], flags: [.move])
        #expect(res == ok(0, [1]))
        #expect(users.all == [1], "move_pages still holds the mm")
        let after = try #require(seen.all.first)
        #expect(after.live && after.vmasLeft == 1, "\(after)")
        #expect(a.mm.isDead, "torn down once move_pages dropped its reference")
        // Without the mmap_lock (isolate) the seed pins as for kernel context, and its
        // anon_vma_hold leaves the RCU section open.
        let all = Checker.check(m)
        #expect(all.contains { $0.kind == .rcuImbalance } == (policy == .seedV2 && lock == .isolate), "\(describe(all))")
        let v = all.filter { $0.kind != .rcuImbalance }
        #expect(!v.contains { $0.kind == .useAfterFree }, "\(describe(v))")
        #expect(v.isEmpty, "\(describe(v))")
        #expect(machineIsEmpty(m))
    }
}
