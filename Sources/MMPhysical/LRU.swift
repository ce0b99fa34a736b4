// Per-node LRU list and page isolation (Linux: mm/swap.c lru_cache_add /
// putback_lru_page, mm/vmscan.c isolate_lru_page). One list per node: the model does
// no reclaim, so active/inactive aging would only add noise.
//
// The LRU holds no reference of its own. Isolation takes one (the "isolation
// reference" that migration's refcount check expects) and clears PG_lru; putback
// gives it back. Locking: `LRUList.lock` protects the list and the PG_lru bit changes.

import MMSync

/// What an isolation attempt gave.
public enum IsolateAttempt: Sendable, Equatable {
    case isolated
    /// Not on the LRU (or being freed) when looked at under the lock.
    case notIsolated
    /// The lru_lock was held and the caller may not wait (async compaction).
    case contended
}

/// One node's LRU list (Linux: struct lruvec).
public final class LRUList: @unchecked Sendable {
    public let node: Int
    /// Linux: lruvec->lru_lock.
    public let lock = ModelMutex("lru", rank: .lru)
    /// Under `lock` only: no dynamic exclusivity check (one per isolation and per add).
    @exclusivity(unchecked) private var list = PageList()
    let d: PageDescriptors

    init(node: Int, descriptors: PageDescriptors) {
        self.node = node
        d = descriptors
    }

    public var count: Int { lock.withLock { list.count } }

    /// Adds an in-use page to the LRU (Linux: lru_cache_add / folio_add_lru).
    public func add(_ pfn: PFN) {
        lock.withLock {
            precondition(!d.test(pfn, PageFlag.lru), "pfn \(pfn) already on the LRU")
            list.pushFront(pfn, d)
            d.setFlags(pfn, PageFlag.lru)
        }
    }

    /// Takes the page off the LRU with a reference, if it is on it and not being freed
    /// (Linux: isolate_lru_page / folio_isolate_lru). False otherwise.
    public func isolate(_ pfn: PFN) -> Bool {
        Sched.point("isolate pfn \(pfn)")
        return lock.withLock {
            guard d.test(pfn, PageFlag.lru), d.getRefUnlessZero(pfn) else { return false }
            list.remove(pfn, d)
            d.clearFlags(pfn, PageFlag.lru)
            d.setFlags(pfn, PageFlag.isolated)
            return true
        }
    }

    /// Compaction's isolation (Linux: the lru_lock part of isolate_migratepages_block).
    /// With `trylock` (async compaction) a held lru_lock is `contended` rather than waited for.
    public func isolate(_ pfn: PFN, trylock: Bool) -> IsolateAttempt {
        guard trylock else { return isolate(pfn) ? .isolated : .notIsolated }
        Sched.point("isolate pfn \(pfn)")
        guard lock.tryLock() else { return .contended }
        defer { lock.unlock() }
        guard d.test(pfn, PageFlag.lru), d.getRefUnlessZero(pfn) else { return .notIsolated }
        list.remove(pfn, d)
        d.clearFlags(pfn, PageFlag.lru)
        d.setFlags(pfn, PageFlag.isolated)
        return .isolated
    }

    /// Called by the freeing path when the last reference went away while on the LRU.
    func removeForFree(_ pfn: PFN) {
        lock.withLock {
            if d.test(pfn, PageFlag.lru) {
                list.remove(pfn, d)
                d.clearFlags(pfn, PageFlag.lru)
            }
        }
    }

    /// Adds an isolated page back (without dropping the reference; see PhysicalMemory.putback).
    func readd(_ pfn: PFN) {
        lock.withLock {
            d.clearFlags(pfn, PageFlag.isolated)
            list.pushFront(pfn, d)
            d.setFlags(pfn, PageFlag.lru)
        }
    }

    /// Every PFN on the list (for the checker, at a quiet point).
    public func snapshot() -> [PFN] {
        lock.withLock {
            var out: [PFN] = []
            var p = list.head
            while p != noPFN { out.append(p); p = d.next(p) }
            return out
        }
    }
}
