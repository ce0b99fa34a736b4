// Capturing (MMSnapshot/SnapshotCapture.swift) from a stand-in /proc: the capture reads
// into buffers made ahead of time, compresses and writes only when asked, and what it
// writes loads back as the snapshot it copied. No root needed: `procRoot` is a directory.

import Testing
@testable import MMSnapshot

@Suite struct CaptureTests {
    /// A stand-in /proc with the tiny snapshot's files under their /proc names.
    static func fakeProc(_ t: TinySnapshot) throws -> String {
        let d = scratchDir()
        try SnapshotIO.writeFile("\(d)/kpageflags", u64Bytes(t.flags))
        try SnapshotIO.writeFile("\(d)/kpagecount", u64Bytes(t.counts))
        for (name, text) in [("zoneinfo", t.zoneinfo + "\n  pagesets\n    cpu: 0\n              count:    3\n              high:     5\n              batch:    1\n"),
                             ("pagetypeinfo", t.pagetypeinfo), ("buddyinfo", t.buddyinfo), ("vmstat", t.vmstat),
                             ("meminfo", t.meminfo), ("iomem", "00000000-00000fff : Reserved\n" + t.iomem)] {
            try writeFile("\(d)/\(name)", text)
        }
        return d
    }

    @Test func captureWritesWhatLoadsBackAsTheSource() throws {
        var t = TinySnapshot()
        for p in 8..<12 { t.flags[p] = KPF.buddy }
        t.flags[12] = KPF.lru | KPF.anon
        t.counts[12] = 1
        let proc = try Self.fakeProc(t)
        let out = scratchDir() + "/snap"
        let meta = try SnapshotCapture.capture(to: out, procRoot: proc)
        #expect(meta.readSeconds["kpageflags.bin"] != nil && meta.readSeconds["kpagecount.gzip"] != nil)
        let got = try KernelSnapshot.load(directory: out)
        let want = try KernelSnapshot.load(directory: try t.write())
        #expect(got.pfnCount == 24)
        #expect(got.cells == want.cells)
        #expect(got.zones.map(\.info.pcp) == [[PerCPUPagesInfo(cpu: 0, count: 3, high: 5, batch: 1)]])
        #expect(got.holes == want.holes)
    }

    @Test func buffersTooSmallForThePageArraysAreAnError() throws {
        let proc = try Self.fakeProc(TinySnapshot())
        let small = try CaptureBuffers(pfns: 8)
        #expect(throws: SnapshotError.self) { try SnapshotCapture.capture(into: small, procRoot: proc) }
        #expect(throws: SnapshotError.self) { try CaptureBuffers(pfns: 0) }
        // A capture is held in memory: nothing is written before `write`.
        let fits = try CaptureBuffers(pfns: try SnapshotCapture.machinePFNs(procRoot: proc))
        var snap = try SnapshotCapture.capture(into: fits, procRoot: proc)
        #expect(snap.pfns == 24)
        let out = scratchDir() + "/later"
        #expect(!SnapshotIO.exists(out))
        try snap.write(to: out)
        #expect(SnapshotIO.exists(out + "/kpageflags.bin.gz") && SnapshotIO.exists(out + "/zoneinfo.txt"))
    }
}
