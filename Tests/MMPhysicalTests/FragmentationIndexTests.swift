// Tests of Linux's fragmentation indices and score (MMPhysical/FragmentationIndex.swift)
// and of the pageblock census (MMPhysical/PageblockCensus.swift). Hand-built buddyinfo
// rows check the formulas' edge cases (-1000, 0, 1000, the truncating divisions); a booted
// and fragmented machine checks that its rows give what an independent unsigned
// recomputation gives, order by order.

import Testing
@testable import MMPhysical
import MMSync

/// An independent recomputation in C's unsigned arithmetic (UInt64, as the kernel's
/// unsigned long), written from the formulas rather than through ContigPageInfo.
private func reference(_ row: [Int], order: Int) -> (extfrag: Int, unusable: Int, percent: Int) {
    var free: UInt64 = 0, total: UInt64 = 0, suitable: UInt64 = 0
    for (o, n) in row.enumerated() {
        free += UInt64(n) << UInt64(o)
        total += UInt64(n)
        if o >= order { suitable += UInt64(n) << UInt64(o - order) }
    }
    let extfrag: Int
    if total == 0 { extfrag = 0 } else if suitable > 0 { extfrag = -1000 } else {
        extfrag = Int(Int32(truncatingIfNeeded: 1000 &- (1000 + free * 1000 / (1 << UInt64(order))) / total))
    }
    let unusable = free == 0 ? 1000 : Int((free - (suitable << UInt64(order))) * 1000 / free)
    let percent = free == 0 ? 0 : Int((free - (suitable << UInt64(order))) * 100 / free)
    return (extfrag, unusable, percent)
}

private func row(_ pairs: [Int: Int]) -> [Int] {
    (0...maxOrder).map { pairs[$0] ?? 0 }
}

@Suite struct FragmentationIndexTests {
    @Test func emptyZoneGivesZeroExtfragAndFullUnusable() {
        let r = row([:])
        #expect(FragmentationIndex.extfragRow(r) == Array(repeating: 0, count: 11))
        #expect(FragmentationIndex.unusableRow(r) == Array(repeating: 1000, count: 11))
        #expect(FragmentationIndex.scoreZone(freeBlocks: r) == 0)
        #expect(FragmentationIndex.extfragPercent(freeBlocks: r, order: 3) == 0)
    }

    @Test func onlySingletonsAreFragmentation() {
        let r = row([0: 100])
        let e = FragmentationIndex.extfragRow(r), u = FragmentationIndex.unusableRow(r)
        #expect(e[0] == -1000)                          // an order-0 request succeeds
        #expect(u[0] == 0)
        #expect(e[1] == 1000 - (1000 + 100 * 1000 / 2) / 100)   // 490
        #expect(e[1] == 490)
        #expect(e[9] == 989)                            // 1000 - (1000 + 195) / 100
        #expect(u[1...].allSatisfy { $0 == 1000 })
        #expect(FragmentationIndex.scoreZone(freeBlocks: r) == 100)
    }

    @Test func aSuitableBlockGivesMinusOneThousand() {
        let r = row([0: 4, 1: 2, 2: 1, 9: 1])            // 524 free pages in 8 blocks
        let info = ContigPageInfo(freeBlocks: r, suitableOrder: 9)
        #expect(info.freePages == 524 && info.freeBlocksTotal == 8 && info.freeBlocksSuitable == 1)
        #expect(FragmentationIndex.extfrag(order: 9, info) == -1000)
        #expect(FragmentationIndex.unusable(order: 9, info) == 22)      // 12 * 1000 / 524
        #expect(FragmentationIndex.extfragPercent(freeBlocks: r, order: 9) == 2)
        #expect(FragmentationIndex.extfragRow(r)[10] == 812)            // 1000 - (1000 + 511) / 8
        #expect(FragmentationIndex.unusableRow(r)[10] == 1000)
        #expect(ContigPageInfo(freeBlocks: r, suitableOrder: 1).freeBlocksSuitable == 2 + 2 + 256)
    }

    @Test func aLoneSmallBlockGoesNegativeAsInC() {
        // One order-0 block, order-1 request: 1000 - (1000 + 500) / 1 = -500 — Linux's
        // formula leaves [-1000, 1000] here and prints it as " 0.-500".
        let e = FragmentationIndex.extfrag(order: 1, ContigPageInfo(freeBlocks: row([0: 1]), suitableOrder: 1))
        #expect(e == -500)
        #expect(FragmentationIndex.formatExtfrag(e) == " 0.-500")
        #expect(FragmentationIndex.extfrag(order: 11, ContigPageInfo(freeBlocks: row([0: 1]), suitableOrder: 0)) == 0)
    }

    @Test func printedAsLinuxPrints() {
        #expect(FragmentationIndex.formatExtfrag(-1000) == "-1.000")
        #expect(FragmentationIndex.formatExtfrag(972) == " 0.972")
        #expect(FragmentationIndex.formatExtfrag(0) == " 0.000")
        #expect(FragmentationIndex.formatExtfrag(1000) == " 1.000")
        #expect(FragmentationIndex.formatExtfrag(5) == " 0.005")
        #expect(FragmentationIndex.formatUnusable(500) == "0.500")
        #expect(FragmentationIndex.formatUnusable(1000) == "1.000")
        #expect(FragmentationIndex.formatUnusable(22) == "0.022")
    }

