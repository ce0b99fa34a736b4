// The fidelity targets as a regression test: a real `mmlab kernel compact --mem 2G`
// run (2026-12-02 05:14 UTC, per-CPU lists held small; docs/FIDELITY.md, the ninth run)
// is committed as Fixtures/kernel-compact-2g-small-lists — the BEFORE and AFTER
// snapshots, vmstat around the write, and the kernel's compaction trace. The replay of
// BEFORE must predict the kernel's pages migrated within 10 %, the Normal zone's meet
// PFN within 2 % of its span, and the wholly free pageblocks gained within 10 %. The
// whole 6.5 M-PFN machine is replayed (about 15 s in a debug build).

import Testing
import MMPhysical
import MMScenario
@testable import MMSnapshot

@Suite struct FidelityRegressionTests {
    static let dir = fixturesDir + "/kernel-compact-2g-small-lists"

    func text(_ name: String) throws -> String {
        String(decoding: try SnapshotIO.readFile(Self.dir + "/" + name, limit: 1 << 20), as: UTF8.self)
    }

    @Test func replayMeetsTheThreeTargetsOnARealRun() throws {
        let before = try KernelSnapshot.load(directory: Self.dir + "/before")
        let after = try KernelSnapshot.load(directory: Self.dir + "/after")
        // The kernel: pgmigrate_success over the write, the traced meet of the Normal
        // zone, and the gain in its second kpageflags (flags-0 pages free).
        let vb = try ProcParsers.keyValues(try text("vmstat_before.txt"), file: "vmstat_before.txt")
        let va = try ProcParsers.keyValues(try text("vmstat_after.txt"), file: "vmstat_after.txt")
        let migrated = try #require(va["pgmigrate_success"]) - (try #require(vb["pgmigrate_success"]))
        let gz = try SnapshotIO.readFile(Self.dir + "/compaction_trace.txt.gz", limit: 1 << 20)
        let trace = String(decoding: try Gzip.decompress(gz, limit: 16 << 20, name: "compaction_trace.txt"), as: UTF8.self)
        let normal = try #require(before.zones.first { $0.name == "Normal" })
        let end = try #require(trace.split(separator: "\n").last {
            $0.contains("mm_compaction_end: zone_start=0x\(String(normal.startPFN, radix: 16)) ")
        })
        let meetHex = try #require(end.split(separator: " ").first { $0.hasPrefix("migrate_pfn=0x") }).dropFirst("migrate_pfn=0x".count)
        let meet = try #require(Int(meetHex, radix: 16))
        let normalAfter = try #require(after.zones.first { $0.name == "Normal" })
        let gained = after.whollyFreePageblocks(zone: normalAfter, countZeroFree: true)
            - before.whollyFreePageblocks(zone: normal, countZeroFree: true)
        try #require(migrated > 10_000 && gained > 50, "the run compacted: \(migrated) pages, +\(gained) blocks")

        // mmlab, replaying BEFORE as `kernel compact` does (CPU 0's lists).
        let p = try SnapshotReplay.predict(before)
        let z = try #require(p.zones.first { $0.zone == "Normal" })
        let span = Double(normal.initialisedEnd - normal.startPFN)
        let pagesMiss = Double(p.pagesMigrated - migrated) / Double(migrated)
        let meetMiss = Double(z.migratePFN - meet) / span
        let gainMiss = Double((z.pageblocksFreeAfter - z.pageblocksFreeBefore) - gained) / Double(gained)
        #expect(abs(pagesMiss) <= 0.10, "pages migrated: kernel \(migrated), mmlab \(p.pagesMigrated)")
        #expect(abs(meetMiss) <= 0.02, "meet PFN: kernel \(meet), mmlab \(z.migratePFN)")
        #expect(abs(gainMiss) <= 0.10, "pageblocks gained: kernel \(gained), mmlab \(z.pageblocksFreeAfter - z.pageblocksFreeBefore)")
    }
}
