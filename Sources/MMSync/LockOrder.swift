// A small lockdep: under exploration every acquisition of a ranked model lock is
// checked against the documented lock order (Sources/MMSpace/Rmap.swift,
// docs/ARCHITECTURE.md). Taking a lock while holding one ranked after it is reported as
// a `lock-order` violation — a possible deadlock found even in schedules that did not
// deadlock. Normal runs pay nothing: the bookkeeping lives in the exploration context.

import CMMSupport

/// Where a lock stands in the lock order (outermost first). `.unordered` locks are not
/// checked (test locks, bookkeeping).
public enum LockRank: UInt8, Sendable, Comparable, CustomStringConvertible {
    case unordered = 0
    case mmapLock = 1
    case pageLock = 2
    case anonVma = 3
    case pageTable = 4
    case lru = 5
    case zone = 6

    public static func < (a: LockRank, b: LockRank) -> Bool { a.rawValue < b.rawValue }
    public var description: String {
        switch self {
        case .unordered: return "unordered"
        case .mmapLock: return "mmap_lock"
        case .pageLock: return "page lock"
        case .anonVma: return "anon_vma"
        case .pageTable: return "ptl"
        case .lru: return "lru_lock"
        case .zone: return "zone->lock"
        }
    }
}

extension SchedulerContext {
    /// Records an acquisition; with `check`, reports an inversion first. Locks of the
    /// same rank may nest (fork: parent then child mmap_lock; mremap: source then
    /// target ptl) — Linux annotates those as nesting levels of one class.
    func acquired(_ rank: LockRank, check: Bool) {
        guard rank != .unordered else { return }
        if check, let worst = held.max(), worst > rank {
            scheduler.report(Violation(.lockOrder, "\(threadName) takes \(rank) while holding \(worst) (lock order: \(LockRank.orderText))"))
        }
        held.append(rank)
    }

    func released(_ rank: LockRank) {
        guard rank != .unordered, let i = held.lastIndex(of: rank) else { return }
        held.remove(at: i)
    }
}

extension LockRank {
    static let orderText = "mmap_lock → page lock → anon_vma → ptl → lru_lock → zone->lock"
}

extension Sched {
    /// The calling model thread's context (exploration only).
    @inline(__always)
    static var context: SchedulerContext? {
        #if MMLAB_NO_SCHED
        // Benchmark-only build (BENCHMARKS.md): hooks compiled out, to measure their cost.
        return nil
        #else
        guard let raw = mm_sched_get() else { return nil }
        return Unmanaged<SchedulerContext>.fromOpaque(raw).takeUnretainedValue()
        #endif
    }

    /// A lock of `rank` was taken by a sleeping acquisition (checked against the order).
    @inline(__always)
    public static func lockAcquired(_ rank: LockRank) { context?.acquired(rank, check: true) }

    /// A lock of `rank` was taken by a trylock: it cannot deadlock, so it is recorded
    /// as held but not checked (as lockdep treats trylocks).
    @inline(__always)
    public static func lockTried(_ rank: LockRank) { context?.acquired(rank, check: false) }

    @inline(__always)
    public static func lockReleased(_ rank: LockRank) { context?.released(rank) }
}
