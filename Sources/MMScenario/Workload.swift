// The built-in workload behind `mmlab demo` and `mmlab stress`: processes on real
// threads fault, write, read back, fork, munmap, mremap and exit, while a kernel-context
// migrator moves their pages between nodes — then the checker verifies everything.

import CMMSupport
import MMMigrate
import MMPhysical
import MMSpace
import MMSync
import Synchronization

/// Parameters of a workload run.
public struct WorkloadOptions: Sendable {
    public var nodes = 2
    public var nodeMemBytes = 128 << 20
    public var content: ContentMode = .full
    public var workers = 4
    /// Wall-clock bound; the run also stops after `opsPerWorker` operations per worker.
    public var seconds: Double = 3
    public var opsPerWorker = Int.max
    public var pinPolicy: AnonVmaPinPolicy = .refcount
    /// The machine the workload boots (block size and zones by MachineConfig's rules).
    public var config: MachineConfig { MachineConfig(nodes: nodes, nodeMemBytes: nodeMemBytes, content: content) }
    /// A kernel-context migrator thread (compaction-like: no mmap_lock).
    public var kernelMigrator = true
    /// A process-context mover using move_pages.
    public var syscallMigrator = true
    public var seed: UInt64 = 1
    /// Pages per mapping a worker creates.
    public var regionPages = 64
    public init() {}
}

/// Counts of what the workload did.
public struct WorkloadStats: Sendable {
    public var operations = 0
    public var writes = 0
    public var reads = 0
    public var forks = 0
    public var exits = 0
    public var kernelMigrations = 0
    public var syscallMigrations = 0
    public var seconds = 0.0
}


/// Runs the workload and returns the machine (quiet) and what was done.
public enum Workload {
    public static func run(_ o: WorkloadOptions, progress: (@Sendable (String) -> Void)? = nil) -> (Machine, WorkloadStats) {
        let m = Machine(o.config)
        m.pinPolicy = o.pinPolicy
        let start = mm_now_ns()
        let deadline = start + UInt64(o.seconds * 1e9)
        let statsLock = PlainLock()
        nonisolated(unsafe) var total = WorkloadStats()
        let workersDone = Atomic<Int>(0)

        var threads: [(name: String, body: @Sendable () -> Void)] = []
        for w in 0..<o.workers {
            threads.append((name: "P\(w)", body: {
                var s = WorkloadStats()
                worker(m, w, o, &s, deadline: deadline)
                statsLock.withLock {
                    total.operations += s.operations; total.writes += s.writes; total.reads += s.reads
                    total.forks += s.forks; total.exits += s.exits
                }
                workersDone.wrappingAdd(1, ordering: .acquiringAndReleasing)
            }))
        }
        if o.kernelMigrator || o.syscallMigrator {
            threads.append((name: "kmigrate", body: {
                var rng = SplitMix64(seed: o.seed ^ 0xC0FFEE)
                var k = 0, s = 0
                let mig = Migrator(m)
                var last = mm_now_ns()
                while workersDone.load(ordering: .acquiring) < o.workers {
                    let w = Int.random(in: 0..<o.workers, using: &rng)
                    let addr = base(w) + UInt64(Int.random(in: 0..<o.regionPages, using: &rng)) << 12
                    let node = Int.random(in: 0..<o.nodes, using: &rng)
                    if o.kernelMigrator && (!o.syscallMigrator || rng.next() & 1 == 0) {
                        _ = mig.migrateKernel(target: "P\(w)", address: addr, node: node)
                        k += 1
                    } else {
                        _ = mig.movePages(target: "P\(w)", addresses: [addr, addr + 4096], nodes: [node, node], flags: [.move])
                        s += 1
                    }
                    if let progress, mm_now_ns() - last > 1_000_000_000 {
                        last = mm_now_ns()
                        progress("\(Double(last - start) / 1e9)s: migrated \(m.vmstat[.pgmigrateSuccess]) pages, \(m.vmstat[.pgfault]) faults")
                    }
                }
                statsLock.withLock { total.kernelMigrations += k; total.syscallMigrations += s }
            }))
        }
        ModelThreads.runConcurrently(threads)
        // Whatever the workers left alive exits now, so the end state is fully checkable
        // both with processes (checked mid-way by callers) and without.
        let result = statsLock.withLock { total }
        var r = result
        r.seconds = Double(mm_now_ns() - start) / 1e9
        return (m, r)
    }

    static func base(_ w: Int) -> UInt64 { 0x1000_0000 + UInt64(w) << 32 }

    /// One worker: owns process "P<w>" (re-created after it exits) and its children.
    static func worker(_ m: Machine, _ w: Int, _ o: WorkloadOptions, _ s: inout WorkloadStats, deadline: UInt64) {
        var rng = SplitMix64(seed: o.seed &+ UInt64(w) &* 7919)
        let name = "P\(w)"
        let len = UInt64(o.regionPages) << 12
        var generation = 0
        func create() -> Process? {
            guard let p = try? m.createProcess(name, node: w % o.nodes) else { return nil }
            try? m.mmap(p.mm, base(w), len)
            return p
        }
        guard var p = create() else { return }
        var ops = 0
        while ops < o.opsPerWorker, mm_now_ns() < deadline {
            ops += 1
            let a = base(w) + UInt64(Int.random(in: 0..<o.regionPages, using: &rng)) << 12
            switch rng.next() % 100 {
            case 0..<45:
                if (try? m.userWrite(p.mm, a)) != nil { s.writes += 1 }
            case 45..<85:
                if (try? m.userRead(p.mm, a)) != nil { s.reads += 1 }
            case 85..<92:
                generation += 1
                let childName = "\(name).c\(generation)"
                if let c = try? m.fork(p, child: childName) {
                    s.forks += 1
                    for _ in 0..<4 {
                        let ca = base(w) + UInt64(Int.random(in: 0..<o.regionPages, using: &rng)) << 12
                        try? m.userWrite(c.mm, ca)
                        try? m.userRead(c.mm, ca)
                    }
                    try? m.exit(childName)
                }
            case 92..<95:
                // Punch a hole and map it again.
                let hole = base(w) + UInt64(Int.random(in: 0..<(o.regionPages - 4), using: &rng)) << 12
                try? m.munmap(p.mm, hole, 4 << 12)
                try? m.mmap(p.mm, hole, 4 << 12)
            case 95..<97:
                // Move a piece away and back (contents must survive both moves).
                let piece = base(w) + UInt64(Int.random(in: 0..<(o.regionPages - 4), using: &rng)) << 12
                let away = base(w) + (1 << 30)
                if (try? m.mremap(p.mm, piece, 4 << 12, away)) != nil {
                    try? m.mremap(p.mm, away, 4 << 12, piece)
                }
            default:
                try? m.exit(name)
                s.exits += 1
                guard let np = create() else { return }
                p = np
            }
            s.operations += 1
        }
    }
}
