// PG_writeback on a mapped page, as the `writeback` / `writeback_end` statements set and
// clear it (Linux: folio_start_writeback under the folio lock, folio_end_writeback), so
// that scenarios reach migration's writeback paths: -EBUSY in async and sync-light mode,
// the wait in sync mode from the forcing passes on.

import MMPhysical
import MMSpace
import MMSync

extension Migrator {
    /// Starts writeback of the page mapped at `addr`: takes a reference for the I/O (a
    /// page under writeback is never freed), locks the page, sets PG_writeback, unlocks.
    /// Returns the frame, or the errno: EFAULT if nothing is mapped there, EBUSY if the
    /// page is under writeback already.
    public func startWriteback(_ mm: MM, _ addr: UInt64) -> Result<PFN, Errno> {
        let phys = machine.phys, pages = phys.pages
        guard let t = mm.pageTable.table(for: addr & ~4095, allocate: false) else { return .failure(.EFAULT) }
        t.ptl.lock()
        let pte = t[addr & ~4095]
        let pfn: PFN? = pte.isPresent && pages.getRefUnlessZero(pte.pfn) ? pte.pfn : nil
        t.ptl.unlock()
        guard let pfn else { return .failure(.EFAULT) }
        phys.lockPage(pfn)
        defer { phys.unlockPage(pfn) }
        if pages.test(pfn, PageFlag.writeback) {
            phys.putPage(pfn)
            return .failure(.EBUSY)
        }
        phys.setWriteback(pfn)
        Sched.note("writeback pfn \(pfn) started")
        return .success(pfn)
    }

    /// Ends writeback of `pfn` (started by `startWriteback`): clears PG_writeback, wakes
    /// the waiters, drops the I/O reference.
    public func endWriteback(_ pfn: PFN) {
        machine.phys.endWriteback(pfn)
        Sched.note("writeback pfn \(pfn) ended")
        machine.phys.putPage(pfn)
    }
}
