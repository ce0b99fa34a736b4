// The machine's geometry and its validity, in one place (Linux: what the firmware's
// memory map, `movablecore=` and the memory-block size of drivers/base/memory.c
// decide at boot). The scenario parser, the CLI and the workload all build a
// `MachineConfig` and ask it — nobody else computes block sizes, zone spans or limits.

/// Kinds of memory zone the model has (Linux: enum zone_type, the ones x86-64 uses).
public enum ZoneKind: Int, Sendable, CaseIterable, Comparable {
    /// PFNs below 4 GiB of physical address (Linux: ZONE_DMA32).
    case dma32 = 0
    /// Everything else a kernel allocation may use (Linux: ZONE_NORMAL).
    case normal = 1
    /// Only movable allocations land here (Linux: ZONE_MOVABLE, from `movablecore=`).
    case movable = 2

    /// The name /proc/zoneinfo and /proc/buddyinfo print.
    public var name: String {
        switch self {
        case .dma32: "DMA32"
        case .normal: "Normal"
        case .movable: "Movable"
        }
    }

    /// The kind named `name` as the `zones=` list writes it (case-insensitive).
    public init?(name: String) {
        guard let k = ZoneKind.allCases.first(where: { $0.name.lowercased() == name.lowercased() }) else { return nil }
        self = k
    }

    public static func < (a: ZoneKind, b: ZoneKind) -> Bool { a.rawValue < b.rawValue }
}

/// Geometry of a machine (the scenario's `machine` line, the CLI's `--nodes --mem`).
public struct MachineConfig: Sendable, Equatable {
    public var nodes: Int
    public var nodeMemBytes: Int
    /// Memory block (hot-plug unit) size: a multiple of 2 MiB dividing `nodeMemBytes`.
    public var blockBytes: Int
    public var content: ContentMode
    /// The zone kinds asked for (`zones=`), sorted; `.movable` is implied by `movableBytes`.
    public var zoneKinds: [ZoneKind]
    /// Bytes at the top of each node that form its Movable zone (`movable=SIZE`); 0: none.
    public var movableBytes: Int
    /// Start one kcompactd thread per node with the machine (`kcompactd=on`).
    public var kcompactd: Bool
    /// PFN ranges with no memory behind them (a replayed snapshot's holes): never
    /// handed to the buddy allocator, never allocated, never scanned as free.
    public var holes: [Range<Int>]
    /// Pre-fault the frame and descriptor storage at boot, on huge host pages where the
    /// host allows (mm_map_anon): benchmarks then measure the model, not the host's
    /// first-touch faults and TLB misses. Off by default: boot stays fast and a sparse
    /// machine costs only what it touches.
    public var populate = false

    /// Limits of the model.
    public static let maxNodes = 64
    public static let maxNodeMemBytes = 1 << 40
    /// Zones start and end on max-order (4 MiB) boundaries so that buddies never cross them.
    public static let zoneAlignBytes = (1 << maxOrder) << pageShift
    /// Linux: the DMA32 zone ends at 4 GiB of physical address.
    public static let dma32EndPFN = (4 << 30) >> pageShift

    /// `blockBytes` nil: the default rule (`defaultBlockBytes`).
    public init(nodes: Int = 1, nodeMemBytes: Int, blockBytes: Int? = nil, content: ContentMode = .full,
                zones: [ZoneKind] = [.normal], movableBytes: Int = 0, kcompactd: Bool = false,
                holes: [Range<Int>] = [], populate: Bool = false) {
        self.populate = populate
        self.nodes = nodes
        self.nodeMemBytes = nodeMemBytes
        self.blockBytes = blockBytes ?? Self.defaultBlockBytes(nodeMemBytes: nodeMemBytes)
        self.content = content
        var kinds = Set(zones)
        if movableBytes > 0 { kinds.insert(.movable) }
        zoneKinds = kinds.sorted()
        self.movableBytes = movableBytes
        self.kcompactd = kcompactd
        self.holes = holes
    }

    /// A machine of `totalBytes` split evenly over `nodes` (the CLI's `--mem`): nil when
    /// the split is not exact (then `problemSplitting` says why).
    public static func splitting(totalBytes: Int, nodes: Int, content: ContentMode = .full) -> MachineConfig? {
        guard nodes >= 1, totalBytes >= 0, totalBytes % nodes == 0 else { return nil }
        return MachineConfig(nodes: nodes, nodeMemBytes: totalBytes / nodes, content: content)
    }

    /// Why `totalBytes` over `nodes` is no machine, or nil.
    public static func problemSplitting(totalBytes: Int, nodes: Int) -> String? {
        if nodes < 1 || nodes > maxNodes { return "nodes must be 1…\(maxNodes)" }
        guard let c = splitting(totalBytes: totalBytes, nodes: nodes) else {
            return "memory of \(totalBytes) bytes does not split evenly over \(nodes) nodes"
        }
        return c.problem
    }

    /// The block size when none is given: 16 MiB, or the node's memory when that is
    /// smaller, or else the largest power-of-two fraction of 16 MiB (down to 4 MiB)
    /// that divides it.
    public static func defaultBlockBytes(nodeMemBytes: Int) -> Int {
        let mib = 1 << 20
        if nodeMemBytes <= 16 * mib { return max(nodeMemBytes, 0) }
        var b = 16 * mib
        while b > 4 * mib && nodeMemBytes % b != 0 { b /= 2 }
        return b
    }

