// Real-thread stress of the address-space layer: four or more model threads fault,
// write, read, fork, munmap, mremap, pin, exit and re-create processes at once on a
// two-node machine. Each thread draws its operations from its own fixed-seed SplitMix64
// stream; every failure message prints the seed. Loops are bounded (well under 10 s in
// a debug build). At the end the checker must be clean and no read may have met a lost
// write.

import Testing
import MMPhysical
import MMSpace
import MMCheck
import MMSync
#if canImport(Glibc)
import Glibc
#endif

/// Unexpected outcomes collected from model threads (Swift Testing's #expect must be
/// called from the test's own task, not from a pthread).
final class Failures: @unchecked Sendable {
    private let lock = PlainLock()
    private var items: [String] = []
    func record(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}

@Suite(.serialized) struct ConcurrencyTests {
    static let threads = 4
    static let opsPerThread = 400
    static let window = 48   // pages each process may map, at `base`
    static let altBase: UInt64 = 0x2000_0000

    /// Per-thread seed derived from the test's seed.
    static func threadSeed(_ seed: UInt64, _ t: Int) -> UInt64 {
        var r = SplitMix64(seed: seed ^ (UInt64(t + 1) &* 0xA24B_AED4_963E_E407))
        return r.next()
    }

    @Test(arguments: [UInt64(0x5EED_0001), 0x5EED_0002, 0x5EED_0003])
    func randomMixOnIndependentProcessFamilies(seed: UInt64) throws {
        let m = smallMachine(nodes: 2, mem: 16 << 20)
        let failures = Failures()
        let window = Self.window
        ModelThreads.runConcurrently((0..<Self.threads).map { t in
            (name: "stress-\(t)", body: { @Sendable in
                Self.stressThread(m, t, seed: Self.threadSeed(seed, t), window: window, failures: failures)
            })
        })
        let f = failures.all
        #expect(f.isEmpty, "seed \(hex(seed)): \(f.count) unexpected outcomes, first: \(f.prefix(5))")
        let v = Checker.check(m)
        #expect(v.isEmpty, "seed \(hex(seed)): \(v.count) violations, first: \(v.prefix(5))")
        #expect(m.violations.isEmpty, "seed \(hex(seed)): \(m.violations.all.prefix(5))")
        for (pfn, n) in ptesPerFrame(m) {
            #expect(Int(m.phys.pages.mapcount(pfn)) == n, "seed \(hex(seed)): pfn \(pfn)")
        }
        #expect(m.vmstat[.forks] > 0 && m.vmstat[.cowFault] > 0, "seed \(hex(seed)): the mix exercised fork and COW")
        tearDownAndExpectPristine(m, "seed \(hex(seed))")
    }

    /// Several threads fault the same fresh mapping of one address space at once: they
    /// race in anon_vma_prepare (one anon_vma must win) and in do_anonymous_page (the
    /// loser of a PTE race frees its page). Each round unmaps and maps again.
    @Test(arguments: [UInt64(0xFA17), 0x0DD5])
    func concurrentFaultsOnOneAddressSpace(seed: UInt64) throws {
        let m = smallMachine(nodes: 2, mem: 8 << 20)
        let a = try m.createProcess("A", node: 1)
        let n = 128
        let failures = Failures()
        for round in 0..<6 {
            try m.mmap(a.mm, base, UInt64(n) * page)
            ModelThreads.runConcurrently((0..<Self.threads).map { t in
                (name: "faulter-\(t)", body: { @Sendable in
                    var rng = SplitMix64(seed: Self.threadSeed(seed &+ UInt64(round), t))
                    for _ in 0..<(2 * n) {
                        let addr = base + UInt64(rng.below(n)) * page
                        do {
                            if rng.chance(50) { try m.userWrite(a.mm, addr) } else { try m.userRead(a.mm, addr) }
                        } catch {
                            failures.record("seed \(hex(seed)) round \(round) thread \(t) at \(hex(addr)): \(error)")
                        }
                    }
                })
            })
            let anon = a.mm.vmaList[0].anonVma
            #expect(anon != nil, "seed \(hex(seed)) round \(round)")
            #expect(m.slab.allSlots().filter(\.isAllocated).count == 1, "seed \(hex(seed)): racing prepares leave one anon_vma")
            let counted = ptesPerFrame(m)
            #expect(counted.values.allSatisfy { $0 == 1 }, "seed \(hex(seed))")
            #expect(m.config.totalPages - m.phys.freePages() == counted.count,
                    "seed \(hex(seed)) round \(round): pages lost in fault races")
            let v = Checker.check(m)
            #expect(v.isEmpty, "seed \(hex(seed)) round \(round): \(v.prefix(5))")
            try m.munmap(a.mm, base, UInt64(n) * page)
        }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
        #expect(m.violations.isEmpty, "seed \(hex(seed)): \(m.violations.all.prefix(5))")
        tearDownAndExpectPristine(m, "seed \(hex(seed))")
    }

