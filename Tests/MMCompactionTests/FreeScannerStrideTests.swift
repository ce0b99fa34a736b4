// The free scanner's sampling stride (MMCompaction/IsolateFree.swift; Linux:
// isolate_freepages_block). Linux steps over a compound page whole before adding the
// stride, so a folio changes which parity the stride samples: on memory freed every
// other page, that decides whether the scanner finds the holes at all. Missing this step
// made the replay of real snapshots take 40–60 % fewer targets than the kernel did in
// some runs (docs/FIDELITY.md, "Tracepoints side by side").

import Testing
@testable import MMCompaction
import MMPhysical
import MMSpace

@Suite struct FreeScannerStrideTests {
    /// A 16 MiB machine whose every page is allocated but for two whole pageblocks (so
    /// isolation stays above the watermark) and the odd pages of one pageblock `b`;
    /// `b`'s first two pages are an order-1 folio when `folioFirst`, else two pages.
    func machine(folioFirst: Bool) throws -> (Machine, PFN) {
        let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: 16 << 20))
        var held: [PFN] = []
        for _ in 0..<m.config.totalPages {   // bounded: one page per frame at most
            guard let p = m.phys.allocFolio(node: 0, order: 0, fallback: true) else { break }
            held.append(p)
        }
        let mine = Set(held)
        let zone = m.phys.zones[0]
        let blocks = stride(from: Int(zone.startPFN), to: Int(zone.endPFN), by: 512).map { PFN($0) }
            .filter { b in (0..<512).allSatisfy { mine.contains(b + PFN($0)) } }
        try #require(blocks.count >= 3, "three wholly allocated pageblocks")
        let b = blocks[0]
        for spare in blocks[1...2] { for i in 0..<512 { m.phys.putPage(spare + PFN(i)) } }
        if folioFirst {
            m.phys.putPage(b)
            m.phys.putPage(b + 1)
            let f = try #require(m.phys.allocFolio(node: 0, order: 1, fallback: true))
            try #require(f == b, "the only free order-1 block is b's first two pages, got \(f)")
        }
        for i in stride(from: 3, to: 512, by: 2) { m.phys.putPage(b + PFN(i)) }
        return (m, b)
    }

    func scan(_ m: Machine, _ b: PFN, stride: Int) -> (taken: Int, scanned: Int, trace: [CompactionTrace.Event]) {
        let cc = CompactControl(machine: m, zone: m.phys.zones[0], order: -1, mode: .sync, wholeZone: true, ignoreSkipHint: true)
        cc.trace = CompactionTrace()
        cc.nrMigratePages = 10_000   // never "enough": the whole block is scanned
        var start = b
        let taken = Compaction.isolateFreepagesBlock(cc, &start, end: b + 512, stride: stride)
        _ = Compaction.releaseFreepages(cc)
        return (taken, cc.totalFreeScanned, cc.trace?.events ?? [])
    }

    @Test func aFolioShiftsTheStrideOntoTheHoles() throws {
        let (m, b) = try machine(folioFirst: true)
        let r = scan(m, b, stride: 2)
        // 0 is the folio's head: on to 1 + 2 = 3, then every odd page: all 255 holes.
        #expect(r.taken == 255, "holes taken with the folio first: \(r.taken)")
        // Linux counts the folio's tail and each isolated block's pages as scanned.
        #expect(r.scanned == 1 + 1 + 255, "scanned \(r.scanned)")
        #expect(r.trace == [.isolateFree(start: b, end: b + 512, scanned: r.scanned, taken: 255)])
    }

    @Test func withoutTheFolioTheStrideSamplesOnlyPagesInUse() throws {
        let (m, b) = try machine(folioFirst: false)
        let r = scan(m, b, stride: 2)
        #expect(r.taken == 0, "even pages are all in use: \(r.taken)")
        #expect(r.scanned == 256)
        let all = scan(m, b, stride: 1)
        #expect(all.taken == 255, "stride 1 finds every hole")
    }
}
