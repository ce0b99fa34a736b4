// anon_vma life cycle and the rmap walks migration needs (Linux: mm/rmap.c
// anon_vma_prepare, anon_vma_unlink, page_lock_anon_vma, try_to_unmap_one,
// remove_migration_ptes; the seed's anon_vma_hold / anon_vma_release; and today's
// folio_get_anon_vma / put_anon_vma). The lock order is at the top of Rmap.swift.

import MMPhysical
import MMSync

/// A pin on an anon_vma taken by migration before unmapping (see AnonVmaPinPolicy).
public struct AnonVmaPin: Sendable {
    /// Unowned(unsafe): slab slots live as long as the machine, so the reference stays
    /// valid memory (whether it is still the same anon_vma is what `ref` tells).
    public unowned(unsafe) let anon: AnonVma
    public let ref: AnonVmaRef
    public let policy: AnonVmaPinPolicy
}

extension Machine {
    // MARK: life cycle

    /// Gives `vma` an anon_vma before its first anonymous page (Linux: anon_vma_prepare).
    /// Called with the mmap_lock held for reading; racing faults agree on one.
    func anonVmaPrepare(_ vma: VMA) {
        if vma.anonVmaEncoded.load(ordering: .acquiring) != 0 { return }
        let a = slab.alloc()
        a.refcount.store(1, ordering: .releasing)   // the VMA list's reference
        a.lock.lock()
        let (won, _) = vma.anonVmaEncoded.compareExchange(expected: 0, desired: a.ref.encoded, ordering: .acquiringAndReleasing)
        if won { a.vmas.append(vma) }
        a.lock.unlock()
        if !won { slab.free(a) }   // never published
    }

    /// Adds a VMA to an existing anon_vma (Linux: anon_vma_link, used by fork and splits).
    func anonVmaLinkLocked(_ a: AnonVma, _ vma: VMA) {
        a.vmas.append(vma)
    }

    /// Removes `vma` from its anon_vma and frees the anon_vma if nothing needs it any
    /// more — what "needs" means is the pin policy (Linux: anon_vma_unlink; the seed's
    /// version keeps it while its migration count is non-zero).
    func anonVmaUnlink(_ vma: VMA) {
        guard let r = vma.anonVma, let a = lockAnonVma(r, "unlink \(vma)") else { return }
        a.vmas.removeAll { $0 === vma }
        Sched.point("unlink: \(vma) left \(r)")
        let listEmpty = a.vmas.isEmpty
        let policy = pinPolicy
        // The seed: "migrate_pages() has reference to this" keeps it alive.
        let seedKeeps = policy == .seedV2 && a.seedRef != 0
        a.lock.unlock()
        guard listEmpty else { return }
        switch policy {
        case .none, .seedV2:
            _ = a.refcount.wrappingSubtract(1, ordering: .acquiringAndReleasing)   // bookkeeping only
            if !seedKeeps { slab.free(a) }
        case .refcount:
            putAnonVma(a)   // drop the list's reference; a migration pin may outlive it
        }
    }

    /// Linux: put_anon_vma(). The last reference frees; taking and dropping the lock
    /// first waits out any walker that still holds it.
    func putAnonVma(_ a: AnonVma) {
        let left = a.refcount.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue
        precondition(left >= 0, "anon_vma #\(a.slot) refcount underflow")
        if left == 0 {
            a.lock.lock()
            a.lock.unlock()
            slab.free(a)
        }
    }

    // MARK: locking an anon_vma

    /// Locks the anon_vma `r` names for a walk that trusts the reference (remove
    /// migration PTEs, unlink, release). A stale reference is a use-after-free: it is
    /// reported with `what` and nil is returned; the caller skips its walk.
    func lockAnonVma(_ r: AnonVmaRef, _ what: @autoclosure () -> String) -> AnonVma? {
        lockAnonVmaUnretained(r, what())?.takeUnretainedValue()
    }

