// Capturing this machine's physical memory map (root only): /proc/kpageflags and
// /proc/kpagecount gzip'd, copies of the /proc text files, and snapshot.json with the
// kernel release, the time and how long each read took. Read-only on the machine.

import CMMSupport
import CMMZlib
#if canImport(Glibc)
import Glibc
#endif

public enum SnapshotCapture {
    /// The /proc sources and the names they are stored under.
    public static let sources: [(proc: String, file: String)] = [
        ("kpageflags", "kpageflags.bin.gz"), ("kpagecount", "kpagecount.bin.gz"),
        ("zoneinfo", "zoneinfo.txt"), ("pagetypeinfo", "pagetypeinfo.txt"), ("buddyinfo", "buddyinfo.txt"),
        ("vmstat", "vmstat.txt"), ("meminfo", "meminfo.txt"), ("iomem", "iomem.txt"),
    ]

    /// What a capture needs that this process lacks (not root, a /proc file unreadable),
    /// one line each; empty when a capture can run.
    public static func missing(procRoot: String = "/proc") -> [String] {
        var out: [String] = []
        if geteuid() != 0 { out.append("root privileges (kpageflags, kpagecount and iomem's addresses are root-only)") }
        for (p, _) in sources where access("\(procRoot)/\(p)", R_OK) != 0 {
            out.append("\(procRoot)/\(p) is not readable: \(SnapshotIO.errnoText())")
        }
        return out
    }

    /// Writes a snapshot of this machine into `directory` (created if needed).
    @discardableResult
    public static func capture(to directory: String, procRoot: String = "/proc") throws -> SnapshotMeta {
        let buffers = try CaptureBuffers(pfns: try machinePFNs(procRoot: procRoot))
        var snap = try capture(into: buffers, procRoot: procRoot)
        try snap.write(to: directory)
        return snap.meta
    }

    /// Captures into `buffers` without allocating memory for the page arrays: text files
    /// first (they are small), then kpagecount and kpageflags back to back, then zoneinfo.
    /// Nothing is compressed or written yet (`CapturedSnapshot.write`). Why so:
    /// - A capture that allocated as it read would take its ~150 MB from the order-0 free
    ///   lists — the very holes a fragmented machine's compaction would use as targets —
    ///   and hand them to the per-CPU lists on free; `mmlab kernel compact` therefore makes
    ///   its buffers before it fragments, and writes files only after the compaction.
    /// - kpageflags last among the arrays, and gzip later: the pages' flags are read as
    ///   close as possible to what happens next (a compaction), while the per-CPU lists
    ///   keep shrinking (`CapturedSnapshot.flagsReadMidpointNs`).
    /// - zoneinfo last: its per-CPU list counts ("pagesets") change with every free.
    public static func capture(into buffers: CaptureBuffers, procRoot: String = "/proc") throws -> CapturedSnapshot {
        var seconds: [String: Double] = [:]
        var texts: [(file: String, bytes: [UInt8])] = []
        func copyText(_ p: String, _ file: String) throws {
            let t0 = mm_now_ns()
            var bytes = try SnapshotIO.readFile("\(procRoot)/\(p)", limit: SnapshotLimits.textBytes)
            seconds[file] = Double(mm_now_ns() - t0) / 1e9
            if p == "iomem" { bytes = systemRAMLines(bytes) }
            texts.append((file, bytes))
        }
        for (p, file) in sources where file.hasSuffix(".txt") && p != "zoneinfo" { try copyText(p, file) }
        var used = [0, 0]
        var midpoint: UInt64 = 0
        for i in [1, 0] {   // kpagecount, then kpageflags
            let p = CaptureBuffers.arrays[i]
            let t0 = mm_now_ns()
            used[i] = try buffers.readRaw("\(procRoot)/\(p)", into: i)
            let t1 = mm_now_ns()
            seconds["\(p).bin"] = Double(t1 - t0) / 1e9
            if i == 0 { midpoint = t0 + (t1 - t0) / 2 }
        }
        try copyText("zoneinfo", "zoneinfo.txt")
        let meta = SnapshotMeta(kernelRelease: kernelRelease(), timeUTC: utcNow(), readSeconds: seconds)
        return CapturedSnapshot(meta: meta, pfns: used[0] / 8, flagsReadMidpointNs: midpoint, texts: texts, buffers: buffers, rawLengths: used)
    }

    /// One past the highest PFN of any zone in /proc/zoneinfo, rounded up to a memory
    /// block (4096 PFNs) and one more: what /proc/kpageflags is expected to cover.
    public static func machinePFNs(procRoot: String = "/proc") throws -> Int {
        let text = String(decoding: try SnapshotIO.readFile("\(procRoot)/zoneinfo", limit: SnapshotLimits.textBytes), as: UTF8.self)
        let end = try ProcParsers.zoneinfo(text, file: "\(procRoot)/zoneinfo").map(\.endPFN).max() ?? 0
        return (end + 4095) / 4096 * 4096 + 4096
    }

    /// The top-level and nested "System RAM" lines of /proc/iomem, kept as they are.
    static func systemRAMLines(_ bytes: [UInt8]) -> [UInt8] {
        let text = String(decoding: bytes, as: UTF8.self)
        let kept = text.split(separator: "\n").filter { $0.hasSuffix(": System RAM") }
        return Array((kept.joined(separator: "\n") + "\n").utf8)
    }

