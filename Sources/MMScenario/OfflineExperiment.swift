// The experiment behind `mmlab offline` (and the demo's hot-remove step): a machine,
// processes on real threads that keep writing and reading their memory, optional
// unmovable and pinned pages, then memory blocks offlined one after the other (and
// onlined again), every process's contents verified and the checker run at the end.

import MMCheck
import MMHotplug
import MMPhysical
import MMSpace
import MMSync
import Synchronization

/// What to build and which blocks to offline.
public struct OfflineOptions: Sendable {
    public var config: MachineConfig
    /// Processes, each with its own real thread writing and reading.
    public var processes = 2
    /// Pages each process maps and writes before the offline starts.
    public var pagesPerProcess = 4096
    /// Unmovable kernel pages, allocated on node 0 after the processes.
    public var unmovable = 0
    /// Long-term pins on randomly chosen process pages.
    public var pins = 0
    /// Machine-wide block ids to offline; nil with `allMovable` false: the block
    /// holding most process pages.
    public var blockIDs: [Int]? = nil
    /// Offline every block of the Movable zones.
    public var allMovable = false
    /// Online the offlined blocks again afterwards.
    public var online = false
    public var retry: OfflineRetryPolicy = .default
    public var seed: UInt64 = 1
    /// Keep the worker threads running during the offline (false: a quiet machine, for
    /// benchmarks of the offline alone).
    public var workers = true
    public init(config: MachineConfig) { self.config = config }
}

/// One offline (or online) of one block.
public struct OfflineBlockResult: Sendable {
    public let block: Int
    public let op: String
    public let result: HotplugResult
}

/// Everything the command prints.
public struct OfflineOutcome: Sendable {
    public var before: [MemoryBlockInfo] = []
    public var after: [MemoryBlockInfo] = []
    /// Block census right after the offlines (before any online): what `--svg` draws.
    public var offlined: [MemoryBlockInfo] = []
    /// Pageblock classes of every block, block after block, before the offlines and
    /// right after them (what `--svg` draws).
    public var cellsBefore: [PageblockClass] = []
    public var cellsOfflined: [PageblockClass] = []
    public var results: [OfflineBlockResult] = []
    public var writes = 0
    public var reads = 0
    /// Pages read back at the end that did not hold what their owner last wrote.
    public var corrupt = 0
    /// Process pages still inside a block that is offline at the end (must be 0).
    public var stranded = 0
    public var violations: [Violation] = []
    public var ok: Bool { corrupt == 0 && stranded == 0 && violations.isEmpty }
}

/// Tells the worker threads to finish.
final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}

public enum OfflineExperiment {
    static let base: UInt64 = 0x1000_0000

    /// Why these options cannot run, or nil.
    public static func problem(_ o: OfflineOptions) -> String? {
        if let p = PhysicalMemory.bootProblem(o.config) { return p }
        let blocks = o.config.nodes * o.config.blocksPerNode
        if let ids = o.blockIDs, let bad = ids.first(where: { $0 < 0 || $0 >= blocks }) {
            return "block id \(bad) out of range: the machine has \(blocks) memory blocks (0…\(blocks - 1))"
        }
        if o.allMovable && o.config.movableBytes == 0 { return "--all-movable needs a Movable zone (--movable SIZE)" }
        let want = o.processes * o.pagesPerProcess + o.unmovable
        if want > o.config.totalPages { return "\(want) pages of processes and unmovable memory do not fit in \(o.config.totalPages) pages" }
        if o.pins > o.processes * o.pagesPerProcess { return "--pin \(o.pins) exceeds the \(o.processes * o.pagesPerProcess) process pages" }
        return nil
    }

    /// Runs the experiment (call `problem` first: a bad option is a precondition failure).
    public static func run(_ o: OfflineOptions) -> (Machine, OfflineOutcome) {
        precondition(problem(o) == nil, problem(o) ?? "")
        let m = Machine(o.config)
        var out = OfflineOutcome()
        let procs = setUp(m, o)
        let hp = MemoryHotplug(m)
        hp.retry = o.retry
        let targets = chooseBlocks(m, o, procs)
        out.before = MemoryBlockInfo.all(m.phys)
        out.cellsBefore = cells(m)
        let stop = StopFlag()
        let counts = Mutex<(writes: Int, reads: Int)>((0, 0))
        let results = Mutex<[OfflineBlockResult]>([])
        let offlined = Mutex<([MemoryBlockInfo], [PageblockClass])>(([], []))
        var threads: [(name: String, body: @Sendable () -> Void)] = [(name: "offline", body: {
            var rs: [OfflineBlockResult] = []
            for b in targets { rs.append(OfflineBlockResult(block: b.id, op: "offline", result: hp.offline(b))) }
            offlined.withLock { $0 = (MemoryBlockInfo.all(m.phys), cells(m)) }
            if o.online {
                for r in rs where r.result.ret == 0 {
                    let b = m.phys.blocks[r.block]
                    rs.append(OfflineBlockResult(block: b.id, op: "online", result: hp.online(b)))
                }
            }
            results.withLock { $0 = rs }
            stop.value.store(true, ordering: .releasing)
        })]
        if o.workers {
            for (i, p) in procs.enumerated() {
                threads.append((name: p.name, body: {
                    let (w, r) = work(m, p, pages: o.pagesPerProcess, seed: o.seed &+ UInt64(i), stop: stop)
                    counts.withLock { $0.writes += w; $0.reads += r }
                }))
            }
        }
        ModelThreads.runConcurrently(threads)
        out.results = results.withLock { $0 }
        (out.offlined, out.cellsOfflined) = offlined.withLock { $0 }
        (out.writes, out.reads) = counts.withLock { ($0.writes, $0.reads) }
        verify(m, procs, pages: o.pagesPerProcess, &out)
        out.after = MemoryBlockInfo.all(m.phys)
        return (m, out)
    }

