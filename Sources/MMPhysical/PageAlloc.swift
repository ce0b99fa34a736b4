// The buddy allocator (Linux: mm/page_alloc.c). Zones of a node (Topology.swift); free lists per
// order (0…10) and migratetype; blocks split on allocation (expand) and merge with
// their buddy on free; an allocation whose migratetype lists are empty steals from a
// fallback type and may claim the whole pageblock — which is what fragments memory.
//
// Locking: `Zone.lock` protects the free lists, the pageblock migratetypes and the
// free counters. Descriptor link fields of free pages belong to the zone lock.

import MMSync
import Synchronization

/// Flag bits of a pageblock beside its migratetype (Linux: enum pageblock_bits).
public enum PageblockFlag {
    /// Low three bits: the migratetype.
    public static let migratetypeMask: UInt8 = 0x7
    /// Compaction found nothing to isolate here last time (Linux: PB_migrate_skip).
    public static let skip: UInt8 = 0x8
}

/// What compaction remembers of a zone between runs (Linux: the compact_* fields of
/// struct zone). Read and written under `Zone.withCompactState`.
public struct ZoneCompactState: Sendable {
    /// Where the migrate scanner resumes: [0] async, [1] sync and sync-light
    /// (Linux: compact_cached_migrate_pfn[2]).
    public var cachedMigratePFN: [PFN]
    /// Where the free scanner resumes (Linux: compact_cached_free_pfn).
    public var cachedFreePFN: PFN
    /// Attempts skipped since the last deferral (Linux: compact_considered).
    public var considered = 0
    /// 2^shift attempts are skipped after a failure, shift ≤ 6 (Linux: compact_defer_shift).
    public var deferShift = 0
    /// Lowest order that failed since the last success (Linux: compact_order_failed).
    public var orderFailed = 0
    /// The scanners met: skip hints are cleared on the next run (Linux: compact_blockskip_flush).
    public var blockskipFlush = false
}

/// A memory zone: a contiguous PFN range of one node (Linux: struct zone).
public final class Zone: @unchecked Sendable {
    public let kind: ZoneKind
    public let node: Int
    /// Index in `PhysicalMemory.zones` (node-major, lowest PFN first).
    public let index: Int
    public let startPFN: PFN
    /// PFNs from start to end, holes included (Linux: spanned_pages).
    public let spannedPages: Int
    /// PFNs with memory behind them (Linux: present_pages).
    public let presentPages: Int
    /// PFN ranges inside the zone with no memory: never in the buddy, never allocated.
    public let holes: [Range<PFN>]
    /// Linux: zone->lock.
    public let lock = ModelMutex("zone", rank: .zone)
    let d: PageDescriptors
    private var freeLists: [PageList]            // [order * 4 + migratetype]
    /// One flags byte per pageblock: migratetype and the skip bit (PageblockFlag).
    /// The migratetype is written under `lock`, the skip bit by compaction without it;
    /// both atomic so that scanners (compaction, hot-remove, the checker) may read
    /// without the lock, as Linux's get_pageblock_migratetype() does.
    private let pageblockFlags: UnsafeMutablePointer<Atomic<UInt8>>
    public let pageblockCount: Int
    /// Free base pages in this zone (Linux: NR_FREE_PAGES). Under `lock`.
    public private(set) var nrFree: Int = 0
    /// Watermarks in pages, computed at boot (Linux: __setup_per_zone_wmarks).
    public internal(set) var watermarks = Watermarks(min: 0, low: 0, high: 0)
    let vmstat: VMStat
    private let compactLock = PlainLock()
    private var compactState: ZoneCompactState

    init(kind: ZoneKind, node: Int, index: Int, startPFN: PFN, pages: Int, holes: [Range<PFN>],
         descriptors: PageDescriptors, vmstat: VMStat) {
        precondition(pages % (1 << maxOrder) == 0, "zone size must be a multiple of 4 MiB")
        self.kind = kind
        self.node = node
        self.index = index
        self.startPFN = startPFN
        spannedPages = pages
        self.holes = holes
        presentPages = pages - holes.reduce(0) { $0 + $1.count }
        d = descriptors
        self.vmstat = vmstat
        freeLists = Array(repeating: PageList(), count: (maxOrder + 1) * 4)
        pageblockCount = pages / pageblockPages
        pageblockFlags = .allocate(capacity: pageblockCount)
        for i in 0..<pageblockCount {
            (pageblockFlags + i).initialize(to: Atomic(UInt8(MigrateType.movable.rawValue)))
        }
        let end = startPFN + PFN(pages)
        compactState = ZoneCompactState(cachedMigratePFN: [startPFN, startPFN],
                                        cachedFreePFN: end - PFN(pageblockPages))
    }