    /// Creates `path` (mode 0755) unless it is already a directory.
    public static func makeDirectory(_ path: String) throws {
        var st = stat()
        if stat(path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR else { throw SnapshotError(path, "exists and is not a directory") }
            return
        }
        guard mkdir(path, 0o755) == 0 else { throw SnapshotError(path, "cannot create directory: \(SnapshotIO.errnoText())") }
    }

    public static func kernelRelease() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    public static func utcNow() -> String {
        var t = time(nil)
        var tm = tm()
        gmtime_r(&t, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday))T\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec))Z"
    }
}

/// Memory for one capture made ahead of time and faulted in (MAP_POPULATE): a raw buffer
/// per page array and a gzip output buffer. Reused by every capture made with it (`mmlab
/// kernel compact` takes BEFORE and AFTER with the same buffers).
public final class CaptureBuffers {
    static let arrays = ["kpageflags", "kpagecount"]
    public let pfns: Int
    let rawBytes: Int
    let gzBytes: Int
    let raw: [UnsafeMutablePointer<UInt8>]
    let gz: UnsafeMutablePointer<UInt8>

    /// Buffers for a machine of up to `pfns` PFNs.
    public init(pfns: Int) throws {
        guard pfns > 0, pfns <= SnapshotLimits.maxPFNs else { throw SnapshotError("capture", "\(pfns) PFNs is outside 1…\(SnapshotLimits.maxPFNs)") }
        self.pfns = pfns
        rawBytes = pfns * 8
        // Real page arrays compress 10–20×; a quarter is plenty (a larger output is an error).
        gzBytes = rawBytes / 4 + (1 << 20)
        var maps: [UnsafeMutablePointer<UInt8>] = []
        let sizes = [rawBytes, rawBytes, gzBytes]
        for bytes in sizes {
            guard let p = mm_map_anon(bytes, 1) else {
                for (m, b) in zip(maps, sizes) { mm_unmap(m, b) }
                throw SnapshotError("capture", "cannot map \(bytes >> 20) MiB of buffers")
            }
            maps.append(p.assumingMemoryBound(to: UInt8.self))
        }
        raw = [maps[0], maps[1]]
        gz = maps[2]
    }

    deinit {
        for r in raw { mm_unmap(r, rawBytes) }
        mm_unmap(gz, gzBytes)
    }

    /// Reads the whole of `path` into raw buffer `i`; returns the bytes read.
    func readRaw(_ path: String, into i: Int) throws -> Int {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SnapshotError(path, "cannot open: \(SnapshotIO.errnoText())") }
        defer { close(fd) }
        let buf = raw[i]
        var used = 0
        while used < rawBytes {   // bounded: each read adds bytes or ends the loop
            let n = read(fd, buf + used, rawBytes - used)
            if n < 0 {
                if errno == EINTR { continue }
                throw SnapshotError(path, "read failed: \(SnapshotIO.errnoText())")
            }
            if n == 0 { return used }
            used += n
        }
        var probe: UInt8 = 0
        if read(fd, &probe, 1) == 0 { return used }
        throw SnapshotError(path, "covers more than the \(pfns) PFNs the capture's buffers were made for")
    }

    /// Gzips the first `used` bytes of raw buffer `i` into the gzip buffer; returns its length.
    func gzipRaw(_ i: Int, _ used: Int) throws -> Int {
        var len = 0
        let rc = mmz_gzip_into(raw[i], used, 1, gz, gzBytes, &len)
        guard rc == Int32(MMZ_OK) else { throw SnapshotError("gzip", "compressing \(Self.arrays[i]) failed (code \(rc))") }
        return len
    }
}

/// A capture held in memory until it is written.
public struct CapturedSnapshot {
    public private(set) var meta: SnapshotMeta
    public let pfns: Int
    /// When (mm_now_ns) the kpageflags read was half done: the snapshot's moment, as far
    /// as the pages' flags go.
    public let flagsReadMidpointNs: UInt64
    let texts: [(file: String, bytes: [UInt8])]
    let buffers: CaptureBuffers
    let rawLengths: [Int]

    /// Compresses the page arrays and writes the snapshot's files into `directory`
    /// (created if needed). Valid until the next capture into the same buffers.
    public mutating func write(to directory: String) throws {
        try SnapshotCapture.makeDirectory(directory)
        for (file, bytes) in texts { try SnapshotIO.writeFile("\(directory)/\(file)", bytes) }
        for (i, p) in CaptureBuffers.arrays.enumerated() {
            let t0 = mm_now_ns()
            let len = try buffers.gzipRaw(i, rawLengths[i])
            meta.readSeconds["\(p).gzip"] = Double(mm_now_ns() - t0) / 1e9
            try SnapshotIO.writeFile("\(directory)/\(p).bin.gz", Array(UnsafeBufferPointer(start: buffers.gz, count: len)))
        }
        try SnapshotIO.writeFile("\(directory)/snapshot.json", Array(meta.json(pfns: pfns).utf8))
    }
}
