// Helpers for the hot-remove tests: machines, processes with touched pages, where a
// process's pages lie, and the whole-machine checks every test ends with.

import Testing
import MMPhysical
import MMSpace
import MMCheck
import MMSync
import MMHotplug

let base: UInt64 = 0x1000_0000
func page(_ i: Int) -> UInt64 { base + UInt64(i) << 12 }

/// A machine of `nodes` nodes of `mib` MiB in blocks of `blockMiB`.
func machine(nodes: Int = 1, mib: Int = 32, blockMiB: Int = 8, movableMiB: Int = 0,
             content: ContentMode = .full, holes: [Range<Int>] = []) -> Machine {
    let c = MachineConfig(nodes: nodes, nodeMemBytes: mib << 20, blockBytes: blockMiB << 20, content: content,
                          movableBytes: movableMiB << 20, holes: holes)
    precondition(c.problem == nil, c.problem ?? "")
    return Machine(c)
}

/// A process with `pages` written pages at `base`.
@discardableResult
func process(_ m: Machine, _ name: String, pages: Int, node: Int = 0) throws -> Process {
    let p = try m.createProcess(name, node: node)
    try m.mmap(p.mm, base, UInt64(pages) << 12)
    try m.touch(p.mm, base, UInt64(pages) << 12)
    return p
}

/// Indices of the pages of `p` (of `pages`) whose frames lie in `block`.
func pagesIn(_ m: Machine, _ p: Process, pages: Int, _ block: MemoryBlock) -> [Int] {
    (0..<pages).filter { i in m.frameMapped(p.mm, page(i)).map { $0 >= block.startPFN && $0 < block.endPFN } ?? false }
}

/// The block holding most pages of `p`.
func busiestBlock(_ m: Machine, _ p: Process, pages: Int) -> MemoryBlock {
    m.phys.blocks.max { pagesIn(m, p, pages: pages, $0).count < pagesIn(m, p, pages: pages, $1).count }!
}

/// Reads every page of `p` back; true when every one is intact.
func allIntact(_ m: Machine, _ p: Process, pages: Int) throws -> Bool {
    for i in 0..<pages where !(try m.userRead(p.mm, page(i))).intact { return false }
    return true
}

/// The checker's verdict, readable in a failure message.
func describe(_ v: [Violation]) -> String { v.isEmpty ? "none" : v.map { "\n  \($0)" }.joined() }

/// Every pageblock of `block` has type `mt`.
func pageblocks(_ m: Machine, _ block: MemoryBlock, are mt: MigrateType) -> Bool {
    stride(from: block.startPFN, to: block.endPFN, by: pageblockPages).allSatisfy { block.zone!.pageblockType(of: $0) == mt }
}

/// Allocates movable pages until one lands in `block` (then frees them all); true if one did.
func allocationLands(_ m: Machine, in block: MemoryBlock) -> Bool {
    var taken: [PFN] = []
    defer { for p in taken { m.phys.putPage(p) } }
    for _ in 0..<m.config.totalPages {
        guard let p = m.phys.allocPage(node: block.node, .movable, fallback: false) else { return false }
        taken.append(p)
        if p >= block.startPFN && p < block.endPFN { return true }
    }
    return false
}