    public var pagesPerNode: Int { nodeMemBytes >> pageShift }
    public var totalPages: Int { pagesPerNode * nodes }
    public var pagesPerBlock: Int { blockBytes >> pageShift }
    public var blocksPerNode: Int { blockBytes > 0 ? nodeMemBytes / blockBytes : 0 }
    public var movablePagesPerNode: Int { movableBytes >> pageShift }

    /// Sizes as the scenario language writes them (`20M`, `1G`, or bytes).
    public static func show(_ bytes: Int) -> String {
        if bytes > 0 && bytes % (1 << 30) == 0 { return "\(bytes >> 30)G" }
        if bytes > 0 && bytes % (1 << 20) == 0 { return "\(bytes >> 20)M" }
        if bytes > 0 && bytes % (1 << 10) == 0 { return "\(bytes >> 10)K" }
        return "\(bytes) bytes"
    }

    /// Why this geometry cannot be booted, or nil. Each message names the setting.
    public var problem: String? {
        let mib = 1 << 20
        if nodes < 1 || nodes > Self.maxNodes { return "nodes=\(nodes) out of range (1…\(Self.maxNodes))" }
        if nodeMemBytes < 4 * mib { return "node_mem=\(Self.show(nodeMemBytes)) is too small: at least 4M" }
        if nodeMemBytes > Self.maxNodeMemBytes { return "node_mem=\(Self.show(nodeMemBytes)) is too large: at most 1024G (1 TiB) per node" }
        if nodeMemBytes % (4 * mib) != 0 { return "node_mem=\(Self.show(nodeMemBytes)) is not a multiple of 4M" }
        if blockBytes <= 0 || blockBytes % (2 * mib) != 0 {
            return "block=\(Self.show(blockBytes)) is not a positive multiple of 2M (one pageblock of 512 pages)"
        }
        if blockBytes > nodeMemBytes || nodeMemBytes % blockBytes != 0 {
            return "block=\(Self.show(blockBytes)) does not divide node_mem=\(Self.show(nodeMemBytes))"
        }
        if totalPages >= Int(noPFN) { return "machine too large (at most 2^32-1 frames)" }
        if zoneKinds.isEmpty || zoneKinds == [.movable] { return "zones= must name DMA32 or Normal (kernel allocations need a zone)" }
        if zoneKinds.contains(.movable) && movableBytes == 0 { return "zones=…,Movable needs movable=SIZE" }
        if movableBytes < 0 || movableBytes % Self.zoneAlignBytes != 0 || movableBytes % blockBytes != 0 {
            return "movable=\(Self.show(movableBytes)) must be a multiple of 4M and of block=\(Self.show(blockBytes))"
        }
        if movableBytes >= nodeMemBytes {
            return "movable=\(Self.show(movableBytes)) leaves no memory for kernel allocations: it must be less than node_mem=\(Self.show(nodeMemBytes))"
        }
        if !zoneKinds.contains(.normal) && totalPages - nodes * movablePagesPerNode > 0 {
            // Only DMA32: every non-movable page must lie below 4 GiB.
            for n in 0..<nodes where n * pagesPerNode + pagesPerNode - movablePagesPerNode > Self.dma32EndPFN {
                return "zones=DMA32 without Normal: node \(n) has memory above 4G (add Normal)"
            }
        }
        var last = 0
        for h in holes {
            if h.isEmpty || h.lowerBound < last || h.upperBound > totalPages {
                return "hole \(h) must be non-empty, sorted, disjoint and inside the machine's \(totalPages) frames"
            }
            last = h.upperBound
        }
        return nil
    }

    /// One zone's span as the layout gives it.
    public struct ZoneSpan: Sendable, Equatable {
        public var kind: ZoneKind
        public var node: Int
        public var startPFN: Int
        public var pages: Int
    }

    /// The zones of node `n`, lowest PFN first; empty spans are left out (Linux keeps
    /// them as unpopulated zones). Movable is the top `movableBytes`; below it DMA32
    /// covers what lies under 4 GiB when asked for, Normal the rest.
    public func zoneSpans(node n: Int) -> [ZoneSpan] {
        let start = n * pagesPerNode, end = start + pagesPerNode
        let movableStart = end - (zoneKinds.contains(.movable) ? movablePagesPerNode : 0)
        var out: [ZoneSpan] = []
        var cursor = start
        if zoneKinds.contains(.dma32) {
            let dmaEnd = zoneKinds.contains(.normal) ? min(movableStart, max(start, Self.dma32EndPFN)) : movableStart
            if dmaEnd > cursor { out.append(ZoneSpan(kind: .dma32, node: n, startPFN: cursor, pages: dmaEnd - cursor)) }
            cursor = max(cursor, dmaEnd)
        }
        if zoneKinds.contains(.normal), movableStart > cursor {
            out.append(ZoneSpan(kind: .normal, node: n, startPFN: cursor, pages: movableStart - cursor))
        }
        if movableStart < end {
            out.append(ZoneSpan(kind: .movable, node: n, startPFN: movableStart, pages: end - movableStart))
        }
        return out
    }

    /// Pages of `holes` inside [start, start + pages).
    public func holePages(from start: Int, count pages: Int) -> Int {
        holes.reduce(0) { acc, h in acc + max(0, min(h.upperBound, start + pages) - max(h.lowerBound, start)) }
    }
}
