// Shared helpers for the compaction tests: machines, the alternate fragmenter, counts.

import MMCheck
import MMCompaction
import MMPhysical
import MMSpace
import Testing
#if canImport(Glibc)
import Glibc
#endif

let base: UInt64 = 0x1000_0000

/// Fills every free page of node 0 with one process's pages and frees every other one
/// (madvise(MADV_DONTNEED), so the mapping stays one VMA): half the memory free, in
/// order-0 holes between pages in use. Returns the process.
@discardableResult
func fragmentAlternately(_ m: Machine, name: String = "A", pages: Int? = nil) throws -> Process {
    let p = try m.createProcess(name, node: 0)
    let n = pages ?? m.phys.freePages(node: 0)
    try m.mmap(p.mm, base, UInt64(n) << 12)
    try m.touch(p.mm, base, UInt64(n) << 12)
    for i in stride(from: 1, to: n, by: 2) { try m.madviseDontneed(p.mm, base + UInt64(i) << 12, 4096) }
    return p
}

/// Free blocks of order ≥ 9 on `node`, counted in order-9 units.
func order9Blocks(_ m: Machine, node: Int = 0) -> Int {
    m.phys.nodes[node].zones.reduce(0) { acc, z in
        let c = z.freeBlockCounts()
        return acc + c[9] + 2 * c[10]
    }
}

/// Reads back every page the process still maps (a lost write becomes a violation).
func readAll(_ m: Machine, _ p: Process, pages n: Int) throws {
    for i in stride(from: 0, to: n, by: 2) { try m.userRead(p.mm, base + UInt64(i) << 12) }
}

/// The checker must find nothing.
func expectClean(_ m: Machine, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let v = Checker.check(m)
    #expect(v.isEmpty, "\(context): \(v.prefix(5))", sourceLocation: sourceLocation)
}

enum TestSize {
    /// The full-compaction test's machine (1 GiB as the issue asks; MMLAB_TEST_MIB overrides for profiling).
    static var fullCompactionBytes: Int {
        if let s = getenv("MMLAB_TEST_MIB"), let v = Int(String(cString: s)) { return v << 20 }
        return 1 << 30
    }
}
