// Tests of the `mmlab` command line (README.md and docs/SCENARIOS.md): the built executable is spawned
// (posix_spawn, stdout/stderr through pipes, bounded by a timeout) and its exit codes and
// output are checked. Exit codes: 0 success, 1 a check or violation failed, 2 bad input;
// anything else (a signal, a code above 128) is a crash.
//
// The executable is the one built next to this test bundle: `swift test` builds every
// product of the package (executables included) before running tests.

import Foundation
import Glibc
import Testing

// MARK: Spawning mmlab

struct ProcessResult: CustomStringConvertible {
    var exitCode: Int32?      // nil when killed by a signal
    var signal: Int32?
    var stdout: String
    var stderr: String
    var timedOut: Bool

    var crashed: Bool { signal != nil || (exitCode ?? 0) > 128 || timedOut }
    /// The exit code (nil when killed by a signal).
    var code: Int32? { exitCode }
    var stdoutLines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    var description: String {
        "exit \(exitCode.map(String.init) ?? "-") signal \(signal.map(String.init) ?? "-")\(timedOut ? " TIMED OUT" : "")\n"
            + "--- stdout:\n\(stdout.prefix(3000))\n--- stderr:\n\(stderr.prefix(3000))"
    }
}

enum CLI {
    static let repoRoot: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)   // Tests/MMScenarioTests/CLITests.swift
        return parts.joined(separator: "/")
    }()

    static func example(_ name: String) -> String { repoRoot + "/examples/\(name).mm" }

    private static func isExecutable(_ path: String) -> Bool {
        var st = stat()
        return access(path, X_OK) == 0 && stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    /// The directory of the running test executable.
    static let bundleDirectory: String? = {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        buf[n] = 0
        return directory(of: String(cString: buf))
    }()

    /// The `mmlab` built alongside the running test bundle (same build folder and
    /// configuration), else `<repo>/.build/debug/mmlab`.
    static let binary: String? = {
        var dirs: [String] = []
        if let d = bundleDirectory { dirs.append(d) }
        if let arg0 = CommandLine.arguments.first, arg0.contains("/") { dirs.append(directory(of: arg0)) }
        var candidates: [String] = []
        for d in dirs {
            // The bundle may be a directory (…/mmlabPackageTests.xctest/…): walk up to the
            // folder that holds the products.
            var dir = d
            for _ in 0..<6 {
                candidates.append(dir + "/mmlab")
                if dir.hasSuffix("/debug") || dir.hasSuffix("/release") || !dir.contains("/") { break }
                dir = directory(of: dir)
            }
        }
        candidates.append(repoRoot + "/.build/debug/mmlab")
        return candidates.first(where: isExecutable)
    }()

    static var missingMessage: Comment {
        let bundle = CommandLine.arguments.first ?? "?"
        return "the mmlab executable was not found next to the test bundle (\(bundle)) nor at \(repoRoot)/.build/debug/mmlab — build it with `swift build` first"
    }

    /// Runs mmlab with `args`, stdin from /dev/null; kills it after `timeout` seconds.
    static func run(_ args: [String], timeout: Double = 60) throws -> ProcessResult {
        let path = try #require(binary, missingMessage)
        return try spawn([path] + args, timeout: timeout)
    }

    /// Runs `argv` (argv[0] a path), stdin from /dev/null, killed after `timeout` seconds;
    /// each of stdout and stderr is kept up to 64 MiB (a flood is not what is tested).
    static func spawn(_ argv: [String], timeout: Double) throws -> ProcessResult {
        let path = argv[0], args = Array(argv.dropFirst())
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        // Close-on-exec: no other process spawned meanwhile keeps our write ends open
        // (the dup2s below give the child its own, inheritable copies).
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO)
        }

        var out: [UInt8] = [], err: [UInt8] = []
        var open = [outPipe[0], errPipe[0]]
        var timedOut = false
        let deadline = Date().addingTimeInterval(timeout)
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            if !timedOut && Date() >= deadline {
                timedOut = true
                kill(pid, SIGKILL)
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), 100)
            if ready < 0 && errno != EINTR { break }
            if ready <= 0 { continue }
            for f in fds where f.revents != 0 {
                let n = read(f.fd, &chunk, chunk.count)
                if n > 0 {
                    if f.fd == outPipe[0] { if out.count < 64 << 20 { out += chunk[0..<n] } } else if err.count < 64 << 20 { err += chunk[0..<n] }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(f.fd)
                    open.removeAll { $0 == f.fd }
                }
            }
        }
        for fd in open { close(fd) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let termSignal = status & 0x7f
        return ProcessResult(exitCode: termSignal == 0 ? (status >> 8) & 0xff : nil,
                             signal: termSignal == 0 ? nil : termSignal,
                             stdout: String(decoding: out, as: UTF8.self),
                             stderr: String(decoding: err, as: UTF8.self),
                             timedOut: timedOut)
    }
}

