// `mmlab kernel compact` (root): the real kernel's full compaction measured on this
// machine, end to end, and set beside mmlab's prediction for the same memory map
// (docs/SNAPSHOT.md, docs/FIDELITY.md). Every file it reads is kept in --out DIR.
//
// With two CPUs or more the fragmenter runs on CPU 1 and the measuring thread (snapshots,
// the write) on CPU 0: the fragmenter's freed pages then sit on CPU 1's per-CPU lists,
// and the snapshots' own buffer frees and the compaction's frees go to CPU 0's. Sharing a
// CPU, the snapshot's frees pushed tens of thousands of the fragmenter's pages into the
// buddy before the compaction began (docs/FIDELITY.md, run r1); the replay models CPU 0.
//
//   fragmenter child → sync → settle → snapshot BEFORE → vmstat → write 1 to
//   /proc/sys/vm/compact_memory (timed) → buddyinfo+vmstat (AFTER) → settle →
//   buddyinfo+vmstat (AFTER5) → snapshot AFTER (second kpageflags) → fragmenter checks
//   its pages and exits → tracepoints read → figures.

import ArgumentParser
import CMMSupport
import MMScenario
import MMSnapshot
#if canImport(Glibc)
import Glibc
#endif

struct Kernel: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Experiments on this machine's real kernel (root).",
                                                    subcommands: [KernelCompact.self])
}

struct KernelCompact: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Fragment this machine, run the kernel's compact_memory, measure it, and compare with mmlab's prediction.")

    @Option(help: "Memory the fragmenter maps (every other page is freed).") var mem = "2G"
    @Option(help: "Settle time before the snapshot and after the compaction (e.g. 5s, 500ms).") var settle = "5s"
    @Option(help: "Directory for every file read (default /tmp/mmlab-kernel-compact-PID).") var out: String?
    @Option(help: "Per-CPU free lists during the run: small (emptied and held small until the second snapshot) or tuned (emptied, then auto-tuned as the kernel does).")
    var pcpLists: PCPListsMode = .small
    @Option(help: "Write the pageblock picture (snapshot before | mmlab predicted after | kernel after) as SVG to this file.")
    var svg: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        if let svg, !writeFile(svg, "") { throw ValidationError("--svg: cannot write '\(svg)'") }
        let bytes = try parseSize(mem, "--mem")
        guard bytes >= 16 << 20, bytes % 4096 == 0 else { throw ValidationError("--mem: at least 16M, a multiple of 4 KiB") }
        let settleS = try parseDuration(settle, "--settle")
        var missing = SnapshotCapture.missing()
        if geteuid() == 0 && access("/proc/sys/vm/compact_memory", W_OK) != 0 { missing.append("/proc/sys/vm/compact_memory writable") }
        guard missing.isEmpty else { failBadInput("kernel compact needs " + missing.joined(separator: "; ")) }
        let dir = out ?? "/tmp/mmlab-kernel-compact-\(getpid())"
        let log: (String) -> Void = { [json] s in if !json { FileHandleOut.stderr("kernel compact: " + s) } }
        let run: KernelCompactRun
        do { run = try KernelCompactRun.execute(bytes: bytes, settle: settleS, pcpLists: pcpLists, dir: dir, log: log) }
        catch let e as SnapshotError { failBadInput(e.description) }
        let prediction = predict(snapshot: run.before, options: ReplayOptions(pcpCPU: run.compactCPU ?? 0, trace: true))
        if let t = prediction?.trace { try? writeTextFile("\(dir)/model_trace.txt", t) }
        let model = modelCompactSameSize(bytes: bytes)
        let report = kernelCompactJSON(run, prediction: prediction, model: model)
        try? writeTextFile("\(dir)/report.json", report.text + "\n")
        if let svg, let p = prediction {
            let pic = SnapshotPicture.picture(before: run.before, prediction: p, kernelAfter: run.after, title: "mmlab kernel compact",
                                              subtitle: ["kernel \(run.before.meta?.kernelRelease ?? "?"): \(run.delta("pgmigrate_success")) pages migrated in \(fmt(run.seconds)) s; files in \(dir)"])
            guard writeFile(svg, pic.svg) else { throw ValidationError("--svg: cannot write '\(svg)'") }
        }
        FileHandleOut.out(json ? report.text : kernelCompactText(run, prediction: prediction, model: model))
        if !run.fragmenterOK { throw ExitCode(1) }
    }
}