    @Test func weightedScoreFollowsPresentPages() {
        let bad = row([0: 1000]), half = row([0: 512, 9: 1])          // scores 100 and 50
        #expect(FragmentationIndex.scoreZone(freeBlocks: half) == 50)
        #expect(FragmentationIndex.scoreZoneWeighted(freeBlocks: bad, presentPages: 1000, nodePresentPages: 4000) == 24)
        #expect(FragmentationIndex.scoreNode([(bad, 1000), (half, 3000)]) == 100_000 / 4001 + 150_000 / 4001)
        #expect(FragmentationIndex.scoreNode([(bad, 1000), (half, 3000)]) == 61)
        #expect(FragmentationIndex.scoreNode([(bad, 0), (half, 4096)]) == 4096 * 50 / 4097)
        #expect(FragmentationIndex.scoreNode([]) == 0)
    }

    @Test func randomRowsMatchTheUnsignedRecomputation() {
        let seed: UInt64 = 0x5EED_F4A6
        var rng = SplitMix64(seed: seed)
        for _ in 0..<500 {
            let r = (0...maxOrder).map { o in rng.next() % 3 == 0 ? 0 : Int(rng.next() % UInt64(2000 >> (o / 2))) }
            for order in 0...maxOrder {
                let ref = reference(r, order: order)
                let info = ContigPageInfo(freeBlocks: r, suitableOrder: order)
                #expect(FragmentationIndex.extfrag(order: order, info) == ref.extfrag, "seed \(seed) row \(r) order \(order)")
                #expect(FragmentationIndex.unusable(order: order, info) == ref.unusable, "seed \(seed) row \(r) order \(order)")
                #expect(FragmentationIndex.extfragPercent(freeBlocks: r, order: order) == ref.percent, "seed \(seed) row \(r)")
            }
        }
    }

    @Test func bootedAndFragmentedMachineMatchesItsBuddyinfo() {
        let phys = PhysicalMemory(MachineConfig(nodes: 2, nodeMemBytes: 8 << 20, blockBytes: 4 << 20))
        // Boot: every zone is order-10 blocks only.
        for z in phys.zones {
            let r = z.freeBlockCounts()
            #expect(FragmentationIndex.extfragRow(r) == Array(repeating: -1000, count: 11))
            #expect(FragmentationIndex.unusableRow(r) == Array(repeating: 0, count: 11))
            #expect(FragmentationIndex.scoreZone(freeBlocks: r) == 0)
        }
        // Take every page of node 0, give back every other one: 1024 free singletons.
        var taken: [PFN] = []
        while let p = phys.zones[0].allocPages(order: 0, .movable) { taken.append(p) }
        #expect(taken.count == 2048)
        for p in taken where p % 2 == 1 { freeBlock(phys, p, order: 0) }
        let r = phys.zones[0].freeBlockCounts()
        #expect(r[0] == 1024 && r[1...].allSatisfy { $0 == 0 })
        for order in 0...maxOrder {
            let ref = reference(r, order: order)
            #expect(FragmentationIndex.extfragRow(r)[order] == ref.extfrag, "order \(order)")
            #expect(FragmentationIndex.unusableRow(r)[order] == ref.unusable, "order \(order)")
        }
        #expect(FragmentationIndex.extfragRow(r)[9] == 1000 - (1000 + 1024 * 1000 / 512) / 1024)
        #expect(FragmentationIndex.scoreZone(freeBlocks: r) == 100)
        #expect(FragmentationIndex.scoreNode([(r, 2048)]) == 2048 * 100 / 2049)
        #expect(FragmentationIndex.scoreNode([(phys.zones[1].freeBlockCounts(), 2048)]) == 0)
    }
}

@Suite struct PageblockCensusTests {
    @Test func classesFollowWhatTheBlocksHold() {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 4 << 20, blockBytes: 4 << 20))
        let z = phys.zones[0]
        #expect(PageblockCensus(z).classes == [.free, .free])
        // Fill the zone; pages with no LRU/anon bits count as unmovable.
        var taken: [PFN] = []
        while let p = z.allocPages(order: 0, .movable) { taken.append(p) }
        #expect(PageblockCensus(z).classes == [.unmovable, .unmovable])
        for p in taken { phys.pages.setFlags(p, PageFlag.anon) }
        #expect(PageblockCensus(z).classes == [.movable, .movable])
        phys.pages.clearFlags(taken[0], PageFlag.anon)
        // Free all of block 1 but one page, and that one too.
        for p in taken where p >= 512 { phys.pages.clearFlags(p, PageFlag.anon); freeBlock(phys, p, order: 0) }
        let c = PageblockCensus(z)
        #expect(c.classes == [.mixed, .free])
        #expect(c.usage[0] == PageblockUsage(free: 0, movable: 511, unmovable: 1, isolated: false))
        #expect(c.usage[1].free == 512)
        z.lock.withLock { z.moveFreePagesLocked(from: 512, to: 1024, .isolate) }
        #expect(PageblockCensus(z).classes == [.mixed, .isolated])
        #expect(PageblockCensus(z).counts[.isolated] == 1 && PageblockCensus(z).counts[.free] == 0)
    }
}
