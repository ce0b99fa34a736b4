// PFN classification and pageblock type inference on hand-made page arrays, and the
// loader's errors on malformed snapshot directories.

import Testing
@testable import MMSnapshot

@Suite struct ClassifyTests {
    @Test func everyClassFromFlagsAndCount() {
        let flags: [UInt64] = [
            KPF.nopage,                                   // 0 hole
            KPF.lru | KPF.anon | KPF.mmap,                // 1 anon
            KPF.lru,                                      // 2 file
            KPF.slab,                                     // 3 slab
            KPF.reserved,                                 // 4 reserved
            KPF.pgtable,                                  // 5 page table
            0,                                            // 6 mapped, no flags (count 1)
            0,                                            // 7 flags 0, count 0
            1 << 2,                                       // 8 referenced only: in use without LRU
        ]
        let counts: [UInt64] = [0, 1, 0, 0, 0, 0, 1, 0, 0]
        let (cells, c) = PageClassifier.classify(flags: flags, counts: counts, ram: [PFNRange(start: 0, end: 9)])
        #expect(cells.map { PageCell(raw: $0).cls } == [.hole, .anon, .file, .unmovable, .unmovable, .unmovable, .unmovable, .zeroFree, .unmovable])
        #expect(c.unmovable == [.slab: 1, .reserved: 1, .pgtable: 1, .mappedNoFlags: 1, .noLRU: 1])
        #expect(c[.anon] == 1 && c[.file] == 1 && c[.hole] == 1 && c[.zeroFree] == 1)
        // Outside System RAM is a hole whatever the flags say.
        let (c2, _) = PageClassifier.classify(flags: [KPF.lru], counts: [1], ram: [])
        #expect(PageCell(raw: c2[0]).cls == .hole)
    }

    @Test func buddyRunsSplitIntoAlignedBlocks() {
        // PFNs 2..<16 free: aligned blocks 2–3 (order 1), 4–7 (order 2), 8–15 (order 3).
        var flags = [UInt64](repeating: KPF.lru, count: 18)
        for p in 2..<16 { flags[p] = KPF.buddy }
        let (cells, c) = PageClassifier.classify(flags: flags, counts: [UInt64](repeating: 0, count: 18), ram: [PFNRange(start: 0, end: 18)])
        let heads = (0..<18).compactMap { p -> (Int, Int)? in
            let cell = PageCell(raw: cells[p])
            return cell.cls == .buddy ? cell.headOrder.map { (p, $0) } : nil
        }
        #expect(heads.map { $0.0 } == [2, 4, 8])
        #expect(heads.map { $0.1 } == [1, 2, 3])
        #expect(c[.buddy] == 14)
        #expect(PageCell(raw: cells[5]).headOrder == nil)
    }

    @Test func compoundPagesAreOneUnitOfTheirOrder() {
        let lruAnon = KPF.lru | KPF.anon
        var flags: [UInt64] = [lruAnon | KPF.compoundHead | KPF.thp] + [UInt64](repeating: lruAnon | KPF.compoundTail | KPF.thp, count: 3)
        flags += [KPF.slab | KPF.compoundHead, KPF.slab | KPF.compoundTail]
        flags += [KPF.compoundTail | KPF.lru]   // a tail without its head (torn read): a single page
        let (cells, c) = PageClassifier.classify(flags: flags, counts: [UInt64](repeating: 1, count: flags.count), ram: [PFNRange(start: 0, end: 7)])
        #expect(PageCell(raw: cells[0]) == PageCell(.anon, headOrder: 2))
        #expect(PageCell(raw: cells[3]) == PageCell(.anon, headOrder: nil))
        #expect(PageCell(raw: cells[4]) == PageCell(.unmovable, headOrder: 1))
        #expect(PageCell(raw: cells[6]) == PageCell(.file, headOrder: 0))
        #expect(c.movableFolios == 1)
        #expect(c.unmovable[.slab] == 2)
    }

