// The memory-block table (Linux: /sys/devices/system/memory/memoryN/{state,
// valid_zones,phys_device} as drivers/base/memory.c exposes them), with a census of
// each block's pages that sysfs does not give but hot-remove explains itself by.

import MMPhysical

/// One row of the table: a memory block and what its pages hold right now.
public struct MemoryBlockInfo: Sendable, Equatable {
    public let id: Int
    public let node: Int
    /// The `block=` index within the node.
    public let index: Int
    /// Zone name, or "multi" when the block spans two zones.
    public let zone: String
    public let state: MemoryBlockState
    public var free = 0
    /// In use and movable (LRU or isolated pages nobody pins).
    public var movable = 0
    /// Kernel allocations that never move.
    public var unmovable = 0
    /// Movable pages holding more references than their mappings explain (long-term pins).
    public var pinned = 0
    /// Frames in holes, or taken out of the allocator by an offline.
    public var reserved = 0

    /// Counts the pages of `block` (racy reads of atomic descriptors: exact at a quiet
    /// point, a snapshot otherwise).
    public init(_ phys: PhysicalMemory, _ block: MemoryBlock) {
        id = block.id
        node = block.node
        index = block.indexInNode
        zone = block.zone?.name ?? "multi"
        state = block.state
        let d = phys.pages
        var p = block.startPFN
        while p < block.endPFN {
            let f = d.flags(p)
            if f & PageFlag.buddy != 0 {
                let o = d.buddyOrder(p)
                let n = p + (PFN(1) << PFN(o)) <= block.endPFN ? 1 << o : 1
                free += n
                p += PFN(n)
                continue
            }
            defer { p += 1 }
            if f & PageFlag.reserved != 0 { reserved += 1; continue }
            let ref = Int(d.refcount(p))
            guard ref > 0 else { continue }
            if f & PageFlag.unmovable != 0 { unmovable += 1; continue }
            let expected = Int(d.mapcount(p)) + (f & PageFlag.isolated != 0 ? 1 : 0)
            if ref > expected && f & PageFlag.anon != 0 { pinned += 1 } else { movable += f & PageFlag.head != 0 ? d.folioPages(p) : 1 }
        }
    }

    public static func all(_ phys: PhysicalMemory) -> [MemoryBlockInfo] { phys.blocks.map { MemoryBlockInfo(phys, $0) } }

    /// The table as text, one block a line.
    public static func text(_ rows: [MemoryBlockInfo]) -> String {
        var out = "block node index zone     state          free  movable unmovable pinned\n"
        for r in rows {
            out += pad(r.id, 5) + " " + pad(r.node, 4) + " " + pad(r.index, 5) + " "
            out += rpad(r.zone, 8) + " "
            out += rpad(r.state.name, 13) + " "
            out += pad(r.free, 6) + " " + pad(r.movable, 8) + " " + pad(r.unmovable, 9) + " " + pad(r.pinned, 6) + "\n"
        }
        return out
    }

    static func rpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }

    static func pad(_ v: Int, _ w: Int) -> String {
        let s = String(v)
        return s.count >= w ? s : String(repeating: " ", count: w - s.count) + s
    }
}
