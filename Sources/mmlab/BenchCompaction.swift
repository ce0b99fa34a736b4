// `mmlab bench --only compaction`: full compaction of an alternately fragmented machine
// (issue 9: 4 GiB with content=full, 16 GiB with content=stamp), as `mmlab compact`
// runs it. Fragmenting is not timed; the figures are compaction's own.
//
// `mmlab bench compact-full --mem 2G`: exactly the model side of `mmlab kernel compact`
// (`modelCompactSameSize(bytes:)` in KernelReport.swift) outside the kernel command, run
// several times with the same-frames memcpy baseline after each (issue 11).

import ArgumentParser
import CMMSupport
import MMCompaction
import MMMigrate
import MMPhysical
import MMScenario
import MMSpace

extension Bench {
    func benchCompaction(quick: Bool, _ add: (String, Double, String) -> Void) {
        let sizes: [(Int, ContentMode)] = quick ? [(1 << 30, .full)] : [(4 << 30, .full), (16 << 30, .stamp)]
        for (bytes, content) in sizes {
            var o = CompactOptions()
            o.memBytes = bytes
            o.content = content
            o.fragment = .alternate
            let name = "compaction \(bytes >> 30) GiB alternate, content=\(content.rawValue)"
            guard let r = try? CompactReport.run(o) else {
                FileHandleOut.stderr("bench: \(name): machine cannot be built on this host")
                continue
            }
            guard r.run != nil, r.ok else {
                FileHandleOut.stderr("bench: \(name): \(r.notRun ?? "\(r.violations.count) violations") — no figure")
                continue
            }
            add("\(name): seconds", r.seconds, "s")
            add("\(name): pages migrated/s", Double(r.pagesMigrated) / r.seconds, "pages/s")
            add("\(name): pages scanned/s (migrate + free)", Double(r.pagesScanned) / r.seconds, "pages/s")
            add("\(name): free order-9 blocks after", Double(r.after.freeHugeBlocks), "blocks")
        }
    }
}

/// `mmlab bench compact-full`: the model side of `mmlab kernel compact`, alone.
struct CompactFull: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact-full",
        abstract: "Time mmlab's content=full full compaction of an alternately fragmented one-node machine (as `kernel compact` does).")
    @Option(help: "Machine size (one node).") var mem = "2G"
    @Option(help: "Timed runs (each on a freshly built and fragmented machine).") var runs = 5
    @Flag(help: "Skip the same-frames memcpy baseline (and the untimed run that records the frames).") var noBaseline = false
    @Option(help: "Migration batch (Migrator.batchSize): 512 as compaction runs it (Linux 6.3+), 1 = page-at-a-time.") var batch = Migrator.maxBatch

    func run() throws {
        let bytes = try parseSize(mem, "--mem")
        guard bytes > 0 else { throw ValidationError("--mem must be positive") }
        guard (1...100).contains(runs) else { throw ValidationError("--runs must be 1…100") }
        guard (1...512).contains(batch) else { throw ValidationError("--batch must be 1…512") }
        // The frames migration copies, in its order: recorded once, untimed (the run is
        // deterministic: one thread, the same machine), then copied after each timed run.
        var pairs: [(PFN, PFN)] = []
        if !noBaseline {
            let rec = PlainBox<[(PFN, PFN)]>([])
            guard let m = fragmentedFullMachine(bytes: bytes) else { throw ValidationError(modelUnavailableReason ?? "cannot build") }
            var mig = Migrator(m)
            mig.batchSize = batch
            mig.onEvent = { e in if case let .page(old, _, .migrated(new)) = e { rec.value.append((old, new)) } }
            _ = Compaction.compactMemory(machine: m, migrator: mig)
            pairs = rec.value
        }
        var rows: [(migrated: Int, s: Double, copyS: Double, streamS: Double)] = []
        for i in 0..<runs {
            guard let m = fragmentedFullMachine(bytes: bytes) else { throw ValidationError(modelUnavailableReason ?? "cannot build") }
            var mig = Migrator(m)
            mig.batchSize = batch
            let t0 = mm_now_ns()
            let results = Compaction.compactMemory(machine: m, migrator: mig)
            let s = Double(mm_now_ns() - t0) / 1e9
            let migrated = results.reduce(0) { $0 + $1.pagesMigrated }
            var copyS = Double.nan, streamS = Double.nan
            if !pairs.isEmpty {
                if pairs.count != migrated { FileHandleOut.stderr("bench: run \(i + 1) migrated \(migrated) pages, the recorded run \(pairs.count)") }
                // The plain memcpy baseline, then the migration's own streaming copy alone.
                let c0 = mm_now_ns()
                for (src, dst) in pairs { m.phys.frames.memcpy(from: src, to: dst) }
                let c1 = mm_now_ns()
                for (src, dst) in pairs { m.phys.frames.copy(from: src, to: dst) }
                copyS = Double(c1 - c0) / 1e9
                streamS = Double(mm_now_ns() - c1) / 1e9
            }
            rows.append((migrated, s, copyS, streamS))
            var line = "run \(i + 1): \(migrated) pages migrated in \(fmt(s)) s = \(Int(Double(migrated) / s)) pages/s"
            if !copyS.isNaN {
                line += "; memcpy of the same \(pairs.count) frames \(fmt(copyS * 1e3)) ms (\(fmt(copyS / Double(pairs.count) * 1e9)) ns/page), ratio \(fmt(s / copyS))×"
                line += "; the migration's streaming copy alone \(fmt(streamS / Double(pairs.count) * 1e9)) ns/page"
            }
            FileHandleOut.out(line)
        }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
        let rates = rows.map { Double($0.migrated) / $0.s }
        var out = "median of \(runs): \(Int(median(rates))) pages/s, \(fmt(median(rows.map { $0.s / Double($0.migrated) * 1e9 }))) ns/page"
        if !pairs.isEmpty {
            out += "; memcpy \(fmt(median(rows.map { $0.copyS / Double(pairs.count) * 1e9 }))) ns/page; ratio \(fmt(median(rows.map { $0.s / $0.copyS })))×"
            out += "; streaming copy \(fmt(median(rows.map { $0.streamS / Double(pairs.count) * 1e9 }))) ns/page"
        }
        FileHandleOut.out(out)
    }
}

/// The machine `modelCompactSameSize(bytes:)` (KernelReport.swift) and `bench
/// compact-full` compact: one node of `bytes`, content=full, frames pre-faulted; every page written by
/// one process, then every other page freed with MADV_DONTNEED.
func fragmentedFullMachine(bytes: Int) -> Machine? {
    let cfg = MachineConfig(nodes: 1, nodeMemBytes: bytes, content: .full, populate: true)
    if let p = PhysicalMemory.bootProblem(cfg) { modelUnavailableReason = "model machine: " + p; return nil }
    let m = Machine(cfg)
    let base: UInt64 = 0x1000_0000
    do {
        let p = try m.createProcess("frag", node: 0)
        let n = m.phys.freePages(node: 0)
        try m.mmap(p.mm, base, UInt64(n) << 12)
        try m.touch(p.mm, base, UInt64(n) << 12)
        for i in stride(from: 1, to: n, by: 2) { try m.madviseDontneed(p.mm, base + UInt64(i) << 12, 4096) }
    } catch {
        modelUnavailableReason = "fragmenting the model machine: \(error)"
        return nil
    }
    return m
}
