// Nodes, their zones' watermarks and memory blocks (Linux: struct pglist_data in
// include/linux/mmzone.h; __setup_per_zone_wmarks and calculate_min_free_kbytes in
// mm/page_alloc.c; struct memory_block in drivers/base/memory.c).
//
// A node owns its zones (lowest PFN first) and its LRU. Memory blocks are the hot-plug
// unit: each has a node, the zone it lies in and an online state that hot-remove moves
// through going-offline to offline.

import MMSync
import Synchronization

/// One NUMA node (Linux: pg_data_t).
public final class Node: @unchecked Sendable {
    public let id: Int
    public let startPFN: PFN
    public let spannedPages: Int
    /// Populated zones, lowest PFN first.
    public let zones: [Zone]
    public let lru: LRUList
    /// Where an allocation of each kind looks on this node, best first (Linux: the
    /// node's part of a zonelist): movable allocations from Movable down, kernel ones
    /// from Normal down — never Movable.
    let movableZonelist: [Zone]
    let kernelZonelist: [Zone]
    /// kcompactd's wait queue (Linux: pgdat->kcompactd_wait).
    public let kcompactdWait = ModelWaitQueue("kcompactd_wait")
    /// Highest order a failed allocation asked kcompactd for (Linux: kcompactd_max_order).
    public let kcompactdMaxOrder = Atomic<Int>(0)
    /// A sysctl write asked for a proactive round now (Linux: proactive_compact_trigger).
    public let proactiveCompactTrigger = Atomic<Bool>(false)

    init(id: Int, startPFN: PFN, pages: Int, zones: [Zone], lru: LRUList) {
        self.id = id
        self.startPFN = startPFN
        spannedPages = pages
        self.zones = zones
        self.lru = lru
        movableZonelist = zones.reversed()
        kernelZonelist = zones.reversed().filter { $0.kind != .movable }
    }

    public var endPFN: PFN { startPFN + PFN(spannedPages) }
    /// Present pages of all zones (Linux: node_present_pages).
    public var presentPages: Int { zones.reduce(0) { $0 + $1.presentPages } }

    /// The zones an allocation of `mt` may use on this node, best first (Linux:
    /// gfp_zone + the zonelist walk of get_page_from_freelist).
    public func zonelist(_ mt: MigrateType) -> [Zone] { mt == .movable ? movableZonelist : kernelZonelist }

    /// The zone of `kind`, if populated.
    public func zone(_ kind: ZoneKind) -> Zone? { zones.first { $0.kind == kind } }
}

/// A zone's watermarks in pages (Linux: zone->_watermark[WMARK_MIN/LOW/HIGH]).
public struct Watermarks: Sendable, Equatable {
    public var min: Int
    public var low: Int
    public var high: Int
    public init(min: Int, low: Int, high: Int) { self.min = min; self.low = low; self.high = high }

    /// Linux: watermark_scale_factor's default (10 = 0.1% of the zone).
    public static let defaultScaleFactor = 10

    /// Linux: calculate_min_free_kbytes(): 4·sqrt(lowmem KiB), clamped to 128 KiB…256 MiB.
    /// `lowmemPages`: present pages of the zones below Movable, machine-wide.
    public static func minFreeKbytes(lowmemPages: Int) -> Int {
        let kb = lowmemPages * (pageSize >> 10)
        return Swift.min(Swift.max(intSqrt(kb * 16), 128), 262_144)
    }

    /// Linux: __setup_per_zone_wmarks(). A zone below Movable gets its share of
    /// min_free_kbytes by size; Movable gets a small fixed min (present/1024, 32…128);
    /// low and high add max(min/4, present·scale/10000) once and twice.
    public static func compute(kind: ZoneKind, presentPages: Int, lowmemPages: Int,
                               scaleFactor: Int = defaultScaleFactor) -> Watermarks {
        let pagesMin = minFreeKbytes(lowmemPages: lowmemPages) >> (pageShift - 10)
        let min: Int
        if kind == .movable {
            min = Swift.min(Swift.max(presentPages / 1024, 32), 128)
        } else {
            min = lowmemPages > 0 ? pagesMin * presentPages / lowmemPages : 0
        }
        let step = Swift.max(min >> 2, presentPages * scaleFactor / 10_000)
        return Watermarks(min: min, low: min + step, high: min + 2 * step)
    }

    /// Linux: int_sqrt() — floor of the square root.
    static func intSqrt(_ x: Int) -> Int {
        guard x > 1 else { return Swift.max(x, 0) }
        var r = Int(Double(x).squareRoot())
        while r * r > x { r -= 1 }
        while (r + 1) * (r + 1) <= x { r += 1 }
        return r
    }
}

/// Online state of a memory block (Linux: MEM_ONLINE, MEM_GOING_OFFLINE, MEM_OFFLINE).
public enum MemoryBlockState: UInt8, Sendable, CaseIterable {
    case online = 0, goingOffline = 1, offline = 2
    /// As /sys/devices/system/memory/memoryN/state prints it.
    public var name: String {
        switch self {
        case .online: "online"
        case .goingOffline: "going-offline"
        case .offline: "offline"
        }
    }
}

/// One memory block (Linux: struct memory_block): `pages` frames from `startPFN` on
/// `node`. Hot-remove changes `state`; everything else is fixed at boot.
public final class MemoryBlock: @unchecked Sendable {
    /// Machine-wide index (Linux: the N of memoryN).
    public let id: Int
    /// Index within its node (the `block=` of `offline node=N block=B`).
    public let indexInNode: Int
    public let node: Int
    public let startPFN: PFN
    public let pages: Int
    /// The zone holding the block, or nil when the block spans two zones (Linux:
    /// test_pages_in_a_zone fails: such a block cannot be offlined).
    public let zone: Zone?
    /// Frames of the block inside holes.
    public let holePages: Int
    private let rawState = Atomic<UInt8>(MemoryBlockState.online.rawValue)

    init(id: Int, indexInNode: Int, node: Int, startPFN: PFN, pages: Int, zone: Zone?, holePages: Int) {
        self.id = id
        self.indexInNode = indexInNode
        self.node = node
        self.startPFN = startPFN
        self.pages = pages
        self.zone = zone
        self.holePages = holePages
    }

    public var endPFN: PFN { startPFN + PFN(pages) }
    public var state: MemoryBlockState { MemoryBlockState(rawValue: rawState.load(ordering: .acquiring)) ?? .online }
    /// Sets the state (hot-remove's job; the caller serialises offline/online).
    public func setState(_ s: MemoryBlockState) { rawState.store(s.rawValue, ordering: .releasing) }
    /// Atomically moves from `from` to `to`; false if the state was not `from`.
    public func transition(from: MemoryBlockState, to: MemoryBlockState) -> Bool {
        rawState.compareExchange(expected: from.rawValue, desired: to.rawValue, ordering: .acquiringAndReleasing).exchanged
    }
}
