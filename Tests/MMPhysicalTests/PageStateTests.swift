// LRU isolation, the page lock and writeback waits, descriptor size and frame contents
// (MMPhysical/LRU.swift, PageLock.swift, PageDescriptors.swift, Frames.swift).

import Testing
import Synchronization
@testable import MMPhysical
import MMSync
#if canImport(Glibc)
import Glibc
#endif

@Suite struct LRUTests {
    @Test func isolateAndPutbackMoveTheIsolationReference() throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 2, nodeMemBytes: 4 << 20, content: .stamp))
        let p = try #require(phys.allocPage(node: 1))
        let lru = phys.lruOf(p)
        #expect(lru.node == 1)
        #expect(lru.isolate(p) == false, "a page not on the LRU cannot be isolated")
        lru.add(p)
        #expect(lru.count == 1)
        #expect(lru.snapshot() == [p])
        #expect(phys.pages.test(p, PageFlag.lru))

        #expect(lru.isolate(p))
        #expect(phys.pages.refcount(p) == 2, "isolation takes a reference")
        #expect(!phys.pages.test(p, PageFlag.lru))
        #expect(phys.pages.test(p, PageFlag.isolated))
        #expect(lru.count == 0)
        #expect(lru.isolate(p) == false, "an isolated page is off the LRU")

        phys.putback(p)
        #expect(phys.pages.refcount(p) == 1, "putback drops the isolation reference")
        #expect(phys.pages.test(p, PageFlag.lru))
        #expect(!phys.pages.test(p, PageFlag.isolated))
        #expect(lru.snapshot() == [p])
        #expect(phys.lrus[0].count == 0)

        // A page on the LRU whose last reference is going away cannot be isolated.
        phys.pages._setRefcountForTesting(p, 0)
        #expect(lru.isolate(p) == false)
        #expect(phys.pages.refcount(p) == 0)
        #expect(phys.pages.test(p, PageFlag.lru))
        phys.pages._setRefcountForTesting(p, 1)

        // Freeing takes the page off the LRU.
        phys.putPage(p)
        #expect(lru.count == 0)
        #expect(phys.pages.flags(p) & (PageFlag.lru | PageFlag.isolated) == 0)
        #expect(phys.freePages() == phys.totalPages)
    }

    @Test func putbackOfTheLastReferenceFreesThePage() throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 4 << 20, content: .stamp))
        let p = try #require(phys.allocPage(node: 0))
        phys.lruOf(p).add(p)
        #expect(phys.lruOf(p).isolate(p))
        phys.putPage(p)   // the owner lets go while the page is isolated
        #expect(phys.pages.refcount(p) == 1)
        #expect(phys.freePages() == phys.totalPages - 1)
        phys.putback(p)
        #expect(phys.pages.refcount(p) == 0)
        #expect(phys.lruOf(p).count == 0)
        #expect(phys.freePages() == phys.totalPages)
        #expect(fullyMerged(phys))
    }

    @Test func lruListOrderAndRemoval() throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 4 << 20, content: .stamp))
        var ps: [PFN] = []
        for _ in 0..<5 { ps.append(try #require(phys.allocPage(node: 0))) }
        for p in ps { phys.lruOf(p).add(p) }
        let lru = phys.lrus[0]
        #expect(lru.snapshot() == ps.reversed(), "lru_cache_add puts pages at the head")
        #expect(lru.isolate(ps[2]))
        #expect(lru.snapshot() == [ps[4], ps[3], ps[1], ps[0]])
        phys.putPage(ps[0])   // freed from the tail
        #expect(lru.snapshot() == [ps[4], ps[3], ps[1]])
        phys.putback(ps[2])
        #expect(lru.snapshot() == [ps[2], ps[4], ps[3], ps[1]])
        for p in ps.dropFirst() { phys.putPage(p) }
        #expect(lru.count == 0)
        #expect(phys.freePages() == phys.totalPages)
    }

    @Test func concurrentIsolateAndPutbackKeepCountsExact() throws {
        // Four real threads isolate and put back a shared set of pages; each page's
        // refcount must end at its owner's one reference and the list must hold them all.
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 4 << 20, content: .stamp))
        var ps: [PFN] = []
        for _ in 0..<16 { ps.append(try #require(phys.allocPage(node: 0))) }
        for p in ps { phys.lruOf(p).add(p) }
        let pages = ps
        let isolations = Atomic<Int>(0)
        ModelThreads.runConcurrently((0..<4).map { t in
            (name: "iso-\(t)", body: { @Sendable in
                var rng = SplitMix64(seed: 0x1234 &+ UInt64(t))
                for _ in 0..<2_000 {
                    let p = pages[rng.below(pages.count)]
                    if phys.lruOf(p).isolate(p) {
                        isolations.wrappingAdd(1, ordering: .relaxed)
                        phys.putback(p)
                    }
                }
            })
        })
        #expect(isolations.load(ordering: .relaxed) > 0)
        #expect(Set(phys.lrus[0].snapshot()) == Set(ps))
        #expect(ps.allSatisfy { phys.pages.refcount($0) == 1 && phys.pages.test($0, PageFlag.lru) })
        for p in ps { phys.putPage(p) }
        #expect(phys.freePages() == phys.totalPages)
    }
}

