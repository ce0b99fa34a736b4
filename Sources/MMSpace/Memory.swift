// Faults and user accesses (Linux: mm/memory.c handle_mm_fault, do_anonymous_page,
// do_wp_page, zap_pte_range; mm/migrate.c migration_entry_wait; mm/gup.c for pins).
//
// A user access is done with the PTE's page-table lock held, so that clearing a PTE
// (unmap, zap) works like a TLB flush: once the ptl is dropped no access through the
// old translation can still be in flight.

import MMPhysical
import MMSync

/// Result of a user read.
public struct ReadResult: Sendable, Equatable {
    public let value: UInt64
    public let expected: UInt64
    public var intact: Bool { value == expected }
}

extension Machine {
    /// Retries before a fault gives up; only reachable when something never unlocks.
    static let faultRetryLimit = 10_000

    /// A user write of a fresh stamp at `addr` (fault in, COW, wait on migration as needed).
    public func userWrite(_ mm: MM, _ addr: UInt64) throws(Errno) {
        _ = try userAccess(mm, addr, write: true)
    }

    /// A user read at `addr`; a value that differs from what the owner last wrote is
    /// reported as a lost write.
    @discardableResult
    public func userRead(_ mm: MM, _ addr: UInt64) throws(Errno) -> ReadResult {
        let r = try userAccess(mm, addr, write: false)
        if !r.intact {
            violations.report(Violation(.lostWrite, "\(mm.ownerName) read \(hex(r.value)) at \(hex(addr)), last wrote \(hex(r.expected))"))
        }
        return r
    }

    /// Takes a long-term pin on the page at `addr` (Linux: pin_user_pages with
    /// FOLL_LONGTERM): an extra reference that makes migration fail with -EAGAIN.
    public func pinUserPage(_ mm: MM, _ addr: UInt64) throws(Errno) {
        var refused = false
        _ = try userAccess(mm, addr, write: false) { pfn in
            mm.shadowLock.withLock {
                if mm.pinsClosed { refused = true; return }
                self.phys.pages.getRef(pfn)
                mm.pins.append((addr, pfn))
            }
        }
        if refused { throw .ESRCH }   // the owner is exiting
    }

    /// Drops the pin taken at `addr` (Linux: unpin_user_page). EINVAL if none.
    public func unpinUserPage(_ mm: MM, _ addr: UInt64) throws(Errno) {
        let pfn: PFN? = mm.shadowLock.withLock {
            guard let i = mm.pins.lastIndex(where: { $0.addr == addr & ~4095 }) else { return nil }
            return mm.pins.remove(at: i).pfn
        }
        guard let pfn else { throw .EINVAL }
        phys.putPage(pfn)
    }

    /// The frame mapped at `addr` right now, if any (looked up under the ptl only).
    public func frameMapped(_ mm: MM, _ addr: UInt64) -> PFN? {
        guard let t = mm.pageTable.table(for: addr, allocate: false) else { return nil }
        return t.ptl.withLock { () -> PFN? in
            let pte = t[addr]
            return pte.isPresent ? pte.pfn : nil
        }
    }

    /// The PTE at `addr` (for tests and the query mode of move_pages).
    public func pte(_ mm: MM, _ addr: UInt64) -> PTE {
        guard let t = mm.pageTable.table(for: addr, allocate: false) else { return .none }
        return t.ptl.withLock { t[addr] }
    }

    /// A user access; a fault that finds no free page runs the OOM killer with no
    /// lock held and is retried (Linux: VM_FAULT_OOM → pagefault_out_of_memory →
    /// out_of_memory, then the task faults again). OOMKill.swift.
    func userAccess(_ mm: MM, _ addr: UInt64, write: Bool, underPtl: ((PFN) -> Void)? = nil) throws(Errno) -> ReadResult {
        var kills = 0
        while true {
            do {
                return try userAccessOnce(mm, addr, write: write, underPtl: underPtl)
            } catch let e {
                guard e == .ENOMEM, oomPolicy == .kill, kills < Self.oomRetryLimit else { throw e }
                kills += 1
                // Only another process's death frees memory for this one.
                guard outOfMemory(requester: mm) == .killedOther else { throw e }
            }
        }
    }

