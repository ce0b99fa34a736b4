// Creating, removing and moving mappings (Linux: mm/mmap.c do_mmap, do_munmap,
// __split_vma; mm/mremap.c move_vma, move_page_tables).
//
// Rule for every change of a VMA's range: it happens with mmap_lock held for writing
// AND the anon_vma lock held, so an rmap walk (which holds only the anon_vma lock)
// never sees a VMA whose range and page tables disagree.

import MMPhysical
import MMSync

extension Machine {
    static func checkRange(_ addr: UInt64, _ len: UInt64) throws(Errno) {
        guard addr & 4095 == 0, len & 4095 == 0, len > 0 else { throw .EINVAL }
        let (end, o) = addr.addingReportingOverflow(len)
        guard !o, end <= userAddressLimit else { throw .EINVAL }
    }

    /// An anonymous private read-write mapping at a fixed address (Linux: mmap with
    /// MAP_FIXED_NOREPLACE: EEXIST if anything is mapped there).
    public func mmap(_ mm: MM, _ addr: UInt64, _ len: UInt64) throws(Errno) {
        try Self.checkRange(addr, len)
        mm.mmapLock.writeLock()
        defer { mm.mmapLock.unlock() }
        guard !mm.isDead else { throw .ESRCH }
        guard !mm.vmas.contains(where: { $0.start < addr + len && addr < $0.end }) else { throw .EEXIST }
        insertVMA(mm, VMA(mm: mm, start: addr, end: addr + len, pgoff: addr >> 12))
    }

    /// Touches (writes) every page of [addr, addr+len).
    public func touch(_ mm: MM, _ addr: UInt64, _ len: UInt64) throws(Errno) {
        try Self.checkRange(addr, len)
        var a = addr
        while a < addr + len {
            try userWrite(mm, a)
            a += 4096
        }
    }

    func insertVMA(_ mm: MM, _ vma: VMA) {
        let i = mm.vmas.firstIndex { $0.start > vma.start } ?? mm.vmas.count
        mm.vmas.insert(vma, at: i)
    }

    /// Linux: do_munmap(). Zaps the range's PTEs first, while the VMAs are still on
    /// their anon_vma (as unmap_region does), then trims, splits or unlinks the VMAs.
    public func munmap(_ mm: MM, _ addr: UInt64, _ len: UInt64) throws(Errno) {
        try Self.checkRange(addr, len)
        mm.mmapLock.writeLock()
        defer { mm.mmapLock.unlock() }
        guard !mm.isDead else { throw .ESRCH }
        let end = addr + len
        for vma in mm.vmas where vma.start < end && addr < vma.end {
            zapRange(mm, max(addr, vma.start), min(end, vma.end))
            Sched.point("munmap: page tables zapped, \(vma) not yet trimmed")
            removeRange(mm, vma, max(addr, vma.start), min(end, vma.end), anonLocked: nil)
        }
    }

    /// Removes [s, e) from `vma`: trims it, splits it in two, or unlinks it entirely.
    /// With `anonLocked` the caller already holds that anon_vma's lock.
    func removeRange(_ mm: MM, _ vma: VMA, _ s: UInt64, _ e: UInt64, anonLocked: AnonVma?) {
        let keepLeft = s > vma.start, keepRight = e < vma.end
        if !keepLeft && !keepRight {
            mm.vmas.removeAll { $0 === vma }
            if anonLocked != nil {
                // Caller holds the lock (mremap): unlink by hand, never frees (the moved
                // part keeps the anon_vma in use).
                anonLocked!.vmas.removeAll { $0 === vma }
            } else {
                anonVmaUnlink(vma)
            }
            return
        }
        var a: AnonVma? = anonLocked
        if a == nil, let r = vma.anonVma { a = lockAnonVma(r, "split \(vma)") }
        if keepLeft && keepRight {
            let right = VMA(mm: mm, start: e, end: vma.end, pgoff: vma.pgoff + (e - vma.start) >> 12,
                            writable: vma.writable, anonVma: vma.anonVma)
            vma.end = s
            if let a { anonVmaLinkLocked(a, right) }
            insertVMA(mm, right)
        } else if keepLeft {
            vma.end = s
        } else {
            vma.pgoff += (e - vma.start) >> 12
            vma.start = e
        }
        if anonLocked == nil { a?.lock.unlock() }
    }