    /// The same mix over many seeds, for soak runs: `MMLAB_LONG_TESTS=<count> swift test`.
    @Test(.enabled(if: getenv("MMLAB_LONG_TESTS") != nil))
    func randomMixSoak() throws {
        let count = getenv("MMLAB_LONG_TESTS").flatMap { Int(String(cString: $0)) } ?? 50
        for k in 0..<max(count, 1) {
            let seed = 0x50A4_0000 &+ UInt64(k)
            try randomMixOnIndependentProcessFamilies(seed: seed)
            try forksOfASharedParent(seed: seed)
        }
    }

    /// One model thread's bounded random walk over its own processes.
    static func stressThread(_ m: Machine, _ t: Int, seed: UInt64, window: Int, failures: Failures) {
        var rng = SplitMix64(seed: seed)
        var owned: [Process] = []
        var serial = 0
        func fail(_ i: Int, _ what: String, _ e: any Error) {
            failures.record("thread \(t) seed \(hex(seed)) op \(i): \(what) threw \(e)")
        }
        func newProcess(_ i: Int) {
            serial += 1
            do {
                let p = try m.createProcess("t\(t)-p\(serial)", node: rng.below(2))
                try m.mmap(p.mm, base, UInt64(window / 2) * page)
                owned.append(p)
            } catch { fail(i, "create", error) }
        }
        func randomAddr() -> UInt64 { base + UInt64(rng.below(window)) * page }
        newProcess(-1)
        for i in 0..<Self.opsPerThread {
            if owned.isEmpty { newProcess(i) }
            guard let p = owned.randomElement(using: &rng) else { continue }
            let r = rng.below(100)
            do {
                switch r {
                case 0..<28:   // write
                    do { try m.userWrite(p.mm, randomAddr()) } catch Errno.EFAULT {}
                case 28..<46:  // read (userRead itself reports a lost write)
                    do { try m.userRead(p.mm, randomAddr()) } catch Errno.EFAULT {}
                case 46..<52:  // mmap
                    let n = 1 + rng.below(8)
                    let a = base + UInt64(rng.below(window - n + 1)) * page
                    do { try m.mmap(p.mm, a, UInt64(n) * page) } catch Errno.EEXIST {}
                case 52..<57:  // munmap
                    let n = 1 + rng.below(6)
                    try m.munmap(p.mm, base + UInt64(rng.below(window - n + 1)) * page, UInt64(n) * page)
                case 57..<63:  // mremap, within the window or out to the alternate area and back
                    let n = 1 + rng.below(4)
                    let from = base + UInt64(rng.below(window - n + 1)) * page
                    let to = rng.chance(50) ? altBase + UInt64(rng.below(window)) * page
                                            : base + UInt64(rng.below(window - n + 1)) * page
                    guard from + UInt64(n) * page <= to || to + UInt64(n) * page <= from else { break }
                    do { try m.mremap(p.mm, from, UInt64(n) * page, to) } catch Errno.EFAULT {}
                    // Whatever landed in the alternate area comes home again.
                    if to >= altBase {
                        let back = base + UInt64(rng.below(window - n + 1)) * page
                        do { try m.mremap(p.mm, to, UInt64(n) * page, back) } catch Errno.EFAULT {}
                        try m.munmap(p.mm, altBase, UInt64(2 * window) * page)
                    }
                case 63..<72:  // fork; the child writes, reads, and usually exits
                    serial += 1
                    let c = try m.fork(p, child: "t\(t)-p\(serial)")
                    for _ in 0..<(1 + rng.below(6)) {
                        do { try m.userWrite(c.mm, randomAddr()) } catch Errno.EFAULT {}
                        do { try m.userRead(c.mm, randomAddr()) } catch Errno.EFAULT {}
                    }
                    if owned.count < 4 && rng.chance(40) { owned.append(c) } else { try m.exit(c.name) }
                case 72..<77:  // exit and re-create
                    try m.exit(p.name)
                    owned.removeAll { $0 === p }
                    newProcess(i)
                case 77..<86:  // read someone else's memory (any thread's process)
                    let all = m.allProcesses
                    if let q = all.randomElement(using: &rng) {
                        do { try m.userRead(q.mm, randomAddr()) } catch Errno.EFAULT {} catch Errno.ESRCH {}
                    }
                case 86..<91:  // pin, write elsewhere, unpin
                    let a = randomAddr()
                    do {
                        try m.pinUserPage(p.mm, a)
                        do { try m.userWrite(p.mm, randomAddr()) } catch Errno.EFAULT {}
                        try m.unpinUserPage(p.mm, a)
                    } catch Errno.EFAULT {}
                default:       // touch a run of pages
                    let n = 1 + rng.below(8)
                    let a = base + UInt64(rng.below(window - n + 1)) * page
                    do { try m.touch(p.mm, a, UInt64(n) * page) } catch Errno.EFAULT {}
                }
            } catch {
                fail(i, "op \(r) on \(p.name)", error)
            }
        }
        for p in owned {
            do { try m.exit(p.name) } catch { fail(Self.opsPerThread, "final exit of \(p.name)", error) }
        }
    }

