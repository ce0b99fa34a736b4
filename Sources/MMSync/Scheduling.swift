// The one scheduling interface of the model (docs/ARCHITECTURE.md, The scheduling interface).
//
// Every lock, wait, thread start and marked yield point of mmlab goes through `Sched`.
// In a normal run no scheduler is installed on the calling thread: each hook is one
// thread-local load and a branch, and the primitives are plain pthread locks and
// condition variables. Under exploration each model thread carries a `ModelScheduler`
// in its thread-local slot; only one model thread runs at a time and the scheduler
// decides, at every hook, which runs next. The mm code reads the same in both modes.

import CMMSupport
#if canImport(Glibc)
import Glibc
#endif

/// What a blocked model thread waits for. Waking a channel makes every thread blocked
/// on it runnable again; each re-checks its condition (like a futex or a wait queue).
public struct WaitChannel: Hashable, Sendable, CustomStringConvertible {
    /// What sort of object the channel belongs to (for traces and deadlock reports).
    public enum Kind: UInt8, Sendable { case lock, rwlock, page, writeback, thread, other }
    public let kind: Kind
    public let id: UInt64
    public init(_ kind: Kind, _ id: UInt64) { self.kind = kind; self.id = id }
    public var description: String {
        switch kind {
        case .lock: return "lock#\(id % 100_000)"
        case .rwlock: return "rwlock#\(id % 100_000)"
        case .page: return "page lock of pfn \(id)"
        case .writeback: return "writeback of pfn \(id)"
        case .thread: return "thread \(id)"
        case .other: return "channel \(id)"
        }
    }
}

/// The contract an exploration scheduler implements. All calls come from the model
/// thread that is currently running; the scheduler may park it and run another before
/// returning. Implementations live in MMExplore (one file per strategy behind them).
public protocol ModelScheduler: AnyObject, Sendable {
    /// A point where the running thread may be preempted. `what` describes the step
    /// about to happen, for the trace; it is evaluated only if the scheduler wants it.
    func schedulePoint(_ what: () -> String)
    /// The running thread cannot go on until `channel` is woken: it stops being
    /// runnable, another thread runs. Returns once woken and chosen again.
    func block(on channel: WaitChannel, _ what: () -> String)
    /// Makes every thread blocked on `channel` runnable. Not a scheduling point.
    func wake(_ channel: WaitChannel)
    /// Records an event in the readable trace without a scheduling decision.
    func note(_ what: () -> String)
    /// Starts `body` as a new model thread (not yet running) and returns its id.
    func spawn(name: String, body: @escaping @Sendable () -> Void) -> Int
    /// Blocks the running thread until every thread in `ids` has finished.
    func join(_ ids: [Int])
    /// Records a violation found by a check that runs inside the model (the lock-order
    /// checker); it becomes part of the execution's result.
    func report(_ violation: Violation)
    /// Like `block(on:)`, but the wait also ends when `timeoutNs` of model time pass.
    /// Returns true if woken, false if it timed out. Model time advances only when no
    /// thread is runnable: a timed waiter then wakes at the earliest deadline.
    func blockTimed(on channel: WaitChannel, timeoutNs: UInt64, _ what: () -> String) -> Bool
    /// The execution's model clock in nanoseconds.
    func modelTimeNs() -> UInt64
    /// The running thread is only polling: run another runnable thread if there is one
    /// (not counted as a preemption), else continue.
    func yieldHint(_ what: () -> String)
}

extension ModelScheduler {
    /// Schedulers without a model clock: a timed wait is a scheduling point that times out.
    public func blockTimed(on channel: WaitChannel, timeoutNs: UInt64, _ what: () -> String) -> Bool {
        schedulePoint(what)
        return false
    }
    public func modelTimeNs() -> UInt64 { 0 }
    public func yieldHint(_ what: () -> String) { schedulePoint(what) }
}

/// Per-thread handle stored in the C thread-local slot.
public final class SchedulerContext: @unchecked Sendable {
    public let scheduler: any ModelScheduler
    public let threadID: Int
    /// The thread's name, for reports.
    public let threadName: String
    /// Ranks of the ordered locks this thread holds (LockOrder.swift). Only its own
    /// thread touches it.
    var held: [LockRank] = []
    public init(scheduler: any ModelScheduler, threadID: Int, threadName: String = "") {
        self.scheduler = scheduler
        self.threadID = threadID
        self.threadName = threadName.isEmpty ? "thread \(threadID)" : threadName
    }
}

/// Entry points the model calls. All are no-ops (or plain OS calls) in normal runs.
public enum Sched {
    /// The calling thread's scheduler, or nil in a normal run.
    @inline(__always)
    public static var current: (any ModelScheduler)? { context?.scheduler }

    /// True when the calling thread runs under an exploration scheduler.
    @inline(__always)
    public static var isExploring: Bool {
        #if MMLAB_NO_SCHED
        return false
        #else
        return mm_sched_get() != nil
        #endif
    }

    /// Installs (or, with nil, removes) the calling thread's scheduler context. The
    /// context must stay alive while installed: the caller keeps the reference.
    public static func install(_ context: SchedulerContext?) {
        if let context {
            mm_sched_set(Unmanaged.passUnretained(context).toOpaque())
        } else {
            mm_sched_set(nil)
        }
    }

    /// A marked yield point: the place of a race window in the model.
    @inline(__always)
    public static func point(_ what: @autoclosure () -> String) {
        if let s = current {
            PlainLock.assertNoneHeld(what())
            s.schedulePoint(what)
        }
    }

    /// A trace note (no scheduling decision). Free in normal runs.
    @inline(__always)
    public static func note(_ what: @autoclosure () -> String) {
        if let s = current { s.note(what) }
    }

    /// Model time in nanoseconds: the explorer's clock under exploration, the host's
    /// monotonic clock in a normal run.
    public static func nowNs() -> UInt64 {
        if let s = current { return s.modelTimeNs() }
        return mm_now_ns()
    }

    /// A polling thread's hint (Linux: cond_resched in a loop that only checks): under
    /// exploration another runnable thread goes first; in a normal run, sched_yield.
    public static func yieldHint(_ what: @autoclosure () -> String) {
        if let s = current { s.yieldHint(what); return }
        sched_yield()
    }
}

/// Model threads: real pthreads in normal runs, scheduler-owned threads in exploration.
public enum ModelThreads {
    /// Runs every body concurrently as a model thread and returns when all are done.
    /// A host that refuses a thread stops the program with a message naming the limit
    /// (for input-driven thread counts use `tryRunConcurrently`, ThreadStart.swift).
    public static func runConcurrently(_ threads: [(name: String, body: @Sendable () -> Void)]) {
        if let s = Sched.current {
            let ids = threads.map { s.spawn(name: $0.name, body: $0.body) }
            s.join(ids)
            return
        }
        do {
            try tryRunConcurrently(threads)
        } catch {
            fatalError("ModelThreads.runConcurrently: \(error)")
        }
    }
}

/// A heap box carrying a closure into pthread_create.
public final class ThreadBody: @unchecked Sendable {
    public let run: @Sendable () -> Void
    public init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
