// mmlab under hostile input (issue: no input crashes mmlab, hangs it or exhausts the
// host). The built executable is spawned as CLITests.swift does, each run bounded by a
// timeout; for every input the contract is exit 0, 1 or 2, a `FILE:LINE: message` (or
// `FILE: message` for the file as a whole) with 2, and no signal.
//
// The generator is seeded (fixed, printed on failure) and bounded: a few hundred
// scenario texts through the parser in-process, a few dozen through the binary.

import Foundation
import Glibc
import MMScenario
import MMSync
import Testing

// MARK: Spawning

/// The one spawner of the test target (CLITests.swift's `CLI.spawn`), under the names
/// these tests use.
private typealias Exit = ProcessResult

private enum Spawn {
    static var binary: String? { CLI.binary }

    /// Runs `argv` (argv[0] a path), stdin /dev/null, killed after `timeout` seconds.
    static func run(_ argv: [String], timeout: Double = 20) throws -> Exit { try CLI.spawn(argv, timeout: timeout) }

    static func mmlab(_ args: [String], timeout: Double = 20) throws -> Exit { try CLI.run(args, timeout: timeout) }

    static func which(_ tool: String) -> String? {
        ["/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"].map { $0 + tool }.first { access($0, X_OK) == 0 }
    }
}

/// A world-readable temporary directory (an unprivileged child must read its files).
private struct Scratch {
    let path: String
    init() throws {
        var template = Array((NSTemporaryDirectory() + "/mmlab-robust-XXXXXX").utf8CString)
        guard let p = mkdtemp(&template) else { throw POSIXError(.EIO) }
        path = String(cString: p)
        chmod(path, 0o755)
    }
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        chmod(file, 0o644)
        return file
    }
    func write(_ name: String, _ text: String) throws -> String { try write(name, Array(text.utf8)) }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// The contract for one input: 0, 1 or 2, a located message with 2, no signal, in time.
private func expectContract(_ r: Exit, file: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!r.crashed, "\(what): \(r)", sourceLocation: sourceLocation)
    #expect(r.code.map { [0, 1, 2].contains($0) } == true, "\(what): \(r)", sourceLocation: sourceLocation)
    if r.code == 2 {
        let located = r.stderr.split(separator: "\n").contains { l in
            guard l.hasPrefix(file + ":") else { return false }
            let rest = l.dropFirst(file.count + 1)
            return rest.hasPrefix(" ") || rest.first.map(\.isNumber) == true
        }
        #expect(located, "\(what): exit 2 without '\(file):LINE: …' on stderr: \(r.stderr.prefix(600))", sourceLocation: sourceLocation)
    }
}

// MARK: The generator

