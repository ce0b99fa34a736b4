// Booting a machine from a per-PFN layout instead of an empty machine (Linux's analogue:
// memmap_init() gives every struct page its initial state, then memblock_free_all() →
// __free_pages_core() hands the free ranges to the buddy as large aligned blocks). Used
// to rebuild a real machine's snapshot (MMScenario/SnapshotReplay.swift) in one linear
// pass: in-use frames get their descriptors directly, free frames enter the buddy as the
// maximal naturally aligned blocks of each free run — exactly what freeing them one page
// at a time would leave, since two free aligned buddies of one order always merge.

/// What a frame holds when the machine boots (one byte per PFN of `BootLayout.frames`).
public enum BootFrame: UInt8, Sendable {
    /// Free in the buddy allocator.
    case free = 0
    /// In use, refcount 1, no flags: owned by whoever the caller hands it to (a page a
    /// process will map, or a placeholder that stays allocated).
    case allocated = 1
    /// In use, refcount 1, PageFlag.unmovable: a kernel allocation nothing migrates.
    case unmovable = 2
}

/// A machine's initial page state: one `BootFrame` per PFN and one migratetype per
/// pageblock. The config's holes are reserved whatever the layout says there.
public struct BootLayout: Sendable {
    /// `BootFrame` raw values, one per PFN of the machine.
    public var frames: [UInt8]
    /// `MigrateType` raw values, one per pageblock of the machine (`keepMovable` for the
    /// boot default, Movable).
    public var pageblockTypes: [UInt8]
    public static let keepMovable: UInt8 = 0xFF

    /// A layout of `pages` frames, every one allocated, every pageblock Movable.
    public init(pages: Int) {
        frames = [UInt8](repeating: BootFrame.allocated.rawValue, count: max(0, pages))
        pageblockTypes = [UInt8](repeating: Self.keepMovable, count: max(0, pages) >> pageblockOrder)
    }

    /// Why this layout cannot boot `config`, or nil.
    public func problem(_ config: MachineConfig) -> String? {
        if frames.count != config.totalPages { return "layout has \(frames.count) frames, the machine \(config.totalPages)" }
        if pageblockTypes.count != config.totalPages >> pageblockOrder {
            return "layout has \(pageblockTypes.count) pageblock types, the machine \(config.totalPages >> pageblockOrder) pageblocks"
        }
        if let f = frames.first(where: { BootFrame(rawValue: $0) == nil }) { return "frame state \(f) is not a BootFrame" }
        // MIGRATE_ISOLATE blocks do not merge with others: a layout may not start with them.
        if let t = pageblockTypes.first(where: { $0 != Self.keepMovable && (MigrateType(rawValue: Int($0)) == nil || $0 == UInt8(MigrateType.isolate.rawValue)) }) {
            return "pageblock type \(t) is not Unmovable, Movable or Reclaimable"
        }
        return nil
    }

    /// Free, allocated and unmovable frames outside the config's holes.
    public func counts(_ config: MachineConfig) -> (free: Int, allocated: Int, unmovable: Int) {
        var c = [0, 0, 0]
        var holeMask = [Bool](repeating: false, count: frames.count)
        for h in config.holes { for p in max(0, h.lowerBound)..<min(frames.count, max(h.lowerBound, h.upperBound)) { holeMask[p] = true } }
        for (p, f) in frames.enumerated() where !holeMask[p] && Int(f) < c.count { c[Int(f)] += 1 }
        return (c[0], c[1], c[2])
    }
}

extension PhysicalMemory {
    /// Boots every zone from `layout` (the caller checked `layout.problem(config)`).
    static func bootFromLayout(_ zones: [Zone], _ d: PageDescriptors, _ layout: BootLayout, guard g: HostFrameGuard?) {
        for z in zones {
            z.lock.withLock {
                // Pageblock types first: a freed block lands on its pageblock type's list.
                for b in stride(from: Int(z.startPFN), to: Int(z.endPFN), by: pageblockPages) {
                    let t = layout.pageblockTypes[b >> pageblockOrder]
                    if t != BootLayout.keepMovable, let mt = MigrateType(rawValue: Int(t)) { z.setPageblockTypeLocked(PFN(b), mt) }
                }
                bootZoneFromLayout(z, d, layout.frames, guard: g)
            }
        }
    }

    /// Linux: memmap_init_range() + __free_pages_core(), for one zone; caller holds its lock.
    /// Each maximal run of free frames becomes its largest aligned blocks, lowest first.
    private static func bootZoneFromLayout(_ z: Zone, _ d: PageDescriptors, _ frames: [UInt8], guard g: HostFrameGuard?) {
        let start = Int(z.startPFN), end = Int(z.endPFN)
        let holes = z.holes.map { Int($0.lowerBound)..<Int($0.upperBound) }.sorted { $0.lowerBound < $1.lowerBound }
        var nextHole = 0
        var p = start
        frames.withUnsafeBufferPointer { f in
            while p < end {   // bounded: every branch advances p
                while nextHole < holes.count && holes[nextHole].upperBound <= p { nextHole += 1 }
                let holeStart = nextHole < holes.count ? max(p, holes[nextHole].lowerBound) : end
                if nextHole < holes.count && holes[nextHole].lowerBound <= p {
                    for q in p..<min(end, holes[nextHole].upperBound) { d.storeFlags(PFN(q), PageFlag.reserved) }
                    p = min(end, holes[nextHole].upperBound)
                    continue
                }
                let stop = min(end, holeStart)
                if f[p] == BootFrame.free.rawValue {
                    var runEnd = p + 1
                    while runEnd < stop && f[runEnd] == BootFrame.free.rawValue { runEnd += 1 }
                    freeRun(z, from: p, to: runEnd)
                    p = runEnd
                } else {
                    d.setRefcount(PFN(p), 1)
                    if f[p] == BootFrame.unmovable.rawValue { d.storeFlags(PFN(p), PageFlag.unmovable) }
                    if let g { _ = g.admit(PFN(p)) }   // counted as touched: it is in use
                    p += 1
                }
            }
        }
    }

    /// [from, to) free: its naturally aligned blocks, largest first (no two of them are
    /// buddies, so none merges with another; the run's neighbours are in use or holes).
    private static func freeRun(_ z: Zone, from: Int, to: Int) {
        var p = from
        while p < to {
            let rel = p - Int(z.startPFN)
            var o = min(maxOrder, rel == 0 ? maxOrder : rel.trailingZeroBitCount)
            while o > 0 && p + (1 << o) > to { o -= 1 }
            z.freePagesLocked(PFN(p), order: o)
            p += 1 << o
        }
    }
}
