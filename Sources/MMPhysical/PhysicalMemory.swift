// The machine's physical memory (Linux: pglist_data per node, mem_map, the memory
// block devices of drivers/base/memory.c): nodes and their zones, memory blocks, the
// page descriptors, frame contents, per-node LRU lists, the page wait table and vmstat.
//
// PFN → node / zone / memory block is one table load per pageblock (the zone and block
// boundaries are pageblock-aligned), never a division on the hot path.

import CMMSupport
#if canImport(Glibc)
import Glibc
#endif
import MMSync

/// All physical memory of one simulated machine.
public final class PhysicalMemory: @unchecked Sendable {
    public let config: MachineConfig
    public let pages: PageDescriptors
    public let frames: FrameStore
    /// Every populated zone, node-major, lowest PFN first (`Zone.index` indexes it).
    public let zones: [Zone]
    public let nodes: [Node]
    /// Every memory block, node-major (`MemoryBlock.id` indexes it).
    public let blocks: [MemoryBlock]
    public let lrus: [LRUList]
    public let vmstat = VMStat()
    /// Set when the machine could outgrow the host's share (HostBudget.swift).
    public let hostGuard: HostFrameGuard?
    /// The vm.* sysctls (compaction's tunables).
    public let sysctl = VMSysctl()
    let waitQueues = HashedWaitQueues()
    /// Per pageblock: index into `zones` and into `blocks` (the O(1) PFN lookups).
    private let pageblockZone: UnsafeMutablePointer<UInt16>
    private let pageblockBlock: UnsafeMutablePointer<UInt32>
    private let pageblockTotal: Int

    /// Boots the machine: maps descriptor and frame storage (lazily: untouched memory
    /// costs nothing), lays out nodes, zones and memory blocks, marks holes reserved and
    /// hands every other frame to the buddy allocator in the largest aligned blocks — or,
    /// with a `layout` (BootLayout.swift), gives each frame the state the layout says.
    public init(_ config: MachineConfig, layout: BootLayout? = nil) {
        precondition(config.problem == nil, config.problem ?? "")
        if let p = layout?.problem(config) { preconditionFailure("boot layout: " + p) }
        self.config = config
        guard let d = PageDescriptors(count: config.totalPages, populate: config.populate),
              let f = FrameStore(frames: config.totalPages, mode: config.content, populate: config.populate)
        else { fatalError("cannot map storage for \(config.totalPages) frames") }
        pages = d
        frames = f
        hostGuard = HostBudget.frameGuard(config)
        let vm = vmstat
        var zs: [Zone] = [], ns: [Node] = [], ls: [LRUList] = []
        for n in 0..<config.nodes {
            var nodeZones: [Zone] = []
            for span in config.zoneSpans(node: n) {
                let holes = config.holes.compactMap { h -> Range<PFN>? in
                    let lo = max(h.lowerBound, span.startPFN), hi = min(h.upperBound, span.startPFN + span.pages)
                    return lo < hi ? PFN(lo)..<PFN(hi) : nil
                }
                let z = Zone(kind: span.kind, node: n, index: zs.count, startPFN: PFN(span.startPFN), pages: span.pages,
                             holes: holes, descriptors: d, vmstat: vm)
                zs.append(z)
                nodeZones.append(z)
            }
            let lru = LRUList(node: n, descriptors: d)
            ls.append(lru)
            ns.append(Node(id: n, startPFN: PFN(n * config.pagesPerNode), pages: config.pagesPerNode, zones: nodeZones, lru: lru))
        }
        zones = zs
        nodes = ns
        lrus = ls
        pageblockTotal = config.totalPages / pageblockPages
        pageblockZone = .allocate(capacity: pageblockTotal)
        pageblockBlock = .allocate(capacity: pageblockTotal)
        for z in zs {
            let first = Int(z.startPFN) >> pageblockOrder
            for i in 0..<z.pageblockCount { pageblockZone[first + i] = UInt16(z.index) }
        }
        var bs: [MemoryBlock] = []
        for n in 0..<config.nodes {
            for b in 0..<config.blocksPerNode {
                let start = n * config.pagesPerNode + b * config.pagesPerBlock
                let first = zs[Int(pageblockZone[start >> pageblockOrder])]
                let last = zs[Int(pageblockZone[(start + config.pagesPerBlock - 1) >> pageblockOrder])]
                let blk = MemoryBlock(id: bs.count, indexInNode: b, node: n, startPFN: PFN(start), pages: config.pagesPerBlock,
                                      zone: first === last ? first : nil,
                                      holePages: config.holePages(from: start, count: config.pagesPerBlock))
                for i in 0..<(config.pagesPerBlock >> pageblockOrder) {
                    pageblockBlock[(start >> pageblockOrder) + i] = UInt32(blk.id)
                }
                bs.append(blk)
            }
        }
        blocks = bs
        Self.setupWatermarks(zs)
        if let layout { Self.bootFromLayout(zs, d, layout, guard: hostGuard) } else { for z in zs { Self.bootFree(z, d) } }
    }

