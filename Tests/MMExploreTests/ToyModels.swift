// Toy models built only from MMSync primitives, small enough to reason about by hand.

import MMExplore
import MMSync

/// Shared state of a toy model. @unchecked Sendable: under the explorer only one model
/// thread runs at a time and baton handoffs order every access.
final class Shared: @unchecked Sendable {
    var counter = 0
    var values: [UInt64] = []
}

enum Toy {
    /// Two threads each do `read; yield; write counter+1`. Unlocked, one interleaving
    /// loses an update; with `locked`, a ModelMutex makes it atomic.
    static func lostUpdate(locked: Bool) -> @Sendable () -> [Violation] {
        let shared = Shared()
        let lock = ModelMutex("counter")
        let increment: @Sendable () -> Void = {
            if locked { lock.lock() }
            let v = shared.counter
            Sched.point("read counter = \(v)")
            shared.counter = v + 1
            Sched.note("write counter = \(v + 1)")
            if locked { lock.unlock() }
        }
        return {
            ModelThreads.runConcurrently([("T1", increment), ("T2", increment)])
            return shared.counter == 2 ? [] : [Violation(.lostWrite, "counter is \(shared.counter), expected 2")]
        }
    }

    /// T1 takes A then B, T2 takes B then A: the classic lock-order deadlock.
    static func abba() -> @Sendable () -> [Violation] {
        let a = ModelMutex("A")
        let b = ModelMutex("B")
        return {
            ModelThreads.runConcurrently([
                ("T1", { a.lock(); b.lock(); b.unlock(); a.unlock() }),
                ("T2", { b.lock(); a.lock(); a.unlock(); b.unlock() }),
            ])
            return []
        }
    }

    /// A thread that yields forever: only the step bound ends it.
    static func spinner() -> @Sendable () -> [Violation] {
        {
            ModelThreads.runConcurrently([("spinner", {
                var i = 0
                while i >= 0 { Sched.point("spin \(i)"); i &+= 1 }
            })])
            return []
        }
    }

    /// Two threads that each spawn two more (nested runConcurrently), all incrementing
    /// under a lock; draws a few model random numbers on the way.
    static func nested() -> @Sendable () -> [Violation] {
        let shared = Shared()
        let lock = ModelMutex("counter")
        let leaf: @Sendable () -> Void = {
            lock.withLock {
                shared.counter += 1
                if let e = Sched.current as? Explorer { shared.values.append(e.nextRandom()) }
            }
        }
        let parent: @Sendable () -> Void = { ModelThreads.runConcurrently([("L1", leaf), ("L2", leaf)]) }
        return {
            ModelThreads.runConcurrently([("P1", parent), ("P2", parent)])
            return shared.counter == 4 ? [] : [Violation(.accounting, "counter \(shared.counter)")]
        }
    }

    /// T1 sleeps on a hashed wait queue until T2 sets a flag. With `forgetWake`, T2
    /// never wakes the queue: a lost wake-up, which the explorer reports as a deadlock
    /// whenever T1 goes to sleep before T2 sets the flag.
    static func waitQueue(forgetWake: Bool) -> @Sendable () -> [Violation] {
        let shared = Shared()
        let queues = HashedWaitQueues()
        let channel = WaitChannel(.page, 7)
        return {
            ModelThreads.runConcurrently([
                ("waiter", { queues.wait(key: 7, channel: channel, announce: {}, isDone: { shared.counter == 1 }) }),
                ("waker", {
                    Sched.point("set flag")
                    shared.counter = 1
                    if !forgetWake { queues.wakeAll(key: 7, channel: channel) }
                }),
            ])
            return []
        }
    }

    /// Two readers and a writer on a ModelRWLock; each reader checks it never sees a
    /// half-done write (the writer makes `counter` odd while it works).
    static func readersWriter() -> @Sendable () -> [Violation] {
        let shared = Shared()
        let rw = ModelRWLock("mmap_lock")
        let log = ViolationLog()
        let reader: @Sendable () -> Void = {
            rw.withReadLock {
                Sched.point("read")
                if shared.counter % 2 == 1 { log.report(Violation(.accounting, "reader saw a half-done write")) }
            }
        }
        let writer: @Sendable () -> Void = {
            rw.withWriteLock {
                shared.counter += 1
                Sched.point("half-done write")
                shared.counter += 1
            }
        }
        return {
            ModelThreads.runConcurrently([("R1", reader), ("W", writer), ("R2", reader)])
            return log.all
        }
    }

    /// Main thread only, no other thread: no choice is ever made.
    static func single() -> @Sendable () -> [Violation] {
        { Sched.point("alone"); return [] }
    }
}
