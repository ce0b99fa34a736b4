// Compaction concurrent with real threads that fault, write, fork, unmap and exit.

import MMCheck
import MMCompaction
import MMPhysical
import MMSpace
import MMSync
import Testing

@Suite struct ConcurrentCompactionTests {
    @Test(arguments: [UInt64(1), 2])
    func compactionUnderLoadKeepsEveryInvariant(seed: UInt64) throws {
        let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: 32 << 20, content: .full))
        try fragmentAlternately(m, name: "F", pages: 4096)
        let workers = 2, opsPerWorker = 400, region: UInt64 = 64
        let workerBase: UInt64 = 0x4000_0000
        var threads: [(name: String, body: @Sendable () -> Void)] = []
        for w in 0..<workers {
            threads.append((name: "W\(w)", body: {
                var rng = SplitMix64(seed: seed &* 31 &+ UInt64(w))
                let name = "W\(w)"
                func create() -> Process? {
                    guard let p = try? m.createProcess(name) else { return nil }
                    try? m.mmap(p.mm, workerBase, region << 12)
                    return p
                }
                guard var p = create() else { return }
                for i in 0..<opsPerWorker {
                    let a = workerBase + (rng.next() % region) << 12
                    switch rng.next() % 20 {
                    case 0..<9: try? m.userWrite(p.mm, a)
                    case 9..<15: _ = try? m.userRead(p.mm, a)
                    case 15..<17:
                        let child = "\(name).c\(i)"
                        if let c = try? m.fork(p, child: child) {
                            try? m.userWrite(c.mm, a)
                            try? m.exit(child)
                        }
                    case 17..<19: try? m.madviseDontneed(p.mm, a, 4096)
                    default:
                        try? m.exit(name)
                        guard let np = create() else { return }
                        p = np
                    }
                }
                try? m.exit(name)
            }))
        }
        threads.append((name: "compact", body: {
            for round in 0..<6 {
                switch round % 3 {
                case 0: _ = Compaction.compactMemory(machine: m)
                case 1: _ = Compaction.compactNode(machine: m, node: 0, order: 9, mode: .async)
                default:
                    if let p = Compaction.allocPages(machine: m, node: 0, order: 4, .movable).pfn {
                        m.adoptKernelBlock(node: 0, order: 4, head: p, .movable)
                    }
                }
            }
        }))
        ModelThreads.runConcurrently(threads)
        let v = Checker.check(m)
        #expect(v.isEmpty, "seed \(seed): \(v.prefix(5))")
    }
}
