// `mmlab snapshot --read` and `mmlab kernel compact`'s argument checks through the built
// executable: exit 0 on the committed snapshot, exit 2 naming the file (and line) on a
// missing or malformed one, exit 2 on bad flags. None needs root.

import Testing
@testable import MMSnapshot
#if canImport(Glibc)
import Glibc
#endif

private struct Run {
    var status: Int32   // exit code, or 128 + signal
    var stdout: String
    var stderr: String
}

private enum MMLabBinary {
    static let repoRoot: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)   // Tests/MMSnapshotTests/SnapshotCLITests.swift
        return parts.joined(separator: "/")
    }()

    /// The mmlab next to the running test bundle, else .build/debug/mmlab.
    static let path: String? = {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        var candidates: [String] = []
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 {
            buf[n] = 0
            var dir = String(cString: buf)
            for _ in 0..<6 {   // walk up out of a .xctest bundle to the products folder
                guard let slash = dir.lastIndex(of: "/") else { break }
                dir = String(dir[..<slash])
                candidates.append(dir + "/mmlab")
            }
        }
        candidates.append(repoRoot + "/.build/debug/mmlab")
        return candidates.first { access($0, X_OK) == 0 }
    }()

    /// Runs mmlab with output to files; killed after `timeout` seconds (bounded wait).
    /// `asUser` runs it through setpriv as uid/gid 65534 (when we are root).
    static func run(_ args: [String], timeout: Double = 120, asUser: Bool = false) throws -> Run {
        let mmlab = try #require(path, "mmlab executable not found: build it with `swift build`")
        let bin = asUser ? "/usr/bin/setpriv" : mmlab
        let args = asUser ? ["--reuid=65534", "--regid=65534", "--clear-groups", mmlab] + args : args
        let dir = scratchDir()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, dir + "/out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, dir + "/err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv: [UnsafeMutablePointer<CChar>?] = ([bin] + args).map { strdup($0) } + [nil]
        // Output files must be writable by the unprivileged child too.
        _ = chmod(dir, 0o777)
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        try #require(posix_spawn(&pid, bin, &actions, nil, argv, environ) == 0)
        var status: Int32 = 0
        var waited = 0.0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if waited > timeout { kill(pid, SIGKILL); _ = waitpid(pid, &status, 0); break }
            usleep(20_000)
            waited += 0.02
        }
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        func text(_ f: String) -> String { String(decoding: (try? SnapshotIO.readFile(dir + "/" + f, limit: 1 << 24)) ?? [], as: UTF8.self) }
        return Run(status: code, stdout: text("out"), stderr: text("err"))
    }
}

@Suite struct SnapshotCLITests {
    @Test func readsTheCommittedSnapshot() throws {
        let r = try MMLabBinary.run(["snapshot", "--read", fixturesDir + "/kernel-compact-2g/before"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("zone 0/Normal: PFN 0x100000–0x640000"))
        #expect(r.stdout.contains("initialised to 0x588000"))
        let j = try MMLabBinary.run(["snapshot", "--read", "--json", fixturesDir + "/kernel-compact-2g/before"])
        #expect(j.status == 0)
        #expect(j.stdout.hasPrefix("{\"kernel_release\":\"6.18.44-fc-v1045\""))
        #expect(j.stdout.contains("\"initialised_end_pfn\":5799936"))
    }

    @Test func missingAndMalformedSnapshotsExit2NamingTheFile() throws {
        let empty = scratchDir()
        let r = try MMLabBinary.run(["snapshot", "--read", empty])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(empty)/kpageflags.bin.gz: missing"), "\(r.stderr)")
        var t = TinySnapshot()
        t.zoneinfo = t.zoneinfo.replacing("managed  16", with: "managed  sixteen")
        let bad = try t.write()
        let m = try MMLabBinary.run(["snapshot", "--read", bad])
        #expect(m.status == 2)
        #expect(m.stderr.contains("\(bad)/zoneinfo.txt:8: managed: 'sixteen' is not a non-negative integer"), "\(m.stderr)")
    }

    @Test func kernelCompactRejectsBadFlagsWithExit2() throws {
        for args in [["--mem", "1K"], ["--mem", "lots"], ["--settle", "forever"], ["--settle", "700s"]] {
            let r = try MMLabBinary.run(["kernel", "compact"] + args)
            #expect(r.status == 2, "\(args): \(r.stderr)")
        }
    }

    @Test func withoutRootBothCommandsExit2NamingWhatIsMissing() throws {
        let root = geteuid() == 0
        if root && access("/usr/bin/setpriv", X_OK) != 0 { return }   // no way to drop privileges here
        let target = scratchDir() + "/snap"
        let r = try MMLabBinary.run(["snapshot", target], asUser: root)
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("snapshot needs root privileges"), "\(r.stderr)")
        #expect(!SnapshotIO.exists(target))
        let k = try MMLabBinary.run(["kernel", "compact", "--mem", "64M"], asUser: root)
        #expect(k.status == 2)
        #expect(k.stderr.contains("kernel compact needs root privileges"), "\(k.stderr)")
    }
}
