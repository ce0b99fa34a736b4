// The reader and classification on a real snapshot of this project's machine (Linux
// 6.18 in a 24 GiB VM), captured by `mmlab kernel compact --mem 2G` (run 1 of
// docs/FIDELITY.md): BEFORE and AFTER the kernel's compact_memory, 2 GiB fragmented.

import Testing
@testable import MMSnapshot

@Suite struct FixtureTests {
    static let dir = fixturesDir + "/kernel-compact-2g"

    @Test func beforeSnapshotReadsAndClassifiesEveryPFN() throws {
        let s = try KernelSnapshot.load(directory: Self.dir + "/before")
        #expect(s.pfnCount == 0x640000)
        #expect(s.pageblockOrder == 9)
        #expect(s.meta?.kernelRelease == "6.18.44-fc-v1045")
        #expect(s.counts.pages.reduce(0, +) == s.pfnCount)
        #expect(s.zones.map(\.name) == ["DMA", "DMA32", "Normal"])
        #expect(s.holes == [PFNRange(start: 0, end: 1), PFNRange(start: 0x9f, end: 0x100), PFNRange(start: 0xc0000, end: 0x100000)])
        #expect(s.counts[.hole] == s.holes.reduce(0) { $0 + $1.count })
        // Every zone's inferred pageblock types add up to pagetypeinfo's totals.
        for z in s.zones { #expect(z.inferenceMatches, "zone \(z.name): \(z.inferredBlocks) vs \(z.pagetypeBlocks)") }
        // The quiet zones' free blocks read from kpageflags are exactly the kernel's buddyinfo.
        for z in s.zones where z.name != "Normal" {
            let kernel = s.kernelBuddyinfo(zone: z) ?? []
            #expect(Array(s.derivedBuddyinfo(zone: z).prefix(kernel.count)) == kernel, "zone \(z.name)")
        }
        // The fragmenter holds 262,144 anonymous pages; all of them are in the Normal zone.
        let normal = try #require(s.zones.first { $0.name == "Normal" })
        #expect(s.counts(zone: normal)[.anon] >= 262_144)
        // Buddy pages seen in kpageflags within 1 % of the zone's free count (the read is not atomic).
        let buddy = s.counts(zone: normal)[.buddy]
        #expect(abs(buddy - normal.info.freePages) * 100 <= normal.info.freePages, "buddy \(buddy) vs free \(normal.info.freePages)")
    }

    @Test func initialisedEndIsWhereTheKernelsCompactionEnded() throws {
        let s = try KernelSnapshot.load(directory: Self.dir + "/before")
        let normal = try #require(s.zones.first { $0.name == "Normal" })
        // Lazy init: the zone spans to 0x640000 but its memmap is initialised to 0x588000 …
        #expect(normal.endPFN == 0x640000)
        #expect(normal.initialisedEnd == 0x588000)
        #expect(s.counts(zone: normal)[.uninitialised] == 0x640000 - 0x588000)
        // … which is the zone_end of the kernel's mm_compaction_begin tracepoint for it.
        let trace = String(decoding: try SnapshotIO.readFile(Self.dir + "/compaction_trace.txt", limit: 1 << 20), as: UTF8.self)
        #expect(trace.contains("mm_compaction_begin: zone_start=0x100000 migrate_pfn=0x100000 free_pfn=0x587e00 zone_end=0x588000"))
        #expect(s.pageblockType(ofPFN: 0x588000) == PageblockType.none)
        #expect(s.pageblockType(ofPFN: 0x587fff) != PageblockType.none)
    }

    @Test func whollyFreePageblocksBeforeAndAfterTheKernelsCompaction() throws {
        let before = try KernelSnapshot.load(directory: Self.dir + "/before")
        let after = try KernelSnapshot.load(directory: Self.dir + "/after")
        let nb = try #require(before.zones.first { $0.name == "Normal" })
        let na = try #require(after.zones.first { $0.name == "Normal" })
        // The figures `mmlab kernel compact` printed for this run (docs/FIDELITY.md, run 1).
        #expect(before.whollyFreePageblocks(zone: nb, countZeroFree: true) == 6855)
        #expect(before.whollyFreePageblocks(zone: nb, countZeroFree: false) == 6846)
        #expect(after.whollyFreePageblocks(zone: na, countZeroFree: true) == 7047)
        #expect(after.whollyFreePageblocks(zone: na, countZeroFree: false) == 6846)
        // Buddyinfo's own count of wholly free blocks (orders ≥ 9) agrees with kpageflags' buddy-only count.
        let line = try #require(before.kernelBuddyinfo(zone: nb))
        #expect(line[9] + 2 * line[10] == 6846)
    }
}
