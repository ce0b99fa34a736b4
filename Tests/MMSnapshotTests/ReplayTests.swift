// The replay (MMScenario/SnapshotReplay.swift) on the committed real snapshot. A debug
// build replays a crop — PFNs [0, 0x180000): DMA, DMA32 and the first 2 GiB of Normal —
// so that the suite stays well under 30 s; the full 6.5 M-PFN replay is the release
// benchmark of BENCHMARKS.md (`mmlab snapshot --read DIR --replay`).

import Testing
import MMCheck
import MMPhysical
import MMScenario
@testable import MMSnapshot

@Suite(.serialized) struct ReplayTests {
    static let dir = fixturesDir + "/kernel-compact-2g"
    static let cropEnd = 0x180000
    /// Read once: decompressing the fixture is most of a debug run.
    nonisolated(unsafe) static var loaded: KernelSnapshot?
    static func crop() throws -> KernelSnapshot {
        if let s = loaded { return s }
        let s = try KernelSnapshot.load(directory: dir + "/before").cropped(toEnd: cropEnd)
        loaded = s
        return s
    }

    @Test func cropKeepsWholeZonesAndCutsTheLastAtItsEnd() throws {
        let s = try Self.crop()
        #expect(s.pfnCount == Self.cropEnd)
        #expect(s.zones.map(\.name) == ["DMA", "DMA32", "Normal"])
        let normal = try #require(s.zones.last)
        #expect(normal.endPFN == Self.cropEnd && normal.initialisedEnd == Self.cropEnd)
        #expect(normal.inferredBlocks.values.reduce(0, +) == (Self.cropEnd - 0x100000) >> 9)
        #expect(s.kernelBuddyinfo(zone: normal) == nil)   // the kernel's line describes the whole zone
        #expect(s.kernelBuddyinfo(zone: s.zones[1]) != nil)
        #expect(s.counts.pages.reduce(0, +) == Self.cropEnd)
        #expect(s.fileFolios.heads.allSatisfy { Int($0) < Self.cropEnd })
        #expect(throws: SnapshotError.self) { try s.cropped(toEnd: 1000) }
    }

    @Test func rebuiltMachineMatchesTheSnapshot() throws {
        let s = try Self.crop()
        let r = try SnapshotReplay.build(s)
        let m = r.machine
        // Free pages per order: the model's buddy is the classification's buddyinfo
        // (DMA folds into the model's DMA32).
        for z in m.phys.zones {
            let covered = s.zones.filter { $0.startPFN >= Int(z.startPFN) && $0.endPFN <= Int(z.endPFN) }
            #expect(!covered.isEmpty)
            let derived = covered.map { s.derivedBuddyinfo(zone: $0) }.reduce([Int](repeating: 0, count: maxOrder + 1)) { zip($0, $1).map(+) }
            #expect(z.freeBlockCounts() == derived, "zone \(z.name)")
            #expect(z.lock.withLock { z.nrFree } == covered.reduce(0) { $0 + s.counts(zone: $1)[.buddy] }, "zone \(z.name)")
        }
        // Movable / unmovable pages and the LRU.
        #expect(r.movable == s.counts[.anon] + s.counts[.file])
        // The LRU holds units: an order-0 anon page, or a folio by its head.
        #expect(m.phys.lrus[0].count == r.anonUnits + r.fileFolios)
        #expect(r.unmovable == s.counts[.unmovable])
        #expect(r.anonUnits + r.fileFolios <= r.movable && r.fileFolios == s.fileFolios.count)
        // Every page at its PFN, in the snapshot's classes; wholly free pageblocks per zone.
        let cells = SnapshotReplay.cells(m, s)
        var differ = 0
        // Large anonymous folios are replayed as page-cache folios (SnapshotReplay.swift).
        for pfn in 0..<s.pfnCount where cells[pfn] & 0xF != s.cells[pfn] & 0xF && !(s.cell(pfn).cls == .anon && cells[pfn] == PageClass.file.rawValue) { differ += 1 }
        #expect(differ == 0)
        for z in s.zones {
            let rebuilt = KernelSnapshot.whollyFreePageblocks(cells: cells, from: z.startPFN, to: z.initialisedEnd, order: 9, countZeroFree: true)
            #expect(rebuilt == s.whollyFreePageblocks(zone: z, countZeroFree: true), "zone \(z.name)")
        }
        // Pageblock types as inferred.
        let normal = try #require(m.phys.zones.last)
        for b in stride(from: Int(normal.startPFN), to: Int(normal.endPFN), by: 512) {
            let want = SnapshotReplay.migrateType(s.pageblockType(ofPFN: b)) ?? .movable
            if normal.pageblockType(of: PFN(b)) != want { Issue.record("pageblock at \(b): \(normal.pageblockType(of: PFN(b))) vs \(want)"); break }
        }
        // The checker knows no kernel-owned frames but its own allocations: the snapshot's
        // unmovable pages and placeholders read as leaks. Nothing else may be wrong.
        let kernelOwned = Set((0..<s.pfnCount).filter { [.unmovable, .zeroFree].contains(s.cell($0).cls) }.map { "pfn \($0):" })
        let other = Checker.check(m).filter { v in
            let text = "\(v)"
            guard text.hasPrefix("leak: pfn "), let colon = text.firstIndex(of: ":", after: 10) else { return true }
            return !kernelOwned.contains(String(text[text.index(text.startIndex, offsetBy: 6)...colon]))
        }
        #expect(other.isEmpty, "\(other.prefix(3))")
    }

