// Invariants the first checker did not look at (each has a test that corrupts exactly
// that state, Tests/MMSpaceTests/CheckerBlindSpotTests.swift): written contents whose
// PTE vanished, page-lock and writeback bits left set, LRU lists against PG_lru, pins
// against the frames their owners map, the seed's count, VMAs missing from their
// anon_vma's list.

import MMPhysical
import MMSpace
import MMSync

extension Checker {
    /// Runs the checks above; `out` gets one violation per broken object.
    static func checkBlindSpots(_ machine: Machine, _ out: inout [Violation]) {
        let phys = machine.phys, pages = phys.pages
        for p in machine.allProcesses {
            let mm = p.mm
            // A page its owner wrote must still be mapped there: zap/munmap forget the
            // written stamps with the PTEs, so a stamp without a PTE is a lost write.
            for (vpn, stamp) in mm.shadowSnapshot().sorted(by: { $0.key < $1.key }) where stamp != 0 {
                let addr = vpn << 12
                let pte = machine.pte(mm, addr)
                if pte.isNone {
                    out.append(Violation(.lostWrite, "\(p.name) at \(hex(addr)): wrote \(hex(stamp)) but its PTE vanished"))
                }
            }
            // A long-term pin must sit on the frame its owner maps at that address.
            for pin in mm.pinSnapshot() {
                if let now = machine.frameMapped(mm, pin.addr), now != pin.pfn {
                    out.append(Violation(.refcount, "\(p.name) at \(hex(pin.addr)): pin holds pfn \(pin.pfn) but the address maps pfn \(now)"))
                }
            }
            // Every VMA with an anon_vma is on that anon_vma's list.
            for vma in mm.vmaList {
                guard let r = vma.anonVma else { continue }
                guard let a = machine.slab.slot(r), a.isAllocated, a.generation == r.generation else {
                    out.append(Violation(.useAfterFree, "\(vma) names freed \(r)"))
                    continue
                }
                if !a.lock.withLock({ a.vmaList.contains { $0 === vma } }) {
                    out.append(Violation(.rmap, "\(vma) is missing from \(r)'s list"))
                }
            }
        }
        // PG_locked / PG_writeback at a quiet point: nobody may hold or write back a page.
        var pfn: PFN = 0
        let total = PFN(phys.totalPages)
        while pfn < total {
            defer { pfn += 1 }
            let f = pages.flags(pfn)
            guard f & PageFlag.buddy == 0, pages.refcount(pfn) > 0 else { continue }
            if f & PageFlag.locked != 0 { out.append(Violation(.accounting, "pfn \(pfn): PG_locked left set at a quiet point")) }
            // A page-cache folio may be under writeback at a quiet point (its I/O is in flight).
            if f & PageFlag.writeback != 0, !FileMapping.isFile(pages.mapping(pfn)) {
                out.append(Violation(.accounting, "pfn \(pfn): PG_writeback left set at a quiet point"))
            }
        }
        // LRU lists and PG_lru agree both ways.
        var onList = Set<PFN>()
        for lru in phys.lrus {
            for q in lru.snapshot() {
                onList.insert(q)
                if pages.isTail(q) { out.append(Violation(.accounting, "pfn \(q): a tail page on node \(lru.node)'s LRU list")) }
                if !pages.test(q, PageFlag.lru) { out.append(Violation(.accounting, "pfn \(q): on node \(lru.node)'s LRU list without PG_lru")) }
                if phys.nodeOf(q) != lru.node { out.append(Violation(.accounting, "pfn \(q): on node \(lru.node)'s LRU list but on node \(phys.nodeOf(q))")) }
            }
        }
        pfn = 0
        while pfn < total {
            defer { pfn += 1 }
            if pages.test(pfn, PageFlag.lru) && !onList.contains(pfn) {
                out.append(Violation(.accounting, "pfn \(pfn): PG_lru set but on no LRU list"))
            }
        }
        // The seed's count is back at 0 once no migration runs.
        if machine.pinPolicy == .seedV2 {
            for a in machine.slab.allSlots() where a.isAllocated && a.seedCount != 0 {
                out.append(Violation(.refcount, "\(a.ref): seed ref \(a.seedCount) at a quiet point, expected 0"))
            }
        }
    }
}