    /// `lockAnonVma` without a reference (see AnonVmaSlab.slotUnretained), for the
    /// remap walk every migrated page goes through.
    @inline(__always)
    func lockAnonVmaUnretained(_ r: AnonVmaRef, _ what: @autoclosure () -> String) -> Unmanaged<AnonVma>? {
        guard let u = slab.slotUnretained(r) else {
            violations.report(Violation(.useAfterFree, "\(what()): \(r) was never allocated"))
            return nil
        }
        let now: String? = u._withUnsafeGuaranteedRef { a in
            a.lock.lock()
            if a.isLive(r) { return nil }
            let now = a.isAllocated ? "reused as \(a.ref)" : "free"
            a.lock.unlock()
            return now
        }
        guard let now else { return u }
        violations.report(Violation(.useAfterFree, "\(what()): \(r) used after free (slot \(now))"))
        return nil
    }

    /// Locks the anon_vma of a mapped page, or returns nil if the page is not mapped
    /// (Linux: page_lock_anon_vma_read): the safe lookup — page->mapping is trusted only
    /// while page_mapped() holds, and both are re-checked under the lock.
    public func pageLockAnonVma(_ pfn: PFN) -> AnonVma? {
        pageLockAnonVmaUnretained(pfn)?.takeUnretainedValue()
    }

    /// `pageLockAnonVma` without a reference (see AnonVmaSlab.slotUnretained), for the
    /// walks every migrated page goes through.
    @inline(__always)
    func pageLockAnonVmaUnretained(_ pfn: PFN) -> Unmanaged<AnonVma>? {
        let pages = phys.pages
        guard pages.isMapped(pfn), let r = AnonVmaRef(encoded: pages.mapping(pfn)), let u = slab.slotUnretained(r) else { return nil }
        let locked: Bool = u._withUnsafeGuaranteedRef { a in
            a.lock.lock()
            if a.isLive(r), pages.isMapped(pfn) { return true }
            a.lock.unlock()
            return false
        }
        return locked ? u : nil
    }

    // MARK: migration pins

    /// Pins the anon_vma of `pfn` for the duration of a migration, per policy. The
    /// page is locked and isolated. Returns nil when there is nothing to pin.
    public func holdAnonVma(_ pfn: PFN, policy: AnonVmaPinPolicy) -> AnonVmaPin? {
        switch policy {
        case .none:
            return nil
        case .seedV2:
            // Linux (seed): anon_vma_hold() → the 2.6.22 page_lock_anon_vma(): rcu_read_lock,
            // test page_mapped, then lock page->mapping's anon_vma with no re-check — the
            // owner's exit may have freed it in between. The list is then empty, no ref++.
            let pages = phys.pages
            guard pages.isMapped(pfn), let r = AnonVmaRef(encoded: pages.mapping(pfn)), let a = slab.slot(r) else { return nil }
            Sched.point("seed hold: pfn \(pfn) mapped, locking \(r)")
            a.lock.lock()
            if !a.vmas.isEmpty { a.seedRef += 1 }
            let pin = AnonVmaPin(anon: a, ref: r, policy: policy)
            a.lock.unlock()   // spin_unlock only: the rcu_read_lock stays held
            Sched.note("hold \(pin.ref) (seed ref \(a.seedRef))")
            return pin
        case .refcount:
            // Linux: folio_get_anon_vma() — a count taken while the page is still mapped,
            // then re-checked: if it was unmapped meanwhile the anon_vma may be dying.
            guard let a = pageLockAnonVma(pfn) else { return nil }
            a.refcount.wrappingAdd(1, ordering: .acquiringAndReleasing)
            let pin = AnonVmaPin(anon: a, ref: a.ref, policy: policy)
            a.lock.unlock()
            Sched.point("pinned \(pin.ref)")
            if !phys.pages.isMapped(pfn) {
                putAnonVma(a)
                return nil
            }
            return pin
        }
    }

