// Buddy allocator tests (MMPhysical/PageAlloc.swift): split and merge, migratetype
// fallback stealing, take_page_off_buddy. Allocation orders come from a fixed-seed PRNG
// whose seed every failure message prints.

import Testing
@testable import MMPhysical
import MMSync


/// Frees a block the test allocated: drop the head's allocation reference, then
/// hand the block back (Linux: __free_pages → put_page_testzero → __free_one_page).
func freeBlock(_ phys: PhysicalMemory, _ pfn: PFN, order: Int) {
    let left = phys.pages.dropRef(pfn)
    precondition(left == 0, "pfn \(pfn) still has \(left) references")
    phys.zoneOf(pfn).freePages(pfn, order: order)
}

/// True when every zone holds exactly one free order-10 block per 4 MiB and nothing else.
func fullyMerged(_ phys: PhysicalMemory) -> Bool {
    phys.zones.allSatisfy { z in
        let c = z.freeBlockCounts()
        return c[maxOrder] == z.pages >> maxOrder && c[0..<maxOrder].allSatisfy { $0 == 0 }
    }
}

@Suite struct BuddyTests {
    @Test func bootHandsEveryFrameToTheAllocator() {
        let phys = PhysicalMemory(MachineConfig(nodes: 2, nodeMemBytes: 8 << 20, blockBytes: 4 << 20))
        #expect(phys.totalPages == 4096)
        #expect(phys.freePages() == 4096)
        #expect(phys.freePages(node: 1) == 2048)
        #expect(fullyMerged(phys))
        #expect(phys.zones[1].startPFN == 2048)
        #expect(phys.nodeOf(2047) == 0 && phys.nodeOf(2048) == 1)
        for z in phys.zones {
            #expect(z.freeBlockCounts(.movable)[maxOrder] == 2)
            #expect(z.freeBlockCounts(.unmovable).allSatisfy { $0 == 0 })
        }
    }

    @Test(arguments: [UInt64(1), 0xC0FFEE, 0xDEAD_BEEF])
    func splitAndMergeRoundTrip(seed: UInt64) {
        let phys = PhysicalMemory(MachineConfig(nodes: 2, nodeMemBytes: 16 << 20, blockBytes: 4 << 20, content: .stamp))
        var rng = SplitMix64(seed: seed)
        var blocks: [(pfn: PFN, order: Int)] = []
        var owner = [Int](repeating: -1, count: phys.totalPages)
        // Allocate random orders (mostly small) and migratetypes until a bounded number
        // of consecutive failures says the zones are nearly full.
        var failures = 0
        for _ in 0..<20_000 where failures < 64 {
            let order = rng.below(4) == 0 ? rng.below(maxOrder + 1) : rng.below(4)
            let mt = MigrateType.allocatable[rng.below(3)]
            let z = phys.zones[rng.below(phys.zones.count)]
            guard let pfn = z.allocPages(order: order, mt) else { failures += 1; continue }
            failures = 0
            #expect(z.contains(pfn), "seed \(seed): pfn \(pfn) outside zone \(z.node)")
            #expect(Int(pfn - z.startPFN) % (1 << order) == 0, "seed \(seed): order-\(order) block at \(pfn) unaligned")
            #expect(phys.pages.refcount(pfn) == 1, "seed \(seed)")
            #expect(!phys.pages.test(pfn, PageFlag.buddy), "seed \(seed)")
            for q in Int(pfn)..<(Int(pfn) + (1 << order)) {
                if owner[q] != -1 { Issue.record("seed \(seed): pfn \(q) handed out twice") }
                owner[q] = blocks.count
            }
            blocks.append((pfn, order))
        }
        let allocated = blocks.reduce(0) { $0 + (1 << $1.order) }
        #expect(allocated > phys.totalPages / 2, "seed \(seed): only \(allocated) pages allocated")
        #expect(phys.freePages() == phys.totalPages - allocated, "seed \(seed)")
        // Free in a random order: every block must merge back.
        for i in stride(from: blocks.count - 1, to: 0, by: -1) { blocks.swapAt(i, rng.below(i + 1)) }
        for b in blocks { freeBlock(phys, b.pfn, order: b.order) }
        #expect(phys.freePages() == phys.totalPages, "seed \(seed)")
        for z in phys.zones {
            let c = z.freeBlockCounts()
            #expect(c[maxOrder] == z.pages / 1024, "seed \(seed): zone \(z.node) buddyinfo \(c)")
            #expect(c[0..<maxOrder].allSatisfy { $0 == 0 }, "seed \(seed): zone \(z.node) buddyinfo \(c)")
        }
        #expect(phys.vmstat[.pgalloc] == Int64(allocated))
        #expect(phys.vmstat[.pgfree] == Int64(allocated))
    }