/// A temporary directory (mkdtemp) for scenario files; removed by `remove()`.
private struct TempDir {
    let path: String
    init() throws {
        var template = Array((NSTemporaryDirectory() + "/mmlab-cli-XXXXXX").utf8CString)
        guard let p = mkdtemp(&template) else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        path = String(cString: p)
    }
    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        return file
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

private func parseJSON(_ line: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String: Any]? {
    guard let data = line.data(using: .utf8),
          let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        Issue.record("not one JSON object: \(line.prefix(500))", sourceLocation: sourceLocation)
        return nil
    }
    return obj
}

/// Expects exit 2 (bad input) with a message on stderr, nothing executed, no crash.
private func expectBadInput(_ r: ProcessResult, _ fragments: [String], _ what: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!r.crashed, "\(what) crashed: \(r)", sourceLocation: sourceLocation)
    #expect(r.exitCode == 2, "\(what): \(r)", sourceLocation: sourceLocation)
    #expect(!r.stderr.isEmpty, "\(what): no message on stderr", sourceLocation: sourceLocation)
    for f in fragments {
        #expect(r.stderr.contains(f), "\(what): stderr lacks \(f.debugDescription): \(r.stderr)", sourceLocation: sourceLocation)
    }
    #expect(r.stdout.isEmpty, "\(what): printed on stdout: \(r.stdout.prefix(500))", sourceLocation: sourceLocation)
}

/// Is there a stderr line `FILE:LINE: …` (optionally after the program's `mmlab: ` prefix)?
private func hasLocatedError(_ stderr: String, file: String, line: Int) -> Bool {
    stderr.split(separator: "\n").contains { l in
        l.hasPrefix("\(file):\(line): ") || l.hasPrefix("mmlab: \(file):\(line): ")
    }
}

/// The seed-race exploration every determinism test starts from.
private let seedRaceArgs = ["explore", CLI.example("seed-race"), "--strategy", "pct", "--depth", "2", "--schedules", "2000"]

@Suite(.serialized) struct CLITests {