    /// One parent shared by every thread: thread 0 writes and reshapes it while the
    /// others fork it over and over, COW-write in their children and read the parent.
    /// Exercises shared anon_vmas, COW against the parent's own writes and concurrent
    /// unlink of children.
    @Test(arguments: [UInt64(0xC0DE), 0xBEEF])
    func forksOfASharedParent(seed: UInt64) throws {
        let m = smallMachine(nodes: 2, mem: 16 << 20)
        let n = 64
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, UInt64(n) * page)
        try m.touch(a.mm, base, UInt64(n) * page)
        let failures = Failures()
        let threads = Self.threads + 1
        ModelThreads.runConcurrently((0..<threads).map { t in
            (name: "shared-\(t)", body: { @Sendable in
                var rng = SplitMix64(seed: Self.threadSeed(seed, t))
                func addr() -> UInt64 { base + UInt64(rng.below(n)) * page }
                if t == 0 {
                    for i in 0..<600 {
                        do {
                            switch rng.below(100) {
                            case 0..<55: try m.userWrite(a.mm, addr())
                            case 55..<85: try m.userRead(a.mm, addr())
                            case 85..<93:   // punch a hole and map it again
                                let x = addr()
                                try m.munmap(a.mm, x, page)
                                try m.mmap(a.mm, x, page)
                            default:        // move a page away and back
                                let x = addr()
                                try m.mremap(a.mm, x, page, Self.altBase)
                                try m.mremap(a.mm, Self.altBase, page, x)
                            }
                        } catch {
                            failures.record("parent thread seed \(hex(seed)) op \(i) threw \(error)")
                        }
                    }
                    return
                }
                var kids: [Process] = []
                for i in 0..<40 {
                    do {
                        let c = try m.fork(a, child: "c\(t)-\(i)")
                        kids.append(c)
                        // The parent may have a page unmapped or moved away right now.
                        for _ in 0..<8 { do { try m.userWrite(c.mm, addr()) } catch Errno.EFAULT {} }
                        for _ in 0..<8 { do { try m.userRead(c.mm, addr()) } catch Errno.EFAULT {} }
                        do { try m.userRead(a.mm, addr()) } catch Errno.EFAULT {}
                        if kids.count > 2 || rng.chance(50) {
                            let k = kids.remove(at: rng.below(kids.count))
                            try m.exit(k.name)
                        }
                    } catch {
                        failures.record("child thread \(t) seed \(hex(seed)) op \(i) threw \(error)")
                    }
                }
                for k in kids { try? m.exit(k.name) }
            })
        })
        let f = failures.all
        #expect(f.isEmpty, "seed \(hex(seed)): \(f.prefix(5))")
        let v = Checker.check(m)
        #expect(v.isEmpty, "seed \(hex(seed)): \(v.count) violations, first: \(v.prefix(5))")
        #expect(m.violations.isEmpty, "seed \(hex(seed)): \(m.violations.all.prefix(5))")
        #expect(m.vmstat[.cowFault] > 0)
        for i in 0..<n { #expect(try m.userRead(a.mm, base + UInt64(i) * page).intact, "seed \(hex(seed))") }
        tearDownAndExpectPristine(m, "seed \(hex(seed))")
    }
}
