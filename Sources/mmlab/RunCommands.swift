// `mmlab run`, `mmlab demo`, `mmlab stress`.

import ArgumentParser
import MMMigrate
import MMPhysical
import MMScenario
import MMSpace
import MMSync
#if canImport(Glibc)
import Glibc
#endif

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a scenario file (see docs/SCENARIOS.md).")

    @Argument(help: "Scenario file.") var file: String
    @Flag(help: "One JSON object per executed statement, then a summary object.") var json = false
    @Flag(help: "Print one line per migration event.") var trace = false
    @Option(help: "anon_vma pin policy for the whole run, overriding the file's policy lines: none, seed-v2, refcount.") var pinPolicy: AnonVmaPinPolicy?
    @Option(parsing: .unconditional, help: hostMemHelp) var hostMem: String?
    @Option(help: ArgumentHelp("Test only: pretend the host has this much memory.", visibility: .hidden)) var testHostBytes: String?
    @Option(help: "How move_pages / migrate_pages hold the owner's mmap_lock, overriding the file's policy lines: isolate (Linux 6.x), held (2.6.22).") var syscallLock: ScenarioSyscallLock?

    func run() throws {
        if let t = testHostBytes { HostBudget.overrideHostBytes(UInt64(try parseSize(t, "--test-host-bytes"))) }
        try applyHostMem(hostMem)
        let scenario: Scenario
        do { scenario = try ScenarioParser.parse(path: file) } catch { failScenario(error) }
        do { try ScenarioRunner.validate(scenario) } catch { failScenario(error) }
        var opts = RunOptions()
        opts.pinPolicy = pinPolicy
        opts.syscallLock = syscallLock
        let json = self.json
        let printLock = PlainLock()
        opts.onResult = { r in printLock.withLock { FileHandleOut.out(json ? r.json.text : r.text) } }
        if trace {
            opts.onMigrationEvent = { e in
                printLock.withLock { FileHandleOut.out(json ? JSONValue.object([("trace", .string(e.description))]).text : "trace: \(e)") }
            }
        }
        let runner = ScenarioRunner(scenario, options: opts)
        let report: MachineReport
        do { report = try runner.run() } catch { failScenario(error) }
        FileHandleOut.out(json ? report.json.text : report.text)
        if !report.ok || runner.failedVerifies > 0 { throw ExitCode(1) }
    }
}

/// Options shared by demo and stress.
struct WorkloadFlags: ParsableArguments {
    @Option(parsing: .unconditional, help: "Seconds to run.") var seconds: Double?
    @Option(parsing: .unconditional, help: "Random seed (the run is reproducible in what each thread attempts).") var seed: UInt64 = 1
    @Option(help: "anon_vma pin policy: none, seed-v2, refcount.") var pinPolicy: AnonVmaPinPolicy = .refcount
    @Flag(help: "Machine-readable summary.") var json = false
    @Option(parsing: .unconditional, help: hostMemHelp) var hostMem: String?
}

func runWorkload(_ o: WorkloadOptions, json: Bool, title: String, hostMem: String?) throws {
    try applyHostMem(hostMem)
    if let problem = PhysicalMemory.bootProblem(o.config) { throw ValidationError("machine: \(problem)") }
    if !json {
        FileHandleOut.out("""
        \(title)
          machine: \(o.nodes) nodes × \(o.nodeMemBytes >> 20) MiB, content=\(o.content.rawValue), pin policy \(o.pinPolicy.rawValue)
          \(o.workers) processes on real threads fault, write, read back, fork, munmap, mremap and exit for \(o.seconds) s
          while a migrator moves their pages between nodes (kernel context: no mmap_lock; and move_pages)
        """ + (o.compaction ? "\n  and kcompactd runs on every node, with one full compaction (compact_memory) 40% into the run" : ""))
    }
    let progress: (@Sendable (String) -> Void)? = (!json && FileHandleOut.isTerminal) ? { @Sendable s in FileHandleOut.out("  … " + s) } : nil
    let (machine, stats) = Workload.run(o, progress: progress)
    let report = MachineReport(machine)
    if json {
        FileHandleOut.out(JSONValue.object([
            ("workload", .object([
                ("seconds", .double(stats.seconds)), ("operations", .int(stats.operations)), ("writes", .int(stats.writes)),
                ("reads", .int(stats.reads)), ("forks", .int(stats.forks)), ("exits", .int(stats.exits)),
                ("kernel_migrations", .int(stats.kernelMigrations)), ("move_pages_calls", .int(stats.syscallMigrations)),
            ])),
            ("report", report.json),
        ] + (stats.compaction.map { [("compaction", $0.json)] } ?? [])
          + (stats.hotRemove.map { [("hot_remove", $0.json)] } ?? [])).text)
    } else {
        FileHandleOut.out("""
        ran \(format2(stats.seconds)) s: \(stats.operations) operations (\(stats.writes) writes, \(stats.reads) reads, \
        \(stats.forks) forks, \(stats.exits) exits), \(stats.kernelMigrations) kernel migrations, \(stats.syscallMigrations) move_pages calls
        """)
        if let c = stats.compaction { FileHandleOut.out(c.text) }
        if let h = stats.hotRemove { FileHandleOut.out(h.text) }
        FileHandleOut.out(report.text)
    }
    if !report.ok { throw ExitCode(1) }
}