    /// Linux: mremap(old, len, len, MREMAP_MAYMOVE|MREMAP_FIXED, new) → move_vma:
    /// a new VMA at `newAddr` with the same anon_vma and page offset, the PTEs moved
    /// across, the old range removed — all under the anon_vma lock, so an rmap walk
    /// sees either the old layout or the new one, never a PTE in neither.
    public func mremap(_ mm: MM, _ oldAddr: UInt64, _ len: UInt64, _ newAddr: UInt64) throws(Errno) {
        try Self.checkRange(oldAddr, len)
        try Self.checkRange(newAddr, len)
        guard oldAddr + len <= newAddr || newAddr + len <= oldAddr else { throw .EINVAL }
        mm.mmapLock.writeLock()
        defer { mm.mmapLock.unlock() }
        guard !mm.isDead else { throw .ESRCH }
        guard let source = mm.findVMA(oldAddr), oldAddr + len <= source.end else { throw .EFAULT }
        // MREMAP_FIXED: whatever is at the target goes first.
        let newEnd = newAddr + len
        for v in mm.vmas where v.start < newEnd && newAddr < v.end {
            zapRange(mm, max(newAddr, v.start), min(newEnd, v.end))
            removeRange(mm, v, max(newAddr, v.start), min(newEnd, v.end), anonLocked: nil)
        }
        // Removing the target may have split the source VMA (both in one VMA): look the
        // source up again (Linux: mremap_to calls vma_to_resize after do_munmap).
        let vma = source.contains(oldAddr) ? source : mm.findVMA(oldAddr)!
        let moved = VMA(mm: mm, start: newAddr, end: newEnd, pgoff: vma.pgoff + (oldAddr - vma.start) >> 12,
                        writable: vma.writable, anonVma: vma.anonVma)
        let buggy = skipMremapRmapLock.load(ordering: .relaxed)
        var a: AnonVma? = nil
        if let r = vma.anonVma { a = lockAnonVma(r, "mremap \(vma)") }
        if let a {
            if buggy {
                a.lock.unlock()   // test-only: Linux's old bug, PTEs move outside the lock
            } else {
                anonVmaLinkLocked(a, moved)
            }
        }
        movePageTables(mm, from: oldAddr, to: newAddr, len)
        if let a, buggy {
            Sched.point("mremap (no rmap lock): PTEs moved, new VMA not yet linked")
            a.lock.lock()
            anonVmaLinkLocked(a, moved)
        }
        insertVMA(mm, moved)
        removeRange(mm, vma, oldAddr, oldAddr + len, anonLocked: a)
        a?.lock.unlock()
        mm.shadowLock.withLock {
            var moves: [(UInt64, UInt64)] = []
            for (k, v) in mm.shadow where k >= oldAddr >> 12 && k < (oldAddr + len) >> 12 { moves.append((k, v)) }
            for (k, _) in moves { mm.shadow[k] = nil }
            for (k, v) in moves { mm.shadow[k - (oldAddr >> 12) + (newAddr >> 12)] = v }
            for i in mm.pins.indices where mm.pins[i].addr >= oldAddr && mm.pins[i].addr < oldAddr + len {
                mm.pins[i].addr = mm.pins[i].addr - oldAddr + newAddr
            }
        }
        Sched.note("\(mm.ownerName) mremap \(hex(oldAddr)) → \(hex(newAddr))")
    }

    /// Linux: move_page_tables() → move_ptes(): source ptl, then the target's nested.
    /// Only populated source tables are visited (the ranges do not overlap, so a target
    /// table created on the way holds no source entry).
    private func movePageTables(_ mm: MM, from old: UInt64, to new: UInt64, _ len: UInt64) {
        for st in mm.pageTable.tables(in: old, old + len) {
            var (src, stop) = PageTable.clip(st, old, old + len)
            mm.pageTable.noteVisited(Int((stop - src) >> 12))
            while src < stop {
                defer { src += 4096 }
                let dst = new + (src - old)
                st.ptl.lock()
                let pte = st[src]
                if pte.isNone { st.ptl.unlock(); continue }
                // The directory lock is a leaf: taking it under a ptl is in order.
                // Forced: a move must never lose an entry half-way (bounded overshoot:
                // at most the source's tables).
                let dt = mm.pageTable.table(for: dst, allocate: true, force: true)!
                if dt !== st { dt.ptl.lock() }
                st[src] = .none
                dt[dst] = pte
                if dt !== st { dt.ptl.unlock() }
                st.ptl.unlock()
            }
        }
    }
}
