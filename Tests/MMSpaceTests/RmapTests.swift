// The rmap walks migration is built on (MMSpace/RmapWalk.swift): try_to_unmap in
// migration mode, a fault that sleeps on a migration entry, remove_migration_ptes, and
// the anon_vma pins, driven by hand the way migrate.c drives them.

import Testing
import Synchronization
import MMPhysical
import MMSpace
import MMCheck
import MMSync
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct RmapTests {
    @Test(arguments: [AnonVmaPinPolicy.refcount, .seedV2])
    func unmapToMigrationEntriesAndRemapWhileAFaultWaits(policy: AnonVmaPinPolicy) throws {
        let m = smallMachine(nodes: 2)
        m.pinPolicy = policy
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, 4 * page)
        try m.touch(a.mm, base, 4 * page)
        let b = try m.fork(a, child: "B")
        let pages = m.phys.pages
        let old = try #require(m.frameMapped(a.mm, base))
        let stamp = a.mm.expectedStamp(base)
        #expect(pages.mapcount(old) == 2)

        // Isolate, lock, pin the anon_vma, unmap (migrate.c: isolate_lru_page, lock_page,
        // the seed's anon_vma pin, try_to_unmap).
        #expect(m.phys.lruOf(old).isolate(old))
        m.phys.lockPage(old)
        let pin = try #require(m.holdAnonVma(old, policy: policy))
        #expect(pin.ref == a.mm.vmaList[0].anonVma)
        #expect(m.tryToUnmapMigration(old) == 2)
        #expect(m.pte(a.mm, base).isMigration && m.pte(b.mm, base).isMigration)
        #expect(m.pte(a.mm, base).pfn == old)
        #expect(pages.mapcount(old) == 0)
        #expect(pages.refcount(old) == 1, "only the isolation reference is left")
        #expect(m.pageLockAnonVma(old) == nil, "an unmapped page's mapping is not trusted")

        // B faults on the entry and sleeps until the page is unlocked.
        let readValue = Atomic<UInt64>(0)
        let readError = Atomic<Int32>(0)
        let waitersSeen = Atomic<Bool>(false)
        let new = try #require(m.phys.allocPage(node: 1, fallback: false))
        ModelThreads.runConcurrently([
            (name: "faulter", body: { @Sendable in
                do { readValue.store(try m.userRead(b.mm, base).value, ordering: .relaxed) }
                catch { readError.store((error as? Errno)?.rawValue ?? -1, ordering: .relaxed) }
            }),
            (name: "migrator", body: { @Sendable in
                for _ in 0..<5_000 where !pages.test(old, PageFlag.waiters) { usleep(200) }
                waitersSeen.store(pages.test(old, PageFlag.waiters), ordering: .relaxed)
                // Move: copy contents and descriptor state, remap to the new frame.
                m.phys.frames.copy(from: old, to: new)
                pages.setFlags(new, PageFlag.anon)
                pages.setMapping(new, pages.mapping(old))
                pages.setIndex(new, pages.index(old))
                _ = m.removeMigrationPtes(old: old, new: new, anonVma: pin.ref)
                m.phys.lruOf(new).add(new)
                m.phys.unlockPage(old)
                m.releaseAnonVma(pin)
            }),
        ])
        #expect(waitersSeen.load(ordering: .relaxed) == true, "the faulting thread slept on the page lock")
        #expect(readError.load(ordering: .relaxed) == 0)
        #expect(readValue.load(ordering: .relaxed) == stamp)
        #expect(m.vmstat[.migrationEntryWait] >= 1)
        #expect(m.frameMapped(a.mm, base) == new && m.frameMapped(b.mm, base) == new)
        #expect(pages.mapcount(new) == 2)
        #expect(pages.refcount(new) == 3, "two mappings + the allocation reference")
        m.phys.putPage(new)           // the migration's own reference on the target
        m.phys.putback(old)           // last reference: the old frame is freed
        #expect(pages.refcount(old) == 0)
        #expect(m.violations.isEmpty)
        let v = Checker.check(m)
        #expect(v.isEmpty, "\(v)")
        #expect(try m.userRead(a.mm, base).intact)
        try m.userWrite(b.mm, base)   // COW from the migrated page
        #expect(try m.userRead(a.mm, base).value == stamp)
        tearDownAndExpectPristine(m, "policy \(policy)")
    }

    @Test func failedMigrationRemapsTheOldFrame() throws {
        let m = smallMachine()
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, 2 * page)
        try m.touch(a.mm, base, 2 * page)
        let pfn = try #require(m.frameMapped(a.mm, base + page))
        #expect(m.phys.lruOf(pfn).isolate(pfn))
        m.phys.lockPage(pfn)
        let pin = m.holdAnonVma(pfn, policy: .refcount)
        let r = try #require(a.mm.vmaList[0].anonVma)
        #expect(m.slab.slot(r)?.pinCount == 2, "list reference + migration pin")
        #expect(m.tryToUnmapMigration(pfn) == 1)
        #expect(Checker.check(m).contains { $0.kind == .staleMigrationEntry }, "mid-migration is not quiet")
        #expect(m.removeMigrationPtes(old: pfn, new: pfn, anonVma: r) == 1)
        m.phys.unlockPage(pfn)
        m.releaseAnonVma(pin)
        #expect(m.slab.slot(r)?.pinCount == 1)
        m.phys.putback(pfn)
        #expect(m.frameMapped(a.mm, base + page) == pfn)
        #expect(Checker.check(m).isEmpty)
        #expect(try m.userRead(a.mm, base + page).intact)
        tearDownAndExpectPristine(m)
    }

    @Test func refcountPinOutlivesExitAndFreesOnRelease() throws {
        let m = smallMachine()
        m.pinPolicy = .refcount
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, page)
        try m.touch(a.mm, base, page)
        let pfn = try #require(m.frameMapped(a.mm, base))
        let r = try #require(a.mm.vmaList[0].anonVma)
        #expect(m.phys.lruOf(pfn).isolate(pfn))
        m.phys.lockPage(pfn)
        let pin = try #require(m.holdAnonVma(pfn, policy: .refcount))
        #expect(m.tryToUnmapMigration(pfn) == 1)
        try m.exit("A")   // the last VMA leaves while migration holds the anon_vma
        #expect(m.slab.slot(r)?.isAllocated == true, "the pin keeps it alive")
        #expect(m.removeMigrationPtes(old: pfn, new: pfn, anonVma: r) == 0, "nothing left to remap")
        #expect(m.violations.isEmpty, "a pinned reference is not a use-after-free")
        m.phys.unlockPage(pfn)
        m.releaseAnonVma(pin)
        #expect(m.slab.slot(r)?.isAllocated == false, "the last put frees it")
        m.phys.putback(pfn)
        tearDownAndExpectPristine(m)
    }
}
