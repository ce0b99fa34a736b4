// `mmlab explore` and `mmlab replay`: scenario files under the deterministic scheduler.

import ArgumentParser
import CMMSupport
import MMExplore
import MMScenario
import MMSpace
import MMSync

extension StrategyKind: ExpressibleByArgument {
    public init?(argument: String) {
        guard let k = StrategyKind.allCases.first(where: { "\($0)" == argument }) else { return nil }
        self = k
    }
    // By name, as parsed above (the UInt8 raw values would otherwise show in help and
    // errors as "0, 1, 2", which the parser does not accept).
    public static var allValueStrings: [String] { allCases.map { "\($0)" } }
    public static var allValueDescriptions: [String: String] { [:] }
}

/// Flags that change the model, shared by explore and replay (a replay must be given
/// the same ones as the exploration that printed the token).
struct ModelFlags: ParsableArguments {
    @Option(help: "anon_vma pin policy for the whole run, overriding the file's policy lines: none, seed-v2, refcount.")
    var pinPolicy: AnonVmaPinPolicy?
    @Option(help: "How move_pages / migrate_pages hold the owner's mmap_lock, overriding the file's policy lines: isolate (Linux 6.x), held (2.6.22).")
    var syscallLock: ScenarioSyscallLock?
    @Flag(help: ArgumentHelp("Test only: mremap moves PTEs without the anon_vma lock (Linux's old bug).", visibility: .hidden))
    var testSkipMremapRmapLock = false
    @Option(parsing: .unconditional, help: hostMemHelp) var hostMem: String?

    var runOptions: RunOptions {
        var o = RunOptions()
        o.pinPolicy = pinPolicy
        o.syscallLock = syscallLock
        o.skipMremapRmapLock = testSkipMremapRmapLock
        return o
    }
    /// The flags as the code a schedule token records (ScheduleToken.modelOptions):
    /// bits 0–1 the forced pin policy (0: none forced), bits 2–3 the forced syscall
    /// lock, bit 4 the mremap rmap-lock skip.
    var code: UInt64 {
        var c: UInt64 = 0
        if let p = pinPolicy { c |= UInt64(AnonVmaPinPolicy.allCases.firstIndex(of: p)! + 1) }
        if let l = syscallLock { c |= UInt64(ScenarioSyscallLock.allCases.firstIndex(of: l)! + 1) << 2 }
        if testSkipMremapRmapLock { c |= 1 << 4 }
        return c
    }

    /// The flags a code stands for, as command-line arguments (nil: not a code we write).
    static func arguments(ofCode c: UInt64) -> String? {
        guard c < 1 << 5 else { return nil }
        var f = ModelFlags()
        let pin = Int(c & 3), lock = Int(c >> 2 & 3)
        guard pin <= AnonVmaPinPolicy.allCases.count, lock <= ScenarioSyscallLock.allCases.count else { return nil }
        f.pinPolicy = pin == 0 ? nil : AnonVmaPinPolicy.allCases[pin - 1]
        f.syscallLock = lock == 0 ? nil : ScenarioSyscallLock.allCases[lock - 1]
        f.testSkipMremapRmapLock = c & 1 << 4 != 0
        return f.modelArguments
    }

    /// `token` with these flags recorded in it.
    func stamp(_ token: String) -> String {
        guard var t = try? ScheduleToken(decoding: token) else { return token }
        t.modelOptions = code
        return t.encoded
    }

    /// The flags that change the model (what a token records), as arguments.
    var modelArguments: String {
        var s = ""
        if let pinPolicy { s += " --pin-policy \(pinPolicy.rawValue)" }
        if let syscallLock { s += " --syscall-lock \(syscallLock.rawValue)" }
        if testSkipMremapRmapLock { s += " --test-skip-mremap-rmap-lock" }
        return s
    }

    /// Everything a replay command must repeat: the model flags and the host budget.
    var replayArguments: String {
        modelArguments + (hostMem.map { " --host-mem \($0)" } ?? "")
    }
}

func loadScenario(_ file: String, hostMem: String? = nil) throws -> Scenario {
    try applyHostMem(hostMem)
    do {
        let s = try ScenarioParser.parse(path: file)
        try ScenarioRunner.validate(s)
        return s
    } catch {
        failScenario(error)
    }
}

func traceJSON(_ trace: [TraceEvent]) -> JSONValue {
    .array(trace.map {
        .object([("step", .int($0.step)), ("thread", .string($0.threadName)), ("kind", .string("\($0.kind)")), ("text", .string($0.text))])
    })
}