    deinit {
        pageblockFlags.deinitialize(count: pageblockCount)
        pageblockFlags.deallocate()
    }

    public var endPFN: PFN { startPFN + PFN(spannedPages) }
    /// Spanned pages (the name callers used before zones had holes).
    public var pages: Int { spannedPages }
    public var name: String { kind.name }
    public func contains(_ pfn: PFN) -> Bool { pfn >= startPFN && pfn < endPFN }
    /// True if `pfn` lies in one of the zone's holes.
    public func isHole(_ pfn: PFN) -> Bool { holes.contains { $0.contains(pfn) } }
    /// True if [start, end) has no page to scan: its first or last PFN lies in a hole
    /// (Linux: pageblock_pfn_to_page() returns NULL; both scanners step over the block
    /// without looking at it — for a replayed snapshot, its uninitialised tail).
    public func blockHasNoPages(_ start: PFN, _ end: PFN) -> Bool {
        !holes.isEmpty && end > start && (isHole(start) || isHole(end - 1))
    }

    @inline(__always) private func listIndex(_ order: Int, _ mt: MigrateType) -> Int { order * 4 + mt.rawValue }

    /// Compaction's state of this zone, read or changed under its own leaf lock.
    public func withCompactState<R>(_ body: (inout ZoneCompactState) -> R) -> R {
        compactLock.withLock { body(&compactState) }
    }

    // MARK: pageblocks

    @inline(__always) private func pageblockSlot(_ pfn: PFN) -> UnsafeMutablePointer<Atomic<UInt8>> {
        precondition(contains(pfn), "pfn \(pfn) outside zone \(node)/\(kind.name)")
        return pageblockFlags + (Int(pfn - startPFN) >> pageblockOrder)
    }

    /// Linux: get_pageblock_migratetype(). Without `lock` the answer may be stale.
    public func pageblockType(of pfn: PFN) -> MigrateType {
        MigrateType(rawValue: Int(pageblockSlot(pfn).pointee.load(ordering: .relaxed) & PageblockFlag.migratetypeMask))!
    }

    /// The flags byte of pageblock `i` of this zone (migratetype | PageblockFlag.skip).
    public func pageblockFlags(index i: Int) -> UInt8 {
        precondition(i >= 0 && i < pageblockCount, "pageblock \(i) outside zone \(node)/\(kind.name)")
        return pageblockFlags[i].load(ordering: .relaxed)
    }

    /// Linux: set_pageblock_migratetype(). Caller holds `lock`. Keeps the skip bit.
    public func setPageblockTypeLocked(_ pfn: PFN, _ mt: MigrateType) {
        let slot = pageblockSlot(pfn)
        var cur = slot.pointee.load(ordering: .relaxed)
        while true {
            let new = (cur & ~PageblockFlag.migratetypeMask) | UInt8(mt.rawValue)
            let (ok, seen) = slot.pointee.compareExchange(expected: cur, desired: new, ordering: .relaxed)
            if ok { return }
            cur = seen
        }
    }

    /// Linux: get_pageblock_skip().
    public func isPageblockSkip(_ pfn: PFN) -> Bool {
        pageblockSlot(pfn).pointee.load(ordering: .relaxed) & PageblockFlag.skip != 0
    }

    /// Linux: set_pageblock_skip() / clear_pageblock_skip(). No lock: a hint.
    public func setPageblockSkip(_ pfn: PFN, _ on: Bool) {
        let slot = pageblockSlot(pfn)
        if on { slot.pointee.bitwiseOr(PageblockFlag.skip, ordering: .relaxed) }
        else { slot.pointee.bitwiseAnd(~PageblockFlag.skip, ordering: .relaxed) }
    }

    /// Linux: __reset_isolation_suitable() — clears every skip hint of the zone.
    public func clearAllPageblockSkip() {
        for i in 0..<pageblockCount { pageblockFlags[i].bitwiseAnd(~PageblockFlag.skip, ordering: .relaxed) }
    }

    /// Linux: zone_watermark_ok() as __zone_watermark_ok computes it: after taking
    /// 2^order pages the zone keeps more than `mark` free, and for order > 0 a free block
    /// of at least `order` exists on a list the request may use.
    public func watermarkOK(order: Int, mark: Int, _ mt: MigrateType = .movable) -> Bool {
        lock.withLock { watermarkOKLocked(order: order, mark: mark, mt) }
    }

