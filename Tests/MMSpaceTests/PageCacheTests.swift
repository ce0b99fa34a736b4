// The page cache (MMSpace/PageCache.swift): adding allocated frames as a folio, the
// reference rule (folio_nr_pages + private), refusals without a trap, truncation that
// gives every frame back.

import Testing
@testable import MMPhysical
@testable import MMSpace
import MMCheck
import MMSync

/// A folio of `order` allocated and added to `file` at `index`.
@discardableResult
func addFolio(_ m: Machine, _ file: FileMapping, index: Int, order: Int, dirty: Bool = false,
              writeback: Bool = false, hasPrivate: Bool = false) throws -> PFN {
    let head = try #require(m.phys.allocFolio(node: 0, order: order))
    try m.addToPageCache(file, index: index, head: head, order: order, dirty: dirty, writeback: writeback, hasPrivate: hasPrivate)
    return head
}

@Suite struct PageCacheTests {
    @Test(arguments: [0, 2, 9])
    func folioInTheCacheIsOnTheLRUWithTheCachesReferences(order: Int) throws {
        let m = smallMachine()
        let f = m.createFile("data")
        #expect(m.createFile("data") === f, "one mapping per name")
        let head = try addFolio(m, f, index: 0, order: order, dirty: true, hasPrivate: true)
        let d = m.phys.pages
        #expect(d.refcount(head) == Int32(1 << order) + 1, "folio_nr_pages + private")
        #expect(d.mapcount(head) == 0)
        #expect(d.test(head, PageFlag.lru) && d.test(head, PageFlag.dirty) && d.test(head, PageFlag.privateData))
        #expect(FileMapping.isFile(d.mapping(head)) && m.pageCache.file(encoded: d.mapping(head)) === f)
        for i in 0..<(1 << order) { #expect(f.folio(at: i) == head) }
        #expect(m.phys.lruOf(head).snapshot().contains(head))
        #expect(Checker.check(m) == [])
        m.truncateFile(f)
        #expect(f.folios().isEmpty)
        #expect(m.phys.freePages() == m.phys.totalPages, "every frame back in the buddy")
        #expect(Checker.check(m) == [])
    }

    @Test func plainBlockAndSinglePagesAreAdoptedToo() throws {
        let m = smallMachine()
        let f = m.createFile("f")
        let block = try #require(m.phys.allocPages(node: 0, order: 2, .movable))
        try m.addToPageCache(f, index: 4, head: block, order: 2, dirty: false, writeback: false, hasPrivate: false)
        #expect(m.phys.pages.isHead(block) && m.phys.pages.refcount(block) == 4)
        // Four pages allocated one by one at an aligned spot: take a free order-1 block's pages.
        let pair = try #require(m.phys.allocPages(node: 0, order: 1, .movable))
        m.phys.pages.getRefFromZeroForSplit(pair + 1)
        try m.addToPageCache(f, index: 8, head: pair, order: 1, dirty: false, writeback: false, hasPrivate: false)
        #expect(m.phys.pages.refcount(pair) == 2 && m.phys.pages.refcount(pair + 1) == 0)
        #expect(Checker.check(m) == [])
        try m.removeFromPageCache(f, index: 4)
        try m.removeFromPageCache(f, index: 8)
        #expect(m.phys.freePages() == m.phys.totalPages)
    }

    @Test func badAddsThrowAndChangeNothing() throws {
        let m = smallMachine()
        let f = m.createFile("f")
        let head = try addFolio(m, f, index: 0, order: 2)
        let other = try #require(m.phys.allocFolio(node: 0, order: 2))
        func refused(_ index: Int, _ h: PFN, _ order: Int, _ want: Errno) {
            #expect(throws: want) {
                try m.addToPageCache(f, index: index, head: h, order: order, dirty: false, writeback: false, hasPrivate: false)
            }
        }
        refused(0, other, 2, .EEXIST)          // index taken
        refused(2, other, 1, .EINVAL)          // order disagrees with the folio's
        refused(8, other, 0, .EINVAL)          // a large folio's head as a small page
        refused(4, head, 2, .EINVAL)           // already in a cache (refcount, mapping)
        refused(1, other, 2, .EINVAL)          // index not aligned to the folio
        refused(4, other + 1, 0, .EINVAL)      // a tail
        let free = other + 64                  // inside a free block
        #expect(m.phys.isInFreeBlock(free))
        refused(64, free, 0, .EINVAL)
        refused(64, PFN(m.phys.totalPages), 0, .EINVAL)
        refused(-4, other, 2, .EINVAL)
        #expect(f.folios().count == 1 && m.phys.pages.refcount(other) == 1)
        m.phys.putPage(other)
        #expect(throws: Errno.ENOENT) { try m.removeFromPageCache(f, index: 1) }
        m.truncateFile(f)
        #expect(m.phys.freePages() == m.phys.totalPages)
        #expect(Checker.check(m) == [])
    }

    /// Frames the kernel owns are never the cache's: an unmovable page (PG_unmovable) and
    /// a movable kernel block (no flag: found by its range, not its flags).
    @Test func kernelOwnedFramesAreRefused() throws {
        let m = smallMachine()
        let f = m.createFile("f")
        try m.allocateUnmovable(node: 0, pages: 1)
        let unmovable = try #require(m.unmovable.first)
        let block = try #require(m.phys.allocPages(node: 0, order: 2, .movable, fallback: false))
        m.adoptKernelBlock(node: 0, order: 2, head: block, .movable)
        for (h, order) in [(unmovable, 0), (block, 0), (block + 2, 0), (block, 2)] {
            #expect(throws: Errno.EINVAL, "pfn \(h) order \(order)") {
                try m.addToPageCache(f, index: 0, head: h, order: order, dirty: false, writeback: false, hasPrivate: false)
            }
        }
        #expect(f.folios().isEmpty)
        #expect(Checker.check(m) == [])
    }

    @Test func writebackAtAQuietPointIsAllowedInTheCacheAndEndsAtTruncation() throws {
        let m = smallMachine()
        let f = m.createFile("f")
        let head = try addFolio(m, f, index: 0, order: 3, dirty: true, writeback: true)
        #expect(Checker.check(m) == [], "a page-cache folio's I/O may be in flight")
        #expect(throws: Errno.EBUSY) { try m.startFolioWriteback(head) }
        m.endFolioWriteback(head)
        try m.startFolioWriteback(head)
        m.truncateFile(f)
        #expect(m.phys.freePages() == m.phys.totalPages)
        #expect(Checker.check(m) == [])
    }
}
