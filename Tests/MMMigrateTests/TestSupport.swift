// Shared helpers for the migration tests: machine builders, addresses, status codes,
// a seeded PRNG and thread-safe collectors (pthread-based, so ThreadSanitizer sees them).

import Testing
import Synchronization
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck
import MMSync

/// Start of the test mapping in every process.
let base: UInt64 = 0x1000_0000

/// Address of page `i` of the test mapping.
func page(_ i: Int) -> UInt64 { base + UInt64(i) << 12 }

/// move_pages' status value for an errno (Linux writes negated errno numbers).
func st(_ e: Errno) -> Int { -Int(e.rawValue) }

/// A small machine: `nodes` nodes of `mib` MiB, full 4 KiB frame contents.
func makeMachine(nodes: Int = 2, mib: Int = 8, content: ContentMode = .full) -> Machine {
    Machine(MachineConfig(nodes: nodes, nodeMemBytes: mib << 20, blockBytes: 4 << 20, content: content))
}

/// Creates `name` with `pages` touched (written) pages at `base`.
@discardableResult
func makeProcess(_ m: Machine, _ name: String, pages: Int, mapped: Int? = nil, node: Int = 0,
                 uid: Int = 0, privileged: Bool = false) throws -> Process {
    let p = try m.createProcess(name, node: node, uid: uid, privileged: privileged)
    try m.mmap(p.mm, base, UInt64(mapped ?? pages) << 12)
    if pages > 0 { try m.touch(p.mm, base, UInt64(pages) << 12) }
    return p
}

/// The frame mapped at `addr` (test precondition: something is mapped there).
func frame(_ m: Machine, _ p: Process, _ addr: UInt64) throws -> PFN {
    try #require(m.frameMapped(p.mm, addr), "nothing mapped at \(hex(addr)) in \(p.name)")
}

/// The node the page at `addr` is on, or nil if nothing is mapped there.
func nodeOf(_ m: Machine, _ p: Process, _ addr: UInt64) -> Int? {
    m.frameMapped(p.mm, addr).map { m.phys.nodeOf($0) }
}

/// An allocator for migratePages: a page on `node`, no fallback.
func onNode(_ m: Machine, _ node: Int) -> (PFN) -> PFN? {
    { _ in m.phys.allocPage(node: node, fallback: false) }
}

/// True when every frame is back in the allocator and no anon_vma is allocated.
func machineIsEmpty(_ m: Machine) -> Bool {
    m.phys.freePages() == m.config.totalPages && m.slab.allSlots().allSatisfy { !$0.isAllocated }
}


/// An append-only list shared between threads.
final class Collector<T: Sendable>: @unchecked Sendable {
    private let lock = PlainLock()
    private var items: [T] = []
    func append(_ x: T) { lock.withLock { items.append(x) } }
    var all: [T] { lock.withLock { items } }
}

/// A flag and counters shared between threads.
final class Shared: Sendable {
    let done = Atomic<Bool>(false)
    let counter = Atomic<Int>(0)
    var isDone: Bool { done.load(ordering: .acquiring) }
    func finish() { done.store(true, ordering: .releasing) }
}

/// A short, readable form of the violations for failure messages.
func describe(_ v: [Violation]) -> String {
    v.isEmpty ? "none" : v.map { "\n  \($0)" }.joined()
}

/// A successful system call result; nil statuses are those Linux leaves unwritten.
func ok(_ ret: Int, _ status: [Int?]?) -> SyscallResult {
    SyscallResult(ret: ret, errno: nil, status: status)
}
