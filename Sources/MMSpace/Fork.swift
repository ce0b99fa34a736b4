// Process life cycle (Linux: kernel/fork.c dup_mmap, copy_page_range; kernel/exit.c
// and mm/mmap.c exit_mmap; mmget/mmput).

import MMPhysical
import MMSync

extension Machine {
    /// Linux: fork() → dup_mmap(). The child's VMAs join the parent's anon_vmas before
    /// any PTE is copied (so rmap can find the copies); private writable PTEs become
    /// read-only in both, for copy-on-write; migration entries are copied read-only.
    @discardableResult
    public func fork(_ parent: Process, child name: String) throws(Errno) -> Process {
        let pmm = parent.mm
        pmm.mmapLock.writeLock()
        defer { pmm.mmapLock.unlock() }
        guard !pmm.isDead else { throw .ESRCH }
        let pid = allocPid()
        // The child's tables are taken up front (with force below): a fork that runs out
        // of page tables fails before anything of the child exists (Linux: dup_mmap
        // fails and the half-built mm is torn down; here nothing is half-built).
        var needed = 0
        for vma in pmm.vmas { needed += pmm.pageTable.tables(in: vma.start, vma.end).count }
        guard needed <= pageTableQuota.available else { throw .ENOMEM }
        let cmm = MM(id: pid, ownerName: name, homeNode: pmm.homeNode, quota: pageTableQuota)
        let child = Process(name: name, pid: pid, uid: parent.uid, privileged: parent.privileged, mm: cmm,
                            oomScoreAdj: parent.oomScoreAdj)
        // The child is visible in the process table from here on: hold its mmap_lock
        // until its VMAs, PTEs and shadow are complete (Linux: dup_mmap takes
        // mmap_write_lock_nested on the new mm), so no access, exit or syscall sees it half-built.
        cmm.mmapLock.writeLock()
        defer { cmm.mmapLock.unlock() }
        try register(child)
        let pages = phys.pages
        // Pages the parent has pinned long-term (Linux: folio_maybe_dma_pinned).
        let pinned = Set(pmm.shadowLock.withLock { pmm.pins.map(\.pfn) })
        var copies: [PFN] = []
        for vma in pmm.vmas {
            let cv = VMA(mm: cmm, start: vma.start, end: vma.end, pgoff: vma.pgoff, writable: vma.writable, anonVma: vma.anonVma)
            if let r = vma.anonVma, let a = lockAnonVma(r, "fork \(vma)") {
                anonVmaLinkLocked(a, cv)
                a.lock.unlock()
            }
            cmm.vmas.append(cv)
            for st in pmm.pageTable.tables(in: vma.start, vma.end) {
                let dt = cmm.pageTable.table(for: st.base, allocate: true, force: true)!
                dt.ptl.lock()
                st.ptl.lock()
                var (a, stop) = PageTable.clip(st, vma.start, vma.end)
                pmm.pageTable.noteVisited(Int((stop - a) >> 12))
                while a < stop {
                    var pte = st[a]
                    if pte.isPresent, pinned.contains(pte.pfn), pages.mapcount(pte.pfn) == 1,
                       let copy = copyPresentPage(pte, cmm, cv, a) {
                        // Linux ≥ 5.19 copy_present_pte → copy_present_page: a possibly
                        // DMA-pinned exclusive page is not shared; the child gets its own
                        // copy now and the parent keeps its page writable, in place.
                        dt[a] = copy
                        copies.append(copy.pfn)
                    } else if pte.isPresent {
                        if pte.isWrite { pte = pte.withWrite(false); st[a] = pte }
                        pages.incMapcount(pte.pfn)
                        pages.getRef(pte.pfn)
                        dt[a] = pte
                    } else if pte.isMigration {
                        let ro = PTE.migration(pte.pfn, write: false)
                        st[a] = ro
                        dt[a] = ro
                    }
                    a += 4096
                }
                st.ptl.unlock()
                dt.ptl.unlock()
            }
            Sched.point("fork: copied \(vma)")
        }
        for c in copies { phys.lruOf(c).add(c) }
        pmm.shadowLock.withLock {
            let s = pmm.shadow
            cmm.shadowLock.withLock { cmm.shadow = s }
        }
        vmstat.add(.forks)
        Sched.note("\(parent.name) forked \(name)")
        return child
    }

    /// Linux: copy_present_page(): the child's own copy of the parent's page at `addr`
    /// (contents, rmap to the child's VMA), mapped writable. Called under both ptls;
    /// nil when no page is free (then the page is shared as usual).
    private func copyPresentPage(_ pte: PTE, _ cmm: MM, _ cvma: VMA, _ addr: UInt64) -> PTE? {
        guard let r = cvma.anonVma, let new = phys.allocPage(node: cmm.homeNode, .movable, fallback: true) else { return nil }
        let pages = phys.pages
        phys.frames.copy(from: pte.pfn, to: new)
        pages.setFlags(new, PageFlag.anon)
        pages.setMapping(new, r.encoded)
        pages.setIndex(new, cvma.linearIndex(addr))
        pages.incMapcount(new)
        Sched.note("fork \(cmm.ownerName): pinned pfn \(pte.pfn) copied to pfn \(new)")
        return .present(new, write: pte.isWrite, dirty: true)
    }

    /// The process exits: it leaves the process table, its pins are dropped and its
    /// address space loses a user (Linux: do_exit → exit_mm → mmput).
    public func exit(_ name: String) throws(Errno) {
        guard let p = unregister(name) else { throw .ESRCH }
        let pins: [(addr: UInt64, pfn: PFN)] = p.mm.shadowLock.withLock {
            let x = p.mm.pins
            p.mm.pins = []
            p.mm.pinsClosed = true
            return x
        }
        for pin in pins { phys.putPage(pin.pfn) }
        Sched.note("\(name) exits")
        mmput(p.mm)
    }

    /// Linux: mmget_not_zero(): a reference that keeps the address space from being
    /// torn down (a system call acting on another process takes one).
    public func mmgetNotZero(_ mm: MM) -> Bool {
        var cur = mm.users.load(ordering: .acquiring)
        while cur > 0 {
            let (ok, seen) = mm.users.compareExchange(expected: cur, desired: cur + 1, ordering: .acquiringAndReleasing)
            if ok { return true }
            cur = seen
        }
        return false
    }

    /// Linux: mmput(). The last user tears the address space down.
    public func mmput(_ mm: MM) {
        let left = mm.users.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue
        precondition(left >= 0, "mm \(mm.ownerName) users underflow")
        if left == 0 { exitMmap(mm) }
    }

    /// Linux: exit_mmap(): zap every PTE, then unlink every VMA from its anon_vma
    /// (free_pgtables → unlink_anon_vmas). Between the two the VMAs are still on their
    /// anon_vmas with no PTEs — one of the windows the explorer probes.
    func exitMmap(_ mm: MM) {
        mm.mmapLock.writeLock()
        for vma in mm.vmas { zapRange(mm, vma.start, vma.end) }
        Sched.point("exit \(mm.ownerName): page tables zapped, VMAs still on anon_vma")
        for vma in mm.vmas { anonVmaUnlink(vma) }
        mm.vmas.removeAll()
        mm.pageTable.freeAll()
        mm.dead.store(true, ordering: .releasing)
        mm.mmapLock.unlock()
        Sched.note("\(mm.ownerName) address space torn down")
    }
}
