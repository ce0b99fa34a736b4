// The page lock and writeback waits (Linux: mm/filemap.c folio_lock, folio_unlock,
// folio_wait_writeback). The lock is a bit in the page's flags word; sleepers wait in
// hashed wait queues and set PG_waiters so that unlock knows whether to wake anyone.

import MMSync

extension PhysicalMemory {
    /// Linux: trylock_page(). Never sleeps.
    @inline(__always)
    public func trylockPage(_ pfn: PFN) -> Bool {
        Sched.point("trylock page \(pfn)")
        guard pages.setFlags(pfn, PageFlag.locked) & PageFlag.locked == 0 else { return false }
        Sched.lockTried(.pageLock)
        return true
    }

    /// Linux: lock_page(). Sleeps until the lock is ours.
    public func lockPage(_ pfn: PFN) {
        Sched.point("lock page \(pfn)")
        while pages.setFlags(pfn, PageFlag.locked) & PageFlag.locked != 0 {
            waitForClear(pfn, PageFlag.locked, .page)
        }
        Sched.lockAcquired(.pageLock)
    }

    /// Linux: unlock_page(). Wakes sleepers if PG_waiters says there are any.
    public func unlockPage(_ pfn: PFN) {
        let old = pages.clearFlags(pfn, PageFlag.locked | PageFlag.waiters)
        precondition(old & PageFlag.locked != 0, "unlock of unlocked pfn \(pfn)")
        Sched.lockReleased(.pageLock)
        if old & PageFlag.waiters != 0 || Sched.isExploring {
            waitQueues.wakeAll(key: UInt64(pfn), channel: WaitChannel(.page, UInt64(pfn)))
        }
    }

    public func isPageLocked(_ pfn: PFN) -> Bool { pages.test(pfn, PageFlag.locked) }

    /// Linux: wait_on_page_locked() — used by a fault that met a migration entry.
    public func waitOnPageLocked(_ pfn: PFN) {
        waitForClear(pfn, PageFlag.locked, .page)
    }

    /// Linux: set_page_writeback(). The page must be locked.
    public func setWriteback(_ pfn: PFN) { pages.setFlags(pfn, PageFlag.writeback) }

    /// Linux: end_page_writeback().
    public func endWriteback(_ pfn: PFN) {
        let old = pages.clearFlags(pfn, PageFlag.writeback | PageFlag.waiters)
        // In real runs the broadcast reaches the whole bucket, page-lock sleepers of this
        // page included (they shared PG_waiters and simply wait again).
        if old & PageFlag.waiters != 0 || Sched.isExploring {
            waitQueues.wakeAll(key: UInt64(pfn), channel: WaitChannel(.writeback, UInt64(pfn)))
        }
    }

    /// Linux: folio_wait_writeback().
    public func waitOnWriteback(_ pfn: PFN) {
        waitForClear(pfn, PageFlag.writeback, .writeback)
    }

    private func waitForClear(_ pfn: PFN, _ bit: UInt32, _ kind: WaitChannel.Kind) {
        waitQueues.wait(
            key: UInt64(pfn), channel: WaitChannel(kind, UInt64(pfn)),
            // Unconditionally, before the check: setting PG_waiters only while the bit
            // is still set loses a wake-up (the bit clears and is set again by another
            // locker between this announce and the check; that locker's unlock then sees
            // no waiter). A late waiter may therefore leave PG_waiters on a page that was
            // unlocked meanwhile, as Linux may: the bit is only a hint, and whoever reads
            // a page's flags word exactly (the checker, online_pages) masks it out.
            announce: { pages.setFlags(pfn, PageFlag.waiters) },
            isDone: { !pages.test(pfn, bit) })
    }
}
