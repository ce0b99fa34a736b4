// Each invariant the checker once missed: corrupt exactly that state, expect the report,
// repair it, expect a clean check again.

import Testing
@testable import MMPhysical
@testable import MMSpace
import MMCheck
import MMSync

@Suite struct CheckerBlindSpotTests {
    /// A with 4 written pages at `base`, page 0 pinned.
    func machine() throws -> (Machine, Process) {
        let m = smallMachine()
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, 4 * page)
        try m.touch(a.mm, base, 4 * page)
        try m.pinUserPage(a.mm, base)
        try #require(Checker.check(m) == [])
        return (m, a)
    }

    @Test func writtenPageWhosePTEVanishedIsALostWrite() throws {
        let (m, a) = try machine()
        let t = try #require(a.mm.pageTable.table(for: base + page, allocate: false))
        let saved = t.ptl.withLock { t[base + page] }
        t.ptl.withLock { t[base + page] = .none }
        let v = Checker.check(m)
        #expect(v.contains { $0.kind == .lostWrite && $0.message.contains("PTE vanished") }, "\(v)")
        t.ptl.withLock { t[base + page] = saved }
        #expect(Checker.check(m) == [])
    }

    @Test(arguments: [PageFlag.locked, PageFlag.writeback])
    func lockOrWritebackBitLeftSetIsReported(flag: UInt32) throws {
        let (m, a) = try machine()
        let pfn = try #require(m.frameMapped(a.mm, base + 2 * page))
        m.phys.pages.setFlags(pfn, flag)
        let v = Checker.check(m)
        #expect(v.contains { $0.kind == .accounting && $0.message.contains("pfn \(pfn): PG_\(flag == PageFlag.locked ? "locked" : "writeback")") }, "\(v)")
        m.phys.pages.clearFlags(pfn, flag)
        #expect(Checker.check(m) == [])
    }

    @Test func lruListDisagreeingWithPGLruIsReported() throws {
        let (m, a) = try machine()
        let pfn = try #require(m.frameMapped(a.mm, base + 3 * page))
        m.phys.pages.clearFlags(pfn, PageFlag.lru)
        let v = Checker.check(m)
        #expect(v.contains { $0.message.contains("pfn \(pfn): on node 0's LRU list without PG_lru") }, "\(v)")
        m.phys.pages.setFlags(pfn, PageFlag.lru)
        #expect(Checker.check(m) == [])
        // And the other way: PG_lru on a page no list holds (an unmovable kernel page).
        try m.allocateUnmovable(node: 0, pages: 1)
        let k = try #require(m.unmovable.first)
        m.phys.pages.setFlags(k, PageFlag.lru)
        #expect(Checker.check(m).contains { $0.message.contains("pfn \(k): PG_lru set but on no LRU list") })
        m.phys.pages.clearFlags(k, PageFlag.lru)
        #expect(Checker.check(m) == [])
    }

    @Test func pinNotOnTheMappedFrameIsReported() throws {
        let (m, a) = try machine()
        let other = try #require(m.frameMapped(a.mm, base + page))
        let pinned = try #require(m.frameMapped(a.mm, base))
        // Move the pin's reference to another frame, keeping every count right.
        a.mm.shadowLock.withLock { a.mm.pins[0].pfn = other }
        m.phys.pages.getRef(other)
        m.phys.putPage(pinned)
        let v = Checker.check(m)
        #expect(v.contains { $0.message.contains("pin holds pfn \(other) but the address maps pfn \(pinned)") }, "\(v)")
        a.mm.shadowLock.withLock { a.mm.pins[0].pfn = pinned }
        m.phys.pages.getRef(pinned)
        m.phys.putPage(other)
        #expect(Checker.check(m) == [])
    }

    @Test func seedCountNotBackAtZeroIsReported() throws {
        let (m, a) = try machine()
        m.pinPolicy = .seedV2
        let r = try #require(a.mm.vmaList.first?.anonVma)
        let slot = try #require(m.slab.slot(r))
        slot.lock.withLock { slot.seedRef = 1 }
        #expect(Checker.check(m).contains { $0.kind == .refcount && $0.message.contains("seed ref 1") })
        slot.lock.withLock { slot.seedRef = 0 }
        #expect(Checker.check(m) == [])
    }

    @Test func vmaMissingFromItsAnonVmaListIsReported() throws {
        let (m, a) = try machine()
        let vma = try #require(a.mm.vmaList.first)
        let slot = try #require(vma.anonVma.flatMap { m.slab.slot($0) })
        slot.lock.withLock { slot.vmas.removeAll { $0 === vma } }
        #expect(Checker.check(m).contains { $0.kind == .rmap && $0.message.contains("is missing from") })
        slot.lock.withLock { slot.vmas.append(vma) }
        #expect(Checker.check(m) == [])
    }
}
