// Mutual exclusion and wake-up tests for the model's primitives (MMSync/Locks.swift),
// run on real threads in normal (non-exploring) mode. Every loop is bounded.

import Testing
import Synchronization
import MMSync
#if canImport(Glibc)
import Glibc
#endif

/// A plain, unsynchronised counter: only a lock makes its updates exact.
private final class Box: @unchecked Sendable {
    var value = 0
    var log: [Int] = []
}

@Suite(.serialized)
struct LockTests {
    static let threads = 4
    static let iterations = 20_000

    @Test func mutexExcludesRealThreads() {
        let lock = ModelMutex("test")
        let box = Box()
        let inside = Atomic<Int>(0)
        let maxInside = Atomic<Int>(0)
        ModelThreads.runConcurrently((0..<Self.threads).map { t in
            (name: "mutex-\(t)", body: { @Sendable in
                for _ in 0..<Self.iterations {
                    lock.withLock {
                        let n = inside.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue
                        _ = maxInside.max(n, ordering: .relaxed)
                        box.value += 1
                        inside.wrappingSubtract(1, ordering: .acquiringAndReleasing)
                    }
                }
            })
        })
        #expect(box.value == Self.threads * Self.iterations)
        #expect(maxInside.load(ordering: .relaxed) == 1)
    }

    @Test func mutexTryLockFailsWhileHeld() {
        let lock = ModelMutex("try")
        #expect(lock.tryLock())
        let otherGot = Atomic<Bool>(true)
        ModelThreads.runConcurrently([(name: "other", body: { @Sendable in
            otherGot.store(lock.tryLock(), ordering: .relaxed)
        })])
        #expect(otherGot.load(ordering: .relaxed) == false)
        lock.unlock()
        #expect(lock.tryLock())
        lock.unlock()
    }

    @Test func rwlockWritersExcludeEveryoneReadersShare() {
        let rw = ModelRWLock("test")
        let box = Box()
        let writers = Atomic<Int>(0)
        let readers = Atomic<Int>(0)
        let badOverlaps = Atomic<Int>(0)
        let readerOps = Atomic<Int>(0)
        ModelThreads.runConcurrently((0..<Self.threads).map { t in
            (name: "rw-\(t)", body: { @Sendable in
                for i in 0..<(Self.iterations / 4) {
                    if (i + t) % 3 == 0 {
                        rw.withWriteLock {
                            let w = writers.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue
                            if w != 1 || readers.load(ordering: .acquiring) != 0 {
                                badOverlaps.wrappingAdd(1, ordering: .relaxed)
                            }
                            box.value += 1
                            writers.wrappingSubtract(1, ordering: .acquiringAndReleasing)
                        }
                    } else {
                        rw.withReadLock {
                            readers.wrappingAdd(1, ordering: .acquiringAndReleasing)
                            if writers.load(ordering: .acquiring) != 0 {
                                badOverlaps.wrappingAdd(1, ordering: .relaxed)
                            }
                            _ = box.value   // a read that would race with a writer
                            readerOps.wrappingAdd(1, ordering: .relaxed)
                            readers.wrappingSubtract(1, ordering: .acquiringAndReleasing)
                        }
                    }
                }
            })
        })
        let expectedWrites = (0..<Self.threads).reduce(0) { acc, t in
            acc + (0..<(Self.iterations / 4)).filter { ($0 + t) % 3 == 0 }.count
        }
        #expect(box.value == expectedWrites)
        #expect(badOverlaps.load(ordering: .relaxed) == 0)
        #expect(readerOps.load(ordering: .relaxed) == Self.threads * (Self.iterations / 4) - expectedWrites)
    }

    @Test func rwlockReadersRunTogether() {
        // Two readers must be able to hold the lock at once: each waits (bounded) for the
        // other to arrive while holding its read lock.
        let rw = ModelRWLock("shared")
        let arrived = Atomic<Int>(0)
        let sawBoth = Atomic<Int>(0)
        ModelThreads.runConcurrently((0..<2).map { t in
            (name: "reader-\(t)", body: { @Sendable in
                rw.withReadLock {
                    arrived.wrappingAdd(1, ordering: .acquiringAndReleasing)
                    for _ in 0..<2_000 {
                        if arrived.load(ordering: .acquiring) == 2 { sawBoth.wrappingAdd(1, ordering: .relaxed); return }
                        usleep(1_000)
                    }
                }
            })
        })
        #expect(sawBoth.load(ordering: .relaxed) == 2)
        #expect(rw.tryReadLock())
        rw.unlock()
    }

