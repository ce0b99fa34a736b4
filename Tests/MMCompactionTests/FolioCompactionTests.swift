// Compaction with large page-cache folios (MMCompaction: IsolateFree.swift's per-order
// lists and compaction_alloc, IsolateMigrate.swift's folio rules, CompactZone.swift's
// -ENOMEM → contended): the behaviour behind the kernel's early `contended` ends
// (docs/FIDELITY.md, "Model side").

import Testing
@testable import MMCompaction
import MMCheck
import MMMigrate
import MMPhysical
import MMSpace
import MMSync

/// One process fills node 0; every page at an odd PFN is freed, then PFNs 0…2^order-1
/// too, so that the only free block of order ≥ 1 is at PFN 0; a page-cache folio of
/// `order` takes it. Returns the machine, the process, its page count and the folio.
func fragmentedWithFolio(order: Int, dirty: Bool, hasPrivate: Bool, mib: Int = 16) throws
    -> (Machine, Process, Int, FileMapping, PFN) {
    let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: mib << 20, content: .full))
    let p = try m.createProcess("A", node: 0)
    let n = m.phys.freePages(node: 0)
    try m.mmap(p.mm, base, UInt64(n) << 12)
    try m.touch(p.mm, base, UInt64(n) << 12)
    var addrOf: [PFN: UInt64] = [:]
    for i in 0..<n {
        let a = base + UInt64(i) << 12
        if let pfn = m.frameMapped(p.mm, a) { addrOf[pfn] = a }
    }
    let nr = PFN(1 << order)
    for (pfn, a) in addrOf.sorted(by: { $0.key < $1.key }) where pfn % 2 == 1 || pfn < nr {
        try m.madviseDontneed(p.mm, a, 4096)
    }
    let head = try #require(m.phys.allocFolio(node: 0, order: order, fallback: false))
    try #require(head == 0, "the folio should take the only free order-\(order) block, got pfn \(head)")
    let f = m.createFile("cache")
    try m.addToPageCache(f, index: 0, head: head, order: order, dirty: dirty, writeback: false, hasPrivate: hasPrivate)
    for i in 0..<Int(nr) { m.phys.frames.writeStamp(head + PFN(i), 0xF0110 + UInt64(i)) }
    return (m, p, n, f, head)
}

/// Every page A still maps reads back what it wrote.
func readBack(_ m: Machine, _ p: Process, pages n: Int) throws {
    for i in 0..<n {
        let a = base + UInt64(i) << 12
        if m.frameMapped(p.mm, a) != nil { try m.userRead(p.mm, a) }
    }
}

@Suite struct FolioCompactionTests {
    @Test func fullCompactionEndsContendedAtADirtyPrivateFolioWithNoTargetOfItsOrder() throws {
        let (m, p, n, f, head) = try fragmentedWithFolio(order: 2, dirty: true, hasPrivate: true)
        let failBefore = m.vmstat[.pgmigrateFail]
        let r = Compaction.compactMemory(machine: m)
        let z = try #require(r.first)
        #expect(z.status == .contended, "\(z)")
        #expect(z.migratePFN < z.freePFN, "the scanners did not meet")
        #expect(z.pagesMigrated == 0, "the folio came first in the batch: -ENOMEM stopped the call")
        #expect(f.folio(at: 0) == head && m.phys.pages.folioOrder(head) == 2, "the folio is intact, unsplit")
        #expect(m.vmstat[.pgmigrateFail] - failBefore >= 4, "its pages count as failed")
        try readBack(m, p, pages: n)
        expectClean(m, "after a contended compaction")
    }

    @Test func cleanLargeFolioIsSplitAndItsPagesMigrate() throws {
        let (m, p, n, f, head) = try fragmentedWithFolio(order: 2, dirty: false, hasPrivate: true)
        let r = Compaction.compactMemory(machine: m)
        let z = try #require(r.first)
        #expect(z.status == .complete, "\(z)")
        for i in 0..<4 {
            let pfn = try #require(f.folio(at: i))
            #expect(pfn != head + PFN(i) && m.phys.pages.folioOrder(pfn) == 0, "index \(i) was split off and moved")
            #expect(m.phys.frames.readStamp(pfn) == 0xF0110 + UInt64(i))
        }
        #expect(z.pagesMigrated > 4)
        try readBack(m, p, pages: n)
        expectClean(m, "after a split and a complete compaction")
    }

    @Test func compactMemoryLeavesPageblockFoliosAndAnOrderRequestLargerOnes() throws {
        let (m, _, _, f, head) = try fragmentedWithFolio(order: 9, dirty: false, hasPrivate: false, mib: 32)
        _ = Compaction.compactMemory(machine: m)
        #expect(f.folio(at: 0) == head && m.phys.pages.folioOrder(head) == 9, "an order-9 folio is never isolated by compact_memory")
        expectClean(m, "after compact_memory")

        let (m2, _, _, f2, head2) = try fragmentedWithFolio(order: 2, dirty: false, hasPrivate: false)
        let r = Compaction.compactNode(machine: m2, node: 0, order: 2, mode: .sync)
        #expect(r.first?.status == .success, "\(r)")
        #expect(f2.folio(at: 0) == head2 && m2.phys.pages.folioOrder(head2) == 2, "an order-2 request skips folios of order ≥ 2")
        expectClean(m2, "after an order-2 compaction")
    }

    @Test func compactionAllocCutsTheSmallestFitAndTheListsCountPages() throws {
        let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: 8 << 20))
        let zone = m.phys.zones[0]
        let cc = CompactControl(machine: m, zone: zone, order: -1, mode: .sync, wholeZone: true, ignoreSkipHint: true)
        let src = try #require(m.phys.allocFolio(node: 0, order: 1, fallback: false))
        // A free order-3 block (its buddy holds `src`, so it cannot merge), isolated as
        // the free scanner keeps it: whole, on the order-3 list.
        let block = try #require(m.phys.allocFolio(node: 0, order: 3, fallback: false))
        m.phys.putPage(block)
        let order = zone.lock.withLock { zone.isolateFreeBlockLocked(block) }
        try #require(order == 3, "got \(String(describing: order))")
        cc.freepages[3].append(block)
        cc.nrFreePages = 8
        let t = try #require(Compaction.compactionAlloc(cc, src))
        #expect(t == block && m.phys.pages.folioOrder(t) == 1 && m.phys.pages.refcount(t) == 1)
        #expect(cc.nrFreePages == 6)
        #expect(cc.freepages[2] == [block + 4] && cc.freepages[1] == [block + 2] && cc.freepages[3].isEmpty,
                "the rest of the cut, one block per lower order: \(cc.freepages)")
        Compaction.compactionFree(cc, t)
        #expect(cc.nrFreePages == 8 && cc.freepages[1] == [block, block + 2], "the unused target is back at its order")
        #expect(!m.phys.pages.isHead(block) && m.phys.pages.refcount(block) == 0)
        // No block of order ≥ 4 is isolated and the free scanner finds none (its
        // position is the zone start): -ENOMEM.
        let big = try #require(m.phys.allocFolio(node: 0, order: 4, fallback: false))
        #expect(Compaction.compactionAlloc(cc, big) == nil)
        #expect(Compaction.releaseFreepages(cc) == block + 7, "the highest page released")
        #expect(cc.nrFreePages == 0 && cc.freepages.allSatisfy(\.isEmpty))
        m.phys.putPage(big)
        m.phys.putPage(src)
        #expect(m.phys.freePages() == m.config.totalPages)
        expectClean(m, "after releasing the free lists")
    }
}
