// The /proc text readers on small hand-made files: values read, and every malformed
// file an error naming the file and the line.

import Testing
@testable import MMSnapshot

@Suite struct ParserTests {
    @Test func zoneinfoReadsZonesAndEmptyZones() throws {
        let text = TinySnapshot().zoneinfo + "\nNode 0, zone  Movable\n  pages free     0\n        spanned  0\n        present  0\n        managed  0\n"
        let zones = try ProcParsers.zoneinfo(text)
        #expect(zones.count == 2)
        #expect(zones[0] == ZoneInfo(node: 0, name: "Normal", startPFN: 8, spanned: 16, present: 16, managed: 16, freePages: 4,
                                     watermarkMin: 1, watermarkLow: 2, watermarkHigh: 3))
        #expect(zones[1].spanned == 0 && zones[1].startPFN == 0)
    }

    @Test func zoneinfoReadsEachCPUsList() throws {
        let text = TinySnapshot().zoneinfo + "\n  pagesets\n    cpu: 0\n              count:    7\n              high:     9\n              batch:    63\n"
            + "              high_min: 9\n  vm stats threshold: 36\n    cpu: 1\n              count:    250000\n              high:     250001\n              batch:    63\n"
        let zones = try ProcParsers.zoneinfo(text)
        #expect(zones[0].pcp == [PerCPUPagesInfo(cpu: 0, count: 7, high: 9, batch: 63), PerCPUPagesInfo(cpu: 1, count: 250000, high: 250001, batch: 63)])
        #expect(throws: SnapshotError.self) { try ProcParsers.zoneinfo(TinySnapshot().zoneinfo + "\n    cpu: 0\n     count: -3\n") }
    }

    @Test func zoneinfoErrorsNameFileAndLine() {
        #expect(throws: SnapshotError("z", line: 3, "spanned: 'x12' is not a non-negative integer")) {
            try ProcParsers.zoneinfo("Node 0, zone Normal\n  pages free 1\n  spanned x12\n", file: "z")
        }
        #expect(throws: SnapshotError("z", line: 1, "zone Normal of node 0 has no 'managed' line")) {
            try ProcParsers.zoneinfo("Node 0, zone Normal\n  pages free 1\n  spanned 8\n  present 8\n  start_pfn: 0\n", file: "z")
        }
        #expect(throws: SnapshotError("z", line: 1, "zone Normal of node 0 has no 'start_pfn:' line")) {
            try ProcParsers.zoneinfo("Node 0, zone Normal\n  pages free 1\n  spanned 8\n  present 8\n  managed 8\n", file: "z")
        }
        #expect(throws: SnapshotError("z", line: 1, "expected 'Node N, zone NAME', found 'Node zero'")) {
            try ProcParsers.zoneinfo("Node zero\n", file: "z")
        }
        #expect(throws: SnapshotError("z", "no 'Node N, zone NAME' section")) { try ProcParsers.zoneinfo("", file: "z") }
        #expect(throws: SnapshotError.self) {   // managed > present
            try ProcParsers.zoneinfo("Node 0, zone N\n pages free 1\n spanned 8\n present 4\n managed 5\n start_pfn: 0\n", file: "z")
        }
    }

    @Test func pagetypeinfoBlockCountsAndFreeCounts() throws {
        let (order, zones) = try ProcParsers.pagetypeinfo(TinySnapshot().pagetypeinfo)
        #expect(order == 3)
        #expect(zones.count == 1)
        #expect(zones[0].blocks == ["Unmovable": 1, "Movable": 1, "Reclaimable": 0, "HighAtomic": 0, "Isolate": 0])
        #expect(zones[0].free["Movable"] == [0, 0, 1, 0])
        #expect(zones[0].totalBlocks == 2)
    }

    @Test func pagetypeinfoErrors() {
        #expect(throws: SnapshotError("p", "no 'Page block order:' line")) { try ProcParsers.pagetypeinfo("Number of blocks type  Unmovable\n", file: "p") }
        #expect(throws: SnapshotError("p", line: 3, "expected 2 block counts, found 1")) {
            try ProcParsers.pagetypeinfo("Page block order: 9\nNumber of blocks type  Unmovable Movable\nNode 0, zone Normal 4\n", file: "p")
        }
        #expect(throws: SnapshotError("p", line: 2, "block counts before the 'Number of blocks type' header")) {
            try ProcParsers.pagetypeinfo("Page block order: 9\nNode 0, zone Normal 4 5\n", file: "p")
        }
    }

    @Test func buddyinfoVmstatMeminfoIomem() throws {
        let b = try ProcParsers.buddyinfo("Node 0, zone      DMA      0      1      2\nNode 1, zone   Normal  5 6\n")
        #expect(b == [BuddyInfoLine(node: 0, zone: "DMA", free: [0, 1, 2]), BuddyInfoLine(node: 1, zone: "Normal", free: [5, 6])])
        #expect(throws: SnapshotError("b", line: 2, "free count: '-1' is not a non-negative integer")) {
            try ProcParsers.buddyinfo("Node 0, zone DMA 1\nNode 0, zone DMA32 -1\n", file: "b")
        }
        #expect(try ProcParsers.keyValues("MemTotal:   96 kB\nMemFree: 16 kB\n", file: "m") == ["MemTotal": 96, "MemFree": 16])
        #expect(throws: SnapshotError("v", line: 2, "expected 'NAME VALUE', found 'pgmigrate_success'")) {
            try ProcParsers.keyValues("nr_free_pages 4\npgmigrate_success\n", file: "v")
        }
        #expect(throws: SnapshotError("v", line: 1, "a: 'b' is not an integer")) { try ProcParsers.keyValues("a b\n", file: "v") }
        let ram = try ProcParsers.iomem("00001000-0009fbff : System RAM\n100000000-63fffffff : System RAM\n")
        #expect(ram == [PFNRange(start: 1, end: 0x9f), PFNRange(start: 0x100000, end: 0x640000)])
        #expect(throws: SnapshotError("i", line: 1, "'zz-10' is not a hex range START-END within \(SnapshotLimits.maxPFNs) pages")) {
            try ProcParsers.iomem("zz-10 : System RAM\n", file: "i")
        }
        #expect(throws: SnapshotError("i", "no 'System RAM' line")) { try ProcParsers.iomem("0-fff : Reserved\n", file: "i") }
        #expect(throws: SnapshotError("i", "System RAM ranges overlap at PFN 1")) {
            try ProcParsers.iomem("0-1fff : System RAM\n1000-2fff : System RAM\n", file: "i")
        }
    }

    @Test func snapshotJSONMetadata() throws {
        let m = try SnapshotMeta.parse(Array(TinySnapshot().json.utf8))
        #expect(m == SnapshotMeta(kernelRelease: "6.18-test", timeUTC: "2026-12-01T00:00:00Z", readSeconds: ["kpageflags.bin": 0.5]))
        // What the capture writes reads back the same.
        #expect(try SnapshotMeta.parse(Array(m.json(pfns: 24).utf8)) == m)
        #expect(throws: SnapshotError("snapshot.json", line: 2, "expected ',' or '}'")) {
            try SnapshotMeta.parse(Array("{\"kernel_release\":\"x\"\n \"time_utc\":1}".utf8))
        }
        #expect(throws: SnapshotError("snapshot.json", "no \"time_utc\" string")) { try SnapshotMeta.parse(Array("{\"kernel_release\":\"x\"}".utf8)) }
        #expect(throws: SnapshotError.self) { try SnapshotMeta.parse(Array(String(repeating: "[", count: 100).utf8)) }
    }
}