    private func userAccessOnce(_ mm: MM, _ addr: UInt64, write: Bool, underPtl: ((PFN) -> Void)?) throws(Errno) -> ReadResult {
        mm.mmapLock.readLock()
        defer { mm.mmapLock.unlock() }
        guard !mm.isDead else { throw .ESRCH }
        // A pin needs a real frame: it never pins the shared zero page.
        let needFrame = write || underPtl != nil
        for _ in 0..<Self.faultRetryLimit {
            guard let vma = mm.findVMA(addr) else { throw .EFAULT }
            guard !write || vma.writable else { throw .EFAULT }
            // No page table to be had is out of memory (the OOM path of userAccess).
            guard let t = mm.pageTable.table(for: addr, allocate: true) else { throw .ENOMEM }
            t.ptl.lock()
            let pte = t[addr]
            if pte.isPresent, !write || pte.isWrite {
                let result = accessLocked(mm, t, addr, pte, write: write)
                underPtl?(pte.pfn)
                t.ptl.unlock()
                return result
            }
            if pte.isZeroPage, !needFrame {
                // The read happens here, under the ptl: a writer that replaces the zero
                // page right after must not make this read look like a lost write.
                let result = ReadResult(value: 0, expected: mm.expectedStamp(addr))
                t.ptl.unlock()
                return result
            }
            t.ptl.unlock()
            try handleFault(mm, vma, t, addr, write: write, needFrame: needFrame)
        }
        violations.report(Violation(.deadlock, "\(mm.ownerName) fault at \(hex(addr)) retried \(Self.faultRetryLimit) times"))
        throw .EFAULT
    }

    private func accessLocked(_ mm: MM, _ t: PteTable, _ addr: UInt64, _ pte: PTE, write: Bool) -> ReadResult {
        let pfn = pte.pfn
        if write {
            let v = mm.writeVersion.wrappingAdd(1, ordering: .relaxed).newValue
            let stamp = Machine.stamp(mm: mm.id, addr: addr, version: v)
            phys.frames.writeStamp(pfn, stamp)
            if !pte.isDirty { t[addr] = pte.withDirty() }
            mm.shadowLock.withLock { mm.shadow[addr >> 12] = stamp }
            return ReadResult(value: stamp, expected: stamp)
        }
        let value = phys.frames.readStamp(pfn)
        return ReadResult(value: value, expected: mm.expectedStamp(addr))
    }

    /// Linux: handle_mm_fault → handle_pte_fault. Caller holds mmap_lock for reading and
    /// not the ptl. Returns after changing the PTE (or finding it changed); the caller
    /// retries the access.
    func handleFault(_ mm: MM, _ vma: VMA, _ t: PteTable, _ addr: UInt64, write: Bool, needFrame: Bool) throws(Errno) {
        t.ptl.lock()
        let pte = t[addr]
        if pte.isNone && !needFrame {
            mapZeroPageLocked(mm, t, addr)   // drops the ptl
            return
        }
        if pte.isNone || pte.isZeroPage {
            t.ptl.unlock()
            anonVmaPrepare(vma)   // takes the anon_vma lock: never under the ptl
            try doAnonymousPage(mm, vma, t, addr, write: write)
        } else if vma.anonVma == nil {
            t.ptl.unlock()   // a present page always came with one; retry once it exists
            anonVmaPrepare(vma)
        } else if pte.isMigration {
            t.ptl.unlock()
            try migrationEntryWait(mm, t, addr, pte)
        } else if write, !pte.isWrite {
            try doWpPage(mm, vma, t, addr, pte)   // drops the ptl
        } else {
            t.ptl.unlock()   // someone else resolved it
        }
    }

    /// Linux: do_anonymous_page() for a read: map the shared zero page, read-only,
    /// without allocating (a later write faults and allocates). Entered with the ptl
    /// held; returns with it dropped.
    private func mapZeroPageLocked(_ mm: MM, _ t: PteTable, _ addr: UInt64) {
        if t[addr].isNone { t[addr] = .zeroPage }
        t.ptl.unlock()
        vmstat.add(.pgfault)
        Sched.note("\(mm.ownerName) read fault \(hex(addr)) → zero page")
    }