struct Explore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search the interleavings of a scenario's threads for a broken invariant.",
        discussion: "Prints the first failing interleaving as a trace and the command that replays it.")

    @Argument(help: "Scenario file with thread blocks.") var file: String
    // Optional, with the default in the help: ArgumentParser would print a default of
    // this raw-valued enum as its raw value ("default: 1").
    @Option(help: "random, pct or dfs (default: pct).") var strategy: StrategyKind?
    @Option(parsing: .unconditional, help: "Schedules to run at most.") var schedules: Int = 2000
    @Option(parsing: .unconditional, help: "Seed of the strategy.") var seed: UInt64 = 1
    @Option(parsing: .unconditional, help: "PCT bug depth d (d−1 priority change points).") var depth: Int = 2
    @Option(parsing: .unconditional, help: "DFS preemption bound.") var preemptions: Int = 2
    @Option(parsing: .unconditional, help: "Scheduling steps per schedule before it counts as a livelock.") var maxSteps: Int = 100_000
    @Flag(help: "Go on after the first violation.") var keepGoing = false
    @Flag(help: "JSON output.") var json = false
    @OptionGroup var model: ModelFlags

    func run() throws {
        let strategy = self.strategy ?? .pct
        let scenario = try loadScenario(file, hostMem: model.hostMem)
        guard schedules >= 1, schedules <= 100_000_000 else { throw ValidationError("--schedules must be 1…100000000") }
        let opts = ExploreOptions(strategy: strategy, schedules: schedules, seed: seed, depth: depth,
                                  preemptionBound: preemptions, keepGoing: keepGoing, maxSteps: maxSteps)
        if let p = opts.problem { throw ValidationError(p) }
        let runOptions = model.runOptions
        let showProgress = !json && FileHandleOut.isTerminal
        let report = try explore(options: opts, makeBody: { ScenarioRunner.explorationBody(scenario, options: runOptions) },
                                 progress: showProgress ? { p in
                                     FileHandleOut.out("  … \(p.schedulesRun)/\(p.schedulesPlanned) schedules, \(Int(p.schedulesPerSecond))/s, \(p.failingSchedules) failing")
                                 } : nil)
        let replayCommand = report.firstFailure.map { "mmlab replay \(file) --schedule \(model.stamp($0.token))\(model.replayArguments)" }
        if json {
            var obj: [(String, JSONValue)] = [
                ("schedules", .int(report.schedulesRun)),
                ("complete", .bool(report.coverageComplete)),
                ("stop", .string("\(report.stop)")),
                ("seconds", .double(report.elapsedSeconds)),
                ("schedules_per_second", .double(report.schedulesPerSecond)),
                ("violations", .array(report.violations.map {
                    .object([("kind", .string($0.violation.kind.rawValue)), ("message", .string($0.violation.message)),
                             ("count", .int($0.count)), ("token", .string(model.stamp($0.firstToken)))])
                })),
            ]
            if let f = report.firstFailure {
                obj.append(("first", .object([("schedule", .int(report.firstFailureSchedule ?? 0)), ("token", .string(model.stamp(f.token))),
                                              ("replay", .string(replayCommand ?? "")), ("trace", traceJSON(f.trace))])))
            } else {
                obj.append(("first", .null))
            }
            FileHandleOut.out(JSONValue.object(obj).text)
        } else {
            var s = "explored \(report.schedulesRun) schedule\(report.schedulesRun == 1 ? "" : "s") of \(file) "
            s += "(\(strategy), seed \(seed)) in \(format2(report.elapsedSeconds)) s, \(Int(report.schedulesPerSecond.rounded()))/s: \(report.stop)"
            if report.coverageComplete { s += " — every schedule within \(preemptions) preemption\(preemptions == 1 ? "" : "s") covered" }
            FileHandleOut.out(s)
            if let f = report.firstFailure {
                FileHandleOut.out("first failing schedule: #\(report.firstFailureSchedule ?? 0)")
                for v in f.violations { FileHandleOut.out("  \(v)") }
                if let e = f.error { FileHandleOut.out("  schedule error: \(e)") }
                FileHandleOut.out("interleaving (step, thread, what it did):")
                FileHandleOut.out(formatTrace(f.trace))
                if let t = report.traceProblem { FileHandleOut.out("note: \(t)") }
                FileHandleOut.out("replay: \(replayCommand!)")
            }
            if report.violations.count > 1 || keepGoing {
                FileHandleOut.out("distinct violations: \(report.violations.count) in \(report.failingSchedules) failing schedules")
                for v in report.violations {
                    FileHandleOut.out("  \(v.count)× \(v.violation)")
                    FileHandleOut.out("      first seen: mmlab replay \(file) --schedule \(model.stamp(v.firstToken))\(model.replayArguments)")
                }
            }
            if report.violations.isEmpty && report.firstFailure == nil { FileHandleOut.out("no violation found") }
        }
        if case .threadLimit(let why)? = report.firstFailure?.error {
            FileHandleOut.stderr("mmlab: an execution could not be run (thread limit: \(why)); lower the scenario's thread blocks or raise the limit")
        }
        if report.firstFailure != nil { throw ExitCode(1) }
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Re-run one interleaving of a scenario exactly, from its token.")
    @Argument(help: "Scenario file.") var file: String
    @Option(help: "Schedule token printed by explore.") var schedule: String
    @Flag(help: "JSON output.") var json = false
    @OptionGroup var model: ModelFlags

    func run() throws {
        let scenario = try loadScenario(file, hostMem: model.hostMem)
        // Replay is exact or refuses: the token records the model flags it ran with.
        if let t = try? ScheduleToken(decoding: schedule), t.modelOptions != model.code {
            let recorded = ModelFlags.arguments(ofCode: t.modelOptions).map { $0.isEmpty ? "no model flags" : "'\($0.dropFirst())'" }
                ?? "unknown model options \(t.modelOptions)"
            let given = model.modelArguments.isEmpty ? "none" : "'\(model.modelArguments.dropFirst())'"
            failBadInput("--schedule: the token was recorded with \(recorded); this replay gives \(given): pass the same flags")
        }
        let outcome: ExecutionOutcome
        do {
            outcome = try replay(token: schedule, body: ScenarioRunner.explorationBody(scenario, options: model.runOptions))
        } catch {
            failBadInput("--schedule: \(error)")
        }
        if json {
            FileHandleOut.out(JSONValue.object([
                ("token", .string(outcome.token)),
                ("steps", .int(outcome.steps)),
                ("error", outcome.error.map { .string("\($0)") } ?? .null),
                ("violations", MachineReport.violationsJSON(outcome.violations)),
                ("trace", traceJSON(outcome.trace)),
            ]).text)
        } else {
            FileHandleOut.out(formatTrace(outcome.trace))
            if let e = outcome.error {
                // "replay diverged: …": the trace above is where it stopped; nothing
                // after it ran, so "no violation" would claim more than was checked.
                FileHandleOut.stderr("mmlab: \(e) (was the token printed for this file with the same flags?)")
            } else {
                if outcome.violations.isEmpty { FileHandleOut.out("no violation") }
            }
            for v in outcome.violations { FileHandleOut.out("\(v)") }
        }
        if let e = outcome.error, json { FileHandleOut.stderr("mmlab: \(e)") }
        if outcome.error != nil { throw ExitCode(2) }
        if !outcome.violations.isEmpty { throw ExitCode(1) }
    }
}

