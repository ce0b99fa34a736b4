// Large folios in the page descriptors (PageDescriptors.swift: the head/tail encoding)
// and their allocation and freeing (PhysicalMemory.allocFolio, putPage/putRefs of a
// head: Linux prep_compound_page, free_pages of the folio's order).

import Testing
@testable import MMPhysical
import MMSync

@Suite struct FolioTests {
    @Test(arguments: [1, 2, 9, 10])
    func allocatedFolioHasAHeadWithItsOrderAndTailsNamingIt(order: Int) throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 16 << 20))
        let head = try #require(phys.allocFolio(node: 0, order: order))
        let d = phys.pages
        #expect(Int(head) % (1 << order) == 0)
        #expect(d.isHead(head) && d.folioOrder(head) == order && d.folioPages(head) == 1 << order)
        #expect(d.refcount(head) == 1)
        for i in 1..<(1 << order) {
            let t = head + PFN(i)
            #expect(d.isTail(t) && d.compoundHead(t) == head && d.refcount(t) == 0, "tail \(t)")
            #expect(d.folioOrder(t) == 0, "a tail reports no order of its own")
        }
        #expect(phys.freePages() == phys.totalPages - (1 << order))
    }

    @Test func orderZeroFolioIsAPlainPage() throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 8 << 20))
        let p = try #require(phys.allocFolio(node: 0, order: 0))
        #expect(!phys.pages.isHead(p) && phys.pages.folioOrder(p) == 0 && phys.pages.compoundHead(p) == p)
        phys.putPage(p)
        #expect(fullyMerged(phys))
    }

    @Test func freeingTheLastReferenceFreesTheWholeFolioAtItsOrder() throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 8 << 20))
        let head = try #require(phys.allocFolio(node: 0, order: 3))
        phys.pages.addRefs(head, 2)
        phys.putRefs(head, 2)
        #expect(phys.freePages() == phys.totalPages - 8, "two of three references dropped: still in use")
        phys.putPage(head)
        #expect(phys.freePages() == phys.totalPages)
        #expect(fullyMerged(phys), "the order-3 block merged back with its buddies")
        for i in 0..<8 { #expect(phys.pages.flags(head + PFN(i)) & (PageFlag.head | PageFlag.tail) == 0) }
    }

    @Test func freezeSucceedsOnlyAtTheExpectedCount() throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 8 << 20))
        let p = try #require(phys.allocFolio(node: 0, order: 1))
        phys.pages.addRefs(p, 1)
        #expect(!phys.pages.freezeRefs(p, expected: 1))
        #expect(phys.pages.refcount(p) == 2)
        #expect(phys.pages.freezeRefs(p, expected: 2))
        #expect(phys.pages.refcount(p) == 0 && !phys.pages.getRefUnlessZero(p), "a frozen folio takes no new reference")
        phys.pages.unfreezeRefs(p, 1)
        phys.putPage(p)
        #expect(fullyMerged(phys))
    }

    @Test func isInFreeBlockSeesPagesInsideFreeBlocks() throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 8 << 20))
        let p = try #require(phys.allocPages(node: 0, order: 0, .movable))
        #expect(!phys.isInFreeBlock(p))
        #expect(phys.isInFreeBlock(p + 1) || phys.isInFreeBlock(p ^ 1), "the rest of the split block is free")
        phys.putPage(p)
        #expect(phys.isInFreeBlock(p))
    }

    @Test func censusCountsAFoliosTailsAsItsHead() throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 8 << 20))
        let head = try #require(phys.allocFolio(node: 0, order: 9))
        phys.lruOf(head).add(head)
        let zone = phys.zoneOf(head)
        let b = Int(head - zone.startPFN) / pageblockPages
        let u = PageblockCensus(zone).usage[b]
        #expect(u.movable == pageblockPages && u.unmovable == 0, "\(u)")
        phys.lruOf(head).removeForFree(head)
        phys.putPage(head)
        #expect(fullyMerged(phys))
    }
}
