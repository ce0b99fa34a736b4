// The kernel side's helpers for `mmlab kernel compact`: a private tracefs instance for
// the compaction tracepoints (created and removed by us, so the global tracing state is
// never touched; tracefs is mounted only if it was not, and unmounted again), the
// fragmenter child process, and small /proc readers.

import MMSnapshot
#if canImport(Glibc)
import Glibc
#endif

/// One `mm_compaction_begin`/`mm_compaction_end` pair of a zone.
struct CompactionTraceZone {
    var zoneStart: Int
    var zoneEnd: Int
    var beginMigratePFN: Int
    var beginFreePFN: Int
    var endMigratePFN: Int?
    var endFreePFN: Int?
    var status: String?
}

/// A tracefs instance `instances/mmlab-PID` with compaction tracepoints enabled.
final class CompactionTracer {
    let root: String
    let instance: String
    let mountedByUs: Bool
    private(set) var active = false
    /// Begin/end give each zone's range and the scanners' meet; migratepages (per batch:
    /// migrated, failed) and the two isolate events (per block scanned: range, scanned,
    /// taken) are kept in the raw trace to explain where a pass went and stopped.
    static let events = ["mm_compaction_begin", "mm_compaction_end", "mm_compaction_migratepages",
                         "mm_compaction_isolate_migratepages", "mm_compaction_isolate_freepages"]

    /// Sets up the instance; throws a message naming what is missing.
    init() throws {
        var root = "/sys/kernel/tracing"
        var mounted = false
        if access("\(root)/instances", F_OK) != 0 {
            if access("/sys/kernel/debug/tracing/instances", F_OK) == 0 {
                root = "/sys/kernel/debug/tracing"
            } else if mount("nodev", root, "tracefs", 0, nil) == 0 {
                mounted = true
            } else {
                throw SnapshotError(root, "tracefs is not mounted and cannot be: \(String(cString: strerror(errno)))")
            }
        }
        self.root = root
        self.mountedByUs = mounted
        instance = "\(root)/instances/mmlab-\(getpid())"
        guard mkdir(instance, 0o755) == 0 else {
            let e = String(cString: strerror(errno))
            if mounted { umount(root) }
            throw SnapshotError(instance, "cannot create a tracing instance: \(e)")
        }
        active = true
        TraceCleanup.arm(instance: instance, unmount: mounted ? root : nil)
        do {
            // The instance's own buffer, large enough for one migratepages line per batch.
            try writeText("\(instance)/buffer_size_kb", "16384")
            for ev in Self.events { try writeText("\(instance)/events/compaction/\(ev)/enable", "1") }
        } catch { close(); throw error }
    }

    /// Reads the instance's buffer and pairs begin/end events per zone (in order).
    func read() throws -> (text: String, zones: [CompactionTraceZone]) {
        let bytes = try readText("\(instance)/trace", limit: 64 << 20)
        var zones: [CompactionTraceZone] = []
        for line in bytes.split(separator: "\n") where !line.hasPrefix("#") {
            var kv: [Substring: Substring] = [:]
            for tok in line.split(separator: " ") {
                let parts = tok.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { kv[parts[0]] = parts[1].hasSuffix(",") ? parts[1].dropLast() : parts[1] }
            }
            func pfn(_ k: Substring) -> Int? { kv[k].flatMap { Int($0.hasPrefix("0x") ? $0.dropFirst(2) : $0, radix: 16) } }
            guard let start = pfn("zone_start"), let end = pfn("zone_end"), let mig = pfn("migrate_pfn"), let free = pfn("free_pfn") else { continue }
            if line.contains("mm_compaction_begin:") {
                zones.append(CompactionTraceZone(zoneStart: start, zoneEnd: end, beginMigratePFN: mig, beginFreePFN: free))
            } else if line.contains("mm_compaction_end:"), let i = zones.lastIndex(where: { $0.zoneStart == start && $0.endMigratePFN == nil }) {
                zones[i].endMigratePFN = mig
                zones[i].endFreePFN = free
                zones[i].status = kv["status"].map(String.init)
            }
        }
        return (bytes, zones)
    }