/// Exploration figures for `mmlab bench` (BENCHMARKS.md): schedules per second on the seed's
/// race and schedules until its first violation, per strategy, median over 20 seeds.
func exploreBenchmarks(quick: Bool, _ add: (String, Double, String) -> Void) {
    let text = """
    machine nodes=2 node_mem=8M block=4M
    policy pin=none
    process A
    mmap A 0x10000000 4K
    touch A 0x10000000 4K
    thread T1 {
      migrate_kernel A 0x10000000
    }
    thread T2 {
      exit A
    }
    """
    guard let scenario = try? ScenarioParser.parse(text: text, file: "seed-race") else { return }
    var o = RunOptions()
    o.pinPolicy = .refcount   // throughput on the fixed model: no early stop
    let n = quick ? 200 : 2000
    if let r = try? explore(options: ExploreOptions(strategy: .random, schedules: n, seed: 1),
                            makeBody: { ScenarioRunner.explorationBody(scenario, options: o) }) {
        add("explore: seed race, random, pin=refcount", r.schedulesPerSecond, "schedules/s")
        add("  scheduling steps per schedule", Double(r.totalSteps) / Double(max(1, r.schedulesRun)), "steps")
    }
    o.pinPolicy = AnonVmaPinPolicy.none   // not `.none`: on an Optional that is nil (the file's policy)
    let seeds = quick ? 5 : 20
    for (kind, label) in [(StrategyKind.random, "random"), (.pct, "pct depth 2")] {
        var firsts: [Int] = []
        for s in 1...seeds {
            let opts = ExploreOptions(strategy: kind, schedules: 5000, seed: UInt64(s), depth: 2)
            if let r = try? explore(options: opts, makeBody: { ScenarioRunner.explorationBody(scenario, options: o) }),
               let f = r.firstFailureSchedule {
                firsts.append(f)
            } else {
                firsts.append(5001)
            }
        }
        firsts.sort()
        add("explore: schedules to first use-after-free, \(label) (median of \(seeds))", Double(firsts[firsts.count / 2]), "schedules")
    }
    if let r = try? explore(options: ExploreOptions(strategy: .dfs, schedules: 100_000, seed: 1, preemptionBound: 2),
                            makeBody: { ScenarioRunner.explorationBody(scenario, options: o) }) {
        add("explore: schedules to first use-after-free, dfs ≤2 preemptions", Double(r.firstFailureSchedule ?? -1), "schedules")
    }
}
