// `mmlab bench`: the figures of BENCHMARKS.md, measured in one run so ratios compare
// like with like on a shared, noisy machine. Build in release for real numbers.

import ArgumentParser
import CMMSupport
import MMMigrate
import MMPhysical
import MMScenario
import MMSpace
import MMSync

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Built-in benchmarks (migration, scale, faults, exploration).",
                                                    subcommands: [CompactFull.self])
    @Flag(help: "Smaller sizes, for a quick look (numbers are less stable).") var quick = false
    @Flag(help: "JSON output.") var json = false
    @Option(help: "Only these groups (comma-separated): migration, scale, faults, explore, compaction.") var only: String?

    func run() throws {
        let list = (only ?? "migration,scale,faults,explore,compaction").split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let known: Set = ["migration", "scale", "faults", "explore", "compaction"]
        guard !list.contains("") else {
            throw ValidationError("--only: empty group name in '\(only ?? "")'; groups: migration, scale, faults, explore, compaction")
        }
        let groups = Set(list)
        guard groups.isSubset(of: known) else { throw ValidationError("--only: unknown group(s) \(groups.subtracting(known).sorted())") }
        var rows: [(String, String, JSONValue)] = []
        func add(_ name: String, _ value: Double, _ unit: String) {
            rows.append((name, "\(fmt(value)) \(unit)", .double(value)))
            if !json { FileHandleOut.out("  \(name.padding(to: 52)) \(fmt(value)) \(unit)") }
        }
        #if MMLAB_NO_SCHED
        if !json { FileHandleOut.out("(scheduling hooks compiled out: MMLAB_NO_SCHED)") }
        #endif
        do {
            if groups.contains("migration") { try benchMigration(add) }
            if groups.contains("faults") { try benchFaults(add) }
            if groups.contains("scale") { try benchScale(add) }
        } catch {
            // This host cannot hold a benchmark's machine, or a model call failed.
            failBadInput("bench: \(error)")
        }
        if groups.contains("explore") { benchExplore(quick: quick, add) }
        if groups.contains("compaction") { benchCompaction(quick: quick, add) }
        if json { FileHandleOut.out(JSONValue.object(rows.map { ($0.0, $0.2) }).text) }
    }

    // MARK: migration

    func benchMigration(_ add: (String, Double, String) -> Void) throws {
        let pagesPerProc = quick ? 4096 : 16384
        let rounds = quick ? 4 : 10
        // memcpy baseline: random 4 KiB copies within a pre-faulted 1 GiB buffer.
        let bufBytes = 1 << 30
        guard let buf = mm_map_anon(bufBytes, 1) else { throw BenchFailure("cannot map the 1 GiB memcpy buffer") }
        var rng = SplitMix64(seed: 42)
        let frames = bufBytes >> 12
        let copies = pagesPerProc * rounds
        var pairs: [(Int, Int)] = (0..<copies).map { _ in (Int(rng.next() % UInt64(frames)), Int(rng.next() % UInt64(frames))) }
        // Each figure is the best of `rounds` timed rounds: on a shared machine the
        // fastest round is the one least disturbed by other work.
        var memcpyNs = Double.infinity
        let perRound = copies / rounds
        for r in 0..<rounds {
            let t0 = mm_now_ns()
            for (a, b) in pairs[(r * perRound)..<((r + 1) * perRound)] {
                (buf + b << 12).copyMemory(from: buf + a << 12, byteCount: 4096)
            }
            memcpyNs = min(memcpyNs, Double(mm_now_ns() - t0) / Double(perRound))
        }
        pairs = []
        mm_unmap(buf, bufBytes)
        add("memcpy 4 KiB (random frames, 1 GiB buffer)", memcpyNs / 1000, "µs")
        try benchHooks(pagesPerProc, add)

        for (threads, batch) in [(1, 1), (1, 512), (2, 1)] {
            let m = try benchMachine(MachineConfig(nodes: 2, nodeMemBytes: 1 << 30, content: .full, populate: true))
            var procs: [Process] = []
            for t in 0..<threads {
                let p = try m.createProcess("B\(t)", node: 0)
                try m.mmap(p.mm, 0x1000_0000, UInt64(pagesPerProc) << 12)
                try m.touch(p.mm, 0x1000_0000, UInt64(pagesPerProc) << 12)
                procs.append(p)
            }
            let best = PlainBox(Double.infinity)   // ns per page, best round (1 thread)
            // The same-frames memcpy baseline (1 thread only), ns per page of the best round.
            let sameNs = PlainBox(Double.infinity)
            let before = m.vmstat[.pgmigrateSuccess]
            let t0 = mm_now_ns()
            ModelThreads.runConcurrently(procs.map { p in
                (name: p.name, body: {
                    var mig = Migrator(m)
                    mig.batchSize = batch
                    for r in 0..<rounds {
                        let dst = (r + 1) % 2
                        let start = mm_now_ns()
                        var list: [PFN] = []
                        list.reserveCapacity(pagesPerProc)
                        for i in 0..<pagesPerProc {
                            let a = 0x1000_0000 + UInt64(i) << 12
                            if let pfn = m.frameMapped(p.mm, a), m.phys.lruOf(pfn).isolate(pfn) { list.append(pfn) }
                        }
                        var pairs: [(PFN, PFN)] = []
                        if threads == 1 { pairs.reserveCapacity(list.count) }
                        let res = mig.migratePages(list, allocate: { old in
                            let new = m.phys.allocPage(node: dst, fallback: false)
                            if threads == 1, let new { pairs.append((old, new)) }
                            return new
                        }, mode: .sync, reason: .compaction, context: .kernel)
                        if threads == 1 {
                            best.value = min(best.value, Double(mm_now_ns() - start) / Double(max(1, res.succeeded)))
                            sameNs.value = min(sameNs.value, sameFramesMemcpyNs(m, pairs))
                        }
                    }
                })
            })
            let elapsed = Double(mm_now_ns() - t0)
            let moved = Double(m.vmstat[.pgmigrateSuccess] - before)
            let how = batch == 1 ? "page-at-a-time" : "batched \(batch)"
            if threads == 1 {
                add("migration per 4 KiB page, \(how), 1 thread (best round)", best.value / 1000, "µs")
                add("  ratio to memcpy 4 KiB", best.value / memcpyNs, "×")
                add("  memcpy 4 KiB, the same frames in migration order (best round)", sameNs.value / 1000, "µs")
                add("  ratio to memcpy of the same frames", best.value / sameNs.value, "×")
            }
            add("migration throughput, \(how), \(threads) thread\(threads == 1 ? "" : "s") (all rounds)", moved / (elapsed / 1e9), "pages/s")
            precondition(Checker_ok(m), "benchmark machine failed its check")
        }
    }

    /// The honest memcpy baseline for a migration round just measured: copy the same
    /// source frames to the same destination frames of the model's frame store, in the
    /// same order; ns per page. Run right after the round, single-threaded: each source
    /// still holds what its destination received, so the copy rewrites identical bytes.
    /// (The random-frame baseline copies scattered frames of another buffer, slower than
    /// migration's mostly sequential frames.)
    func sameFramesMemcpyNs(_ m: Machine, _ pairs: [(PFN, PFN)]) -> Double {
        guard !pairs.isEmpty else { return .infinity }
        let t0 = mm_now_ns()
        for (src, dst) in pairs { m.phys.frames.memcpy(from: src, to: dst) }
        return Double(mm_now_ns() - t0) / Double(pairs.count)
    }

    /// The cost of the scheduling interface in normal runs: how many hooks one page
    /// migration passes through (counted by a scheduler that never switches), and what
    /// an uncontended model lock costs — compare it with a MMLAB_NO_SCHED build, where
    /// the hooks are compiled out, to get the per-hook cost (BENCHMARKS.md).
    func benchHooks(_ pages: Int, _ add: (String, Double, String) -> Void) throws {
        let lock = ModelMutex("bench")
        let n = 20_000_000
        var best = Double.infinity
        for _ in 0..<5 {
            let t0 = mm_now_ns()
            for _ in 0..<n / 5 { lock.lock(); lock.unlock() }
            best = min(best, Double(mm_now_ns() - t0) / Double(n / 5))
        }
        add("ModelMutex lock+unlock, uncontended (best of 5)", best, "ns")
        #if !MMLAB_NO_SCHED
        let m = try benchMachine(MachineConfig(nodes: 2, nodeMemBytes: 64 << 20, content: .full))
        let p = try m.createProcess("H", node: 0)
        let count = min(pages, 4096)
        try m.mmap(p.mm, 0x1000_0000, UInt64(count) << 12)
        try m.touch(p.mm, 0x1000_0000, UInt64(count) << 12)
        var list: [PFN] = []
        for i in 0..<count {
            if let pfn = m.frameMapped(p.mm, 0x1000_0000 + UInt64(i) << 12), m.phys.lruOf(pfn).isolate(pfn) { list.append(pfn) }
        }
        let counter = CountingScheduler()
        let ctx = SchedulerContext(scheduler: counter, threadID: 0)
        Sched.install(ctx)
        let r = Migrator(m).migratePages(list, allocate: { _ in m.phys.allocPage(node: 1, fallback: false) },
                                         mode: .sync, reason: .compaction, context: .kernel)
        Sched.install(nil)
        add("scheduling hooks per migrated page (kernel ctx)", Double(counter.hooks) / Double(max(1, r.succeeded)), "hooks")
        #endif
    }

    // MARK: faults

    func benchFaults(_ add: (String, Double, String) -> Void) throws {
        let pages = quick ? 16384 : 65536
        for threads in [1, 2] {
            let m = try benchMachine(MachineConfig(nodes: 1, nodeMemBytes: 1 << 30, content: .full, populate: true))
            let procs = try (0..<threads).map { t -> Process in
                let p = try m.createProcess("F\(t)")
                try m.mmap(p.mm, 0x1000_0000, UInt64(pages) << 12)
                return p
            }
            let failure = PlainBox<String?>(nil)   // written by at most one thread each, read after the join
            let t0 = mm_now_ns()
            ModelThreads.runConcurrently(procs.map { p in
                (name: p.name, body: {
                    do { try m.touch(p.mm, 0x1000_0000, UInt64(pages) << 12) } catch { failure.value = "touch of \(p.name): \(error)" }
                })
            })
            if let f = failure.value { throw BenchFailure(f) }
            let s = Double(mm_now_ns() - t0) / 1e9
            add("anonymous faults, \(threads) thread\(threads == 1 ? "" : "s")", Double(m.vmstat[.pgfault]) / s, "faults/s")
        }
    }

    // MARK: scale

    func benchScale(_ add: (String, Double, String) -> Void) throws {
        add("page descriptor bytes per page", Double(PageDescriptors.bytesPerPage), "B")
        var t0 = mm_now_ns()
        do {
            let m = try benchMachine(MachineConfig(nodes: 1, nodeMemBytes: 4 << 30, content: .full))
            add("boot 4 GiB content=full (\(m.phys.totalPages) frames)", Double(mm_now_ns() - t0) / 1e9, "s")
        }
        let rss0 = mm_rss_bytes()
        t0 = mm_now_ns()
        let gib = quick ? 16 : 64
        let m = try benchMachine(MachineConfig(nodes: 4, nodeMemBytes: (gib / 4) << 30, content: .stamp))
        add("boot \(gib) GiB content=stamp (\(m.phys.totalPages) frames)", Double(mm_now_ns() - t0) / 1e9, "s")
        add("  resident memory after boot", Double(mm_rss_bytes() &- rss0) / Double(1 << 20), "MiB")
        // Use a quarter of it: one process faults and writes every page of 1/4 of memory.
        let p = try m.createProcess("S")
        let len = UInt64(m.phys.totalPages / 4) << 12
        try m.mmap(p.mm, 0x1000_0000, len)
        t0 = mm_now_ns()
        try m.touch(p.mm, 0x1000_0000, len)
        add("  resident after faulting \(m.phys.totalPages / 4) pages", Double(mm_rss_bytes() &- rss0) / Double(1 << 20), "MiB")
        add("  upper bound if every descriptor is touched", Double(m.phys.totalPages * (PageDescriptors.bytesPerPage + 8)) / Double(1 << 20), "MiB")
    }
}