    @Test func binaryIsBuiltNextToTheTests() throws {
        let path = try #require(CLI.binary, CLI.missingMessage)
        // `swift test` builds the executable into the folder of the test bundle: testing
        // that one, never a stale build from elsewhere.
        #expect(CLI.bundleDirectory.map { path.hasPrefix($0 + "/") } == true,
                "using \(path), test bundle in \(CLI.bundleDirectory ?? "?")")
        let r = try CLI.run(["--help"])
        #expect(r.exitCode == 0, "\(path): \(r)")
        for sub in ["demo", "run", "stress", "explore", "replay", "bench"] {
            #expect(r.stdout.contains(sub), "--help lacks \(sub)")
        }
    }

    @Test func exploreHelpNamesTheStrategies() throws {
        let r = try CLI.run(["explore", "--help"])
        #expect(r.exitCode == 0, "\(r)")
        let flat = r.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        #expect(flat.contains("random, pct or dfs (default: pct). (values: random, pct, dfs)"), "\(r)")
    }

    // MARK: run

    @Test func runNumaCallsPrintsResultsAndVerdict() throws {
        let r = try CLI.run(["run", CLI.example("numa-calls")])
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stderr.isEmpty, "\(r)")
        #expect(r.stdout.contains("verdict: OK"), "\(r)")
        #expect(r.stdoutLines.contains("line 18: move_pages → 0 status [1, -2, -14]"), "\(r)")
        #expect(r.stdoutLines.contains("line 21: move_pages → 2 status [null, null, null]"), "\(r)")
        #expect(r.stdoutLines.contains("line 31: move_pages → -1 EPERM"), "\(r)")
        #expect(r.stdoutLines.contains("line 40: verify ok"), "\(r)")
        #expect(r.stdout.contains("buddyinfo (free blocks per order 0…10):"))
        #expect(r.stdout.contains("  Node 0, zone   Normal "))
        #expect(r.stdout.contains("pgmigrate_success"))
    }

    @Test func runJSONPrintsOneObjectPerLineAndASummaryLast() throws {
        let r = try CLI.run(["run", "--json", CLI.example("numa-calls")])
        #expect(r.exitCode == 0, "\(r)")
        let lines = r.stdoutLines
        #expect(lines.count == 24, "23 statements + the summary: \(r)")
        let objects = lines.compactMap { parseJSON($0) }
        #expect(objects.count == lines.count)
        #expect(lines.first == #"{"line":10,"op":"process","ret":0,"errno":null}"#)
        #expect(lines.contains(#"{"line":21,"op":"move_pages","ret":2,"errno":null,"status":[null,null,null]}"#))
        #expect(lines.contains(#"{"line":24,"op":"move_pages","ret":-1,"errno":"ENODEV","status":[1,null]}"#))
        #expect(lines.contains(#"{"line":31,"op":"move_pages","ret":-1,"errno":"EPERM"}"#))
        #expect(lines.dropLast().last == #"{"line":40,"op":"verify","ok":true,"violations":[]}"#)
        for o in objects.dropLast() {
            #expect(o["line"] is Int && o["op"] is String, "\(o)")
        }
        let last = try #require(lines.last)
        #expect(last.hasPrefix(#"{"vmstat":{"#), "\(last)")
        let summary = try #require(objects.last)
        #expect(Set(summary.keys) == ["vmstat", "buddyinfo", "oom_kills", "verify"])
        let vmstat = try #require(summary["vmstat"] as? [String: Int])
        #expect(vmstat["pgmigrate_success"] == 8, "1 + 1 + 1 + 1 + 1 + 3 pages, lines 14–34")
        let buddy = try #require(summary["buddyinfo"] as? [[String: Any]])
        #expect(buddy.map { $0["node"] as? Int } == [0, 1])
        #expect(buddy.allSatisfy { ($0["free"] as? [Int])?.count == 11 && $0["zone"] as? String == "Normal" })
        let verify = try #require(summary["verify"] as? [String: Any])
        #expect(verify["ok"] as? Bool == true)
    }

    @Test func runThreadBlocksAndPinPolicyFlag() throws {
        let r = try CLI.run(["run", CLI.example("seed-race"), "--pin-policy", "refcount", "--json"])
        #expect(r.exitCode == 0, "\(r)")
        let lines = r.stdoutLines
        // Real threads: the migration may come after the exit (then its target is gone).
        #expect(lines.contains(#"{"line":19,"op":"migrate_kernel","thread":"T1","ret":0,"errno":null}"#)
                || lines.contains(#"{"line":19,"op":"migrate_kernel","thread":"T1","ret":-1,"errno":"ESRCH"}"#), "\(r)")
        #expect(lines.contains(#"{"line":22,"op":"exit","thread":"T2","ret":0,"errno":null}"#), "\(r)")
        #expect(lines.suffix(2).first == #"{"line":24,"op":"verify","ok":true,"violations":[]}"#, "\(r)")
        #expect(lines.last?.hasSuffix(#""verify":{"ok":true,"violations":[]}}"#) == true, "\(r)")
    }

    // MARK: Bad scenario files

    @Test func malformedScenariosExit2WithFileAndLine() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let head = "machine nodes=2 node_mem=8M block=4M\nprocess A\n"
        let cases: [(name: String, text: String, line: Int, fragment: String)] = [
            ("unknown.mm", head + "frobnicate A\n", 3, "unknown statement 'frobnicate'"),
            ("badnumber.mm", head + "mmap A 0x1000zz 4K\n", 3, "bad number '0x1000zz'"),
            ("nomachine.mm", "# no machine\nprocess A\n", 2, "the first statement must be 'machine"),
            ("empty.mm", "", 1, "missing 'machine' statement"),
            ("unclosed.mm", head + "mmap A 0x10000000 4K\nthread T1 {\n  exit A\n", 4, "unclosed '{'"),
            ("badblock.mm", head + "thread T1 {\n  offline node=0 block=9\n}\n", 4, "block=9 out of range"),
        ]
        for c in cases {
            let file = try dir.write(c.name, c.text)
            for args in [["run", file], ["run", "--json", file]] {
                let r = try CLI.run(args)
                expectBadInput(r, [c.fragment], "\(args)")
                #expect(hasLocatedError(r.stderr, file: file, line: c.line), "\(c.name): want \(file):\(c.line): in \(r.stderr)")
            }
        }
        // explore and replay load the file the same way.
        let badBlock = dir.path + "/badblock.mm"
        let e = try CLI.run(["explore", badBlock])
        expectBadInput(e, ["block=9 out of range"], "explore badblock.mm")
        #expect(hasLocatedError(e.stderr, file: badBlock, line: 4), "\(e)")
        let rp = try CLI.run(["replay", dir.path + "/unknown.mm", "--schedule", "AQEBBQIAoI0GFMEBYs6bE-I"])
        expectBadInput(rp, ["unknown statement"], "replay unknown.mm")
        #expect(hasLocatedError(rp.stderr, file: dir.path + "/unknown.mm", line: 3), "\(rp)")
    }

    @Test func missingFileExits2() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let missing = dir.path + "/no-such.mm"
        for args in [["run", missing], ["explore", missing], ["replay", missing, "--schedule", "AQEBBQIAoI0GFMEBYs6bE-I"]] {
            let r = try CLI.run(args)
            expectBadInput(r, ["\(missing): cannot read"], "\(args[0]) of a missing file")
        }
        let r = try CLI.run(["run", dir.path])
        expectBadInput(r, ["cannot read"], "run of a directory")
    }

    // MARK: Bad flags

    @Test func badFlagsExit2WithoutCrashing() throws {
        let seedRace = CLI.example("seed-race")
        let cases: [(args: [String], fragments: [String])] = [
            (["run"], ["<file>"]),
            (["stress", "--procs", "x"], ["--procs"]),
            (["stress", "--procs", "0"], ["--procs"]),
            (["stress", "--mem", "3M"], ["--mem", "at least 4M"]),
            (["stress", "--mem", "42M", "--nodes", "2"], ["--mem", "node_mem=21M", "multiple of 4M"]),
            (["stress", "--mem", "lots"], ["--mem", "'lots'"]),
            (["stress", "--nodes", "0"], ["--nodes"]),
            (["demo", "--seconds", "0"], ["--seconds"]),
            (["explore", seedRace, "--strategy", "nope"], ["--strategy", "'nope'", "'random', 'pct' or 'dfs'"]),
            (["explore", seedRace, "--depth", "0"], ["depth"]),
            (["explore", seedRace, "--schedules", "0"], ["--schedules"]),
            (["explore", seedRace, "--strategy", "dfs", "--preemptions", "5000"], ["preemption"]),
            (["explore", seedRace, "--pin-policy", "sometimes"], ["--pin-policy", "refcount"]),
            (["replay", seedRace, "--schedule", "garbage"], ["--schedule", "invalid schedule token"]),
            (["replay", seedRace, "--schedule", ""], ["--schedule"]),
            (["replay", seedRace, "--schedule", "AQEBBQIAoI0GFMEBYs6bF-I"], ["--schedule", "checksum"]),   // one character off
            (["replay", seedRace], ["--schedule"]),
            (["bench", "--only", "nothing"], ["--only"]),
            (["no-such-command"], ["no-such-command"]),
            (["compact", "--snapshot", "/nonexistent", "--pcp-cpu", "abc"], ["--pcp-cpu", "'abc'"]),
            (["compact", "--snapshot", "/nonexistent", "--pcp-decay", "nan"], ["--pcp-decay", "nan"]),
            (["compact", "--snapshot", "/nonexistent", "--pcp-cpu", "off", "--pcp-decay", "2"], ["--pcp-decay", "--pcp-cpu"]),
            (["snapshot", "/nonexistent", "--read", "--cells-out", "/tmp/x"], ["--cells-out", "--replay"]),
            (["compact", "--snapshot", "/nonexistent", "--trace-out", "/nonexistent/dir/trace.txt"], ["--trace-out", "cannot write"]),
            (["kernel", "compact", "--pcp-lists", "huge"], ["--pcp-lists", "'huge'", "'small' and 'tuned'"]),
        ]
        for c in cases {
            let r = try CLI.run(c.args)
            expectBadInput(r, c.fragments, "mmlab \(c.args.joined(separator: " "))")
        }
    }

    // MARK: explore and replay

    @Test func explorePCTFindsTheSeedRaceAndReplaysItInANewProcess() throws {
        let file = CLI.example("seed-race")
        let r = try CLI.run(seedRaceArgs)
        #expect(!r.crashed, "\(r)")
        #expect(r.exitCode == 1, "\(r)")
        let lines = r.stdoutLines
        let replayLine = try #require(lines.first { $0.hasPrefix("replay: ") }, "\(r)")
        let prefix = "replay: mmlab replay \(file) --schedule "
        #expect(replayLine.hasPrefix(prefix), "\(replayLine)")
        let token = String(replayLine.dropFirst(prefix.count))
        #expect(!token.isEmpty && token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }, "token \(token)")
        let violation = try #require(lines.first { $0.hasPrefix("  use-after-free: ") }, "\(r)")
            .trimmingCharacters(in: .whitespaces)
        #expect(violation.contains("anon_vma"), "\(violation)")
        #expect(lines.first?.hasPrefix("explored ") == true)
        #expect(lines.contains { $0.hasPrefix("first failing schedule: #") })
        // The trace printed by explore: between its header and the replay line.
        let start = try #require(lines.firstIndex(of: "interleaving (step, thread, what it did):"))
        let end = try #require(lines.firstIndex(of: replayLine))
        let trace = Array(lines[(start + 1)..<end]).filter { !$0.hasPrefix("note: ") }
        #expect(trace.contains { $0.contains("VIOLATION use-after-free") })

        // A new process, from nothing but the printed command: the same interleaving and
        // the same violation.
        let again = try CLI.run(["replay", file, "--schedule", token])
        #expect(!again.crashed, "\(again)")
        #expect(again.exitCode == 1, "\(again)")
        #expect(again.stdoutLines.contains(violation), "replay lacks \(violation): \(again)")
        #expect(Array(again.stdoutLines.prefix(trace.count)) == trace, "replayed trace differs")
        #expect(!again.stdout.contains("diverged"))

        let json = try CLI.run(["replay", file, "--schedule", token, "--json"])
        #expect(json.exitCode == 1, "\(json)")
        #expect(json.stdoutLines.count == 1)
        let obj = try #require(parseJSON(json.stdout))
        #expect(obj["token"] as? String == token)
        #expect(obj["error"] is NSNull)
        let vs = try #require(obj["violations"] as? [[String: String]])
        #expect(vs.map { $0["kind"] } == ["use-after-free"], "\(vs)")
        #expect(vs.first.map { "\($0["kind"]!): \($0["message"]!)" } == violation)
    }

    @Test func replayOfATokenFromAnotherScenarioDivergesWithExit2() throws {
        let r = try CLI.run(seedRaceArgs)
        let line = try #require(r.stdoutLines.first { $0.hasPrefix("replay: ") }, "\(r)")
        let token = try #require(line.split(separator: " ").last.map(String.init))
        // Same token, a scenario with three threads: the recorded choices run out.
        let other = try CLI.run(["replay", CLI.example("two-migrators"), "--schedule", token])
        #expect(!other.crashed, "\(other)")
        #expect(other.exitCode == 2, "\(other)")
        // Why it diverged goes to stderr, once; stdout claims no "no violation".
        #expect(other.stderr.split(separator: "\n").filter { $0.hasPrefix("mmlab: replay diverged: ") }.count == 1, "\(other)")
        #expect(!other.stderr.contains("diverged: replay diverged"), "\(other)")
        #expect(!other.stdout.contains("no violation"), "\(other)")
        let json = try CLI.run(["replay", CLI.example("two-migrators"), "--schedule", token, "--json"])
        #expect(json.exitCode == 2, "\(json)")
        let obj = try #require(parseJSON(json.stdout.trimmingCharacters(in: .newlines)))
        #expect((obj["error"] as? String)?.hasPrefix("replay diverged: ") == true, "\(obj["error"] ?? "nil")")
    }

    @Test func exploreDFSWithRefcountCoversTheSpace() throws {
        let r = try CLI.run(["explore", CLI.example("seed-race"), "--pin-policy", "refcount", "--strategy", "dfs"])
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.contains("search space exhausted"), "\(r)")
        #expect(r.stdout.contains("every schedule within 2 preemptions covered"), "\(r)")
        #expect(r.stdoutLines.last == "no violation found", "\(r)")
        #expect(!r.stdout.contains("replay:"))
    }

    @Test func exploreJSONIsOneObject() throws {
        let r = try CLI.run(seedRaceArgs + ["--json"])
        #expect(r.exitCode == 1, "\(r)")
        #expect(r.stdoutLines.count == 1, "\(r)")
        let obj = try #require(parseJSON(r.stdout.trimmingCharacters(in: .newlines)))
        for key in ["schedules", "violations", "first"] { #expect(obj[key] != nil, "no \(key)") }
        let schedules = try #require(obj["schedules"] as? Int)
        #expect(schedules >= 1 && schedules <= 2000)
        let violations = try #require(obj["violations"] as? [[String: Any]])
        #expect(violations.map { $0["kind"] as? String } == ["use-after-free"])
        let first = try #require(obj["first"] as? [String: Any])
        let token = try #require(first["token"] as? String)
        #expect(first["replay"] as? String == "mmlab replay \(CLI.example("seed-race")) --schedule \(token)")
        #expect(first["schedule"] as? Int == schedules, "pct stops at the first failing schedule")
        #expect((first["trace"] as? [Any])?.isEmpty == false)

        let clean = try CLI.run(["explore", CLI.example("seed-race"), "--pin-policy", "refcount", "--strategy", "dfs", "--json"])
        #expect(clean.exitCode == 0, "\(clean)")
        let c = try #require(parseJSON(clean.stdout.trimmingCharacters(in: .newlines)))
        #expect(c["first"] is NSNull)
        #expect((c["violations"] as? [Any])?.isEmpty == true)
        #expect(c["complete"] as? Bool == true)
        #expect((c["schedules"] as? Int ?? 0) > 1)
    }

    @Test func replayCarriesModelFlags() throws {
        // A token explored under a forced policy replays only with the same flag, which the
        // printed command includes.
        let r = try CLI.run(["explore", CLI.example("seed-race-fork"), "--pin-policy", "none", "--strategy", "dfs", "--schedules", "20000"])
        #expect(r.exitCode == 1, "\(r)")
        let line = try #require(r.stdoutLines.first { $0.hasPrefix("replay: ") }, "\(r)")
        #expect(line.hasSuffix(" --pin-policy none"), "\(line)")
        let parts = line.split(separator: " ").map(String.init)
        let token = try #require(parts.firstIndex(of: "--schedule").map { parts[$0 + 1] })
        let again = try CLI.run(["replay", CLI.example("seed-race-fork"), "--schedule", token, "--pin-policy", "none"])
        #expect(again.exitCode == 1, "\(again)")
        #expect(again.stdout.contains("use-after-free"), "\(again)")
    }

    // MARK: demo

    @Test func demoRunsAndPrintsAVerdict() throws {
        let r = try CLI.run(["demo", "--seconds", "1"], timeout: 60)
        #expect(!r.crashed, "\(r)")
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout.hasPrefix("mmlab demo\n"), "\(r)")
        #expect(r.stdoutLines.contains { $0.hasPrefix("ran ") && $0.contains(" operations (") }, "\(r)")
        #expect(r.stdoutLines.last == "verdict: OK — all invariants hold", "\(r)")
    }
}