/// A duration or ratio with exactly two decimals ("1.01", "60.00").
func format2(_ d: Double) -> String {
    guard d.isFinite else { return "\(d)" }
    let cents = Int64((abs(d) * 100).rounded())
    let frac = cents % 100
    return (d < 0 && cents != 0 ? "-" : "") + "\(cents / 100)." + (frac < 10 ? "0" : "") + "\(frac)"
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The main job on its built-in default: a 256 MiB, 2-node machine under load, migrated and verified.")
    @OptionGroup var flags: WorkloadFlags

    func run() throws {
        var o = WorkloadOptions()
        o.nodes = 2
        o.nodeMemBytes = 128 << 20
        o.workers = 4
        o.seconds = flags.seconds ?? 5
        o.seed = flags.seed
        o.pinPolicy = flags.pinPolicy
        o.compaction = true
        o.hotRemove = true
        guard o.seconds > 0, o.seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
        try runWorkload(o, json: flags.json, title: "mmlab demo", hostMem: flags.hostMem)
    }
}

struct Stress: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The workload of demo, sized by you.")
    @OptionGroup var flags: WorkloadFlags
    @Option(parsing: .unconditional, help: "Total memory, split evenly across nodes (e.g. 1G).") var mem: String = "256M"
    @Option(parsing: .unconditional, help: "NUMA nodes.") var nodes: Int = 2
    @Option(parsing: .unconditional, help: "Processes (one real thread each).") var procs: Int = 4
    @Option(help: "Frame contents: full (4 KiB bytes per frame) or stamp (8 bytes).") var content: ContentMode = .full
    @Option(parsing: .unconditional, help: "Pages per process mapping.") var regionPages: Int = 64
    @Flag(help: "No migrator thread.") var noMigrator = false

    func run() throws {
        let total = try parseSize(mem, "--mem")
        guard nodes >= 1, nodes <= MachineConfig.maxNodes else { throw ValidationError("--nodes must be 1…\(MachineConfig.maxNodes)") }
        guard procs >= 1, procs <= 256 else { throw ValidationError("--procs must be 1…256") }
        guard regionPages >= 8, regionPages <= 1 << 20 else { throw ValidationError("--region-pages must be 8…1048576") }
        // MachineConfig decides, by the rule the scenario parser and the model use.
        if let problem = MachineConfig.problemSplitting(totalBytes: total, nodes: nodes) {
            throw ValidationError("--mem \(mem) over --nodes \(nodes): \(problem)")
        }
        let perNode = total / nodes
        var o = WorkloadOptions()
        o.nodes = nodes
        o.nodeMemBytes = perNode
        o.workers = procs
        o.content = content
        o.regionPages = regionPages
        o.seconds = flags.seconds ?? 10
        o.seed = flags.seed
        o.pinPolicy = flags.pinPolicy
        o.kernelMigrator = !noMigrator
        o.syscallMigrator = !noMigrator
        guard o.seconds > 0, o.seconds <= 86400 else { throw ValidationError("--seconds must be in (0, 86400]") }
        try runWorkload(o, json: flags.json, title: "mmlab stress", hostMem: flags.hostMem)
    }
}