    @Test func rwlockTryReadFailsUnderWriter() {
        let rw = ModelRWLock("w")
        rw.writeLock()
        let got = Atomic<Bool>(true)
        ModelThreads.runConcurrently([(name: "reader", body: { @Sendable in
            got.store(rw.tryReadLock(), ordering: .relaxed)
        })])
        #expect(got.load(ordering: .relaxed) == false)
        rw.unlock()
    }

    @Test func waitQueueWaitsUntilWoken() {
        let q = HashedWaitQueues()
        let flag = Atomic<Bool>(false)
        let announced = Atomic<Int>(0)
        let wokeAfterSet = Atomic<Bool>(false)
        let key: UInt64 = 4242
        let ch = WaitChannel(.other, key)
        ModelThreads.runConcurrently([
            (name: "waiter", body: { @Sendable in
                q.wait(key: key, channel: ch,
                       announce: { announced.wrappingAdd(1, ordering: .acquiringAndReleasing) },
                       isDone: { flag.load(ordering: .acquiring) })
                wokeAfterSet.store(flag.load(ordering: .acquiring), ordering: .relaxed)
            }),
            (name: "waker", body: { @Sendable in
                // Wait (bounded) until the waiter has announced itself, so the wake-up is
                // really needed, then make the condition true and wake.
                for _ in 0..<5_000 where announced.load(ordering: .acquiring) == 0 { usleep(200) }
                usleep(20_000)
                flag.store(true, ordering: .releasing)
                q.wakeAll(key: key, channel: ch)
            }),
        ])
        #expect(announced.load(ordering: .relaxed) >= 1)
        #expect(wokeAfterSet.load(ordering: .relaxed) == true)
    }

    @Test func waitQueueManyWaitersSharedBucket() {
        // Keys that hash to one bucket (or not): every waiter must wake once its own
        // condition holds, and none before.
        let q = HashedWaitQueues()
        let n = 6
        let flags = (0..<n).map { _ in FlagBox() }
        let premature = Atomic<Int>(0)
        let woken = Atomic<Int>(0)
        var threads: [(name: String, body: @Sendable () -> Void)] = []
        for i in 0..<n {
            let f = flags[i]
            threads.append((name: "w\(i)", body: { @Sendable in
                q.wait(key: UInt64(i), channel: WaitChannel(.other, UInt64(i)),
                       announce: {}, isDone: { f.value.load(ordering: .acquiring) })
                if !f.value.load(ordering: .acquiring) { premature.wrappingAdd(1, ordering: .relaxed) }
                woken.wrappingAdd(1, ordering: .relaxed)
            }))
        }
        threads.append((name: "waker", body: { @Sendable in
            usleep(10_000)
            for i in 0..<n {
                flags[i].value.store(true, ordering: .releasing)
                q.wakeAll(key: UInt64(i), channel: WaitChannel(.other, UInt64(i)))
                usleep(1_000)
            }
        }))
        ModelThreads.runConcurrently(threads)
        #expect(woken.load(ordering: .relaxed) == n)
        #expect(premature.load(ordering: .relaxed) == 0)
    }

    @Test func plainLockAndViolationLog() {
        let log = ViolationLog()
        #expect(log.isEmpty)
        ModelThreads.runConcurrently((0..<Self.threads).map { t in
            (name: "log-\(t)", body: { @Sendable in
                for i in 0..<100 { log.report(Violation(.leak, "t\(t) #\(i)")) }
            })
        })
        #expect(log.all.count == Self.threads * 100)
        #expect(Set(log.all).count == Self.threads * 100)
        #expect(log.all.allSatisfy { $0.kind == .leak })
        #expect(Violation(.useAfterFree, "x").description == "use-after-free: x")
    }

    @Test func schedIsNotInstalledInNormalRuns() {
        #expect(Sched.isExploring == false)
        #expect(Sched.current == nil)
        Sched.point("no-op")   // must be free and harmless outside exploration
    }
}

/// A heap box so an array can hold atomic flags.
private final class FlagBox: Sendable {
    let value = Atomic<Bool>(false)
}