/// Hostile variations of valid statements (fixed seed).
private struct Generator {
    var rng: SplitMix64
    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }

    static let valid: [String] = [
        "process B node=1 uid=7", "process C privileged oom_score_adj=-5", "mmap A 0x200000 64K", "touch A 0x100000 8K",
        "write A 0x100000 4K", "read A 0x100000 8K", "fork A K", "pin A 0x100000", "unpin A 0x100000",
        "mremap A 0x100000 4K 0x400000", "munmap A 0x100000 4K", "exit A", "unmovable node=0 pages=8",
        "move_pages A node=1 0x100000 0x101000", "query_pages A 0x100000", "migrate_pages A from=0 to=1",
        "migrate_kernel A 0x100000 node=1", "policy pin=refcount", "policy oom=enomem", "verify",
    ]
    static let hostile: [String] = [
        "", "=", "-1", "-0x10", "0x", "0x1001", "4097", "18446744073709551615", "18446744073709551616",
        "0xffffffffffffffff", "99999999999999999999999", "16T", "1024G", "0.5", "1e9", "node=", "node=-1", "nodes=0,0,0",
        "from=0,1", "to=", "flags=move|", "flags=0xffffffff", "as=A", "as=nobody", "privileged", "{", "}", "thread",
        "A", "verify", "#", "\u{0}", "\u{7F}", "\u{1B}[31m", "\u{2028}", "\u{202E}evil", "\u{FEFF}", "é",
        "oom_score_adj=-1000", "oom_score_adj=5000", String(repeating: "9", count: 300),
    ]

    /// One statement, mutated: an argument dropped, added, garbled or replaced.
    var declared = 0
    mutating func statement() -> String {
        // Declarations get fresh names, so that unmutated files stay valid.
        declared += 1
        let text = pick(Self.valid).replacingOccurrences(of: "process B", with: "process B\(declared)")
            .replacingOccurrences(of: "process C", with: "process C\(declared)")
            .replacingOccurrences(of: "fork A K", with: "fork A K\(declared)")
        var tokens = text.split(separator: " ").map(String.init)
        // Most statements stay valid: the hostile one must meet a running machine.
        if below(4) != 0 { return text }
        switch below(6) {
        case 0 where tokens.count > 1: tokens.remove(at: 1 + below(tokens.count - 1))
        case 1: tokens.insert(pick(Self.hostile), at: 1 + below(tokens.count))
        case 2 where tokens.count > 1: tokens[1 + below(tokens.count - 1)] = pick(Self.hostile)
        case 3:
            let i = below(tokens.count)
            var bytes = Array(tokens[i].utf8)
            if !bytes.isEmpty { bytes[below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next()) }
            tokens[i] = String(decoding: bytes, as: UTF8.self)
        case 4: tokens = [pick(Self.hostile)] + tokens.dropFirst()
        default: break
        }
        return tokens.joined(separator: pick([" ", "  ", "\t", " \u{0B} "]))
    }

    /// A whole file: a machine (sometimes hostile), statements, blocks opened and
    /// nested and left open at random.
    mutating func file() -> String {
        var lines: [String] = []
        let machines = ["machine nodes=2 node_mem=8M", "machine nodes=1 node_mem=4M content=stamp", "machine nodes=64 node_mem=4M",
                        "machine nodes=2 node_mem=1024G", "machine nodes=0 node_mem=4M", "machine node_mem=6M",
                        "machine nodes=2 node_mem=8M block=3M", "process A", ""]
        lines.append(below(8) == 0 ? pick(machines) : "machine nodes=2 node_mem=8M")
        lines.append("process A")
        lines.append("mmap A 0x100000 1M")
        var depth = 0
        for _ in 0..<(1 + below(10)) {
            switch below(10) {
            case 0: lines.append("thread T\(below(400)) {"); depth += 1
            case 1 where depth > 0: lines.append("}"); depth -= 1
            case 2 where below(3) == 0: lines.append(pick(["}", "thread {", "thread T {x", "thread T{", "{"]))
            default: lines.append(statement())
            }
        }
        if below(6) != 0 { lines += Array(repeating: "}", count: depth) }
        return lines.joined(separator: pick(["\n", "\r\n", "\n\n"]))
    }
}

@Suite(.serialized) struct RobustnessTests {
    static let seed: UInt64 = 0x8_2026

