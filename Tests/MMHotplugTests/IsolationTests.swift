// Page isolation on its own (Linux: start_isolate_page_range and friends): nothing is
// allocated from an isolated range, pages freed there stay there, undo gives it back;
// and an offline racing a compaction-style migrator that picks its own target pages
// (takeFreePage, as compaction's free scanner does) never gets a page into the block.

import Testing
import Synchronization
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck
import MMSync
import MMHotplug

@Suite struct IsolationTests {
    @Test func isolatedRangeIsNeverAllocatedAndKeepsWhatIsFreedThere() throws {
        // 2 MiB blocks: each order-10 free block straddles two memory blocks.
        let m = machine(nodes: 1, mib: 16, blockMiB: 2)
        let block = m.phys.block(node: 0, index: 3)!
        let p = try process(m, "P", pages: 200)
        let mine = (0..<200).compactMap { m.frameMapped(p.mm, page($0)) }.filter { $0 >= block.startPFN && $0 < block.endPFN }
        let iso = PageIsolation(phys: m.phys, zone: block.zone!, start: block.startPFN, end: block.endPFN)
        #expect(iso.isolate() == nil)
        #expect(pageblocks(m, block, are: .isolate))
        #expect(!iso.allFreeAndIsolated() || mine.isEmpty)
        for pfn in block.startPFN..<block.endPFN { #expect(!block.zone!.takeFreePage(pfn)) }
        // Allocate everything else: nothing may come from the isolated block.
        var taken: [PFN] = []
        while let q = m.phys.allocPage(node: 0, .movable, fallback: false) { taken.append(q) }
        #expect(!taken.contains { $0 >= block.startPFN && $0 < block.endPFN })
        // Pages freed inside stay inside: unmapping P's pages there frees to the isolate lists.
        try m.munmap(p.mm, base, 200 << 12)
        #expect(iso.allFreeAndIsolated())
        // What munmap freed outside is allocatable again; still nothing from the block.
        while let q = m.phys.allocPage(node: 0, .movable, fallback: false) { taken.append(q) }
        #expect(!taken.contains { $0 >= block.startPFN && $0 < block.endPFN })
        iso.undo()
        #expect(pageblocks(m, block, are: .movable))
        let again = try #require(m.phys.allocPage(node: 0, .movable, fallback: false))
        #expect(again >= block.startPFN && again < block.endPFN)
        m.phys.putPage(again)
        for q in taken { m.phys.putPage(q) }
        #expect(Checker.check(m).isEmpty, "\(describe(Checker.check(m)))")
    }

    @Test(arguments: [UInt64(0xC0_4AC7), 0xC0_4AC8])
    func offlineRacingAMigratorThatPicksItsTargets(seed: UInt64) throws {
        let m = machine(nodes: 1, mib: 32, blockMiB: 8)
        let n = 3000
        let p = try process(m, "P", pages: n)
        let block = busiestBlock(m, p, pages: n)
        let zone = block.zone!
        let hp = MemoryHotplug(m)
        let result = Mutex<HotplugResult?>(nil)
        let done = Atomic<Bool>(false)
        let moved = Atomic<Int>(0)
        let intoIsolated = Atomic<Int>(0)
        ModelThreads.runConcurrently([
            (name: "offline", body: { result.withLock { $0 = hp.offline(block) }; done.store(true, ordering: .releasing) }),
            (name: "compact", body: {
                var rng = SplitMix64(seed: seed)
                let mig = Migrator(m)
                for _ in 0..<20_000 {
                    if done.load(ordering: .acquiring) { break }
                    let i = Int(rng.next() % UInt64(n))
                    guard let src = m.frameMapped(p.mm, page(i)), m.phys.lruOf(src).isolate(src) else { continue }
                    // Free-scanner style: try random target PFNs of the zone, the block included.
                    let r = mig.migratePages([src], allocate: { _ in
                        for _ in 0..<64 {
                            let t = zone.startPFN + PFN(rng.next() % UInt64(zone.spannedPages))
                            let wasIsolated = zone.pageblockType(of: t) == .isolate
                            if zone.takeFreePage(t) {
                                if wasIsolated && zone.pageblockType(of: t) == .isolate { intoIsolated.add(1, ordering: .relaxed) }
                                return t
                            }
                        }
                        return nil
                    }, mode: .async, reason: .compaction, context: .kernel)
                    moved.add(r.succeeded, ordering: .relaxed)
                }
            }),
        ])
        let r = try #require(result.withLock { $0 })
        #expect(r.ret == 0, "seed \(seed): \(r)")
        let bad = intoIsolated.load(ordering: .relaxed)
        #expect(bad == 0, "seed \(seed): \(bad) targets taken from isolated pageblocks")
        #expect(pagesIn(m, p, pages: n, block).isEmpty, "seed \(seed)")
        #expect(try allIntact(m, p, pages: n))
        let v = Checker.check(m)
        #expect(v.isEmpty, "seed \(seed): \(describe(v))")
    }
}