extension CLITests {
    /// `mmlab run` of every example and every scenario fixture: exit 0, or 1 where a
    /// racy example's violation shows on real threads — never a trap, never exit 2.
    @Test func runOfEveryExampleAndFixtureNeverTraps() throws {
        for dir in ["examples", "Tests/Fixtures"] {
            let path = CLI.repoRoot + "/" + dir
            let files = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".mm") }.sorted()
            #expect(!files.isEmpty, "\(dir)")
            for f in files {
                let r = try CLI.run(["run", path + "/" + f])
                #expect(!r.crashed && (r.exitCode == 0 || r.exitCode == 1), "\(dir)/\(f): \(r)")
                if dir == "Tests/Fixtures" { #expect(r.exitCode == 0, "\(f): \(r)") }
            }
        }
    }

    /// Item: replay is exact or refuses. A token records the model flags it was explored
    /// with; a replay with other flags is bad input (exit 2), not a silent "no violation".
    @Test func replayWithOtherModelFlagsRefuses() throws {
        let r = try CLI.run(["explore", CLI.example("seed-race-fork"), "--pin-policy", "none", "--strategy", "dfs", "--schedules", "20000"])
        let line = try #require(r.stdoutLines.first { $0.hasPrefix("replay: ") }, "\(r)")
        let parts = line.split(separator: " ").map(String.init)
        let token = try #require(parts.firstIndex(of: "--schedule").map { parts[$0 + 1] })
        for flags in [[], ["--pin-policy", "refcount"], ["--pin-policy", "none", "--syscall-lock", "held"]] {
            let again = try CLI.run(["replay", CLI.example("seed-race-fork"), "--schedule", token] + flags)
            #expect(again.exitCode == 2, "\(flags): \(again)")
            #expect(again.stderr.contains("recorded with '--pin-policy none'"), "\(again)")
        }
    }
}

