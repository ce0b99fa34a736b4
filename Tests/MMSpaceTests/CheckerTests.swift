// The checker must be able to fail: each test corrupts one piece of state on purpose and
// expects the matching Violation.Kind, then repairs it and expects a clean check again.

import Testing
@testable import MMPhysical
import MMSpace
import MMCheck
import MMSync

@Suite struct CheckerTests {
    /// A with 8 written pages at `base`, forked into B (so frames are shared).
    func twoProcesses() throws -> (Machine, Process, Process) {
        let m = smallMachine()
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, 8 * page)
        try m.touch(a.mm, base, 8 * page)
        let b = try m.fork(a, child: "B")
        try m.userWrite(b.mm, base + page)
        return (m, a, b)
    }

    func kinds(_ v: [Violation]) -> Set<Violation.Kind> { Set(v.map(\.kind)) }

    @Test func cleanMachineChecksClean() throws {
        let (m, _, _) = try twoProcesses()
        #expect(Checker.check(m) == [])
    }

    @Test func wrongMapcountIsReported() throws {
        let (m, a, _) = try twoProcesses()
        let pfn = try #require(m.frameMapped(a.mm, base))
        #expect(m.phys.pages.mapcount(pfn) == 2)
        m.phys.pages._setMapcountForTesting(pfn, 3)
        let v = Checker.check(m)
        #expect(v.contains { $0.kind == .mapcount && $0.message.contains("pfn \(pfn)") }, "\(v)")
        #expect(kinds(v) == [.mapcount], "\(v)")
        m.phys.pages._setMapcountForTesting(pfn, 2)
        #expect(Checker.check(m) == [])
    }

    @Test func wrongRefcountIsReported() throws {
        let (m, a, _) = try twoProcesses()
        let pfn = try #require(m.frameMapped(a.mm, base + 2 * page))
        m.phys.pages._setRefcountForTesting(pfn, 5)
        var v = Checker.check(m)
        #expect(v.contains { $0.kind == .refcount && $0.message.contains("pfn \(pfn)") }, "\(v)")
        #expect(kinds(v) == [.refcount], "\(v)")
        // A page nobody maps or pins but that holds a reference is a leak.
        m.phys.pages._setRefcountForTesting(pfn, 2)
        let lone = try #require(m.phys.allocPage(node: 0))
        v = Checker.check(m)
        #expect(v.contains { $0.kind == .leak && $0.message.contains("pfn \(lone)") }, "\(v)")
        m.phys.putPage(lone)
        #expect(Checker.check(m) == [])
    }

    @Test func strayPTEOutsideAnyVmaIsReported() throws {
        let (m, a, _) = try twoProcesses()
        let pfn = try #require(m.frameMapped(a.mm, base + 3 * page))
        let stray: UInt64 = 0x7000_0000
        let t = try #require(a.mm.pageTable.table(for: stray, allocate: true))
        t.ptl.withLock { t[stray] = PTE.present(pfn, write: true) }
        #expect(m.pte(a.mm, stray).pfn == pfn)
        let v = Checker.check(m)
        #expect(v.contains { $0.kind == .mapcount && $0.message.contains("stray") && $0.message.contains(hex(stray)) }, "\(v)")
        t.ptl.withLock { t[stray] = .none }
        #expect(Checker.check(m) == [])
    }

    @Test func leftoverMigrationEntryIsReported() throws {
        let (m, a, _) = try twoProcesses()
        let addr = base + 4 * page
        let pfn = try #require(m.frameMapped(a.mm, addr))
        let t = try #require(a.mm.pageTable.table(for: addr, allocate: false))
        t.ptl.withLock { t[addr] = .migration(pfn, write: false) }
        let v = Checker.check(m)
        #expect(v.contains { $0.kind == .staleMigrationEntry }, "\(v)")
        // A fault on it finds the page unlocked: reported by the model too.
        #expect(throws: Errno.EFAULT) { try m.userRead(a.mm, addr) }
        #expect(m.violations.all.contains { $0.kind == .staleMigrationEntry })
    }

    @Test func lostWriteIsReported() throws {
        let (m, a, b) = try twoProcesses()
        let pfn = try #require(m.frameMapped(b.mm, base + page))   // B's private COW copy
        m.phys.frames.writeStamp(pfn, 0x1234_5678)
        let v = Checker.check(m)
        #expect(v.contains { $0.kind == .lostWrite && $0.message.contains("B at \(hex(base + page))") }, "\(v)")
        #expect(!v.contains { $0.message.hasPrefix("A ") }, "A's frames are untouched: \(v)")
        #expect(m.violations.isEmpty, "nobody read it yet")
        // A user read of the damaged page reports it as it happens.
        let r = try m.userRead(b.mm, base + page)
        #expect(!r.intact && r.value == 0x1234_5678)
        #expect(m.violations.all.contains { $0.kind == .lostWrite })
        #expect(try m.userRead(a.mm, base + page).intact)
    }

    @Test func tornFrameIsALostWrite() throws {
        let m = smallMachine(content: .full)
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, page)
        try m.userWrite(a.mm, base)
        let pfn = try #require(m.frameMapped(a.mm, base))
        #expect(Checker.check(m) == [])
        // A copy that dropped the end of the page: the tail word disagrees with the head.
        m.phys.frames.frame(pfn).storeBytes(of: UInt64(0), toByteOffset: pageSize - 8, as: UInt64.self)
        #expect(m.phys.frames.readStamp(pfn) == FrameStore.torn)
        let v = Checker.check(m)
        #expect(v.contains { $0.kind == .lostWrite && $0.message.contains(hex(FrameStore.torn)) }, "\(v)")
    }

    @Test func staleAnonVmaReferenceIsAUseAfterFree() throws {
        let m = smallMachine()
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, 4 * page)
        try m.touch(a.mm, base, 4 * page)
        let stale = try #require(a.mm.vmaList[0].anonVma)
        let pfn = try #require(m.frameMapped(a.mm, base))
        try m.exit("A")
        let slot = try #require(m.slab.slot(stale))
        #expect(!slot.isAllocated)
        #expect(m.violations.isEmpty)
        let restored = m.removeMigrationPtes(old: pfn, new: pfn, anonVma: stale)
        #expect(restored == 0)
        let reported = m.violations.all
        #expect(reported.count == 1 && reported[0].kind == .useAfterFree, "\(reported)")
        #expect(reported.first?.message.contains("free") == true)
        #expect(Checker.check(m).contains { $0.kind == .useAfterFree })

        // Once the slot is reused by another process the reference still is stale.
        let b = try m.createProcess("B")
        try m.mmap(b.mm, base, page)
        try m.touch(b.mm, base, page)
        let reused = try #require(b.mm.vmaList[0].anonVma)
        #expect(reused.slot == stale.slot && reused.generation != stale.generation, "LIFO slot reuse")
        let bPfn = try #require(m.frameMapped(b.mm, base))
        #expect(m.removeMigrationPtes(old: bPfn, new: bPfn, anonVma: stale) == 0)
        #expect(m.violations.all.count == 2)
        #expect(m.violations.all.last?.message.contains("reused as") == true)
        #expect(m.pte(b.mm, base).isPresent, "B's mapping was not touched")
    }

    @Test func leakedAnonVmaIsReported() throws {
        let m = smallMachine()
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, page)
        try m.touch(a.mm, base, page)
        let r = try #require(a.mm.vmaList[0].anonVma)
        // seed-v2 with a migration pin outstanding keeps the anon_vma alive past unlink:
        // with nobody left to release it, it leaks.
        m.pinPolicy = .seedV2
        let pfn = try #require(m.frameMapped(a.mm, base))
        let pin = try #require(m.holdAnonVma(pfn, policy: .seedV2))
        #expect(pin.ref == r)
        try m.exit("A")
        let v = Checker.check(m)
        #expect(v.contains { $0.kind == .leak && $0.message.contains("\(r)") }, "\(v)")
        #expect(m.slab.slot(r)?.isAllocated == true)
    }
}
