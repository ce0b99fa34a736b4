// The checker's rules for large folios and the page cache (MMCheck/Checker+Folios.swift):
// each test corrupts exactly one piece of state, expects the report, repairs it and
// expects a clean check again.

import Testing
@testable import MMPhysical
@testable import MMSpace
import MMCheck
import MMSync

@Suite struct FolioCheckerTests {
    /// A machine with one clean order-2 folio at index 0 and one order-0 folio at index 4 of `f`.
    func machine() throws -> (Machine, FileMapping, PFN, PFN) {
        let m = smallMachine()
        let f = m.createFile("f")
        let big = try addFolio(m, f, index: 0, order: 2)
        let small = try addFolio(m, f, index: 4, order: 0)
        try #require(Checker.check(m) == [])
        return (m, f, big, small)
    }

    func expectReport(_ m: Machine, _ kind: Violation.Kind, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let v = Checker.check(m)
        #expect(v.contains { $0.kind == kind && $0.message.contains(text) }, "\(v)", sourceLocation: sourceLocation)
    }

    @Test func tailNamingAnotherHeadIsReported() throws {
        let (m, _, big, small) = try machine()
        m.phys.pages.setIndex(big + 2, small)
        expectReport(m, .accounting, "pfn \(big + 2): tail page names pfn \(small)")
        m.phys.pages.setIndex(big + 2, big)
        #expect(Checker.check(m) == [])
    }

    @Test func tailHoldingAReferenceIsReported() throws {
        let (m, _, big, _) = try machine()
        m.phys.pages._setRefcountForTesting(big + 1, 1)
        expectReport(m, .refcount, "pfn \(big + 1): tail of folio \(big)")
        m.phys.pages._setRefcountForTesting(big + 1, 0)
        #expect(Checker.check(m) == [])
    }

    @Test func headWhoseOrderDoesNotFitIsReported() throws {
        let (m, _, big, _) = try machine()
        // Order 3 at a head aligned to 4 only, or covering a page that is not its tail.
        let d = m.phys.pages
        d.clearFlags(big, PageFlag.orderMask)
        d.setFlags(big, 3 << 24)
        let v = Checker.check(m)
        #expect(v.contains { $0.message.contains("pfn \(big): folio head of order 3 that does not fit") || $0.message.contains("inside order-3 folio \(big)") }, "\(v)")
        d.clearFlags(big, PageFlag.orderMask)
        d.setFlags(big, 2 << 24)
        #expect(Checker.check(m) == [])
    }

    @Test func tailOnTheLRUIsReported() throws {
        let (m, _, big, _) = try machine()
        let lru = m.phys.lruOf(big)
        m.phys.pages.clearFlags(big + 3, PageFlag.tail)
        lru.add(big + 3)
        m.phys.pages.setFlags(big + 3, PageFlag.tail)
        expectReport(m, .accounting, "pfn \(big + 3): a tail page on node 0's LRU list")
        lru.removeForFree(big + 3)
        m.phys.pages.clearFlags(big + 3, PageFlag.lru)
        #expect(Checker.check(m) == [])
    }

    @Test func folioStateInAFreeBlockIsReported() throws {
        let m = smallMachine()
        let p = try #require(m.phys.allocPages(node: 0, order: 0, .movable))
        m.phys.putPage(p)
        m.phys.pages.setFlags(p + 5, PageFlag.tail)
        expectReport(m, .accounting, "pfn \(p + 5): free (in order-")
        m.phys.pages.clearFlags(p + 5, PageFlag.tail)
        #expect(Checker.check(m) == [])
    }

    @Test func pageCacheRefcountOffTheRuleIsReported() throws {
        let (m, _, big, _) = try machine()
        m.phys.pages._setRefcountForTesting(big, 5)
        expectReport(m, .refcount, "pfn \(big): page-cache folio of 4 pages with refcount 5, expected 4")
        m.phys.pages._setRefcountForTesting(big, 4)
        #expect(Checker.check(m) == [])
    }

    @Test func cacheTableAndFolioIndexDisagreeing() throws {
        let (m, f, big, small) = try machine()
        f.lock.withLock { f.setSlotLocked(2, small) }
        let v = Checker.check(m)
        #expect(v.contains { $0.message.contains("pfn \(big): file f index 0 (4 pages) but the cache has pfn \(small) at index 2") }, "\(v)")
        #expect(v.contains { $0.message.contains("file f index 2: slot names pfn \(small)") }, "\(v)")
        f.lock.withLock { f.setSlotLocked(2, big) }
        #expect(Checker.check(m) == [])
    }

    @Test func dirtyPageInNoCacheIsReported() throws {
        let m = smallMachine()
        try m.allocateUnmovable(node: 0, pages: 1)
        let p = try #require(m.unmovable.last)
        m.phys.pages.setFlags(p, PageFlag.dirty)
        expectReport(m, .accounting, "pfn \(p): dirty but in no page cache")
        m.phys.pages.clearFlags(p, PageFlag.dirty)
        #expect(Checker.check(m) == [])
    }
}
