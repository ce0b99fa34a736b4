// The machine's physical memory (Linux: pglist_data per node, mem_map, the memory
// block devices of drivers/base/memory.c): nodes of one zone each, the page
// descriptors, frame contents, per-node LRU lists, the page wait table and vmstat.

import CMMSupport
#if canImport(Glibc)
import Glibc
#endif
import MMSync

/// Geometry of a machine (the scenario's `machine` line).
public struct MachineConfig: Sendable, Equatable {
    public var nodes: Int
    public var nodeMemBytes: Int
    public var blockBytes: Int
    public var content: ContentMode
    /// Pre-fault the frame storage at boot (MAP_POPULATE): benchmarks then measure the
    /// model, not the host's first-touch page faults. Off by default: boot stays fast.
    public var populate = false

    public init(nodes: Int = 1, nodeMemBytes: Int, blockBytes: Int = 16 << 20, content: ContentMode = .full, populate: Bool = false) {
        self.populate = populate
        self.nodes = nodes
        self.nodeMemBytes = nodeMemBytes
        self.blockBytes = min(blockBytes, nodeMemBytes)
        self.content = content
    }

    public var pagesPerNode: Int { nodeMemBytes >> pageShift }
    public var totalPages: Int { pagesPerNode * nodes }
    public var pagesPerBlock: Int { blockBytes >> pageShift }
    public var blocksPerNode: Int { nodeMemBytes / blockBytes }

    /// Why this geometry cannot be booted, or nil.
    public var problem: String? {
        if nodes < 1 || nodes > 64 { return "nodes must be 1…64" }
        if nodeMemBytes < 4 << 20 || nodeMemBytes % (4 << 20) != 0 { return "node_mem must be a multiple of 4M" }
        if blockBytes < 2 << 20 || blockBytes % (2 << 20) != 0 || nodeMemBytes % blockBytes != 0 {
            return "block must be a multiple of 2M that divides node_mem"
        }
        if totalPages >= Int(noPFN) { return "machine too large (at most 2^32-1 frames)" }
        return nil
    }
}

/// All physical memory of one simulated machine.
public final class PhysicalMemory: @unchecked Sendable {
    public let config: MachineConfig
    public let pages: PageDescriptors
    public let frames: FrameStore
    public let zones: [Zone]
    public let lrus: [LRUList]
    public let vmstat = VMStat()
    /// Set when the machine could outgrow the host's share (HostBudget.swift).
    public let hostGuard: HostFrameGuard?
    let waitQueues = HashedWaitQueues()

    /// Boots the machine: maps descriptor and frame storage (lazily: untouched memory
    /// costs nothing) and hands every frame to the buddy allocator as order-10 blocks.
    public init(_ config: MachineConfig) {
        precondition(config.problem == nil, config.problem ?? "")
        self.config = config
        guard let d = PageDescriptors(count: config.totalPages),
              let f = FrameStore(frames: config.totalPages, mode: config.content, populate: config.populate)
        else { fatalError("cannot map storage for \(config.totalPages) frames") }
        pages = d
        frames = f
        hostGuard = HostBudget.frameGuard(config)
        let vm = vmstat
        zones = (0..<config.nodes).map {
            Zone(node: $0, startPFN: PFN($0 * config.pagesPerNode), pages: config.pagesPerNode, descriptors: d, vmstat: vm)
        }
        lrus = (0..<config.nodes).map { LRUList(node: $0, descriptors: d) }
        for z in zones {
            z.lock.withLock {
                for p in stride(from: Int(z.startPFN), to: Int(z.endPFN), by: 1 << maxOrder) {
                    z.freePagesLocked(PFN(p), order: maxOrder)
                }
            }
        }
    }

    deinit {
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
    @inline(__always) public func nodeOf(_ pfn: PFN) -> Int { Int(pfn) / config.pagesPerNode }
    @inline(__always) public func zoneOf(_ pfn: PFN) -> Zone { zones[nodeOf(pfn)] }
    @inline(__always) public func lruOf(_ pfn: PFN) -> LRUList { lrus[nodeOf(pfn)] }

    /// Allocates one page on `node`, or on the other nodes in order if `fallback`
    /// (Linux: alloc_pages_node with a zonelist). Returns a page with refcount 1.
    public func allocPage(node: Int, _ mt: MigrateType = .movable, fallback: Bool = true) -> PFN? {
        if let p = zones[node].allocPages(order: 0, mt) { return admitted(p) }
        guard fallback else { return nil }
        for i in 1..<config.nodes {
            if let p = zones[(node + i) % config.nodes].allocPages(order: 0, mt) { return admitted(p) }
        }
        return nil
    }

    /// `p`, unless the host budget refuses a new frame (then it goes back: no memory).
    @inline(__always) private func admitted(_ p: PFN) -> PFN? {
        guard let g = hostGuard, !g.admit(p) else { return p }
        pages.setRefcount(p, 0)
        zoneOf(p).freePages(p, order: 0)
        return nil
    }

    /// Drops a reference (Linux: put_page). At zero the page leaves the LRU, its
    /// descriptor is cleared and it returns to the buddy allocator.
    public func putPage(_ pfn: PFN) {
        if pages.dropRef(pfn) == 0 { freeZeroRefPage(pfn) }
    }

    private func freeZeroRefPage(_ pfn: PFN) {
        if pages.test(pfn, PageFlag.lru) { lruOf(pfn).removeForFree(pfn) }
        precondition(pages.mapcount(pfn) == 0, "freeing mapped pfn \(pfn)")
        precondition(pages.flags(pfn) & (PageFlag.locked | PageFlag.writeback) == 0,
                     "freeing pfn \(pfn) with flags \(PageFlag.describe(pages.flags(pfn)))")
        pages.setMapping(pfn, 0)
        pages.setIndex(pfn, 0)
        pages.storeFlags(pfn, 0)
        zoneOf(pfn).freePages(pfn, order: 0)
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
        let zs = node.map { [zones[$0]] } ?? zones
        return zs.reduce(0) { acc, z in acc + z.lock.withLock { z.nrFree } }
    }
}
