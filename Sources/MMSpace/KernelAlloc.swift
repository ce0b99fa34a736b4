// Kernel allocations of any order (Linux: alloc_pages_node + split_page for a
// non-compound block): what the `alloc` scenario statement makes so that a scenario can
// show a high-order allocation failing and compaction making room. Each block is split
// into order-0 pages of refcount 1 that belong to the kernel: never on the LRU, so
// compaction and hot-remove cannot move them; the checker expects exactly one reference.

import MMPhysical
import MMSync

/// One kernel allocation: 2^order pages from `head`.
public struct KernelBlock: Sendable, Equatable {
    public let node: Int
    public let order: Int
    public let head: PFN
    public let migratetype: MigrateType
}

extension Machine {
    /// Records a block just allocated (refcount 1 on the head, 0 on the others): splits
    /// it so every page holds its own reference (Linux: split_page) and marks unmovable
    /// blocks' pages PG_unmovable.
    public func adoptKernelBlock(node: Int, order: Int, head: PFN, _ mt: MigrateType) {
        for i in 0..<(1 << order) {
            let p = head + PFN(i)
            if i > 0 { phys.pages.getRefFromZeroForSplit(p) }
            if mt != .movable { phys.pages.setFlags(p, PageFlag.unmovable) }
        }
        kernelBlockLock.withLock { kernelBlockList.append(KernelBlock(node: node, order: order, head: head, migratetype: mt)) }
    }

    /// Frees the `count` most recent kernel blocks of `node` and `order`; EINVAL (and
    /// nothing freed) if there are fewer.
    public func freeKernelBlocks(node: Int, order: Int, count: Int) throws(Errno) {
        let taken: [KernelBlock]? = kernelBlockLock.withLock {
            let idx = kernelBlockList.indices.filter { kernelBlockList[$0].node == node && kernelBlockList[$0].order == order }
            guard idx.count >= count else { return nil }
            let chosen = Array(idx.suffix(count))
            let blocks = chosen.map { kernelBlockList[$0] }
            for i in chosen.reversed() { kernelBlockList.remove(at: i) }
            return blocks
        }
        guard let taken else { throw .EINVAL }
        for b in taken {
            for i in 0..<(1 << b.order) {
                let p = b.head + PFN(i)
                phys.pages.clearFlags(p, PageFlag.unmovable)
                phys.putPage(p)
            }
        }
    }

    /// Every page of every kernel block (for the checker).
    public var kernelPages: [PFN] {
        kernelBlockLock.withLock { kernelBlockList.flatMap { b in (0..<(1 << b.order)).map { b.head + PFN($0) } } }
    }
    public var kernelBlocks: [KernelBlock] { kernelBlockLock.withLock { kernelBlockList } }
}