    /// Linux: __setup_per_zone_wmarks() over the whole machine.
    private static func setupWatermarks(_ zones: [Zone]) {
        let lowmem = zones.filter { $0.kind != .movable }.reduce(0) { $0 + $1.presentPages }
        for z in zones {
            z.watermarks = Watermarks.compute(kind: z.kind, presentPages: z.presentPages, lowmemPages: lowmem)
        }
    }

    /// Linux: memblock_free_all / init_unavailable_range: holes become reserved pages
    /// that no one owns; every other frame goes to the buddy in max-order blocks where
    /// no hole interferes, page by page (merging as it goes) where one does.
    private static func bootFree(_ z: Zone, _ d: PageDescriptors) {
        z.lock.withLock {
            for p in stride(from: Int(z.startPFN), to: Int(z.endPFN), by: 1 << maxOrder) {
                let chunk = PFN(p)..<PFN(p + (1 << maxOrder))
                if !z.holes.contains(where: { $0.overlaps(chunk) }) {
                    z.freePagesLocked(PFN(p), order: maxOrder)
                    continue
                }
                for q in chunk {
                    if z.isHole(q) { d.storeFlags(q, PageFlag.reserved) } else { z.freePagesLocked(q, order: 0) }
                }
            }
        }
    }

    deinit {
        pageblockZone.deallocate()
        pageblockBlock.deallocate()
        pages.release()
        frames.release()
    }

    /// Why `config` cannot be booted on this host — its geometry, or storage the host
    /// will not map — or nil. Callers taking user input check this first, so a machine
    /// too big for the host is a clear error instead of a crash at boot.
    public static func bootProblem(_ config: MachineConfig) -> String? {
        if let p = config.problem { return p }
        if let p = HostBudget.bootProblem(config) { return p }
        // Boot writes the descriptors of every order-10 block head: three 4 KiB pages of
        // descriptor arrays per 4 MiB simulated. Refuse what would not fit in half of
        // the host's memory rather than be killed half-way.
        let bootBytes = UInt64(config.totalPages >> maxOrder) * 3 * UInt64(pageSize)
        let hostBytes = UInt64(sysconf(Int32(_SC_PHYS_PAGES))) * UInt64(sysconf(Int32(_SC_PAGESIZE)))
        if hostBytes > 0, bootBytes > hostBytes / 2 {
            return "a machine of \(config.totalPages >> 18) GiB needs about \(bootBytes >> 20) MiB of host memory to boot; this host has \(hostBytes >> 20) MiB"
        }
        guard let d = PageDescriptors(count: config.totalPages) else {
            return "cannot map \(config.totalPages * PageDescriptors.bytesPerPage >> 20) MiB of page descriptors on this host"
        }
        d.release()
        guard let f = FrameStore(frames: config.totalPages, mode: config.content) else {
            return "cannot map \(config.totalPages * config.content.bytesPerFrame >> 20) MiB of frame contents on this host (try content=stamp)"
        }
        f.release()
        return nil
    }

    public var totalPages: Int { config.totalPages }
    /// The node of `pfn` (O(1): one table load).
    @inline(__always) public func nodeOf(_ pfn: PFN) -> Int { zoneOf(pfn).node }
    /// The zone of `pfn` (O(1): one table load).
    @inline(__always) public func zoneOf(_ pfn: PFN) -> Zone {
        precondition(Int(pfn) < totalPages, "pfn \(pfn) beyond the machine's \(totalPages) frames")
        return zones[Int(pageblockZone[Int(pfn) >> pageblockOrder])]
    }
    /// The memory block of `pfn` (O(1): one table load).
    @inline(__always) public func blockOf(_ pfn: PFN) -> MemoryBlock {
        precondition(Int(pfn) < totalPages, "pfn \(pfn) beyond the machine's \(totalPages) frames")
        return blocks[Int(pageblockBlock[Int(pfn) >> pageblockOrder])]
    }
    @inline(__always) public func lruOf(_ pfn: PFN) -> LRUList { lrus[nodeOf(pfn)] }
    /// Memory block `index` of `node` (the `block=` of the scenario language), or nil.
    public func block(node: Int, index: Int) -> MemoryBlock? {
        guard node >= 0, node < config.nodes, index >= 0, index < config.blocksPerNode else { return nil }
        return blocks[node * config.blocksPerNode + index]
    }

    /// Allocates one page on `node`, or on the other nodes in order if `fallback`
    /// (Linux: alloc_pages_node with a zonelist: each node's zones from the highest the
    /// request may use down). Returns a page with refcount 1.
    public func allocPage(node: Int, _ mt: MigrateType = .movable, fallback: Bool = true) -> PFN? {
        allocPages(node: node, order: 0, mt, fallback: fallback)
    }

