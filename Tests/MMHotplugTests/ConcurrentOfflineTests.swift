// Offline while processes run on real threads, and a forever-retrying offline ended by
// cancel_offline from another thread. Bounded loops, fixed seeds (printed on failure);
// run these under `swift test --sanitize=thread --filter MMHotplugTests` too.

import Testing
import Synchronization
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck
import MMSync
import MMHotplug

@Suite struct ConcurrentOfflineTests {
    @Test(arguments: [UInt64(0x5EED_0001), 0x5EED_0002])
    func offlineUnderTwoWritingThreads(seed: UInt64) throws {
        let m = machine(nodes: 2, mib: 32, blockMiB: 8)
        let n = 3000
        let p = try process(m, "P", pages: n)
        let q = try process(m, "Q", pages: n)
        // The block with most of both processes' pages.
        let block = m.phys.blocks.max {
            pagesIn(m, p, pages: n, $0).count + pagesIn(m, q, pages: n, $0).count
                < pagesIn(m, p, pages: n, $1).count + pagesIn(m, q, pages: n, $1).count
        }!
        let inBlock = pagesIn(m, p, pages: n, block).count + pagesIn(m, q, pages: n, block).count
        #expect(inBlock >= 1000, "seed \(seed): only \(inBlock) mapped pages in the block")
        let hp = MemoryHotplug(m)
        let result = Mutex<HotplugResult?>(nil)
        let offlineDone = Atomic<Bool>(false)
        let errors = Atomic<Int>(0)
        func worker(_ proc: Process, _ s: UInt64) -> @Sendable () -> Void {
            { [m] in
                var rng = SplitMix64(seed: s)
                // Bounded: a fixed number of rounds after the offline ended, at most 200k.
                var after = 0
                for _ in 0..<200_000 {
                    let i = Int(rng.next() % UInt64(n))
                    do {
                        if rng.next() & 1 == 0 { try m.userWrite(proc.mm, page(i)) }
                        else if !(try m.userRead(proc.mm, page(i))).intact { errors.add(1, ordering: .relaxed) }
                    } catch { errors.add(1, ordering: .relaxed) }
                    if offlineDone.load(ordering: .acquiring) { after += 1; if after > 2000 { break } }
                }
            }
        }
        ModelThreads.runConcurrently([
            (name: "offline", body: { result.withLock { $0 = hp.offline(block) }; offlineDone.store(true, ordering: .releasing) }),
            (name: "P", body: worker(p, seed)),
            (name: "Q", body: worker(q, seed ^ 0xFFFF)),
        ])
        let r = try #require(result.withLock { $0 })
        #expect(r.ret == 0, "seed \(seed): \(r)")
        #expect(r.migrated >= inBlock, "seed \(seed): migrated \(r.migrated) of \(inBlock)")
        #expect(block.state == .offline)
        let failedAccesses = errors.load(ordering: .relaxed)
        #expect(failedAccesses == 0, "seed \(seed): lost or failed accesses")
        #expect(pagesIn(m, p, pages: n, block).isEmpty && pagesIn(m, q, pages: n, block).isEmpty, "seed \(seed)")
        #expect(try allIntact(m, p, pages: n) && allIntact(m, q, pages: n), "seed \(seed)")
        let v = Checker.check(m)
        #expect(v.isEmpty, "seed \(seed): \(describe(v))")
        #expect(hp.online(block).ret == 0)
        #expect(Checker.check(m).isEmpty, "seed \(seed)")
    }

    @Test func foreverRetriesUntilCancelledFromAnotherThreadThenRollsBack() throws {
        let m = machine(nodes: 2, mib: 32, blockMiB: 8)
        let p = try process(m, "P", pages: 1500)
        try m.pinUserPage(p.mm, page(42))
        let pinned = try #require(m.frameMapped(p.mm, page(42)))
        let block = m.phys.blockOf(pinned)
        let hp = MemoryHotplug(m)
        hp.retry = .forever
        let result = Mutex<HotplugResult?>(nil)
        let sawRetrying = Atomic<Bool>(false)
        ModelThreads.runConcurrently([
            (name: "offline", body: { result.withLock { $0 = hp.offline(block) } }),
            (name: "cancel", body: {
                // Bounded wait until the offline is in its retry loop, then signal it.
                var spins = 0
                while hp.retryingCount == 0 && spins < 50_000_000 { spins += 1 }
                sawRetrying.store(hp.retryingCount == 1, ordering: .relaxed)
                _ = hp.cancelOffline(block)
            }),
        ])
        let r = try #require(result.withLock { $0 })
        let retried = sawRetrying.load(ordering: .relaxed)
        #expect(retried, "the offline never retried")
        #expect(r.ret == -1 && r.errno == .EINTR && r.reason == "signal backoff", "\(r)")
        #expect(block.state == .online && pageblocks(m, block, are: .movable))
        #expect(m.frameMapped(p.mm, page(42)) == pinned)
        #expect(try allIntact(m, p, pages: 1500))
        #expect(allocationLands(m, in: block))
        #expect(Checker.check(m).isEmpty)
        // The signal was consumed: the next offline (page unpinned) succeeds.
        try m.unpinUserPage(p.mm, page(42))
        #expect(hp.offline(block).ret == 0)
    }

    @Test func foreverEndsAtTheEndOfTheRun() throws {
        let m = machine(nodes: 2, mib: 32, blockMiB: 8)
        let p = try process(m, "P", pages: 500)
        try m.pinUserPage(p.mm, page(1))
        let hp = MemoryHotplug(m)
        hp.retry = .forever
        hp.endOfRun = { true }
        let r = hp.offline(m.phys.blockOf(m.frameMapped(p.mm, page(1))!))
        #expect(r.errno == .EINTR && r.sweeps == 2)
        #expect(Checker.check(m).isEmpty)
    }
}
