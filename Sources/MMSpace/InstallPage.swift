// Installing frames that are already allocated as anonymous pages of a process, without
// the fault path: what do_anonymous_page() leaves behind (a zeroed page, anon, mapped
// once by a present writable PTE, on the LRU), set directly and in bulk, one page-table
// lock per 512 pages. Used to rebuild a real machine's snapshot
// (MMScenario/SnapshotReplay.swift), where each movable page must sit at its own PFN:
// boot from a layout (MMPhysical/BootLayout.swift), then install every movable frame.

import MMPhysical
import MMSync

extension Machine {
    /// Maps `pfns[i]` at `base + i·4 KiB` in `mm` as anonymous pages. Every frame must be
    /// allocated and untouched (refcount 1, no flags, unmapped, e.g. `BootFrame.allocated`)
    /// and every address inside one VMA with no page there yet. The refcount of 1 becomes
    /// the mapping's reference, as after a fault.
    /// Errors: EFAULT (no VMA covers the range), EEXIST (an address already has a page),
    /// EINVAL (unaligned base, or a frame that is not an allocated untouched frame),
    /// ENOMEM (no page table to be had), ESRCH (the process exited). On EEXIST or ENOMEM
    /// the pages of the tables before the failing one stay installed.
    public func installAnonPages(_ mm: MM, at base: UInt64, _ pfns: [PFN]) throws(Errno) {
        guard !pfns.isEmpty else { return }
        guard base & 4095 == 0 else { throw .EINVAL }
        let (end, o) = base.addingReportingOverflow(UInt64(pfns.count) << 12)
        guard !o else { throw .EINVAL }
        mm.mmapLock.readLock()
        defer { mm.mmapLock.unlock() }
        guard !mm.isDead else { throw .ESRCH }
        guard let vma = mm.findVMA(base), end <= vma.end else { throw .EFAULT }
        let pages = phys.pages
        // PG_anon marks each frame as it is checked, so a PFN given twice is refused too.
        for (k, p) in pfns.enumerated() {
            guard Int(p) < phys.totalPages, pages.refcount(p) == 1, pages.flags(p) == 0, pages.mapcount(p) == 0 else {
                for q in pfns[..<k] { pages.clearFlags(q, PageFlag.anon) }
                throw .EINVAL
            }
            pages.setFlags(p, PageFlag.anon)
        }
        var installed = 0
        defer { for q in pfns[installed...] { pages.clearFlags(q, PageFlag.anon) } }
        anonVmaPrepare(vma)   // takes the anon_vma lock: never under a ptl
        guard let anon = vma.anonVma else { throw .EFAULT }   // anonVmaPrepare always sets one
        var i = 0
        while i < pfns.count {   // one PTE table (2 MiB of addresses) per round
            let addr = base + UInt64(i) << 12
            let inTable = min(pfns.count - i, PteTable.entries - PteTable.slot(addr))
            guard let t = mm.pageTable.table(for: addr, allocate: true) else { throw .ENOMEM }
            try installTableLocked(vma, anon, t, addr, pfns[i..<(i + inTable)])
            // Linux: folio_add_lru() after the PTE is set, as the fault path does.
            for p in pfns[i..<(i + inTable)] { phys.lruOf(p).add(p) }
            i += inTable
            installed = i
        }
    }

    /// One PTE table's share of `installAnonPages`, under its ptl.
    private func installTableLocked(_ vma: VMA, _ anon: AnonVmaRef, _ t: PteTable, _ first: UInt64, _ pfns: ArraySlice<PFN>) throws(Errno) {
        t.ptl.lock()
        defer { t.ptl.unlock() }
        for a in stride(from: first, to: first + UInt64(pfns.count) << 12, by: 4096) where !t[a].isNone { throw .EEXIST }
        let pages = phys.pages
        var addr = first
        for p in pfns {
            phys.frames.zero(p)
            pages.setMapping(p, anon.encoded)
            pages.setIndex(p, vma.linearIndex(addr))
            pages.incMapcount(p)
            t[addr] = .present(p, write: vma.writable, dirty: false)
            addr += 4096
        }
    }
}
