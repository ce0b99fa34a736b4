// The invariant checker (the invariants are listed in docs/ARCHITECTURE.md, Checking). Run at a quiet point — no model thread running —
// it walks every page table, page descriptor, free list and anon_vma and returns every
// broken invariant with the PFN, process and address involved. It also returns the
// violations the model itself reported while running (use-after-free, stale entries).

import MMPhysical
import MMSpace
import MMSync

/// Checks a quiescent machine.
public enum Checker {
    /// Every violation found, model-reported ones first. Empty means all invariants hold.
    public static func check(_ machine: Machine) -> [Violation] {
        var out = machine.violations.all
        let phys = machine.phys, pages = phys.pages
        var mapped = [PFN: Int32]()
        var pinned = [PFN: Int32]()

        // 1. Page tables: every entry inside a VMA, present pages with intact contents and
        //    a correct rmap, no migration entry left behind.
        for p in machine.allProcesses {
            let mm = p.mm
            let vmas = mm.vmaList
            let shadow = mm.shadowSnapshot()
            for pin in mm.pinSnapshot() { pinned[pin.pfn, default: 0] += 1 }
            for t in mm.pageTable.allTables() {
                t.ptl.lock()
                var entries: [(UInt64, PTE)] = []
                for i in 0..<PteTable.entries {
                    let a = t.base + UInt64(i) << 12
                    let pte = t[a]
                    if !pte.isNone { entries.append((a, pte)) }
                }
                t.ptl.unlock()
                for (a, pte) in entries {
                    let where_ = "\(p.name) at \(hex(a))"
                    if pte.isMigration {
                        out.append(Violation(.staleMigrationEntry, "\(where_): \(pte) left behind"))
                        continue
                    }
                    if pte.isZeroPage {
                        // The shared zero page: no frame, no mapcount; inside a VMA, and
                        // only where nothing was written (a write replaces it).
                        if !vmas.contains(where: { $0.contains(a) }) {
                            out.append(Violation(.mapcount, "\(where_): stray zero-page PTE outside any VMA"))
                        } else if let w = shadow[a >> 12], w != 0 {
                            out.append(Violation(.lostWrite, "\(where_): maps the zero page, \(p.name) last wrote \(hex(w))"))
                        }
                        continue
                    }
                    let pfn = pte.pfn
                    guard Int(pfn) < phys.totalPages else {
                        out.append(Violation(.mapcount, "\(where_): PTE points outside memory (pfn \(pfn))"))
                        continue
                    }
                    mapped[pfn, default: 0] += 1
                    guard let vma = vmas.first(where: { $0.contains(a) }) else {
                        out.append(Violation(.mapcount, "\(where_): stray PTE → pfn \(pfn) outside any VMA"))
                        continue
                    }
                    checkRmap(machine, pfn, vma, a, where_, &out)
                    let expected = shadow[a >> 12] ?? 0
                    let actual = phys.frames.readStamp(pfn)
                    if actual != expected {
                        out.append(Violation(.lostWrite, "\(where_) pfn \(pfn): holds \(hex(actual)), \(p.name) last wrote \(hex(expected))"))
                    }
                }
            }
        }

        // 2. Page descriptors and free lists.
        let unmovable = Set(machine.unmovable + machine.kernelPages)
        var freeSeen = 0
        var pfn: PFN = 0
        let total = PFN(phys.totalPages)
        while pfn < total {
            // PG_waiters may stay behind a late waiter (PageLock.swift): a hint, not state.
            let f = pages.flags(pfn) & ~PageFlag.waiters
            if f & PageFlag.buddy != 0 {
                let order = pages.buddyOrder(pfn)
                for q in pfn..<(pfn + PFN(1 << order)) where pages.refcount(q) != 0 || pages.mapcount(q) != 0 {
                    out.append(Violation(.refcount, "pfn \(q): free (in order-\(order) block at \(pfn)) but refcount \(pages.refcount(q)) mapcount \(pages.mapcount(q))"))
                }
                for q in pfn..<(pfn + PFN(1 << order)) where pages.flags(q) & (PageFlag.head | PageFlag.tail) != 0 {
                    out.append(Violation(.accounting, "pfn \(q): free (in order-\(order) block at \(pfn)) but still part of a folio (flags \(PageFlag.describe(pages.flags(q))))"))
                }
                freeSeen += 1 << order
                pfn += PFN(1 << order)
                continue
            }
            defer { pfn += 1 }
            // A hole: no memory, owned by nobody (Linux: a reserved memmap entry).
            if f == PageFlag.reserved, pages.refcount(pfn) == 0, pages.mapcount(pfn) == 0, phys.zoneOf(pfn).isHole(pfn) { continue }
            // An offline memory block: its frames are reserved and owned by nobody
            // (Linux: PageOffline after __offline_isolated_pages); anything else there is lost.
            if phys.blockOf(pfn).state == .offline {
                if f != PageFlag.reserved || pages.refcount(pfn) != 0 || pages.mapcount(pfn) != 0 || mapped[pfn] != nil {
                    out.append(Violation(.accounting, "pfn \(pfn): in offline memory block \(phys.blockOf(pfn).id) but flags \(PageFlag.describe(f)) refcount \(pages.refcount(pfn)) mapcount \(pages.mapcount(pfn))"))
                }
                continue
            }
            let ref = pages.refcount(pfn), map = pages.mapcount(pfn)
            let wantMap = mapped[pfn] ?? 0, pins = pinned[pfn] ?? 0
            if map != wantMap {
                out.append(Violation(.mapcount, "pfn \(pfn): mapcount \(map) but \(wantMap) PTE\(wantMap == 1 ? "" : "s") map it"))
            }
            if checkFolioPage(machine, pfn, flags: f, wantMap: wantMap, pins: pins, &out) { continue }
            if unmovable.contains(pfn) {
                if ref != 1 { out.append(Violation(.refcount, "pfn \(pfn): unmovable page with refcount \(ref)")) }
                continue
            }
            if ref == 0 {
                if map != 0 || wantMap != 0 { out.append(Violation(.refcount, "pfn \(pfn): refcount 0 but mapped")) }
                else if f & PageFlag.buddy == 0 {
                    out.append(Violation(.accounting, "pfn \(pfn): neither free nor in use (flags \(PageFlag.describe(f)))"))
                }
                continue
            }
            if f & PageFlag.isolated != 0 {
                out.append(Violation(.accounting, "pfn \(pfn): still isolated at a quiet point"))
            }
            let wantRef = wantMap + pins
            if ref != wantRef {
                if wantMap == 0 && pins == 0 {
                    out.append(Violation(.leak, "pfn \(pfn): refcount \(ref) but nothing maps or pins it"))
                } else {
                    out.append(Violation(.refcount, "pfn \(pfn): refcount \(ref), expected \(wantMap) mapping\(wantMap == 1 ? "" : "s") + \(pins) pin\(pins == 1 ? "" : "s")"))
                }
            }
            if wantMap > 0, f & PageFlag.lru == 0 {
                out.append(Violation(.accounting, "pfn \(pfn): mapped anonymous page not on the LRU"))
            }
        }
        let counted = phys.freePages()
        if counted != freeSeen {
            out.append(Violation(.accounting, "free pages: zones count \(counted), free lists hold \(freeSeen)"))
        }

        // 3. anon_vmas: none leaked, none on a list of a dead address space.
        let live = Set(machine.allProcesses.map { ObjectIdentifier($0.mm) })
        for a in machine.slab.allSlots() where a.isAllocated {
            let vmas = a.lock.withLock { a.vmaList }
            if vmas.isEmpty {
                out.append(Violation(.leak, "\(a.ref) leaked: allocated with no VMAs (pin count \(a.pinCount), seed ref \(a.seedCount))"))
                continue
            }
            if machine.pinPolicy == .refcount, a.pinCount != 1 {
                out.append(Violation(.refcount, "\(a.ref): refcount \(a.pinCount) at a quiet point, expected 1"))
            }
            for v in vmas where !live.contains(ObjectIdentifier(v.mm)) || !v.mm.vmaList.contains(where: { $0 === v }) {
                out.append(Violation(.useAfterFree, "\(a.ref) lists \(v), which its address space no longer has"))
            }
        }
        checkPageCaches(machine, &out)
        checkBlindSpots(machine, &out)
        return out
    }

