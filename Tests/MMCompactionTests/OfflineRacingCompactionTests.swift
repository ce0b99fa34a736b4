// Hot-remove racing compaction and kcompactd on the same node (issue 10): the offline's
// isolated pageblocks must never receive a migration target — not from the free
// scanner of a concurrent full or targeted compaction, not from kcompactd's proactive
// rounds — and the offline must still empty its block with every page intact.

import MMCheck
import MMCompaction
import MMHotplug
import MMPhysical
import MMSpace
import MMSync
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct OfflineRacingCompactionTests {
    @Test(arguments: [UInt64(0x0FF1_0001), 0x0FF1_0002])
    func offlineRacingCompactionAndKcompactd(seed: UInt64) throws {
        let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: 32 << 20, blockBytes: 8 << 20, content: .full))
        let n = 4096
        let p = try fragmentAlternately(m, name: "F", pages: n)
        // The block holding most of F's pages: the offline must move them all.
        func pagesIn(_ b: MemoryBlock) -> Int {
            stride(from: 0, to: n, by: 2).filter { i in
                m.frameMapped(p.mm, base + UInt64(i) << 12).map { $0 >= b.startPFN && $0 < b.endPFN } ?? false
            }.count
        }
        let block = try #require(m.phys.blocks.max { pagesIn($0) < pagesIn($1) })
        #expect(pagesIn(block) > 100, "seed \(seed): block \(block.id) holds \(pagesIn(block)) pages")
        let kcompactd = Kcompactd(machine: m, intervalNs: 2_000_000)
        let hotplug = MemoryHotplug(m)
        let result = Mutex<HotplugResult?>(nil)
        let done = Atomic<Bool>(false)
        let roundsDuringOffline = Atomic<Int>(0)
        // The offline starts only once compaction's first round has begun, so the two
        // overlap whatever the scheduler does (a loaded machine under ThreadSanitizer once
        // ran the whole offline before the compaction thread got a CPU).
        let compactionStarted = Atomic<Bool>(false)
        // Pages of F found in an isolated pageblock of the block after the offline began
        // isolating: only a target handed out from an isolated pageblock can put one there.
        ModelThreads.runConcurrently([
            (name: "offline", body: {
                // Bounded wait: 10 s in 1 ms steps, then go anyway (the assertion below says so).
                for _ in 0..<10_000 where !compactionStarted.load(ordering: .acquiring) { usleep(1000) }
                result.withLock { $0 = hotplug.offline(block, timeout: 20) }
                done.store(true, ordering: .releasing)
            }),
            (name: "compact", body: {
                var rng = SplitMix64(seed: seed)
                for _ in 0..<40 where !done.load(ordering: .acquiring) {
                    roundsDuringOffline.add(1, ordering: .relaxed)
                    compactionStarted.store(true, ordering: .releasing)
                    if rng.next() % 2 == 0 {
                        _ = Compaction.compactMemory(machine: m)
                    } else {
                        _ = Compaction.compactNode(machine: m, node: 0, order: 9, mode: .async)
                    }
                }
            }),
        ])
        kcompactd.stop()
        // The race was set up: at least one compaction round began before the offline did
        // (and so before it ended); rounds go on until the offline is done.
        #expect(roundsDuringOffline.load(ordering: .relaxed) >= 1, "seed \(seed): no compaction round began before the offline")
        #expect(m.vmstat[.compactMigrateScanned] > 0, "seed \(seed)")
        let r = try #require(result.withLock { $0 })
        #expect(r.ret == 0, "seed \(seed): offline \(r)")
        #expect(block.state == .offline, "seed \(seed)")
        #expect(pagesIn(block) == 0, "seed \(seed): \(pagesIn(block)) of F's pages still in the offline block")
        try readAll(m, p, pages: n)
        expectClean(m, "seed \(seed): after offline racing compaction")
    }
}
