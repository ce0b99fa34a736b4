// Direct compaction on a failing order-9 allocation, deferral, and unmovable pages.

import MMCheck
import MMCompaction
import MMPhysical
import MMSpace
import Testing

/// Puts one unmovable kernel page at the start of every `every`-th pageblock of node 0;
/// the pageblock becomes MIGRATE_UNMOVABLE, as Linux's fallback steal makes it.
func scatterUnmovable(_ m: Machine, every: Int, retype: Bool = true) -> [PFN] {
    var out: [PFN] = []
    for z in m.phys.nodes[0].zones {
        for b in stride(from: 0, to: z.pageblockCount, by: every) {
            let p = z.startPFN + PFN(b * pageblockPages)
            if z.takeFreePage(p) {
                m.adoptKernelBlock(node: 0, order: 0, head: p, .unmovable)
                if retype { z.lock.withLock { z.moveFreePagesLocked(from: p, to: p + PFN(pageblockPages), .unmovable) } }
                out.append(p)
            }
        }
    }
    return out
}

@Suite struct DirectCompactionTests {
    @Test func order9AllocationSucceedsAfterDirectCompaction() throws {
        let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: 64 << 20, content: .full))
        let n = m.phys.freePages(node: 0)
        let p = try fragmentAlternately(m, pages: n)
        #expect(m.phys.allocPages(node: 0, order: 9, .movable, fallback: false) == nil, "fragmented: the fast path fails")
        let out = Compaction.allocPages(machine: m, node: 0, order: 9, .movable)
        let head = try #require(out.pfn, "direct compaction made an order-9 block: \(out.results)")
        #expect(m.vmstat[.compactStall] >= 1 && m.vmstat[.compactSuccess] == 1 && out.stalls >= 1)
        #expect(m.vmstat[.compactMigrateScanned] > 0 && m.vmstat[.pgmigrateSuccess] > 0)
        m.adoptKernelBlock(node: 0, order: 9, head: head, .movable)
        try readAll(m, p, pages: n)
        expectClean(m, "after direct compaction")
        try m.freeKernelBlocks(node: 0, order: 9, count: 1)
        expectClean(m, "after free_alloc")
    }

    @Test func deferralGrowsToShiftSixThenResets() throws {
        // 64 MiB: after the second fragmentation there is still room above the low
        // watermark plus the 2 << 9 gap, so compaction is suitable again.
        let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: 64 << 20, content: .stamp))
        let unmovable = scatterUnmovable(m, every: 1, retype: false)
        #expect(unmovable.count == 32)
        let p = try fragmentAlternately(m, pages: m.phys.freePages(node: 0))
        let zone = m.phys.zones[0]
        var attempts = 0
        while zone.withCompactState({ $0.deferShift }) < Compaction.maxDeferShift && attempts < 500 {
            #expect(Compaction.allocPages(machine: m, node: 0, order: 9, .movable).pfn == nil,
                    "an unmovable page in every pageblock: no order-9 block can form")
            attempts += 1
        }
        #expect(zone.withCompactState { $0.deferShift } == 6, "after \(attempts) attempts")
        #expect(m.vmstat[.compactFail] >= Int64(attempts))
        let failsBefore = m.vmstat[.compactMigrateScanned]
        // Deferred: the next attempts skip compaction entirely (no scanning).
        _ = Compaction.allocPages(machine: m, node: 0, order: 9, .movable)
        #expect(m.vmstat[.compactMigrateScanned] == failsBefore, "a deferred zone is not scanned")
        // Take the unmovable pages away and fragment what is free again (process B):
        // compaction can succeed once the deferral runs out.
        try m.freeKernelBlocks(node: 0, order: 0, count: unmovable.count)
        let q = try fragmentAlternately(m, name: "B")
        #expect(m.phys.allocPages(node: 0, order: 9, .movable, fallback: false) == nil)
        var got: PFN? = nil
        for _ in 0..<200 where got == nil { got = Compaction.allocPages(machine: m, node: 0, order: 9, .movable).pfn }
        let head = try #require(got, "order-9 allocation after the unmovable pages went")
        #expect(zone.withCompactState { $0.deferShift } == 0, "success resets the deferral")
        m.adoptKernelBlock(node: 0, order: 9, head: head, .movable)
        _ = (p, q)
        expectClean(m, "after deferral test")
    }

    @Test func unmovablePagesNeverMove() throws {
        let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: 256 << 20, content: .stamp))
        let unmovable = scatterUnmovable(m, every: 4)
        let n = m.phys.freePages(node: 0)
        let p = try fragmentAlternately(m, pages: n)
        let free = m.phys.freePages(node: 0)
        let results = Compaction.compactMemory(machine: m)
        #expect(results.allSatisfy { $0.status == .complete })
        for u in unmovable {
            #expect(m.phys.pages.refcount(u) == 1 && m.phys.pages.test(u, PageFlag.unmovable), "pfn \(u) untouched")
        }
        #expect(m.kernelPages.sorted() == unmovable.sorted())
        // Unmovable pageblocks are emptied of movable pages but never targets: their
        // free pages cannot join an order-9 block.
        let clean = m.phys.zones[0].pageblockCount - unmovable.count
        let want = min((free - unmovable.count * (pageblockPages - 1)) / 512, clean)
        let got = order9Blocks(m)
        #expect(got * 100 >= want * 95, "order-9 blocks \(got) of \(want)")
        try readAll(m, p, pages: n)
        expectClean(m, "after compaction around unmovable pages")
    }
}