    @Test func exhaustionReturnsNil() {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 4 << 20, content: .stamp))
        let z = phys.zones[0]
        var got: [PFN] = []
        for _ in 0..<1024 { if let p = z.allocPages(order: 0, .movable) { got.append(p) } }
        #expect(got.count == 1024)
        #expect(Set(got).count == 1024)
        #expect(z.allocPages(order: 0, .movable) == nil)
        #expect(z.allocPages(order: 0, .unmovable) == nil)
        #expect(phys.allocPage(node: 0) == nil)
        #expect(phys.freePages() == 0)
        for p in got { phys.putPage(p) }
        #expect(fullyMerged(phys))
    }

    @Test func unmovableAllocationsStealMovablePageblocks() {
        // 8 MiB: four pageblocks, all movable at boot.
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 8 << 20, content: .stamp))
        let z = phys.zones[0]
        let blocks = (0..<4).map { PFN($0 * pageblockPages) }
        #expect(blocks.allSatisfy { z.pageblockType(of: $0) == .movable })
        var unmovable: [PFN] = []
        for _ in 0..<(phys.totalPages + 1) {
            guard let p = z.allocPages(order: 0, .unmovable) else { break }
            unmovable.append(p)
        }
        #expect(unmovable.count == phys.totalPages)
        // Unmovable requests claim whole pageblocks when they steal (steal_suitable_fallback).
        #expect(blocks.allSatisfy { z.pageblockType(of: $0) == .unmovable },
                "pageblock types \(blocks.map { z.pageblockType(of: $0) })")

        // Free one page: it goes back to its pageblock's (unmovable) list. A small movable
        // request steals it without claiming the pageblock.
        let lone = unmovable.removeLast()
        freeBlock(phys, lone, order: 0)
        #expect(z.freeBlockCounts(.unmovable)[0] == 1)
        let stolen = z.allocPages(order: 0, .movable)
        #expect(stolen == lone)
        #expect(z.pageblockType(of: lone) == .unmovable)
        freeBlock(phys, lone, order: 0)

        // Free every page of pageblock 2: an order-9 unmovable block. A movable request
        // steals that big block and claims its pageblock.
        let pb2 = blocks[2]
        let inPb2 = unmovable.filter { $0 >= pb2 && $0 < pb2 + PFN(pageblockPages) && $0 != lone }
        unmovable.removeAll { $0 >= pb2 && $0 < pb2 + PFN(pageblockPages) }
        for p in inPb2 { freeBlock(phys, p, order: 0) }
        #expect(z.freeBlockCounts(.unmovable)[pageblockOrder] == 1)
        guard let m = z.allocPages(order: 0, .movable) else {
            Issue.record("movable allocation failed with a free pageblock")
            return
        }
        #expect(m >= pb2 && m < pb2 + PFN(pageblockPages))
        #expect(z.pageblockType(of: pb2) == .movable)
        #expect(z.pageblockType(of: blocks[0]) == .unmovable)
        #expect(z.freeBlockCounts(.movable)[0..<pageblockOrder].reduce(0, +) == pageblockOrder,
                "the rest of the stolen block sits on the movable lists: \(z.freeBlockCounts(.movable))")
        freeBlock(phys, m, order: 0)
        for p in unmovable { freeBlock(phys, p, order: 0) }
        #expect(phys.freePages() == phys.totalPages)
        #expect(fullyMerged(phys))
    }

    @Test func takeFreePageSplitsAroundTheTarget() {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 8 << 20, content: .stamp))
        let z = phys.zones[0]
        let target: PFN = 1024 + 777
        #expect(z.takeFreePage(target))
        #expect(phys.pages.refcount(target) == 1)
        #expect(!phys.pages.test(target, PageFlag.buddy))
        #expect(phys.freePages() == phys.totalPages - 1)
        // One order-10 block split around one page leaves one free block of each order 0…9.
        #expect(z.freeBlockCounts() == [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
        #expect(z.takeFreePage(target) == false, "a page already taken is not free")
        // Every other page of that block can still be allocated, none of them the target.
        var rest: [PFN] = []
        while let p = z.allocPages(order: 0, .movable) { rest.append(p) }
        #expect(rest.count == phys.totalPages - 1)
        #expect(!rest.contains(target))
        #expect(z.takeFreePage(5) == false)
        for p in rest { phys.putPage(p) }
        phys.putPage(target)
        #expect(fullyMerged(phys))
    }

    @Test func putPageFreesOnlyAtZero() {
        let phys = PhysicalMemory(MachineConfig(nodes: 2, nodeMemBytes: 4 << 20, content: .stamp))
        guard let p = phys.allocPage(node: 1) else { Issue.record("no page"); return }
        #expect(phys.nodeOf(p) == 1)
        phys.pages.getRef(p)
        #expect(phys.pages.refcount(p) == 2)
        phys.putPage(p)
        #expect(phys.freePages() == phys.totalPages - 1)
        phys.putPage(p)
        #expect(phys.pages.refcount(p) == 0)
        #expect(phys.freePages() == phys.totalPages)
        #expect(phys.pages.getRefUnlessZero(p) == false)
    }

    @Test func allocPageFallsBackToOtherNodes() {
        let phys = PhysicalMemory(MachineConfig(nodes: 2, nodeMemBytes: 4 << 20, content: .stamp))
        var node0: [PFN] = []
        while let p = phys.allocPage(node: 0, fallback: false) { node0.append(p) }
        #expect(node0.count == 1024)
        #expect(phys.allocPage(node: 0, fallback: false) == nil)
        let other = phys.allocPage(node: 0, fallback: true)
        #expect(other.map { phys.nodeOf($0) } == 1)
        if let other { phys.putPage(other) }
        for p in node0 { phys.putPage(p) }
        #expect(fullyMerged(phys))
    }

    @Test func machineConfigProblems() {
        #expect(MachineConfig(nodeMemBytes: 16 << 20).problem == nil)
        #expect(MachineConfig(nodes: 0, nodeMemBytes: 16 << 20).problem != nil)
        #expect(MachineConfig(nodeMemBytes: 6 << 20).problem != nil)
        #expect(MachineConfig(nodeMemBytes: 16 << 20, blockBytes: 3 << 20).problem != nil)
        #expect(MachineConfig(nodes: 2, nodeMemBytes: 16 << 20, blockBytes: 4 << 20).blocksPerNode == 4)
    }
}