    func watermarkOKLocked(order: Int, mark: Int, _ mt: MigrateType) -> Bool {
        let freeAfter = nrFree - (1 << order) + 1
        guard freeAfter > mark else { return false }
        if order == 0 { return true }
        for o in order...maxOrder {
            for t in MigrateType.allocatable where freeLists[listIndex(o, t)].count > 0 {
                // Linux: a movable request may also steal from any allocatable list.
                if t == mt || mt.fallbacks.contains(t) { return true }
            }
        }
        return false
    }

    /// Takes the whole free block headed at `pfn` out of the allocator for compaction's
    /// free scanner, if `pfn` heads one and the zone stays above its min watermark
    /// after (Linux: __isolate_free_page). Returns its order; its pages come back with
    /// refcount 0 and no flags (the caller splits them, Linux: split_map_pages).
    /// Caller holds `lock`.
    public func isolateFreeBlockLocked(_ pfn: PFN) -> Int? {
        guard d.flags(pfn) & PageFlag.buddy != 0 else { return nil }
        let order = d.buddyOrder(pfn)
        guard d.buddyMigrateType(pfn) != .isolate else { return nil }
        guard nrFree - (1 << order) > watermarks.min else { return nil }
        removeFree(pfn)
        nrFree -= 1 << order
        return order
    }

    /// Whether a request of `order` and `mt` would find a free block now: on its own
    /// lists, or on a fallback list it may steal from (Linux: the free-list test of
    /// __compact_finished with find_suitable_fallback and can_steal_fallback).
    public func hasSuitableFreeBlock(order: Int, _ mt: MigrateType) -> Bool {
        lock.withLock {
            for o in order...maxOrder {
                if freeLists[listIndex(o, mt)].count > 0 { return true }
                let canSteal = o >= pageblockOrder / 2 || mt != .movable
                if canSteal, mt.fallbacks.contains(where: { freeLists[listIndex(o, $0)].count > 0 }) { return true }
            }
            return false
        }
    }

    // MARK: free lists (caller holds lock)

    private func addFree(_ pfn: PFN, order: Int, _ mt: MigrateType) {
        d.storeFlags(pfn, PageFlag.buddy | (UInt32(order) << PageFlag.orderShift) | (UInt32(mt.rawValue) << PageFlag.mtShift))
        freeLists[listIndex(order, mt)].pushFront(pfn, d)
    }

    private func removeFree(_ pfn: PFN) {
        let order = d.buddyOrder(pfn), mt = d.buddyMigrateType(pfn)
        freeLists[listIndex(order, mt)].remove(pfn, d)
        d.storeFlags(pfn, 0)
    }

    /// Free blocks of each order, all migratetypes (a /proc/buddyinfo row).
    public func freeBlockCounts() -> [Int] {
        lock.withLock {
            (0...maxOrder).map { o in MigrateType.allCases.reduce(0) { $0 + freeLists[listIndex(o, $1)].count } }
        }
    }

    /// Free blocks per order of one migratetype (a /proc/pagetypeinfo row).
    public func freeBlockCounts(_ mt: MigrateType) -> [Int] {
        lock.withLock { (0...maxOrder).map { freeLists[listIndex($0, mt)].count } }
    }

    // MARK: free

    /// Returns a block to the allocator, merging with free buddies (Linux: __free_one_page).
    /// The block's pages must have no references and no mappings.
    public func freePages(_ pfn: PFN, order: Int) {
        lock.withLock { freePagesLocked(pfn, order: order) }
        vmstat.add(.pgfree, Int64(1 << order))
    }

    func freePagesLocked(_ start: PFN, order startOrder: Int) {
        precondition(contains(start), "free of pfn \(start) outside zone \(node)/\(kind.name)")
        precondition(Int(start - startPFN) & ((1 << startOrder) - 1) == 0, "unaligned free of pfn \(start) order \(startOrder)")
        let mt = pageblockType(of: start)
        var pfn = start, order = startOrder
        nrFree += 1 << startOrder
        while order < maxOrder {
            let rel = Int(pfn - startPFN)
            let buddy = startPFN + PFN(rel ^ (1 << order))
            let bf = d.flags(buddy)
            guard bf & PageFlag.buddy != 0, d.buddyOrder(buddy) == order else { break }
            // Linux keeps isolated pageblocks from merging with others.
            let bmt = d.buddyMigrateType(buddy)
            if (bmt == .isolate) != (mt == .isolate) { break }
            removeFree(buddy)
            pfn = min(pfn, buddy)
            order += 1
        }
        addFree(pfn, order: order, order >= pageblockOrder ? pageblockType(of: pfn) : mt)
    }