/// "5s", "500ms", "2.5" (seconds).
func parseDuration(_ s: String, _ what: String) throws -> Double {
    var t = Substring(s)
    var scale = 1.0
    if t.hasSuffix("ms") { t = t.dropLast(2); scale = 1e-3 } else if t.hasSuffix("s") { t = t.dropLast() }
    guard let v = Double(t), v >= 0, v <= 600 else { throw ValidationError("\(what): '\(s)' is not a duration from 0 to 600 s (e.g. 5s, 500ms)") }
    return v * scale
}

/// Everything one run measured on the kernel.
struct KernelCompactRun {
    var dir: String
    var bytes: Int
    var heldPages: Int
    var seconds: Double
    var vmBefore: [String: Int]
    var vmAfter: [String: Int]
    var vmAfterSettle: [String: Int]
    var buddyAfter: [BuddyInfoLine]
    var buddyAfterSettle: [BuddyInfoLine]
    var before: KernelSnapshot
    var after: KernelSnapshot
    var trace: [CompactionTraceZone]
    var fragmenterReport: String
    var fragmenterOK: Bool
    var settle: Double
    var pcpLists: PCPListsMode
    /// The CPU the write to compact_memory ran on, and the fragmenter's (nil: not pinned).
    var compactCPU: Int?
    var fragmenterCPU: Int?
    /// Seconds from the middle of BEFORE's kpageflags read to the write: the other CPUs'
    /// per-CPU lists shrink meanwhile. Reported, not replayed: with `--pcp-lists small`
    /// they hold a few hundred pages; with `tuned`, modelling the decay with uniformly
    /// drawn pages made 2 of 6 runs worse and none better (docs/FIDELITY.md).
    var flagsToCompactSeconds: Double

    func delta(_ key: String) -> Int { (vmAfter[key] ?? 0) - (vmBefore[key] ?? 0) }

    static func execute(bytes: Int, settle: Double, pcpLists: PCPListsMode, dir: String,
                        log: (String) -> Void) throws -> KernelCompactRun {
        try SnapshotCapture.makeDirectory(dir)
        // Both snapshots' memory is made now, before the fragmenter frees anything: made
        // later, it would come out of the fragmenter's holes (SnapshotCapture.capture(into:)).
        let buffers = try CaptureBuffers(pfns: try SnapshotCapture.machinePFNs())
        var (knob, drained) = try PerCPUListKnob.drain(hold: pcpLists == .small)
        defer { knob.restore() }
        log("per-CPU lists: " + drained)
        let pinned = sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2 && mm_pin_to_cpu(0) == 0
        defer { if pinned { _ = mm_unpin() } }
        let fragmenterCPU: Int? = pinned ? 1 : nil
        log("fragmenter: mapping \(bytes >> 20) MiB, writing every page, freeing every other page"
            + (pinned ? " (fragmenter on CPU 1, measurements and compaction on CPU 0)" : ""))
        let child = try FragmenterProcess(bytes: bytes, cpu: fragmenterCPU)
        var childDone = false
        defer { if !childDone { child.kill() } }
        let ready = child.readLine()
        guard ready.hasPrefix("ready "), let held = Int(ready.dropFirst(6)) else {
            throw SnapshotError("fragmenter", "did not start: '\(ready)'")
        }
        sync()
        log("sync; settling \(settle) s")
        sleepSeconds(settle)
        let tracer = try CompactionTracer()
        defer { tracer.close() }
        log("snapshot BEFORE → \(dir)/before")
        var beforeSnap = try SnapshotCapture.capture(into: buffers)
        let vmBeforeText = try readText("/proc/vmstat")
        let t0 = mm_now_ns()
        let decay = Double(t0 - beforeSnap.flagsReadMidpointNs) / 1e9
        try writeText("/proc/sys/vm/compact_memory", "1")
        let seconds = Double(mm_now_ns() - t0) / 1e9
        let buddyAfterText = try readText("/proc/buddyinfo")
        let vmAfterText = try readText("/proc/vmstat")
        // Written only now: its files' page cache would otherwise be allocated before the write.
        try beforeSnap.write(to: "\(dir)/before")
        log("compact_memory took \(fmt(seconds)) s; settling \(settle) s")
        sleepSeconds(settle)
        let buddySettleText = try readText("/proc/buddyinfo")
        let vmSettleText = try readText("/proc/vmstat")
        log("snapshot AFTER → \(dir)/after")
        var afterSnap = try SnapshotCapture.capture(into: buffers)
        try afterSnap.write(to: "\(dir)/after")
        let (report, status) = child.finish()
        childDone = true
        let (traceText, trace) = try tracer.read()
        tracer.close()
        for (name, text) in [("vmstat_before.txt", vmBeforeText), ("buddyinfo_after.txt", buddyAfterText), ("vmstat_after.txt", vmAfterText),
                             ("buddyinfo_after_settle.txt", buddySettleText), ("vmstat_after_settle.txt", vmSettleText), ("compaction_trace.txt", traceText)] {
            try writeTextFile("\(dir)/\(name)", text)
        }
        return KernelCompactRun(
            dir: dir, bytes: bytes, heldPages: held, seconds: seconds,
            vmBefore: try ProcParsers.keyValues(vmBeforeText, file: "\(dir)/vmstat_before.txt"),
            vmAfter: try ProcParsers.keyValues(vmAfterText, file: "\(dir)/vmstat_after.txt"),
            vmAfterSettle: try ProcParsers.keyValues(vmSettleText, file: "\(dir)/vmstat_after_settle.txt"),
            buddyAfter: try ProcParsers.buddyinfo(buddyAfterText, file: "\(dir)/buddyinfo_after.txt"),
            buddyAfterSettle: try ProcParsers.buddyinfo(buddySettleText, file: "\(dir)/buddyinfo_after_settle.txt"),
            before: try KernelSnapshot.load(directory: "\(dir)/before"),
            after: try KernelSnapshot.load(directory: "\(dir)/after"),
            trace: trace, fragmenterReport: report,
            fragmenterOK: report.hasPrefix("ok ") && status == 0, settle: settle, pcpLists: pcpLists,
            compactCPU: pinned ? 0 : nil, fragmenterCPU: fragmenterCPU, flagsToCompactSeconds: decay)
    }
}