    /// Disables the events, removes the instance, unmounts tracefs if we mounted it.
    func close() {
        guard active else { return }
        active = false
        for ev in Self.events { try? writeText("\(instance)/events/compaction/\(ev)/enable", "0") }
        rmdir(instance)
        if mountedByUs { umount(root) }
        TraceCleanup.disarm()
    }

    deinit { close() }
}

/// Removes the tracing instance (and unmounts tracefs if we mounted it) when the run is
/// interrupted (SIGINT, SIGTERM, SIGHUP): the machine is left as it was found. The paths
/// live in C strings so the handler only makes async-signal-safe calls.
enum TraceCleanup {
    nonisolated(unsafe) static var instance: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) static var mountPoint: UnsafeMutablePointer<CChar>?

    static func arm(instance path: String, unmount: String?) {
        instance = strdup(path)
        mountPoint = unmount.map { strdup($0) }
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig) { sig in
                if let p = TraceCleanup.instance { rmdir(p) }
                if let m = TraceCleanup.mountPoint { umount(m) }
                _exit(128 + sig)
            }
        }
    }

    static func disarm() {
        for sig in [SIGINT, SIGTERM, SIGHUP] { signal(sig, SIG_DFL) }
        free(instance); instance = nil
        free(mountPoint); mountPoint = nil
    }
}

/// The fragmenter child: this binary re-executed as `_fragmenter`, pipes on stdin/stdout.
final class FragmenterProcess {
    let pid: pid_t
    let toChild: Int32
    let fromChild: Int32

    init(bytes: Int, cpu: Int?) throws {
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0 else { throw SnapshotError("pipe", String(cString: strerror(errno))) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        for fd in [inPipe[1], outPipe[0]] { posix_spawn_file_actions_addclose(&actions, fd) }
        let args = ["mmlab", "_fragmenter", "--bytes", String(bytes)] + (cpu.map { ["--cpu", String($0)] } ?? [])
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, "/proc/self/exe", &actions, nil, &argv, environ)
        Glibc.close(inPipe[0])
        Glibc.close(outPipe[1])
        guard rc == 0 else {
            Glibc.close(inPipe[1]); Glibc.close(outPipe[0])
            throw SnapshotError("/proc/self/exe", "cannot start the fragmenter: \(String(cString: strerror(rc)))")
        }
        pid = child
        toChild = inPipe[1]
        fromChild = outPipe[0]
    }

    /// One line from the child (blocking; the child always answers or exits).
    func readLine() -> String {
        var out: [UInt8] = []
        var c: UInt8 = 0
        while out.count < 4096, Glibc.read(fromChild, &c, 1) == 1, c != UInt8(ascii: "\n") { out.append(c) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Asks the child to verify its pages, waits for it; returns its report line and exit status.
    func finish() -> (String, Int32) {
        _ = "check\n".withCString { write(toChild, $0, 6) }
        let line = readLine()
        Glibc.close(toChild)
        Glibc.close(fromChild)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (line, status)
    }

    /// Ends the child without a check (error paths).
    func kill() {
        Glibc.kill(pid, SIGKILL)
        Glibc.close(toChild)
        Glibc.close(fromChild)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}

func readText(_ path: String, limit: Int = 8 << 20) throws -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SnapshotError(path, "cannot open: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while out.count <= limit {
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n >= 0 else { throw SnapshotError(path, "read failed: \(String(cString: strerror(errno)))") }
        if n == 0 { break }
        out.append(contentsOf: buf[0..<n])
    }
    guard out.count <= limit else { throw SnapshotError(path, "larger than \(limit) bytes") }
    return String(decoding: out, as: UTF8.self)
}

func writeText(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC)
    guard fd >= 0 else { throw SnapshotError(path, "cannot open for writing: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let n = text.withCString { write(fd, $0, strlen($0)) }
    guard n == text.utf8.count else { throw SnapshotError(path, "write failed: \(String(cString: strerror(errno)))") }
}

func sleepSeconds(_ s: Double) {
    guard s > 0 else { return }
    var ts = timespec(tv_sec: Int(s), tv_nsec: Int((s - Double(Int(s))) * 1e9))
    var rem = timespec()
    while nanosleep(&ts, &rem) != 0 && errno == EINTR { ts = rem }
}
