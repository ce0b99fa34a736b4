// madvise(MADV_DONTNEED) (Linux: mm/madvise.c madvise_dontneed_single_vma →
// zap_page_range_single): drops the pages of a range but keeps the mapping, so the next
// access faults in a zero page. Fragmenters use it to free single pages of a large
// mapping without splitting its VMA into thousands.

import MMPhysical
import MMSync

extension Machine {
    /// Linux: madvise(addr, len, MADV_DONTNEED) on anonymous private memory. ENOMEM when
    /// part of the range is not mapped (as Linux reports it); the model then stops at the
    /// first hole where Linux zaps the mapped parts beyond it too.
    /// Linux holds mmap_lock for reading; the model takes it for writing so that the
    /// checker's shadow of the zapped pages goes together with their PTEs.
    public func madviseDontneed(_ mm: MM, _ addr: UInt64, _ len: UInt64) throws(Errno) {
        try Self.checkRange(addr, len)
        mm.mmapLock.writeLock()
        defer { mm.mmapLock.unlock() }
        guard !mm.isDead else { throw .ESRCH }
        let end = addr + len
        var covered: UInt64 = 0
        var a = addr
        while a < end, let vma = mm.findVMA(a) {
            let stop = min(end, vma.end)
            zapRange(mm, a, stop)
            covered += stop - a
            a = stop
        }
        if covered != len { throw .ENOMEM }
    }
}