    @Test func tinySnapshotLoadsWithInferredTypesAndInitialisedEnd() throws {
        var t = TinySnapshot()
        // Block 1 (PFN 8–15): slab pages → the Unmovable block. Block 2 (16–23): anon, a free order-2 block.
        for p in 8..<12 { t.flags[p] = KPF.slab }
        for p in 16..<20 { t.flags[p] = KPF.lru | KPF.anon; t.counts[p] = 1 }
        for p in 20..<24 { t.flags[p] = KPF.buddy }
        for gzip in [true, false] {
            let s = try KernelSnapshot.load(directory: try t.write(gzip: gzip))
            #expect(s.pfnCount == 24)
            #expect(s.holes == [PFNRange(start: 0, end: 8)])
            #expect(s.zones.count == 1)
            let z = s.zones[0]
            #expect(z.initialisedEnd == 24)
            #expect(z.inferenceMatches)
            #expect(s.pageblockType(ofPFN: 8) == .unmovable)
            #expect(s.pageblockType(ofPFN: 16) == .movable)
            #expect(s.pageblockType(ofPFN: 0) == PageblockType.none)
            #expect(s.derivedBuddyinfo(zone: z) == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
            #expect(s.kernelBuddyinfo(zone: z) == [0, 0, 1, 0])
            #expect(s.counts[.zeroFree] == 4)   // PFN 12–15
            #expect(s.whollyFreePageblocks(zone: z, countZeroFree: true) == 0)
            #expect(s.meta?.kernelRelease == "6.18-test")
            #expect(s.vmstat["pgmigrate_success"] == 7)
        }
    }

    @Test func pagesPastTheCountedBlocksAreUninitialised() throws {
        var t = TinySnapshot()
        t.pagetypeinfo = t.pagetypeinfo.replacing("Normal            1            1", with: "Normal            0            1")
        let s = try KernelSnapshot.load(directory: try t.write())
        #expect(s.zones[0].initialisedEnd == 16)
        #expect(s.counts[.uninitialised] == 8 && s.counts[.zeroFree] == 8)
        #expect(s.pageblockType(ofPFN: 16) == PageblockType.none)
        #expect(s.whollyFreePageblocks(zone: s.zones[0], countZeroFree: true) == 1)
        #expect(s.whollyFreePageblocks(zone: s.zones[0], countZeroFree: false) == 0)
    }

    @Test func malformedDirectoriesAreErrorsNamingTheFile() throws {
        let t = TinySnapshot()
        let d = try t.write()
        try SnapshotIO.writeFile("\(d)/kpagecount.bin.gz", try Gzip.compress(u64Bytes([1, 2])))
        #expect(throws: SnapshotError("\(d)/kpagecount", "has 2 PFNs but kpageflags has 24")) { try KernelSnapshot.load(directory: d) }
        try SnapshotIO.writeFile("\(d)/kpagecount.bin.gz", try Gzip.compress([1, 2, 3]))
        #expect(throws: SnapshotError("\(d)/kpagecount.bin.gz", "3 bytes is not a whole number of u64 entries")) { try KernelSnapshot.load(directory: d) }
        try SnapshotIO.writeFile("\(d)/kpagecount.bin.gz", Array("garbage".utf8))
        #expect(throws: SnapshotError("\(d)/kpagecount.bin.gz", "not a valid gzip stream (corrupt or truncated)")) { try KernelSnapshot.load(directory: d) }
        let e = scratchDir()
        #expect(throws: SnapshotError("\(e)/kpageflags.bin.gz", "missing (and no kpageflags.bin either)")) { try KernelSnapshot.load(directory: e) }
        var short = t
        short.zoneinfo = short.zoneinfo.replacing("spanned  16", with: "spanned  40").replacing("present  16", with: "present  20")
        let d2 = try short.write()
        #expect(throws: SnapshotError("\(d2)/zoneinfo.txt", "zone Normal ends at PFN 48 but kpageflags has only 24 PFNs")) { try KernelSnapshot.load(directory: d2) }
        var badVm = t
        badVm.vmstat = "nr_free_pages 4\nthis is wrong\n"
        let d3 = try badVm.write()
        #expect(throws: SnapshotError("\(d3)/vmstat.txt", line: 2, "expected 'NAME VALUE', found 'this is wrong'")) { try KernelSnapshot.load(directory: d3) }
    }
}