    @Test func generatedScenariosNeverTrapTheParser() {
        // In-process: a trap here would take the whole test run down.
        var g = Generator(seed: Self.seed)
        var errors = 0
        for i in 0..<600 {
            let text = g.file()
            do {
                _ = try ScenarioParser.parse(text: text, file: "g\(i).mm")
            } catch {
                errors += 1
                #expect(error.line >= 1 && error.description.hasPrefix("g\(i).mm:"), "seed \(Self.seed) #\(i): \(error)")
                #expect(!error.description.unicodeScalars.contains { $0 == "\u{2028}" || $0 == "\u{202E}" || $0 == "\u{1B}" || $0 == "\u{0}" },
                        "seed \(Self.seed) #\(i): unescaped control in \(error.description.debugDescription)")
            }
        }
        #expect(errors > 100 && errors < 600, "the generator should produce both valid and invalid files (\(errors) errors)")
    }

    @Test func generatedScenariosKeepTheExitContract() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        var g = Generator(seed: Self.seed ^ 1)
        var ran = 0
        let runs = Int(ProcessInfo.processInfo.environment["MMLAB_FUZZ_RUNS"] ?? "") ?? 30
        for i in 0..<runs {
            let text = g.file()
            let file = try dir.write("g\(i).mm", text)
            let r = try Spawn.mmlab(["run", file], timeout: 30)
            if r.code == 0 || r.code == 1 { ran += 1 }
            expectContract(r, file: file, "seed \(Self.seed ^ 1) run #\(i):\n\(text.prefix(400))")
            if i % 5 == 0 {
                let e = try Spawn.mmlab(["explore", file, "--schedules", "3"], timeout: 30)
                expectContract(e, file: file, "seed \(Self.seed ^ 1) explore #\(i):\n\(text.prefix(400))")
            }
        }
        #expect(ran >= runs / 10, "only \(ran) of \(runs) generated files ran at all: the generator is too hostile to test the runner")
    }

    @Test func oversizeBinaryAndEndlessInputsAreRefused() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        // Binary data: a clear located error.
        var rng = SplitMix64(seed: Self.seed)
        let binary = try dir.write("binary.mm", (0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        expectContract(try Spawn.mmlab(["run", binary]), file: binary, "binary data")
        // Over 64 MiB (sparse: no disk used): refused before reading.
        let big = dir.path + "/big.mm"
        let fd = open(big, O_CREAT | O_WRONLY, 0o644)
        #expect(fd >= 0 && ftruncate(fd, off_t(65 << 20)) == 0)
        close(fd)
        let rb = try Spawn.mmlab(["run", big])
        #expect(rb.code == 2 && rb.stderr.contains("\(big): cannot read:") && rb.stderr.contains("64 MiB"), "\(rb)")
        // Over 1 M lines (1 MiB of newlines).
        let lines = try dir.write("lines.mm", [UInt8](repeating: 0x0A, count: (1 << 20) + 1))
        let rl = try Spawn.mmlab(["run", lines])
        #expect(rl.code == 2 && rl.stderr.contains("1048576 lines"), "\(rl)")
        // A device that never ends, and a directory.
        for path in ["/dev/zero", dir.path] {
            let r = try Spawn.mmlab(["run", path], timeout: 20)
            #expect(r.code == 2 && r.stderr.hasPrefix("\(path): cannot read:"), "\(path): \(r)")
        }
    }

    @Test func threadBlocksBeyondTheLimitAreBadInput() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        var text = "machine nodes=1 node_mem=4M\nprocess A\n"
        for i in 0...ScenarioParser.maxThreadBlocks { text += "thread T\(i) {\nexit A\n}\n" }
        let file = try dir.write("many.mm", text)
        for cmd in ["run", "explore"] {
            let r = try Spawn.mmlab([cmd, file])
            #expect(r.code == 2 && r.stderr.contains("\(file):\(3 + 3 * ScenarioParser.maxThreadBlocks): too many thread blocks"), "\(cmd): \(r)")
        }
    }

    /// Under a lowered RLIMIT_NPROC (as an unprivileged uid: root ignores the limit),
    /// pthread_create fails: run exits 2 naming the limit, explore exits 1 with the
    /// execution that could not run; nothing traps.
    @Test(.enabled(if: Spawn.which("prlimit") != nil && (getuid() != 0 || Spawn.which("setpriv") != nil)))
    func threadExhaustionIsReportedNotATrap() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        var text = "machine nodes=1 node_mem=4M\nprocess A\nmmap A 0x100000 4K\n"
        for i in 0..<120 { text += "thread T\(i) {\ntouch A 0x100000 4K\n}\n" }
        text += "verify\n"
        let file = try dir.write("threads.mm", text)
        var binary = try #require(Spawn.binary)
        var prefix = [Spawn.which("prlimit")!, "--nproc=24:24"]
        if getuid() == 0 {
            prefix = [Spawn.which("setpriv")!, "--reuid=65534", "--regid=65534", "--clear-groups"] + prefix
            // The unprivileged uid must reach the binary: the build folder may lie under
            // a private directory (a fresh clone in a 0700 temporary folder), so it runs
            // a copy from the scratch folder (0755).
            let copy = dir.path + "/mmlab"
            try FileManager.default.copyItem(atPath: binary, toPath: copy)
            chmod(copy, 0o755)
            binary = copy
        }
        let run = try Spawn.run(prefix + [binary, "run", file])
        #expect(!run.crashed && run.code == 2, "\(run)")
        #expect(run.stderr.contains("\(file):4: thread blocks: cannot start thread") && run.stderr.contains("nothing of this group ran"), "\(run)")
        #expect(!run.stdout.contains("line 5"), "a block ran: \(run.stdout.suffix(300))")
        let explore = try Spawn.run(prefix + [binary, "explore", file, "--schedules", "2"])
        #expect(!explore.crashed && explore.code == 1, "\(explore)")
        #expect(explore.stderr.contains("thread limit"), "\(explore)")
    }

    @Test func messagesEscapeWhatATerminalWouldInterpret() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        for (i, evil) in ["\u{2028}", "\u{202E}", "\u{1B}]0;x\u{07}", "\u{200B}", "\u{85}"].enumerated() {
            let file = try dir.write("e\(i).mm", "machine nodes=1 node_mem=4M\nprocess A\(evil)B\n")
            let r = try Spawn.mmlab(["run", file])
            #expect(r.code == 2 && r.stderr.hasPrefix("\(file):2: "), "\(r)")
            let raw = r.stderr.unicodeScalars.filter { $0 != "\n" && ScenarioParser.needsEscapeForTest($0) }
            #expect(raw.isEmpty, "#\(i): unescaped \(raw.map { String($0.value, radix: 16) }) in \(r.stderr.debugDescription)")
            #expect(r.stderr.contains("\\u{"), "#\(i): \(r.stderr.debugDescription)")
        }
    }

    @Test func optionValuesAndNamesGetClearErrors() throws {
        for (args, fragment) in [(["stress", "--seconds", "-1"], "--seconds must be in"),
                                 (["stress", "--procs", "-1"], "--procs must be 1…256"),
                                 (["stress", "--mem", "-1"], "out of range"),
                                 (["stress", "--nodes", "-3"], "--nodes must be 1…64"),
                                 (["bench", "--only", ""], "--only: empty group"),
                                 (["run", "/nonexistent.mm", "--host-mem", "-1"], "out of range")] {
            let r = try Spawn.mmlab(args)
            #expect(r.code == 2 && r.stderr.contains(fragment) && !r.stderr.contains("Missing value"), "\(args): \(r)")
        }
        let dir = try Scratch()
        defer { dir.remove() }
        let file = try dir.write("p.mm", "machine nodes=2 node_mem=4M\nprocess node=1 privileged\n")
        let r = try Spawn.mmlab(["run", file])
        #expect(r.code == 2 && r.stderr.contains("\(file):2: process name 'privileged' is a keyword"), "\(r)")
    }

    @Test func hostMemoryBudgetRefusesAtBootAndAtRunTime() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let huge = try dir.write("huge.mm", "machine nodes=1 node_mem=1024G\nverify\n")
        let r = try Spawn.mmlab(["run", huge])
        #expect(r.code == 2 && r.stderr.hasPrefix("\(huge):1: machine:") && r.stderr.contains("--host-mem")
                && r.stderr.contains("smaller machine"), "\(r)")
        // A budget raised past the (pretended 64 MiB) host: boots, and the machine
        // refuses frames past 7/8 of the host instead of letting the host run out.
        let text = """
        machine nodes=1 node_mem=256M
        policy oom=enomem
        process A
        mmap A 0x10000000 200M
        touch A 0x10000000 200M
        read A 0x10000000 4K
        verify
        """
        let f = try dir.write("budget.mm", text)
        let ok = try Spawn.mmlab(["run", f, "--host-mem", "1G", "--test-host-bytes", "64M"])
        #expect(ok.code == 0, "\(ok)")
        #expect(ok.stdout.contains("line 5: touch → -1 ENOMEM") && ok.stdout.contains("line 6: read → 0"), "\(ok.stdout.prefix(800))")
        let refused = try Spawn.mmlab(["run", f, "--test-host-bytes", "64M"])
        #expect(refused.code == 2 && refused.stderr.contains("budget of 32 MiB"), "\(refused)")
    }
}

extension ScenarioParser {
    /// The escaping rule, for the tests (the parser's own is internal).
    static func needsEscapeForTest(_ u: Unicode.Scalar) -> Bool {
        if u.value < 0x20 || u.value == 0x7F { return true }
        switch u.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }
}
