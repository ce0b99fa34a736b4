// The model's locks. Built on pthread primitives (ThreadSanitizer understands them; it
// does not see Synchronization.Mutex's futex as a lock) and routed through `Sched`, so that
// under exploration a thread that would block is reported as blocked instead.

import CMMSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A sleeping mutual-exclusion lock (Linux: spinlock_t / struct mutex — the model does
/// not distinguish: a spinning waiter on a shared vCPU only livelocks).
public final class ModelMutex: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    /// Short name used in traces ("ptl", "anon_vma", "zone").
    public let name: StaticString
    /// Place in the lock order, checked under exploration.
    public let rank: LockRank

    public init(_ name: StaticString = "lock", rank: LockRank = .unordered) {
        self.name = name
        self.rank = rank
        m = .allocate(capacity: 1)
        pthread_mutex_init(m, nil)
    }
    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }

    @inline(__always) var channel: WaitChannel {
        WaitChannel(.lock, UInt64(UInt(bitPattern: ObjectIdentifier(self).hashValue)))
    }

    /// Acquires the lock, sleeping while another thread holds it.
    @inline(__always)
    public func lock() {
        PlainLock.assertNoneHeld("lock \(name)")
        if let s = Sched.current {
            s.schedulePoint { "lock \(self.name)" }
            while pthread_mutex_trylock(m) != 0 {
                s.block(on: channel) { "wait for \(self.name)" }
            }
            Sched.lockAcquired(rank)
            return
        }
        pthread_mutex_lock(m)
    }

    /// Takes the lock only if free; never sleeps.
    @inline(__always)
    public func tryLock() -> Bool {
        PlainLock.assertNoneHeld("trylock \(name)")
        guard let s = Sched.current else { return pthread_mutex_trylock(m) == 0 }
        s.schedulePoint { "trylock \(self.name)" }
        guard pthread_mutex_trylock(m) == 0 else { return false }
        Sched.lockTried(rank)
        return true
    }

    @inline(__always)
    public func unlock() {
        pthread_mutex_unlock(m)
        if let s = Sched.current {
            Sched.lockReleased(rank)
            s.wake(channel)
        }
    }

    @inline(__always)
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A reader-writer sleeping lock (Linux: mmap_lock, an rw_semaphore).
public final class ModelRWLock: @unchecked Sendable {
    private let l: UnsafeMutablePointer<pthread_rwlock_t>
    public let name: StaticString
    public let rank: LockRank

    public init(_ name: StaticString = "rwlock", rank: LockRank = .unordered) {
        self.name = name
        self.rank = rank
        l = .allocate(capacity: 1)
        pthread_rwlock_init(l, nil)
    }
    deinit {
        pthread_rwlock_destroy(l)
        l.deallocate()
    }

    @inline(__always) var channel: WaitChannel {
        WaitChannel(.rwlock, UInt64(UInt(bitPattern: ObjectIdentifier(self).hashValue)))
    }

    public func readLock() {
        PlainLock.assertNoneHeld("read-lock \(name)")
        if let s = Sched.current {
            s.schedulePoint { "read-lock \(self.name)" }
            while pthread_rwlock_tryrdlock(l) != 0 { s.block(on: channel) { "wait to read \(self.name)" } }
            Sched.lockAcquired(rank)
            return
        }
        pthread_rwlock_rdlock(l)
    }

    public func writeLock() {
        PlainLock.assertNoneHeld("write-lock \(name)")
        if let s = Sched.current {
            s.schedulePoint { "write-lock \(self.name)" }
            while pthread_rwlock_trywrlock(l) != 0 { s.block(on: channel) { "wait to write \(self.name)" } }
            Sched.lockAcquired(rank)
            return
        }
        pthread_rwlock_wrlock(l)
    }

    public func tryReadLock() -> Bool {
        PlainLock.assertNoneHeld("try-read-lock \(name)")
        guard let s = Sched.current else { return pthread_rwlock_tryrdlock(l) == 0 }
        s.schedulePoint { "try-read-lock \(self.name)" }
        guard pthread_rwlock_tryrdlock(l) == 0 else { return false }
        Sched.lockTried(rank)
        return true
    }