@Suite(.serialized) struct PageLockTests {
    @Test func trylockLockUnlock() throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 4 << 20, content: .stamp))
        let p = try #require(phys.allocPage(node: 0))
        #expect(!phys.isPageLocked(p))
        #expect(phys.trylockPage(p))
        #expect(phys.isPageLocked(p))
        #expect(phys.trylockPage(p) == false)
        phys.unlockPage(p)
        #expect(!phys.isPageLocked(p))
        phys.lockPage(p)   // uncontended: must not sleep
        #expect(phys.isPageLocked(p))
        phys.unlockPage(p)
        #expect(phys.pages.flags(p) & (PageFlag.locked | PageFlag.waiters) == 0)
        phys.putPage(p)
    }

    @Test func lockPageSleepsUntilUnlock() throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 4 << 20, content: .stamp))
        let p = try #require(phys.allocPage(node: 0))
        #expect(phys.trylockPage(p))
        let released = Atomic<Bool>(false)
        let acquiredBeforeRelease = Atomic<Bool>(false)
        let acquired = Atomic<Bool>(false)
        let sawWaiters = Atomic<Bool>(false)
        ModelThreads.runConcurrently([
            (name: "locker", body: { @Sendable in
                phys.lockPage(p)   // sleeps: the page is locked by the holder below
                if !released.load(ordering: .acquiring) { acquiredBeforeRelease.store(true, ordering: .relaxed) }
                acquired.store(true, ordering: .releasing)
                phys.unlockPage(p)
            }),
            (name: "holder", body: { @Sendable in
                // Wait (bounded) until the locker has gone to sleep and set PG_waiters.
                for _ in 0..<5_000 where !phys.pages.test(p, PageFlag.waiters) { usleep(200) }
                sawWaiters.store(phys.pages.test(p, PageFlag.waiters), ordering: .relaxed)
                usleep(10_000)
                released.store(true, ordering: .releasing)
                phys.unlockPage(p)
            }),
        ])
        #expect(sawWaiters.load(ordering: .relaxed) == true, "a sleeper announces itself with PG_waiters")
        #expect(acquired.load(ordering: .relaxed) == true)
        #expect(acquiredBeforeRelease.load(ordering: .relaxed) == false)
        #expect(!phys.isPageLocked(p))
        phys.putPage(p)
    }

    @Test func lockPageIsMutualExclusionUnderContention() throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 4 << 20, content: .stamp))
        let p = try #require(phys.allocPage(node: 0))
        let inside = Atomic<Int>(0)
        let overlaps = Atomic<Int>(0)
        let entries = Atomic<Int>(0)
        ModelThreads.runConcurrently((0..<4).map { t in
            (name: "pl-\(t)", body: { @Sendable in
                for i in 0..<2_000 {
                    phys.lockPage(p)
                    if inside.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue != 1 {
                        overlaps.wrappingAdd(1, ordering: .relaxed)
                    }
                    entries.wrappingAdd(1, ordering: .relaxed)
                    if i % 64 == 0 { usleep(50) }
                    inside.wrappingSubtract(1, ordering: .acquiringAndReleasing)
                    phys.unlockPage(p)
                }
            })
        })
        #expect(overlaps.load(ordering: .relaxed) == 0)
        #expect(entries.load(ordering: .relaxed) == 8_000)
        #expect(!phys.isPageLocked(p))
        phys.putPage(p)
    }

    @Test func waitOnWritebackSleepsUntilEnd() throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 4 << 20, content: .stamp))
        let p = try #require(phys.allocPage(node: 0))
        phys.waitOnWriteback(p)   // no writeback: returns at once
        #expect(phys.trylockPage(p))
        phys.setWriteback(p)
        phys.unlockPage(p)
        #expect(phys.pages.test(p, PageFlag.writeback))
        let ended = Atomic<Bool>(false)
        let returnedEarly = Atomic<Bool>(false)
        let returned = Atomic<Bool>(false)
        ModelThreads.runConcurrently([
            (name: "waiter", body: { @Sendable in
                phys.waitOnWriteback(p)
                if !ended.load(ordering: .acquiring) { returnedEarly.store(true, ordering: .relaxed) }
                returned.store(true, ordering: .releasing)
            }),
            (name: "io", body: { @Sendable in
                for _ in 0..<5_000 where !phys.pages.test(p, PageFlag.waiters) { usleep(200) }
                usleep(10_000)
                ended.store(true, ordering: .releasing)
                phys.endWriteback(p)
            }),
        ])
        #expect(returned.load(ordering: .relaxed) == true)
        #expect(returnedEarly.load(ordering: .relaxed) == false)
        #expect(!phys.pages.test(p, PageFlag.writeback))
        phys.putPage(p)
    }
}