    // MARK: allocate

    /// Allocates a block of 2^order pages of migratetype `mt` (Linux: rmqueue →
    /// __rmqueue_smallest, then __rmqueue_fallback). The head page comes back with
    /// refcount 1 and no flags; nil when the zone has no suitable block.
    public func allocPages(order: Int, _ mt: MigrateType) -> PFN? {
        let pfn: PFN? = lock.withLock {
            if let p = takeSmallest(order, mt) { return p }
            guard stealFallback(order, mt) else { return nil }
            return takeSmallest(order, mt)
        }
        guard let pfn else { return nil }
        for i in 0..<(1 << order) {
            d.setRefcount(pfn + PFN(i), i == 0 ? 1 : 0)
        }
        vmstat.add(.pgalloc, Int64(1 << order))
        return pfn
    }

    /// Takes one specific free page out of the allocator (Linux: take_page_off_buddy):
    /// used to grab a migration target at a chosen place. Caller must hold no zone lock.
    public func takeFreePage(_ target: PFN) -> Bool {
        let ok: Bool = lock.withLock {
            // Find the free block containing target.
            for order in 0...maxOrder {
                let head = startPFN + PFN(Int(target - startPFN) & ~((1 << order) - 1))
                let f = d.flags(head)
                if f & PageFlag.buddy != 0 && d.buddyOrder(head) == order {
                    let mt = d.buddyMigrateType(head)
                    // Linux: an isolated pageblock is no migration target (hot-remove).
                    if mt == .isolate { return false }
                    removeFree(head)
                    nrFree -= 1 << order
                    // Give back every part except the target page.
                    var lo = head, o = order
                    while o > 0 {
                        o -= 1
                        let half = lo + PFN(1 << o)
                        if target >= half { addFree(lo, order: o, mt); lo = half } else { addFree(half, order: o, mt) }
                        nrFree += 1 << o
                    }
                    return true
                }
            }
            return false
        }
        if ok { d.setRefcount(target, 1); vmstat.add(.pgalloc) }
        return ok
    }

    private func takeSmallest(_ order: Int, _ mt: MigrateType) -> PFN? {
        for o in order...maxOrder {
            guard let pfn = freeLists[listIndex(o, mt)].popFront(d) else { continue }
            d.storeFlags(pfn, 0)
            nrFree -= 1 << o
            // Linux: expand() — give back the upper halves.
            var size = 1 << o, cur = o
            while cur > order {
                cur -= 1
                size >>= 1
                addFree(pfn + PFN(size), order: cur, mt)
                nrFree += size
            }
            return pfn
        }
        return nil
    }

    /// Linux: __rmqueue_fallback. Takes the largest free block of a fallback type; when
    /// it is big (≥ half a pageblock) or the request is not movable, the whole pageblock
    /// changes type and its free pages move to the requester's lists (steal_suitable_fallback).
    private func stealFallback(_ order: Int, _ mt: MigrateType) -> Bool {
        guard mt != .isolate else { return false }
        for o in stride(from: maxOrder, through: order, by: -1) {
            for fb in mt.fallbacks {
                let head = freeLists[listIndex(o, fb)].head
                guard head != noPFN else { continue }
                if o >= pageblockOrder / 2 || mt != .movable {
                    claimPageblocks(containing: head, order: o, to: mt)
                } else {
                    removeFree(head)
                    addFree(head, order: o, mt)
                }
                return true
            }
        }
        return false
    }

    private func claimPageblocks(containing pfn: PFN, order: Int, to mt: MigrateType) {
        let blockStart = startPFN + PFN(Int(pfn - startPFN) & ~(pageblockPages - 1))
        let span = max(1 << order, pageblockPages)
        for b in stride(from: Int(blockStart), to: Int(blockStart) + span, by: pageblockPages) {
            setPageblockTypeLocked(PFN(b), mt)
        }
        // Move the free blocks inside the range to the new type's lists.
        var p = Int(blockStart)
        while p < Int(blockStart) + span {
            let f = d.flags(PFN(p))
            if f & PageFlag.buddy != 0 {
                let o = d.buddyOrder(PFN(p))
                if d.buddyMigrateType(PFN(p)) != .isolate {
                    removeFree(PFN(p))
                    addFree(PFN(p), order: o, mt)
                }
                p += 1 << o
            } else {
                p += 1
            }
        }
    }