/// A scheduler that never switches and only counts the hooks it is called at.
final class CountingScheduler: ModelScheduler, @unchecked Sendable {
    var hooks = 0
    func schedulePoint(_ what: () -> String) { hooks += 1 }
    func block(on channel: WaitChannel, _ what: () -> String) { preconditionFailure("single-threaded count: nothing blocks") }
    func wake(_ channel: WaitChannel) { hooks += 1 }
    func note(_ what: () -> String) { hooks += 1 }
    func spawn(name: String, body: @escaping @Sendable () -> Void) -> Int { preconditionFailure("no threads") }
    func join(_ ids: [Int]) {}
    func report(_ violation: Violation) {}
}

/// A mutable box shared with a closure that outlives the current scope's inout rules.
/// Why a benchmark could not run on this host.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A benchmark's machine, or a `BenchFailure` saying why this host cannot hold it
/// (PhysicalMemory.bootProblem: geometry or the host-memory budget).
func benchMachine(_ cfg: MachineConfig) throws -> Machine {
    if let p = PhysicalMemory.bootProblem(cfg) { throw BenchFailure("benchmark machine: \(p)") }
    return Machine(cfg)
}

final class PlainBox<T>: @unchecked Sendable {
    var value: T
    init(_ v: T) { value = v }
}

func fmt(_ v: Double) -> String {
    if v >= 1000 { return String(Int(v.rounded())) }
    if v >= 10 { return "\((v * 10).rounded() / 10)" }
    return "\((v * 1000).rounded() / 1000)"
}

import MMCheck
func Checker_ok(_ m: Machine) -> Bool { Checker.check(m).isEmpty }

func benchExplore(quick: Bool, _ add: (String, Double, String) -> Void) {
    // Filled in with the explorer (see ExploreCommands.swift).
    exploreBenchmarks(quick: quick, add)
}
