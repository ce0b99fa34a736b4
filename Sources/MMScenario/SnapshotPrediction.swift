// The prediction of a replayed snapshot: Linux's full compaction (compact_memory: every
// zone, order -1, sync) of the rebuilt machine (SnapshotReplay.swift), with the figures
// `mmlab snapshot --replay`, `mmlab compact --snapshot` and `mmlab kernel compact` print.

import CMMSupport
import MMCompaction
import MMMigrate
import MMPhysical
import MMSnapshot
import MMSpace

/// How a snapshot is replayed.
public struct ReplayOptions: Sendable {
    /// The CPU whose per-CPU lists the compaction frees onto (docs/SNAPSHOT.md, "Per-CPU
    /// lists"), or nil: "flags 0, count 0" pages stay allocated throughout. `mmlab kernel
    /// compact` writes compact_memory from CPU 0.
    public var pcpCPU: Int? = 0
    /// Seconds between the snapshot's page read and the compaction: the other CPUs' lists
    /// shrink meanwhile (Linux: decay_pcp_high, at most batch << 5 pages per CPU and
    /// second), pushing as many held pages into the buddy before compaction starts.
    public var decaySeconds: Double = 0
    /// Record the compaction's tracepoints (`Prediction.trace`, in the kernel's format).
    public var trace = false
    public init(pcpCPU: Int? = 0, decaySeconds: Double = 0, trace: Bool = false) {
        self.pcpCPU = pcpCPU
        self.decaySeconds = decaySeconds
        self.trace = trace
    }
}

extension SnapshotReplay {
    /// The per-CPU list of `cpu` for each model zone of a replayed machine: the zone's
    /// placeholders ("flags 0, count 0" pages of its initialised part) with that CPU's
    /// count and high summed over the snapshot zones it covers (DMA folds into DMA32).
    /// Nil for a zone the snapshot has no pagesets for.
    static func perCPULists(_ m: Machine, _ s: KernelSnapshot, cpu: Int) -> [ObjectIdentifier: PerCPULists] {
        var out: [ObjectIdentifier: PerCPULists] = [:]
        let zeroFree = PageClass.zeroFree.rawValue
        for z in m.phys.zones {
            let covered = snapshotZones(s, in: z)
            let lists = covered.compactMap { sz in sz.info.pcp.first { $0.cpu == cpu } }
            guard !lists.isEmpty else { continue }
            var held: [PFN] = []
            for sz in covered {
                for pfn in sz.startPFN..<min(sz.initialisedEnd, s.pfnCount) where s.cells[pfn] & 0xF == zeroFree { held.append(PFN(pfn)) }
            }
            out[ObjectIdentifier(z)] = PerCPULists(held: held, count: lists.reduce(0) { $0 + $1.count },
                                                   high: lists.reduce(0) { $0 + $1.high })
        }
        return out
    }

    /// The snapshot's (non-empty) zones a model zone covers: DMA folds into DMA32.
    static func snapshotZones(_ s: KernelSnapshot, in z: Zone) -> [SnapshotZone] {
        s.zones.filter { $0.startPFN >= Int(z.startPFN) && $0.endPFN <= Int(z.endPFN) && $0.endPFN > $0.startPFN }
    }

    /// The other CPUs' lists shrink for `seconds` before compaction starts (Linux:
    /// decay_pcp_high frees at most batch << CONFIG_PCP_BATCH_SCALE_MAX, 5, a second).
    static func decayOtherLists(_ m: Machine, _ s: KernelSnapshot, _ lists: [ObjectIdentifier: PerCPULists], cpu: Int, seconds: Double) {
        guard seconds.isFinite, seconds > 0 else { return }
        for z in m.phys.zones {
            guard let l = lists[ObjectIdentifier(z)] else { continue }
            let others = snapshotZones(s, in: z).flatMap(\.info.pcp).filter { $0.cpu != cpu }
            l.push(others.reduce(0) { $0 + Int(min(Double($1.count), Double($1.batch << 5) * seconds)) }, phys: m.phys)
        }
    }