    private static func checkRmap(_ machine: Machine, _ pfn: PFN, _ vma: VMA, _ a: UInt64, _ where_: String, _ out: inout [Violation]) {
        let pages = machine.phys.pages
        guard let r = AnonVmaRef(encoded: pages.mapping(pfn)) else {
            out.append(Violation(.rmap, "\(where_) pfn \(pfn): mapped page has no anon_vma"))
            return
        }
        guard let slot = machine.slab.slot(r), slot.isAllocated, slot.generation == r.generation else {
            out.append(Violation(.useAfterFree, "\(where_) pfn \(pfn): page->mapping is freed \(r)"))
            return
        }
        guard vma.anonVma == r else {
            out.append(Violation(.rmap, "\(where_) pfn \(pfn): page's \(r) is not its VMA's \(vma.anonVma.map { "\($0)" } ?? "none")"))
            return
        }
        let onList = slot.lock.withLock { slot.vmaList.contains { $0 === vma } }
        if !onList { out.append(Violation(.rmap, "\(where_): \(vma) is not on \(r)'s list")) }
        if vma.address(ofIndex: pages.index(pfn)) != a {
            out.append(Violation(.rmap, "\(where_) pfn \(pfn): page->index \(pages.index(pfn)) resolves elsewhere"))
        }
    }
}
