// Replay of a real snapshot in mmlab (docs/SNAPSHOT.md, "Replay"): a one-node machine
// whose zones, holes and pages are the snapshot's, then Linux's full compaction on it.
//
// Building it uses only the allocator's public paths, in an order that pins every page
// to its PFN: (1) every page of every zone is allocated (the buddy is drained); (2) for
// each movable PFN, lowest first, that page alone is freed and one page of the replay
// process is faulted in — the only free page is the one the fault gets; (3) the
// pageblock migratetypes are set as inferred; (4) the snapshot's free buddy pages are
// freed (they land on the lists of their pageblock's type and merge as in the kernel).
// Unmovable pages and "flags 0, count 0" pages stay allocated, off the LRU: compaction
// neither migrates nor targets them; flags-0 pages count as free when pageblocks are.

import CMMSupport
import MMCompaction
import MMPhysical
import MMSnapshot
import MMSpace

/// A machine rebuilt from a snapshot, ready for compaction.
struct ReplayedMachine {
    let machine: Machine
    /// PFNs held as "flags 0, count 0" placeholders (free for pageblock counts).
    let zeroFree: [PFN]
    let movable: Int
    let unmovable: Int
    let buildSeconds: Double
}

enum SnapshotReplay {
    /// Why a snapshot cannot be replayed on the model's zone layout, or nil.
    static func problem(_ s: KernelSnapshot) -> String? {
        if s.pageblockOrder != pageblockOrder { return "pageblock order \(s.pageblockOrder), the model's is \(pageblockOrder)" }
        let nodes = Set(s.zones.map(\.node))
        if nodes != [0] { return "zones on nodes \(nodes.sorted()): the replay handles node 0 only" }
        let bytes = s.pfnCount << pageShift
        if bytes % (16 << 20) != 0 { return "\(s.pfnCount) PFNs is not a whole number of 16 MiB memory blocks" }
        return nil
    }

    /// The model's geometry: one node of the snapshot's size, DMA32 below 4 GiB (the
    /// snapshot's DMA and DMA32) and Normal above; holes = iomem holes + every zone's
    /// uninitialised tail (absent memory, as the kernel's compaction treats it).
    static func config(_ s: KernelSnapshot) -> MachineConfig {
        var holes = s.holes.map { $0.start..<$0.end }
        for z in s.zones where z.initialisedEnd < z.endPFN { holes.append(z.initialisedEnd..<z.endPFN) }
        holes.sort { $0.lowerBound < $1.lowerBound }
        // Merge overlapping ranges (a zone's uninitialised tail may be an iomem hole too).
        var merged: [Range<Int>] = []
        for h in holes where !h.isEmpty {
            if let last = merged.last, h.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, h.upperBound)
            } else {
                merged.append(h)
            }
        }
        holes = merged
        let kinds: [ZoneKind] = s.zones.contains { $0.startPFN >= MachineConfig.dma32EndPFN } ? [.dma32, .normal] : [.dma32]
        return MachineConfig(nodes: 1, nodeMemBytes: s.pfnCount << pageShift, content: .stamp, zones: kinds, holes: holes)
    }

    static func build(_ s: KernelSnapshot) throws -> ReplayedMachine {
        let t0 = mm_now_ns()
        let cfg = config(s)
        if let p = PhysicalMemory.bootProblem(cfg) { throw SnapshotError("replay", p) }
        let m = Machine(cfg)
        let phys = m.phys
        // (1) Drain every zone.
        for z in phys.zones { while z.allocPages(order: 0, .movable) != nil {} }
        // (2) Movable pages, one at a time, into one process at increasing addresses.
        let p = try m.createProcess("replay", node: 0)
        let movablePFNs = (0..<s.pfnCount).filter { s.cell($0).cls.isMovable }
        let base: UInt64 = 0x1000_0000
        try m.mmap(p.mm, base, UInt64(max(1, movablePFNs.count)) << 12)
        for (i, pfn) in movablePFNs.enumerated() {
            phys.putPage(PFN(pfn))
            try m.touch(p.mm, base + UInt64(i) << 12, 4096)
            guard m.frameMapped(p.mm, base + UInt64(i) << 12) == PFN(pfn) else {
                throw SnapshotError("replay", "page for PFN \(pfn) landed elsewhere (the allocator kept a free page)")
            }
        }
        // (3) Pageblock types as inferred (nothing is free, so no free list is affected).
        for z in phys.zones {
            z.lock.withLock {
                var b = Int(z.startPFN)
                while b < Int(z.endPFN) {
                    if let t = migrateType(s.pageblockType(ofPFN: b)) { z.setPageblockTypeLocked(PFN(b), t) }
                    b += 1 << pageblockOrder
                }
            }
        }
        // (4) The snapshot's free pages back to the buddy.
        var zeroFree: [PFN] = []
        var unmovable = 0
        for z in phys.zones {
            for pfn in Int(z.startPFN)..<Int(z.endPFN) where !z.isHole(PFN(pfn)) {
                switch s.cell(pfn).cls {
                case .buddy: phys.putPage(PFN(pfn))
                case .zeroFree: zeroFree.append(PFN(pfn))
                case .unmovable, .hole, .uninitialised: unmovable += 1
                case .anon, .file: break
                }
            }
        }
        return ReplayedMachine(machine: m, zeroFree: zeroFree, movable: movablePFNs.count, unmovable: unmovable,
                               buildSeconds: Double(mm_now_ns() - t0) / 1e9)
    }

    static func migrateType(_ t: PageblockType) -> MigrateType? {
        switch t {
        case .unmovable: .unmovable
        case .movable: .movable
        case .reclaimable: .reclaimable
        case .highAtomic, .cma, .isolate, .none: nil
        }
    }
}

extension SnapshotReplay {
    /// Pageblocks of [from, to) whose every page is free in the model's buddy or is one of
    /// the snapshot's "flags 0, count 0" placeholders.
    static func whollyFreePageblocks(_ m: Machine, from: Int, to: Int, placeholders: Set<PFN>) -> Int {
        let pages = m.phys.pages
        let size = 1 << pageblockOrder
        // Free map from the max-order boundary below `from`: a buddy block may start before
        // the pageblock it covers, so walk heads, not pageblocks.
        let start = from & ~((1 << maxOrder) - 1)
        guard to > start else { return 0 }
        var free = [Bool](repeating: false, count: to - start)
        var pfn = start
        while pfn < to {   // bounded: advances by at least one page
            if pages.test(PFN(pfn), PageFlag.buddy) {
                let n = 1 << pages.buddyOrder(PFN(pfn))
                for q in pfn..<min(to, pfn + n) { free[q - start] = true }
                pfn += n
            } else {
                if placeholders.contains(PFN(pfn)) { free[pfn - start] = true }
                pfn += 1
            }
        }
        var block = (from + size - 1) & ~(size - 1)
        var count = 0
        while block + size <= to {
            if free[(block - start)..<(block - start + size)].allSatisfy({ $0 }) { count += 1 }
            block += size
        }
        return count
    }
}