    /// The class of every pageblock, memory block after memory block (a racy snapshot
    /// while the workers run: good enough for a picture).
    public static func cells(_ m: Machine) -> [PageblockClass] {
        let census = m.phys.zones.map { PageblockCensus($0, in: m.phys) }
        var out: [PageblockClass] = []
        for b in m.phys.blocks {
            guard let z = b.zone else { continue }
            let first = Int(b.startPFN - z.startPFN) / pageblockPages
            out += census[z.index].classes[first..<(first + b.pages / pageblockPages)]
        }
        return out
    }

    /// Processes with written pages, then unmovable pages and pins.
    private static func setUp(_ m: Machine, _ o: OfflineOptions) -> [Process] {
        var procs: [Process] = []
        for i in 0..<o.processes {
            // Infallible after problem(): names are unique, memory fits.
            guard let p = try? m.createProcess("P\(i)", node: i % o.config.nodes) else { continue }
            let len = UInt64(o.pagesPerProcess) << 12
            try? m.mmap(p.mm, base, len)
            try? m.touch(p.mm, base, len)
            procs.append(p)
        }
        if o.unmovable > 0 { try? m.allocateUnmovable(node: 0, pages: o.unmovable) }
        var rng = SplitMix64(seed: o.seed ^ 0x5049_4E53)
        var pinned = Set<Int>()
        while pinned.count < o.pins {
            let k = Int(rng.next() % UInt64(procs.count * o.pagesPerProcess))
            guard pinned.insert(k).inserted else { continue }
            let p = procs[k / o.pagesPerProcess]
            try? m.pinUserPage(p.mm, base + UInt64(k % o.pagesPerProcess) << 12)
        }
        return procs
    }

    private static func chooseBlocks(_ m: Machine, _ o: OfflineOptions, _ procs: [Process]) -> [MemoryBlock] {
        if let ids = o.blockIDs { return ids.map { m.phys.blocks[$0] } }
        if o.allMovable { return m.phys.blocks.filter { $0.zone?.kind == .movable } }
        var count = [Int](repeating: 0, count: m.phys.blocks.count)
        for p in procs {
            for i in 0..<o.pagesPerProcess {
                if let f = m.frameMapped(p.mm, base + UInt64(i) << 12) { count[m.phys.blockOf(f).id] += 1 }
            }
        }
        let best = count.indices.max { count[$0] < count[$1] } ?? 0
        return [m.phys.blocks[best]]
    }

    /// One process's thread: random writes and reads of its pages until `stop`
    /// (bounded: at most 2^32 accesses). Returns (writes, reads).
    private static func work(_ m: Machine, _ p: Process, pages: Int, seed: UInt64, stop: StopFlag) -> (Int, Int) {
        var rng = SplitMix64(seed: seed)
        var w = 0, r = 0
        for _ in 0..<(1 << 32) {
            if stop.value.load(ordering: .relaxed) { break }
            let a = base + (rng.next() % UInt64(pages)) << 12
            if rng.next() & 1 == 0 { if (try? m.userWrite(p.mm, a)) != nil { w += 1 } }
            else if (try? m.userRead(p.mm, a)) != nil { r += 1 }
        }
        return (w, r)
    }

    /// Reads every page back, counts pages left in offline blocks, runs the checker.
    private static func verify(_ m: Machine, _ procs: [Process], pages: Int, _ out: inout OfflineOutcome) {
        for p in procs {
            for i in 0..<pages {
                let a = base + UInt64(i) << 12
                if let f = m.frameMapped(p.mm, a), m.phys.blockOf(f).state != .online { out.stranded += 1 }
                if let r = try? m.userRead(p.mm, a), !r.intact { out.corrupt += 1 }
            }
        }
        out.violations = Checker.check(m)
    }
}