/// How `kernel compact` sets this machine's per-CPU free-page lists (docs/SNAPSHOT.md,
/// "Per-CPU lists").
enum PCPListsMode: String, ExpressibleByArgument, CaseIterable {
    /// Emptied, then held small (a few hundred pages per CPU) until the second snapshot:
    /// the fragmenter's holes go to the buddy at once, where a snapshot sees them.
    case small
    /// Emptied, then auto-tuned again (the kernel's default): the fragmenter's CPU keeps up
    /// to ~300 000 holes on its list, and they drain into the buddy during the experiment.
    case tuned
}

/// vm.percpu_pagelist_high_fraction, changed for the experiment and put back after.
///
/// Draining: the knob at 100000 fixes each list's high_min = high_max at a small value; a
/// list's own `high` is clamped to it at that CPU's next free (Linux: nr_pcp_high), so one
/// page is mapped and freed on each CPU; a write to vm.stat_refresh then makes every CPU
/// free the whole excess at once (Linux: vmstat_refresh → refresh_cpu_vm_stats →
/// decay_pcp_high, uncapped when high_min == high_max). Earlier runs leave up to ~300 000
/// pages on the lists, anywhere in memory; Linux has no direct control for this.
///
/// Holding: with the knob left at 100000 each list keeps at most about 4 × batch pages
/// (Linux: nr_pcp_high's floor), so what the fragmenter frees reaches the buddy within a
/// batch. With auto-tuned lists its CPU's list held ~250 000 of its holes and pushed ~2 000
/// a second into the buddy between the snapshot and the compaction: targets the kernel
/// found and the snapshot did not show (docs/FIDELITY.md).
struct PerCPUListKnob {
    static let path = "/proc/sys/vm/percpu_pagelist_high_fraction"
    let old: String
    private(set) var held: Bool