    /// Replays `s` and runs full compaction on it. Throws a `SnapshotError` when the
    /// snapshot does not fit the model.
    public static func predict(_ s: KernelSnapshot, options: ReplayOptions = .init()) throws -> Prediction {
        let t0 = mm_now_ns()
        let r = try build(s)
        let lists = options.pcpCPU.map { perCPULists(r.machine, s, cpu: $0) } ?? [:]
        let replayedCells = cells(r.machine, s)
        if let cpu = options.pcpCPU { decayOtherLists(r.machine, s, lists, cpu: cpu, seconds: options.decaySeconds) }
        let t1 = mm_now_ns()
        // A sync migration waits for a folio's writeback from its fourth pass on; nothing
        // in a replay would ever end that I/O, so the wait completes it (the kernel's
        // writeback would finish on its own).
        var migrator = Migrator(r.machine)
        let machine = r.machine
        migrator.hooks.beforeWritebackWait = { machine.endFolioWriteback($0) }
        let trace = options.trace ? CompactionTrace() : nil
        let results = Compaction.compactMemory(machine: r.machine, migrator: migrator, pcp: { lists[ObjectIdentifier($0)] }, trace: trace)
        let t2 = mm_now_ns()
        let afterCells = cells(r.machine, s)
        func free(_ c: [UInt8], _ z: SnapshotZone) -> Int {
            KernelSnapshot.whollyFreePageblocks(cells: c, from: z.startPFN, to: min(z.initialisedEnd, c.count), order: pageblockOrder, countZeroFree: true)
        }
        var zones: [Prediction.Zone] = []
        for res in results {
            guard let z = r.machine.phys.zones.first(where: { $0.node == res.node && $0.name == res.zone }) else { continue }
            let covered = snapshotZones(s, in: z)
            zones.append(.init(node: res.node, zone: res.zone, startPFN: Int(z.startPFN), endPFN: Int(z.endPFN),
                               migratePFN: Int(res.migratePFN), freePFN: Int(res.freePFN), status: "\(res.status)",
                               pageblocksFreeBefore: covered.reduce(0) { $0 + s.whollyFreePageblocks(zone: $1, countZeroFree: true) },
                               pageblocksFreeReplayed: covered.reduce(0) { $0 + free(replayedCells, $1) },
                               pageblocksFreeAfter: covered.reduce(0) { $0 + free(afterCells, $1) },
                               buddyinfoAfter: z.freeBlockCounts()))
        }
        let t3 = mm_now_ns()
        return Prediction(pcpPushed: lists.values.reduce(0) { $0 + $1.pushed }, pagesMigrated: results.reduce(0) { $0 + $1.pagesMigrated }, pagesFailed: results.reduce(0) { $0 + $1.pagesFailed },
                          migrateScanned: results.reduce(0) { $0 + $1.migrateScanned }, freeScanned: results.reduce(0) { $0 + $1.freeScanned },
                          movablePages: r.movable, unmovablePages: r.unmovable, zones: zones,
                          cellsReplayed: replayedCells, cellsAfter: afterCells, trace: trace?.text,
                          seconds: Double(t3 - t0) / 1e9, buildSeconds: Double(t1 - t0) / 1e9,
                          compactSeconds: Double(t2 - t1) / 1e9, reportSeconds: Double(t3 - t2) / 1e9)
    }

    /// The rebuilt machine's state in the snapshot's classes, one byte per PFN (class in
    /// the low 4 bits, as `KernelSnapshot.cells`; no unit orders): buddy pages, the
    /// snapshot's placeholders (never moved, so still "flags 0, count 0"), movable pages
    /// (on the LRU, isolated, or mapped anonymous), and the rest unmovable. Holes and
    /// uninitialised tails are the snapshot's.
    public static func cells(_ m: Machine, _ s: KernelSnapshot) -> [UInt8] {
        let d = m.phys.pages
        let n = min(s.pfnCount, m.phys.totalPages)
        let hole = PageClass.hole.rawValue, uninit = PageClass.uninitialised.rawValue
        let movableBits = PageFlag.lru | PageFlag.isolated | PageFlag.anon
        var out = [UInt8](repeating: PageClass.unmovable.rawValue, count: n)
        s.cells.withUnsafeBufferPointer { snap in
            out.withUnsafeMutableBufferPointer { o in
                var pfn = 0
                while pfn < n {   // bounded: advances by at least one page
                    let sc = snap[pfn] & 0xF
                    if sc == hole || sc == uninit { o[pfn] = sc; pfn += 1; continue }
                    let f = d.flags(PFN(pfn))
                    if f & PageFlag.buddy != 0 {
                        let end = min(n, pfn + (1 << d.buddyOrder(PFN(pfn))))
                        for q in pfn..<end { o[q] = PageClass.buddy.rawValue }
                        pfn = end
                        continue
                    }
                    // A placeholder pushed from a per-CPU list may since hold a migrated page.
                    if f & movableBits != 0 {
                        // A folio is one unit: its tails (no LRU bit of their own) take
                        // its head's class; page-cache folios read as file, the rest anon.
                        let cls = FileMapping.isFile(d.mapping(PFN(pfn))) ? PageClass.file.rawValue : PageClass.anon.rawValue
                        let end = f & PageFlag.head != 0 ? min(n, pfn + (1 << d.folioOrder(PFN(pfn)))) : pfn + 1
                        for q in pfn..<end { o[q] = cls }
                        pfn = end
                        continue
                    }
                    if sc == PageClass.zeroFree.rawValue { o[pfn] = sc }
                    pfn += 1
                }
            }
        }
        return out
    }
}