    /// Drops a migration pin (the seed's anon_vma_release, or put_anon_vma).
    public func releaseAnonVma(_ pin: AnonVmaPin?) {
        guard let pin else { return }
        switch pin.policy {
        case .none:
            return
        case .seedV2:
            // Linux (seed): anon_vma_release() — its steps run whatever the reference now
            // names (the posted code has no check): lock, test the list, ref--, the
            // inverted test, unlock, free. What that does to freed or reused memory is
            // reported, not skipped.
            let a = pin.anon
            a.lock.lock()
            let live = a.isLive(pin.ref)
            var empty = a.vmas.isEmpty
            a.seedRef -= 1
            if a.seedRef == 0 { empty = false }   // as posted: the test is inverted
            let ref = a.seedRef
            Sched.note("release \(pin.ref) (seed ref \(ref), \(empty ? "freeing" : "keeping"))")
            a.lock.unlock()
            if !live {
                if a.isAllocated {
                    violations.report(Violation(.useAfterFree, "anon_vma_release through stale \(pin.ref): slot reused as \(a.ref), its ref driven to \(ref)\(empty ? " and freed" : "")"))
                } else if !empty {
                    violations.report(Violation(.useAfterFree, "anon_vma_release: \(pin.ref) used after free (ref \(ref))"))
                }
            }
            guard empty else { return }
            if a.isAllocated {
                slab.free(a)
            } else {
                violations.report(Violation(.doubleFree, "anon_vma_release frees \(pin.ref) again (ref \(ref)): already freed"))
            }
        case .refcount:
            putAnonVma(pin.anon)
        }
    }

    // MARK: walks

    /// Replaces every PTE mapping the locked page `pfn` by a migration entry (Linux:
    /// try_to_unmap with TTU_MIGRATION → try_to_unmap_one). Each removed mapping drops
    /// its mapcount and its page reference. Returns the number of entries installed.
    @discardableResult
    public func tryToUnmapMigration(_ pfn: PFN) -> Int {
        let pages = phys.pages
        guard let u = pageLockAnonVmaUnretained(pfn) else { return 0 }
        var installed = 0
        u._withUnsafeGuaranteedRef { a in
            forEachMappingLocked(a, index: pages.index(pfn)) { t, addr in
                let pte = t[addr]
                if pte.isPresent, pte.pfn == pfn {
                    t[addr] = .migration(pfn, write: pte.isWrite)
                    if pte.isDirty { pages.setFlags(pfn, PageFlag.dirty) }
                    pages.decMapcount(pfn)
                    phys.putPage(pfn)   // never the last: the isolation reference remains
                    installed += 1
                }
            }
            a.lock.unlock()
        }
        Sched.note("unmap pfn \(pfn) → \(installed) migration entr\(installed == 1 ? "y" : "ies")")
        return installed
    }

    /// Runs `body` under the ptl of the PTE table mapping page index `index` in each VMA
    /// of `a`, with the address there (Linux: the anon_vma_interval_tree walk of
    /// rmap_walk_anon, then page_vma_mapped_walk's pte lookup). Caller holds `a.lock`,
    /// which keeps each listed VMA and its tables alive (PageTable.tableUnretained), so
    /// neither is retained on this per-page path.
    @inline(__always)
    func forEachMappingLocked(_ a: AnonVma, index: UInt32, _ body: (PteTable, UInt64) -> Void) {
        a.vmas.withUnsafeBufferPointer { vmas in
            for i in vmas.indices {
                Unmanaged.passUnretained(vmas[i])._withUnsafeGuaranteedRef { vma in
                    guard let addr = vma.address(ofIndex: index),
                          let u = vma.pageTable.tableUnretained(for: addr) else { return }
                    u._withUnsafeGuaranteedRef { t in
                        t.ptl.lock()
                        body(t, addr)
                        t.ptl.unlock()
                    }
                }
            }
        }
    }

    /// Replaces the migration entries for `old` by PTEs mapping `new` (Linux:
    /// remove_migration_ptes; on failure the caller passes new == old). `r` is the
    /// anon_vma read from the page before unmapping — trusted, so a stale one is a
    /// use-after-free. Returns the number of PTEs restored.
    @discardableResult
    public func removeMigrationPtes(old: PFN, new: PFN, anonVma r: AnonVmaRef) -> Int {
        let pages = phys.pages
        guard let u = lockAnonVmaUnretained(r, "remap pfn \(old)") else { return 0 }
        let dirty = pages.test(new, PageFlag.dirty)
        var restored = 0
        u._withUnsafeGuaranteedRef { a in
            forEachMappingLocked(a, index: pages.index(new)) { t, addr in
                let pte = t[addr]
                if pte.isMigration, pte.pfn == old {
                    t[addr] = .present(new, write: pte.isWrite, dirty: dirty)
                    pages.incMapcount(new)
                    pages.getRef(new)
                    restored += 1
                }
            }
            a.lock.unlock()
        }
        Sched.note("remap pfn \(old) → pfn \(new): \(restored) PTE\(restored == 1 ? "" : "s") via \(r)")
        return restored
    }
}
