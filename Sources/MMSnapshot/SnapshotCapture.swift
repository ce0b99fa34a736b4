// Capturing this machine's physical memory map (root only): /proc/kpageflags and
// /proc/kpagecount gzip'd, copies of the /proc text files, and snapshot.json with the
// kernel release, the time and how long each read took. Read-only on the machine.

import CMMSupport
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

    /// Writes a snapshot of this machine into `directory` (created if needed). Text files
    /// are read first (they are small), the page arrays last and back to back.
    @discardableResult
    public static func capture(to directory: String, procRoot: String = "/proc") throws -> SnapshotMeta {
        try makeDirectory(directory)
        var seconds: [String: Double] = [:]
        for (p, file) in sources where file.hasSuffix(".txt") {
            let t0 = mm_now_ns()
            var bytes = try SnapshotIO.readFile("\(procRoot)/\(p)", limit: SnapshotLimits.textBytes)
            seconds[file] = Double(mm_now_ns() - t0) / 1e9
            if p == "iomem" { bytes = systemRAMLines(bytes) }
            try SnapshotIO.writeFile("\(directory)/\(file)", bytes)
        }
        var pfns = 0
        for p in ["kpageflags", "kpagecount"] {
            let t0 = mm_now_ns()
            let raw = try SnapshotIO.readFile("\(procRoot)/\(p)", limit: SnapshotLimits.maxPFNs * 8)
            if p == "kpageflags" { pfns = raw.count / 8 }
            seconds["\(p).bin"] = Double(mm_now_ns() - t0) / 1e9
            let t1 = mm_now_ns()
            let gz = try Gzip.compress(raw, level: 1)
            seconds["\(p).gzip"] = Double(mm_now_ns() - t1) / 1e9
            try SnapshotIO.writeFile("\(directory)/\(p).bin.gz", gz)
        }
        let meta = SnapshotMeta(kernelRelease: kernelRelease(), timeUTC: utcNow(), readSeconds: seconds)
        try SnapshotIO.writeFile("\(directory)/snapshot.json", Array(meta.json(pfns: pfns).utf8))
        return meta
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