    /// Allocates 2^order pages (refcount 1 on the head) from the zonelist of `node`.
    /// Order-0 requests take any free page (the model keeps no reserves for them);
    /// order > 0 requests respect the min watermark as Linux's slow path does.
    public func allocPages(node: Int, order: Int, _ mt: MigrateType, fallback: Bool = true) -> PFN? {
        precondition(order >= 0 && order <= maxOrder, "alloc of order \(order)")
        let count = fallback ? config.nodes : 1
        for i in 0..<count {
            for z in nodes[(node + i) % config.nodes].zonelist(mt) {
                if order > 0, !z.watermarkOK(order: order, mark: z.watermarks.min, mt) { continue }
                if let p = z.allocPages(order: order, mt) { return admitted(p, order: order) }
            }
        }
        return nil
    }

    /// Allocates an order-`order` folio (Linux: folio_alloc → prep_compound_page): a
    /// block whose head carries the order and holds one reference; nil when no zone of
    /// the zonelist has a free block of that order.
    public func allocFolio(node: Int, order: Int, _ mt: MigrateType = .movable, fallback: Bool = true) -> PFN? {
        guard let p = allocPages(node: node, order: order, mt, fallback: fallback) else { return nil }
        pages.prepCompound(p, order: order)
        return p
    }

    /// `p`, unless the host budget refuses a new frame (then it goes back: no memory).
    @inline(__always) private func admitted(_ p: PFN, order: Int) -> PFN? {
        guard let g = hostGuard else { return p }
        for i in 0..<(1 << order) where !g.admit(p + PFN(i)) {
            pages.setRefcount(p, 0)
            zoneOf(p).freePages(p, order: order)
            return nil
        }
        return p
    }

    /// Drops a reference (Linux: put_page). At zero the page leaves the LRU, its
    /// descriptor is cleared and it returns to the buddy allocator.
    public func putPage(_ pfn: PFN) {
        if pages.dropRef(pfn) == 0 { freeZeroRefPage(pfn) }
    }

    /// True if `pfn` lies in a free buddy block (Linux: the page_is_buddy walk up the
    /// orders that is_free_buddy_page does). Racy without the zone lock; callers own
    /// the pages they ask about, or only report.
    public func isInFreeBlock(_ pfn: PFN) -> Bool {
        let zone = zoneOf(pfn)
        for o in 0...maxOrder {
            let h = zone.startPFN + PFN(Int(pfn - zone.startPFN) & ~((1 << o) - 1))
            if pages.test(h, PageFlag.buddy), pages.buddyOrder(h) >= o { return true }
        }
        return false
    }

    /// Drops `n` references at once (Linux: folio_put_refs); frees at zero like putPage.
    public func putRefs(_ pfn: PFN, _ n: Int32) {
        if pages.dropRefs(pfn, n) == 0 { freeZeroRefPage(pfn) }
    }

    /// A large folio goes back whole, at its order (Linux: free_pages_prepare clears
    /// the compound state, then __free_one_page of that order).
    private func freeZeroRefPage(_ pfn: PFN) {
        precondition(!pages.isTail(pfn), "freeing tail pfn \(pfn) of folio \(pages.compoundHead(pfn))")
        if pages.test(pfn, PageFlag.lru) { lruOf(pfn).removeForFree(pfn) }
        precondition(pages.mapcount(pfn) == 0, "freeing mapped pfn \(pfn)")
        precondition(pages.flags(pfn) & (PageFlag.locked | PageFlag.writeback) == 0,
                     "freeing pfn \(pfn) with flags \(PageFlag.describe(pages.flags(pfn)))")
        let order = pages.folioOrder(pfn)
        pages.clearCompound(pfn, order: order)
        pages.setMapping(pfn, 0)
        pages.setIndex(pfn, 0)
        pages.storeFlags(pfn, 0)
        zoneOf(pfn).freePages(pfn, order: order)
    }

    /// Gives an isolated page back to its LRU and drops the isolation reference
    /// (Linux: putback_lru_page). If that was the last reference the page is freed.
    public func putback(_ pfn: PFN) {
        precondition(pages.test(pfn, PageFlag.isolated), "putback of non-isolated pfn \(pfn)")
        if pages.refcount(pfn) == 1 {
            // Nobody else holds it: freeing directly avoids a pointless LRU round trip.
            pages.clearFlags(pfn, PageFlag.isolated)
            putPage(pfn)
            return
        }
        lruOf(pfn).readd(pfn)
        putPage(pfn)
    }

    /// Free base pages on `node` (or all nodes).
    public func freePages(node: Int? = nil) -> Int {
        let zs = node.map { nodes[$0].zones } ?? zones
        return zs.reduce(0) { acc, z in acc + z.lock.withLock { z.nrFree } }
    }
}