    @Test func predictionIsConsistent() throws {
        let s = try Self.crop()
        let p = try SnapshotReplay.predict(s)
        #expect(p.pagesMigrated > 0)
        #expect(p.pagesMigrated + p.pagesFailed <= p.movablePages)
        #expect(p.migrateScanned >= p.pagesMigrated)
        #expect(p.zones.map(\.zone) == ["DMA32", "Normal"])
        for z in p.zones {
            #expect(z.migratePFN >= z.startPFN && z.migratePFN <= z.endPFN, "zone \(z.zone)")
            #expect(z.freePFN >= z.startPFN && z.freePFN <= z.endPFN, "zone \(z.zone)")
            #expect(z.pageblocksFreeReplayed == z.pageblocksFreeBefore, "zone \(z.zone)")
            #expect(z.buddyinfoAfter.count == maxOrder + 1)
        }
        // Pages are conserved: every movable page is still somewhere, free pages too.
        let movableAfter = p.cellsAfter.reduce(0) { $0 + ($1 == PageClass.anon.rawValue || $1 == PageClass.file.rawValue ? 1 : 0) }
        #expect(movableAfter == p.movablePages)
        // Pushed placeholders are free now, every other one still "flags 0, count 0".
        let buddyBefore = s.counts[.buddy]
        let buddyAfter = p.cellsAfter.reduce(0) { $0 + ($1 == PageClass.buddy.rawValue ? 1 : 0) }
        #expect(buddyAfter == buddyBefore + p.pcpPushed)
        let zeroFreeAfter = p.cellsAfter.reduce(0) { $0 + ($1 == PageClass.zeroFree.rawValue ? 1 : 0) }
        #expect(zeroFreeAfter == s.counts[.zeroFree] - p.pcpPushed)
    }

    /// The per-CPU list model (MMPhysical/PerCPULists.swift) on the fixture: CPU 1's Normal
    /// list was short of its high, CPU 0's full; without the model nothing is pushed; the
    /// other CPUs' decay adds their batch << 5 pages per second; a bad CPU pushes nothing.
    @Test func perCPUListsPushWhatTheSnapshotsPagesetsAllow() throws {
        let s = try Self.crop()
        let normal = try #require(s.zones.last)
        let lists = normal.info.pcp
        #expect(lists.map(\.cpu) == [0, 1])
        #expect(lists.allSatisfy { $0.high > 0 && $0.batch == 63 })
        let off = try SnapshotReplay.predict(s, options: ReplayOptions(pcpCPU: nil))
        #expect(off.pcpPushed == 0)
        for l in lists {
            let p = try SnapshotReplay.predict(s, options: ReplayOptions(pcpCPU: l.cpu))
            // DMA32's lists push too; Normal's can push no more than the migrations beyond its headroom.
            let dma32 = s.zones.filter { $0.name != "Normal" }.flatMap(\.info.pcp).filter { $0.cpu == l.cpu }.reduce(0) { $0 + $1.count }
            #expect(p.pcpPushed <= min(l.count, max(0, p.pagesMigrated - max(0, l.high - l.count))) + dma32, "cpu \(l.cpu)")
            let decayed = try SnapshotReplay.predict(s, options: ReplayOptions(pcpCPU: l.cpu, decaySeconds: 1))
            let others = lists.filter { $0.cpu != l.cpu }.reduce(0) { $0 + min($1.count, $1.batch << 5) }
            #expect(decayed.pcpPushed >= others, "cpu \(l.cpu)")
        }
        let none = try SnapshotReplay.predict(s, options: ReplayOptions(pcpCPU: 7))
        #expect(none.pcpPushed == 0)
        #expect(none.pagesMigrated == off.pagesMigrated)
    }
}

extension String {
    /// The first `c` at or after character offset `from`.
    fileprivate func firstIndex(of c: Character, after from: Int) -> Index? {
        guard from < count else { return nil }
        return self[index(startIndex, offsetBy: from)...].firstIndex(of: c)
    }
}