    public func unlock() {
        pthread_rwlock_unlock(l)
        if let s = Sched.current {
            Sched.lockReleased(rank)
            s.wake(channel)
        }
    }

    public func withReadLock<R>(_ body: () throws -> R) rethrows -> R {
        readLock()
        defer { unlock() }
        return try body()
    }

    public func withWriteLock<R>(_ body: () throws -> R) rethrows -> R {
        writeLock()
        defer { unlock() }
        return try body()
    }
}

/// Hashed wait queues for conditions on a word that other threads change (Linux: the
/// page wait table of mm/filemap.c). A waiter sleeps until `isDone()` holds; a waker
/// calls `wakeAll` after making it hold. 256 buckets of mutex + condition variable.
public final class HashedWaitQueues: @unchecked Sendable {
    public static let bucketCount = 256
    private let mutexes: UnsafeMutablePointer<pthread_mutex_t>
    private let conds: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        mutexes = .allocate(capacity: Self.bucketCount)
        conds = .allocate(capacity: Self.bucketCount)
        for i in 0..<Self.bucketCount {
            pthread_mutex_init(mutexes + i, nil)
            pthread_cond_init(conds + i, nil)
        }
    }
    deinit {
        for i in 0..<Self.bucketCount {
            pthread_mutex_destroy(mutexes + i)
            pthread_cond_destroy(conds + i)
        }
        mutexes.deallocate()
        conds.deallocate()
    }

    @inline(__always) private func bucket(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 56)
    }

    /// Sleeps until `isDone()` is true. `announce()` runs under the bucket lock before
    /// each sleep (it sets a "waiters" bit the waker tests, so no wake-up is lost).
    /// Under exploration: blocks on `channel` instead.
    public func wait(key: UInt64, channel: WaitChannel, announce: () -> Void, isDone: () -> Bool) {
        PlainLock.assertNoneHeld("wait on \(channel)")
        if let s = Sched.current {
            while !isDone() { s.block(on: channel) { "wait on \(channel)" } }
            return
        }
        let b = bucket(key)
        pthread_mutex_lock(mutexes + b)
        while true {
            announce()
            if isDone() { break }
            pthread_cond_wait(conds + b, mutexes + b)
        }
        pthread_mutex_unlock(mutexes + b)
    }

    /// Wakes every waiter hashed to `key` (they re-check their condition).
    public func wakeAll(key: UInt64, channel: WaitChannel) {
        if let s = Sched.current {
            s.wake(channel)
            return
        }
        let b = bucket(key)
        pthread_mutex_lock(mutexes + b)
        pthread_cond_broadcast(conds + b)
        pthread_mutex_unlock(mutexes + b)
    }
}

/// A lock that is deliberately invisible to the scheduler: for bookkeeping that is not
/// part of the model (counters, the checker's shadow of what each process wrote). Never
/// hold it across a model lock or scheduling point.
public final class PlainLock: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    public init() {
        m = .allocate(capacity: 1)
        pthread_mutex_init(m, nil)
    }
    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }
    @inline(__always)
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        #if DEBUG
        let track = true
        #else
        let track = mm_sched_get() != nil
        #endif
        if track { mm_plain_enter() }
        pthread_mutex_lock(m)
        defer {
            pthread_mutex_unlock(m)
            if track { mm_plain_exit() }
        }
        return try body()
    }

    /// Traps if the calling thread holds a PlainLock at a scheduling point (in debug
    /// builds, and always under exploration): the explorer cannot see a PlainLock, so a
    /// thread parked while holding one would hang the search instead of reporting.
    @inline(__always)
    public static func assertNoneHeld(_ what: @autoclosure () -> String) {
        #if DEBUG
        let check = true
        #else
        let check = mm_sched_get() != nil
        #endif
        if check && mm_plain_held() != 0 {
            preconditionFailure("PlainLock held across a scheduling point (\(what()))")
        }
    }
}
