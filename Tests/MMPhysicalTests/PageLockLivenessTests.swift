// No page-lock wake-up is ever lost: a thread waiting for a page to be unlocked while
// another thread locks and unlocks it in a tight loop always gets through. A waiter that
// sets PG_waiters only while the lock bit is still set sleeps through the unlock of a
// locker that took the lock between that announce and the check (found as a hang of
// ConcurrentMigrationTests' bounce under load; PageLock.swift says why).

import Foundation
import MMPhysical
import Synchronization
import Testing

@Suite(.serialized) struct PageLockLivenessTests {
    @Test func waiterAlwaysWakesWhileTheLockBounces() throws {
        let phys = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 4 << 20, content: .stamp))
        let pfn = try #require(phys.allocPage(node: 0))
        let stop = Atomic<Bool>(false)
        let waits = Atomic<Int>(0)
        let rounds = 200_000
        let locker = Thread {
            while !stop.load(ordering: .acquiring) { phys.lockPage(pfn); phys.unlockPage(pfn) }
        }
        let waiter = Thread {
            for _ in 0..<rounds { phys.waitOnPageLocked(pfn); waits.add(1, ordering: .relaxed) }
        }
        locker.start()
        waiter.start()
        // A liveness bound, not a speed figure: 200,000 waits take well under a second;
        // a lost wake-up stops the waiter for good.
        let deadline = Date().addingTimeInterval(60)
        while waits.load(ordering: .relaxed) < rounds && Date() < deadline { usleep(10_000) }
        stop.store(true, ordering: .releasing)
        #expect(waits.load(ordering: .relaxed) == rounds,
                "waiter stuck after \(waits.load(ordering: .relaxed)) of \(rounds) waits: a lost page-lock wake-up")
    }
}