    /// Linux: do_anonymous_page(): a zeroed page from the process's node (replacing the
    /// zero page on a write, as do_wp_page does for it).
    private func doAnonymousPage(_ mm: MM, _ vma: VMA, _ t: PteTable, _ addr: UInt64, write: Bool) throws(Errno) {
        guard let pfn = phys.allocPage(node: mm.homeNode, .movable, fallback: true) else { throw .ENOMEM }
        phys.frames.zero(pfn)
        let pages = phys.pages
        pages.setFlags(pfn, PageFlag.anon)
        pages.setMapping(pfn, vma.anonVma!.encoded)
        pages.setIndex(pfn, vma.linearIndex(addr))
        t.ptl.lock()
        guard t[addr].isNone || t[addr].isZeroPage else {
            t.ptl.unlock()
            phys.putPage(pfn)
            return
        }
        pages.incMapcount(pfn)
        t[addr] = .present(pfn, write: vma.writable, dirty: write)
        t.ptl.unlock()
        phys.lruOf(pfn).add(pfn)
        vmstat.add(.pgfault)
        Sched.note("\(mm.ownerName) fault \(hex(addr)) → new pfn \(pfn)")
    }

    /// Linux: do_wp_page(): reuse the page if we are its only user, else copy it.
    /// Entered with the ptl held; returns with it dropped.
    private func doWpPage(_ mm: MM, _ vma: VMA, _ t: PteTable, _ addr: UInt64, _ pte: PTE) throws(Errno) {
        let pages = phys.pages
        let old = pte.pfn
        guard vma.writable else { t.ptl.unlock(); throw .EFAULT }
        if pages.mapcount(old) == 1, pages.refcount(old) == 1 {
            t[addr] = pte.withWrite(true)
            t.ptl.unlock()
            return
        }
        t.ptl.unlock()
        guard let new = phys.allocPage(node: mm.homeNode, .movable, fallback: true) else { throw .ENOMEM }
        pages.setFlags(new, PageFlag.anon)
        pages.setMapping(new, vma.anonVma!.encoded)
        pages.setIndex(new, vma.linearIndex(addr))
        t.ptl.lock()
        guard t[addr] == pte else {
            t.ptl.unlock()
            phys.putPage(new)
            return
        }
        phys.frames.copy(from: old, to: new)
        pages.incMapcount(new)
        t[addr] = .present(new, write: true, dirty: true)
        pages.decMapcount(old)
        t.ptl.unlock()
        phys.lruOf(new).add(new)
        phys.putPage(old)
        vmstat.add(.cowFault)
        Sched.note("\(mm.ownerName) COW \(hex(addr)): pfn \(old) → \(new)")
    }

    /// Linux: migration_entry_wait(): sleep until the page under migration is unlocked,
    /// then let the caller retry. An entry that is still there with its page unlocked
    /// was left behind by a migration that missed it — reported, never waited on forever.
    private func migrationEntryWait(_ mm: MM, _ t: PteTable, _ addr: UInt64, _ pte: PTE) throws(Errno) {
        vmstat.add(.migrationEntryWait)
        Sched.note("\(mm.ownerName) fault \(hex(addr)) waits on migration of pfn \(pte.pfn)")
        phys.waitOnPageLocked(pte.pfn)
        t.ptl.lock()
        let stale = t[addr] == pte && !phys.isPageLocked(pte.pfn)
        t.ptl.unlock()
        if stale {
            violations.report(Violation(.staleMigrationEntry, "\(mm.ownerName) at \(hex(addr)): \(pte) outlived its migration"))
            throw .EFAULT
        }
    }

    /// Clears every PTE in [start, end) (Linux: zap_pte_range). Mapped pages lose a
    /// mapping and a reference; migration entries are simply dropped (they hold none).
    func zapRange(_ mm: MM, _ start: UInt64, _ end: UInt64) {
        let pages = phys.pages
        for t in mm.pageTable.tables(in: start, end) {
            var toPut: [PFN] = []
            t.ptl.lock()
            var (a, stop) = PageTable.clip(t, start, end)
            mm.pageTable.noteVisited(Int((stop - a) >> 12))
            while a < stop {
                let pte = t[a]
                if pte.isPresent {
                    pages.decMapcount(pte.pfn)
                    toPut.append(pte.pfn)
                } else if pte.isMigration {
                    Sched.note("\(mm.ownerName) zap migration entry for pfn \(pte.pfn) at \(hex(a))")
                }
                t[a] = .none
                a += 4096
            }
            t.ptl.unlock()
            for p in toPut { phys.putPage(p) }
        }
        mm.shadowLock.withLock {
            // A short range (a page of a large mapping) is removed key by key: filtering
            // the whole shadow per call made page-by-page unmapping quadratic.
            let lo = start >> 12, hi = end >> 12
            if hi - lo < UInt64(mm.shadow.count) {
                for k in lo..<hi { mm.shadow.removeValue(forKey: k) }
            } else {
                mm.shadow = mm.shadow.filter { $0.key < lo || $0.key >= hi }
            }
        }
    }
}