    /// Moves every free block in [start, end) to the free lists of `mt` and marks the
    /// pageblocks (Linux: move_freepages_block, used by page isolation). Under lock.
    /// `start` and `end` must be pageblock-aligned. A free block that straddles either
    /// boundary (an order-10 block over a 2 MiB range) is split first, so that only
    /// pages inside the range change lists: isolation must not leak outside, and no
    /// free page inside may stay allocatable.
    public func moveFreePagesLocked(from start: PFN, to end: PFN, _ mt: MigrateType) {
        precondition(Int(start - startPFN) % pageblockPages == 0 && Int(end - startPFN) % pageblockPages == 0,
                     "zone \(node)/\(kind.name): move_freepages range \(start)..<\(end) not pageblock-aligned")
        splitFreeBlockLocked(across: start)
        splitFreeBlockLocked(across: end)
        var b = start
        while b < end { setPageblockTypeLocked(b, mt); b += PFN(pageblockPages) }
        var p = start
        while p < end {
            if d.flags(p) & PageFlag.buddy != 0 {
                let o = d.buddyOrder(p)
                removeFree(p)
                addFree(p, order: o, mt)
                p += PFN(1 << o)
            } else {
                p += 1
            }
        }
    }

    /// Splits the free block (if any) that contains both `boundary - 1` and `boundary`
    /// into halves until none crosses `boundary`; each half keeps its list's type.
    private func splitFreeBlockLocked(across boundary: PFN) {
        guard boundary > startPFN, boundary < endPFN else { return }
        for order in 1...maxOrder {
            let head = startPFN + PFN(Int(boundary - startPFN) & ~((1 << order) - 1))
            guard head < boundary, d.flags(head) & PageFlag.buddy != 0, d.buddyOrder(head) == order else { continue }
            let mt = d.buddyMigrateType(head)
            removeFree(head)
            var lo = head, o = order
            // Halve towards the boundary: the half not containing it goes back whole.
            while o > 0 {
                o -= 1
                let half = lo + PFN(1 << o)
                if boundary >= half { addFree(lo, order: o, mt); lo = half } else { addFree(half, order: o, mt) }
                if lo == boundary { addFree(lo, order: o, mt); return }
            }
            addFree(lo, order: 0, mt)
            return
        }
    }

    /// Takes every free page of [start, end) out of the allocator for good (Linux:
    /// __offline_isolated_pages): the range must be isolated and wholly free; its pages
    /// become reserved (PageOffline) frames owned by nobody. Returns the pages taken.
    /// Under lock.
    public func offlineFreePagesLocked(from start: PFN, to end: PFN) -> Int {
        var p = start, taken = 0
        while p < end {
            let f = d.flags(p)
            precondition(f & PageFlag.buddy != 0 && d.buddyMigrateType(p) == .isolate,
                         "offline of zone \(node)/\(kind.name): pfn \(p) is not a free isolated page")
            let o = d.buddyOrder(p)
            precondition(p + PFN(1 << o) <= end, "offline of zone \(node)/\(kind.name): free block at \(p) order \(o) leaves the range")
            removeFree(p)
            for q in p..<(p + PFN(1 << o)) { d.storeFlags(q, PageFlag.reserved) }
            nrFree -= 1 << o
            taken += 1 << o
            p += PFN(1 << o)
        }
        return taken
    }

    /// Gives the reserved frames of an offline range back to the allocator (Linux:
    /// online_pages → online_pages_range): pageblocks of type `mt`, freed in the
    /// largest aligned blocks, merging with free neighbours. Under lock.
    public func onlinePagesLocked(from start: PFN, to end: PFN, _ mt: MigrateType) {
        var b = start
        while b < end { setPageblockTypeLocked(b, mt); b += PFN(pageblockPages) }
        var p = start
        while p < end {
            var o = maxOrder
            while o > 0 && (Int(p - startPFN) & ((1 << o) - 1) != 0 || p + PFN(1 << o) > end) { o -= 1 }
            for q in p..<(p + PFN(1 << o)) {
                precondition(d.flags(q) & ~PageFlag.waiters == PageFlag.reserved && d.refcount(q) == 0,
                             "online of zone \(node)/\(kind.name): pfn \(q) is not an offline frame")
                d.storeFlags(q, 0)
            }
            freePagesLocked(p, order: o)
            p += PFN(1 << o)
        }
    }
}
