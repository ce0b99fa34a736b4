// Background model threads (Linux: kthread_run / kthread_should_stop / kthread_stop)
// and a wait queue with a timeout in model time (Linux: wait_event_timeout on a
// wait_queue_head_t). kcompactd is built from these.
//
// A daemon is started once and must be stopped (`stop()` wakes it and joins it) before
// its owner goes away; under exploration it is one more model thread, joined by the
// thread that stops it.

import CMMSupport
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A wait queue with timed waits (Linux: wait_queue_head_t + wait_event_timeout).
/// Waiters sleep until `wake()` after their condition became true, or until the
/// timeout passes in model time (`Sched.nowNs`).
public final class ModelWaitQueue: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    private let c: UnsafeMutablePointer<pthread_cond_t>
    private let sleepers = Atomic<Int>(0)
    public let name: StaticString

    public init(_ name: StaticString = "waitqueue") {
        self.name = name
        m = .allocate(capacity: 1)
        c = .allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(c, &attr)
        pthread_condattr_destroy(&attr)
    }
    deinit {
        pthread_cond_destroy(c)
        pthread_mutex_destroy(m)
        c.deallocate()
        m.deallocate()
    }

    private var channel: WaitChannel { WaitChannel(.other, UInt64(UInt(bitPattern: ObjectIdentifier(self).hashValue))) }

    /// Linux: wq_has_sleeper().
    public var hasSleeper: Bool { sleepers.load(ordering: .acquiring) > 0 }

    /// Sleeps until `condition()` holds (true) or `timeoutNs` of model time passed
    /// (false; nil: no timeout). The condition is checked before sleeping and after
    /// every wake-up, so a wake between check and sleep is never lost.
    public func wait(timeoutNs: UInt64?, until condition: () -> Bool) -> Bool {
        if let s = Sched.current {
            let deadline = timeoutNs.map { s.modelTimeNs() &+ $0 }
            while !condition() {
                if let deadline {
                    let now = s.modelTimeNs()
                    if now >= deadline { return false }
                    sleepers.wrappingAdd(1, ordering: .acquiringAndReleasing)
                    let woken = s.blockTimed(on: channel, timeoutNs: deadline - now) { "sleep on \(self.name)" }
                    sleepers.wrappingSubtract(1, ordering: .acquiringAndReleasing)
                    if !woken { return condition() }
                } else {
                    sleepers.wrappingAdd(1, ordering: .acquiringAndReleasing)
                    s.block(on: channel) { "sleep on \(self.name)" }
                    sleepers.wrappingSubtract(1, ordering: .acquiringAndReleasing)
                }
            }
            return true
        }
        let deadline = timeoutNs.map { mm_now_ns() &+ $0 }
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        sleepers.wrappingAdd(1, ordering: .acquiringAndReleasing)
        defer { sleepers.wrappingSubtract(1, ordering: .acquiringAndReleasing) }
        while !condition() {
            guard let deadline else { pthread_cond_wait(c, m); continue }
            let now = mm_now_ns()
            if now >= deadline { return condition() }
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            let left = deadline - now
            var nsec = Int(ts.tv_nsec) + Int(left % 1_000_000_000)
            var sec = Int(ts.tv_sec) + Int(left / 1_000_000_000)
            if nsec >= 1_000_000_000 { nsec -= 1_000_000_000; sec += 1 }
            ts.tv_sec = sec
            ts.tv_nsec = nsec
            pthread_cond_timedwait(c, m, &ts)
        }
        return true
    }

    /// Wakes every sleeper (Linux: wake_up_interruptible). Call after making their
    /// condition true; not a scheduling point.
    public func wake() {
        if let s = Sched.current { s.wake(channel); return }
        pthread_mutex_lock(m)
        pthread_cond_broadcast(c)
        pthread_mutex_unlock(m)
    }
}

/// A background model thread that runs until told to stop (Linux: a kthread).
public final class ModelDaemon: @unchecked Sendable {
    public let name: String
    /// The daemon's wait queue: `stop()` wakes it, so waits on it should include
    /// `shouldStop` in their condition.
    public let waitQueue: ModelWaitQueue
    private let stopFlag = Atomic<Bool>(false)
    private var pthread: pthread_t?
    private var modelThreadID: Int?
    private let stopped = Atomic<Bool>(false)

    /// Starts `body` as a model thread (a pthread in a normal run, a spawned model
    /// thread under exploration). `body` should return soon after `shouldStop`.
    public init(name: String, waitQueue: ModelWaitQueue = ModelWaitQueue("daemon"), body: @escaping @Sendable (ModelDaemon) -> Void) {
        self.name = name
        self.waitQueue = waitQueue
        let run: @Sendable () -> Void = { [unowned(unsafe) self] in body(self) }
        if let s = Sched.current {
            modelThreadID = s.spawn(name: name, body: run)
            return
        }
        let box = Unmanaged.passRetained(ThreadBody(run))
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { raw in
            let b = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
            b.run()
            return nil
        }, box.toOpaque())
        precondition(rc == 0, "pthread_create failed for daemon \(name): \(rc)")
        pthread = handle
    }

    /// Linux: kthread_should_stop().
    public var shouldStop: Bool { stopFlag.load(ordering: .acquiring) }

    /// Linux: kthread_stop(): asks the thread to stop, wakes it and waits until it has
    /// returned. Call from the thread that started it (or, under exploration, any
    /// model thread of the same execution). Idempotent.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        stopFlag.store(true, ordering: .releasing)
        waitQueue.wake()
        if let id = modelThreadID, let s = Sched.current { s.join([id]) }
        if let p = pthread { pthread_join(p, nil) }
    }
}
