// madvise(MADV_DONTNEED) (Linux: mm/madvise.c madvise_dontneed_single_vma →
// zap_page_range_single): drops the pages of a range without touching the VMAs, so a
// later access faults in a fresh zero page. The way to free every other page of a
// mapping without splitting it into one VMA per page.

import MMPhysical
import MMSync

extension Machine {
    /// Zaps [addr, addr+len) of `mm`'s mappings; the VMAs stay. EINVAL for a bad
    /// range, ENOMEM if part of it is not mapped (Linux's answer), ESRCH if exiting.
    public func madviseDontneed(_ mm: MM, _ addr: UInt64, _ len: UInt64) throws(Errno) {
        try Self.checkRange(addr, len)
        mm.mmapLock.readLock()
        defer { mm.mmapLock.unlock() }
        guard !mm.isDead else { throw .ESRCH }
        let end = addr + len
        var covered: UInt64 = 0
        for vma in mm.vmas where vma.start < end && addr < vma.end {
            let s = max(addr, vma.start), e = min(end, vma.end)
            zapRange(mm, s, e)
            covered += e - s
        }
        if covered != len { throw .ENOMEM }
    }
}