@Suite struct DescriptorAndFrameTests {
    @Test func descriptorBytesPerPage() {
        #expect(PageDescriptors.bytesPerPage <= 32)
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 4 << 20, content: .stamp))
        #expect(phys.pages.count == 1024)
    }

    @Test func flagWordKeepsBitsApart() throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 4 << 20, content: .stamp))
        let p = try #require(phys.allocPage(node: 0))
        #expect(phys.pages.flags(p) == 0)
        let old = phys.pages.setFlags(p, PageFlag.dirty | PageFlag.anon)
        #expect(old == 0)
        #expect(phys.pages.test(p, PageFlag.dirty) && phys.pages.test(p, PageFlag.anon))
        #expect(!phys.pages.test(p, PageFlag.locked))
        #expect(phys.pages.clearFlags(p, PageFlag.dirty) == PageFlag.dirty | PageFlag.anon)
        #expect(PageFlag.describe(phys.pages.flags(p)) == "anon")
        phys.pages.setMapping(p, 0xABCD_0000_0001)
        phys.pages.setIndex(p, 77)
        #expect(phys.pages.mapping(p) == 0xABCD_0000_0001 && phys.pages.index(p) == 77)
        #expect(phys.pages.incMapcount(p) == 1)
        #expect(phys.pages.isMapped(p))
        #expect(phys.pages.decMapcount(p) == 0)
        phys.putPage(p)
        #expect(phys.pages.flags(p) & ~(PageFlag.buddy | PageFlag.orderMask | PageFlag.mtMask) == 0,
                "freeing clears the descriptor")
        #expect(phys.pages.mapping(p) == 0 && phys.pages.index(p) == 0)
    }

    @Test func fullModeFrames() {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 4 << 20, content: .full))
        let f = phys.frames
        #expect(f.mode == .full)
        #expect(ContentMode.full.bytesPerFrame == 4096)
        f.writeStamp(3, 0x1122_3344_5566_7788)
        #expect(f.readStamp(3) == 0x1122_3344_5566_7788)
        #expect(f.frame(3).load(fromByteOffset: pageSize - 8, as: UInt64.self) == 0x1122_3344_5566_7788,
                "full mode writes the stamp at both ends")
        // A copy moves the whole page.
        f.frame(3).storeBytes(of: 0x55, toByteOffset: 2000, as: UInt8.self)
        f.copy(from: 3, to: 9)
        #expect(f.readStamp(9) == 0x1122_3344_5566_7788)
        #expect(f.frame(9).load(fromByteOffset: 2000, as: UInt8.self) == 0x55)
        #expect(memcmp(f.frame(3), f.frame(9), pageSize) == 0)
        // A frame whose two ends disagree reads as torn.
        f.frame(9).storeBytes(of: UInt64(42), toByteOffset: pageSize - 8, as: UInt64.self)
        #expect(f.readStamp(9) == FrameStore.torn)
        f.zero(9)
        #expect(f.readStamp(9) == 0)
        #expect(f.readStamp(3) == 0x1122_3344_5566_7788, "neighbouring frames untouched")
        #expect(f.readStamp(4) == 0)
    }

    @Test func stampModeFrames() {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 4 << 20, content: .stamp))
        let f = phys.frames
        #expect(f.mode == .stamp)
        #expect(ContentMode.stamp.bytesPerFrame == 8)
        f.writeStamp(1023, 0xFEED)
        f.writeStamp(1022, 0xBEEF)
        #expect(f.readStamp(1023) == 0xFEED)
        #expect(f.readStamp(1022) == 0xBEEF)
        f.copy(from: 1023, to: 0)
        #expect(f.readStamp(0) == 0xFEED)
        f.zero(1023)
        #expect(f.readStamp(1023) == 0)
        #expect(f.readStamp(1022) == 0xBEEF)
        // Stamp mode keeps one word: there is nothing to tear.
        f.writeStamp(5, FrameStore.torn &- 1)
        #expect(f.readStamp(5) == FrameStore.torn &- 1)
    }
}