    /// Drains every CPU's lists; `hold` keeps them small until `restore()`. Returns what
    /// it did, for the log. Leaves the calling thread unpinned.
    static func drain(hold: Bool) throws -> (PerCPUListKnob, String) {
        func pages() throws -> Int {
            try ProcParsers.zoneinfo(try readText("/proc/zoneinfo")).reduce(0) { $0 + $1.pcp.reduce(0) { $0 + $1.count } }
        }
        let old = String(try readText(path).filter { !$0.isWhitespace })
        let before = try pages()
        KnobRestore.arm(path: path, value: old)
        var knob = PerCPUListKnob(old: old, held: true)
        var after = before
        do {
            try writeText(path, "100000")
            defer { _ = mm_unpin() }
            let cpus = max(1, min(1024, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
            for _ in 0..<10 {   // bounded: about 1 s
                for cpu in 0..<cpus where mm_pin_to_cpu(Int32(cpu)) == 0 {
                    if let p = mm_map_anon(1 << 16, 1) { mm_unmap(p, 1 << 16) }
                }
                try? writeText("/proc/sys/vm/stat_refresh", "1")
                after = try pages()
                if after < 4096 { break }
                sleepSeconds(0.1)
            }
        } catch {
            knob.restore()
            throw error
        }
        if !hold { knob.restore() }
        let how = hold ? "held small (\(path) = 100000 until the second snapshot)" : "auto-tuned again (\(path) = \(old))"
        return (knob, "\(before) pages held before, \(after) after draining; lists " + how)
    }

    /// Puts the old value back (once).
    mutating func restore() {
        guard held else { return }
        try? writeText(Self.path, old)
        KnobRestore.disarm()
        held = false
    }
}

/// Puts a sysctl back if the run is interrupted (SIGINT, SIGTERM, SIGHUP) while it is
/// changed: the machine is left as it was found. C strings and open/write only, so the
/// handler stays async-signal-safe (as TraceCleanup's, KernelTrace.swift).
enum KnobRestore {
    nonisolated(unsafe) static var path: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) static var value: UnsafeMutablePointer<CChar>?

    static func arm(path p: String, value v: String) {
        path = strdup(p)
        value = strdup(v)
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig) { sig in
                if let p = KnobRestore.path, let v = KnobRestore.value {
                    let fd = open(p, O_WRONLY)
                    if fd >= 0 { _ = write(fd, v, strlen(v)); close(fd) }
                }
                _exit(128 + sig)
            }
        }
    }

    static func disarm() {
        for sig in [SIGINT, SIGTERM, SIGHUP] { signal(sig, SIG_DFL) }
        free(path); path = nil
        free(value); value = nil
    }
}

func writeTextFile(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw SnapshotError(path, "cannot create: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    _ = text.withCString { write(fd, $0, strlen($0)) }
}

/// Wholly free pageblocks a buddyinfo line shows: every free block of pageblock order or more.
func whollyFreeFromBuddyinfo(_ free: [Int], pageblockOrder: Int) -> Int {
    free.enumerated().reduce(0) { $0 + ($1.offset >= pageblockOrder ? $1.element << ($1.offset - pageblockOrder) : 0) }
}

/// The kernel's figures for one zone.
struct KernelZoneFigures {
    var node: Int
    var zone: String
    var trace: CompactionTraceZone?
    /// Wholly free pageblocks: from buddyinfo (before, right after, after the settle) and
    /// from kpageflags (before and after; buddy alone, or counting flags-0 pages as free).
    var buddyBefore = 0, buddyAfter = 0, buddyAfterSettle = 0
    var flagsBefore = 0, flagsAfter = 0, flagsBuddyBefore = 0, flagsBuddyAfter = 0
}

extension KernelCompactRun {
    var zoneFigures: [KernelZoneFigures] {
        before.zones.map { z in
            var f = KernelZoneFigures(node: z.node, zone: z.name)
            let o = before.pageblockOrder
            f.trace = trace.last { $0.zoneStart == z.startPFN }
            f.buddyBefore = whollyFreeFromBuddyinfo(before.kernelBuddyinfo(zone: z) ?? [], pageblockOrder: o)
            let line = { (l: [BuddyInfoLine]) in l.first { $0.node == z.node && $0.zone == z.name }?.free ?? [] }
            f.buddyAfter = whollyFreeFromBuddyinfo(line(buddyAfter), pageblockOrder: o)
            f.buddyAfterSettle = whollyFreeFromBuddyinfo(line(buddyAfterSettle), pageblockOrder: o)
            f.flagsBefore = before.whollyFreePageblocks(zone: z, countZeroFree: true)
            f.flagsBuddyBefore = before.whollyFreePageblocks(zone: z, countZeroFree: false)
            if let za = after.zones.first(where: { $0.node == z.node && $0.name == z.name }) {
                f.flagsAfter = after.whollyFreePageblocks(zone: za, countZeroFree: true)
                f.flagsBuddyAfter = after.whollyFreePageblocks(zone: za, countZeroFree: false)
            }
            return f
        }
    }
}
