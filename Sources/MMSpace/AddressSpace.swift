// Address spaces and processes (Linux: struct mm_struct, struct vm_area_struct,
// struct task_struct) and the machine that holds them all.

import MMPhysical
import MMSync
import Synchronization

/// A virtual memory area: an anonymous private read-write mapping (Linux: struct
/// vm_area_struct). `start`, `end` and `pgoff` change only with the mm's mmap_lock held
/// for writing *and* the anon_vma lock held, so either lock makes them stable.
public final class VMA: @unchecked Sendable, CustomStringConvertible {
    public internal(set) var start: UInt64
    public internal(set) var end: UInt64
    /// Linear page offset of `start` (Linux: vm_pgoff); for anonymous memory the
    /// mmap-time address >> 12, kept across mremap so page->index stays valid.
    public internal(set) var pgoff: UInt64
    public let writable: Bool
    /// Linux: vma->anon_vma; set once by anonVmaPrepare (racing faults under the read
    /// mmap_lock, hence atomic).
    let anonVmaEncoded = Atomic<UInt64>(0)
    public var anonVma: AnonVmaRef? { AnonVmaRef(encoded: anonVmaEncoded.load(ordering: .acquiring)) }
    /// The owning address space. Unowned(unsafe) because rmap walks read it for every
    /// VMA of every page they visit, and a checked unowned reference costs two atomic
    /// operations each time. Safe: an MM unlinks all its VMAs from their anon_vmas
    /// (exitMmap) before anything can release it, and mm.vmas keeps them alive.
    public unowned(unsafe) let mm: MM
    /// The owner's page tables, reached directly by rmap walks (same lifetime as `mm`).
    unowned(unsafe) let pageTable: PageTable

    init(mm: MM, start: UInt64, end: UInt64, pgoff: UInt64, writable: Bool = true, anonVma: AnonVmaRef? = nil) {
        self.mm = mm
        pageTable = mm.pageTable
        self.start = start
        self.end = end
        self.pgoff = pgoff
        self.writable = writable
        anonVmaEncoded.store(anonVma?.encoded ?? 0, ordering: .releasing)
    }

    /// Linux: vma_address() — where page index `index` sits in this VMA, if inside.
    @inline(__always) public func address(ofIndex index: UInt32) -> UInt64? {
        let i = UInt64(index)
        guard i >= pgoff else { return nil }
        let a = start &+ ((i - pgoff) << 12)
        return a >= start && a < end ? a : nil
    }
    /// Linux: linear_page_index().
    @inline(__always) public func linearIndex(_ addr: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: pgoff + ((addr - start) >> 12))
    }
    public func contains(_ addr: UInt64) -> Bool { addr >= start && addr < end }
    public var description: String { "vma[\(hex(start))-\(hex(end)) of \(mm.ownerName)]" }
}

/// Highest user address the model accepts: page indices must fit page->index (32 bits).
public let userAddressLimit: UInt64 = 1 << 44

@inline(__always) public func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

/// An address space (Linux: struct mm_struct).
public final class MM: @unchecked Sendable {
    public let id: Int
    public let ownerName: String
    /// Node anonymous faults allocate from (the process's memory policy).
    public let homeNode: Int
    /// Linux: mm->mmap_lock.
    public let mmapLock = ModelRWLock("mmap_lock", rank: .mmapLock)
    /// Sorted by start. Under mmapLock.
    var vmas: [VMA] = []
    public let pageTable: PageTable
    /// Linux: mm->mm_users. The last mmput tears the address space down.
    let users = Atomic<Int>(1)
    /// True once exit_mmap ran.
    let dead = Atomic<Bool>(false)

    /// Checker bookkeeping, not part of the model: the stamp this address space last
    /// wrote at each page (by virtual page number) and its long-term pins.
    let shadowLock = PlainLock()
    var shadow: [UInt64: UInt64] = [:]
    var pins: [(addr: UInt64, pfn: PFN)] = []
    /// Set by the owner's exit when it drops the pins: a pin racing the exit must not
    /// add one that nobody will ever drop.
    var pinsClosed = false
    let writeVersion = Atomic<UInt64>(0)

    init(id: Int, ownerName: String, homeNode: Int, quota: PageTableQuota? = nil) {
        pageTable = PageTable(quota: quota)
        self.id = id
        self.ownerName = ownerName
        self.homeNode = homeNode
    }

    /// Linux: find_vma() restricted to a containing VMA. Caller holds mmapLock.
    public func findVMA(_ addr: UInt64) -> VMA? {
        var lo = 0, hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmas[mid].end <= addr { lo = mid + 1 } else { hi = mid }
        }
        return lo < vmas.count && vmas[lo].contains(addr) ? vmas[lo] : nil
    }

    /// The VMAs (caller holds mmapLock, or the machine is quiet).
    public var vmaList: [VMA] { vmas }
    public var isDead: Bool { dead.load(ordering: .acquiring) }
    public var userCount: Int { users.load(ordering: .acquiring) }

    /// What this address space last wrote at `addr` (0 if never written).
    public func expectedStamp(_ addr: UInt64) -> UInt64 { shadowLock.withLock { shadow[addr >> 12] ?? 0 } }
    public func shadowSnapshot() -> [UInt64: UInt64] { shadowLock.withLock { shadow } }
    public func pinSnapshot() -> [(addr: UInt64, pfn: PFN)] { shadowLock.withLock { pins } }
}

/// A process (Linux: struct task_struct, reduced to what mm/ needs).
public final class Process: @unchecked Sendable {
    public let name: String
    public let pid: Int
    public let uid: Int
    /// CAP_SYS_NICE / CAP_SYS_PTRACE in one bit.
    public let privileged: Bool
    public let mm: MM
    /// Linux: signal->oom_score_adj, -1000 (never killed) … 1000; inherited by fork.
    public let oomScoreAdj: Int
    init(name: String, pid: Int, uid: Int, privileged: Bool, mm: MM, oomScoreAdj: Int = 0) {
        precondition((-1000...1000).contains(oomScoreAdj), "process \(name): oom_score_adj \(oomScoreAdj) out of range")
        self.oomScoreAdj = oomScoreAdj
        self.name = name
        self.pid = pid
        self.uid = uid
        self.privileged = privileged
        self.mm = mm
    }
}

/// A whole simulated machine: physical memory, the anon_vma slab, the process table.
public final class Machine: @unchecked Sendable {
    public let phys: PhysicalMemory
    public let slab: AnonVmaSlab
    /// Violations detected while running (use-after-free on stale anon_vma references,
    /// stale migration entries met by faults), as opposed to those the checker finds.
    public let violations = ViolationLog()
    private let policyRaw = Atomic<Int>(2)
    /// What a fault with no free page does (OOMKill.swift); Linux: the OOM killer.
    let oomPolicyRaw = Atomic<Int>(0)
    /// Processes the OOM killer killed, in order (OOMKill.swift).
    let oomLock = PlainLock()
    var oomKillLog: [OOMKill] = []
    /// Test-only: mremap moves PTEs without the anon_vma lock (Linux's old bug).
    public let skipMremapRmapLock = Atomic<Bool>(false)

    private let tableLock = PlainLock()   // Linux: tasklist_lock
    private var processes: [String: Process] = [:]
    private var nextPid = 100
    private var unmovablePages: [PFN] = []
    /// Kernel allocations of the `alloc` statement (KernelAlloc.swift), oldest first.
    let kernelBlockLock = PlainLock()
    var kernelBlockList: [KernelBlock] = []

    /// Page tables of all address spaces together (PageTable.swift).
    public let pageTableQuota: PageTableQuota
    /// Every file mapping and its page cache (PageCache.swift).
    public let pageCache = PageCacheRegistry()

    /// At most one page table per 64 frames (dense use needs one per 512), and 256 at
    /// least: HostBudget (MMPhysical) owns the rule and counts their host memory.
    public static func pageTableLimit(_ config: MachineConfig) -> Int { HostBudget.pageTableLimit(config) }

    /// `layout`: boot from a per-PFN layout (MMPhysical/BootLayout.swift) instead of an empty machine.
    public init(_ config: MachineConfig, layout: BootLayout? = nil) {
        pageTableQuota = PageTableQuota(limit: Self.pageTableLimit(config))
        phys = PhysicalMemory(config, layout: layout)
        slab = AnonVmaSlab(vmstat: phys.vmstat)
    }

    public var config: MachineConfig { phys.config }
    public var vmstat: VMStat { phys.vmstat }

    /// The anon_vma pin policy (docs/ARCHITECTURE.md, Pin policies); change it only at a quiet point.
    public var pinPolicy: AnonVmaPinPolicy {
        get { AnonVmaPinPolicy.allCases[policyRaw.load(ordering: .relaxed)] }
        set { policyRaw.store(AnonVmaPinPolicy.allCases.firstIndex(of: newValue)!, ordering: .relaxed) }
    }

    /// Creates a process with an empty address space.
    public func createProcess(_ name: String, node: Int = 0, uid: Int = 0, privileged: Bool = false,
                              oomScoreAdj: Int = 0) throws(Errno) -> Process {
        guard node >= 0, node < config.nodes else { throw .ENODEV }
        guard (-1000...1000).contains(oomScoreAdj) else { throw .EINVAL }
        let created: Process? = tableLock.withLock {
            guard processes[name] == nil else { return nil }
            nextPid += 1
            let p = Process(name: name, pid: nextPid, uid: uid, privileged: privileged,
                            mm: MM(id: nextPid, ownerName: name, homeNode: node, quota: pageTableQuota),
                            oomScoreAdj: oomScoreAdj)
            processes[name] = p
            return p
        }
        guard let created else { throw .EEXIST }
        return created
    }

    func register(_ p: Process) throws(Errno) {
        let ok: Bool = tableLock.withLock {
            guard processes[p.name] == nil else { return false }
            processes[p.name] = p
            return true
        }
        if !ok { throw .EEXIST }
    }

    func allocPid() -> Int { tableLock.withLock { nextPid += 1; return nextPid } }

    /// Linux: find_task_by_vpid(), by name.
    public func process(_ name: String) -> Process? { tableLock.withLock { processes[name] } }
    public var allProcesses: [Process] { tableLock.withLock { processes.values.sorted { $0.pid < $1.pid } } }

    func unregister(_ name: String) -> Process? { tableLock.withLock { processes.removeValue(forKey: name) } }

    /// Kernel allocations that can never move (slab, page tables of the kernel…).
    public func allocateUnmovable(node: Int, pages: Int) throws(Errno) {
        guard node >= 0, node < config.nodes else { throw .ENODEV }
        for _ in 0..<pages {
            guard let p = phys.allocPage(node: node, .unmovable, fallback: false) else { throw .ENOMEM }
            phys.pages.setFlags(p, PageFlag.unmovable)
            tableLock.withLock { unmovablePages.append(p) }
        }
    }
    public var unmovable: [PFN] { tableLock.withLock { unmovablePages } }

    /// A kernel allocation of the free frame `pfn` (Linux: take_page_off_buddy for the
    /// frame, then steal_suitable_fallback's claim: the pageblock becomes MIGRATE_UNMOVABLE
    /// and its free pages move to the unmovable lists). Fragmenters use it to put an
    /// unmovable page exactly where a scenario wants one. EBUSY if `pfn` is not free.
    public func allocateUnmovable(at pfn: PFN) throws(Errno) {
        guard Int(pfn) < phys.totalPages else { throw .EINVAL }
        let zone = phys.zoneOf(pfn)
        guard zone.takeFreePage(pfn) else { throw .EBUSY }
        phys.pages.setFlags(pfn, PageFlag.unmovable)
        let block = pfn & ~PFN(pageblockPages - 1)
        zone.lock.withLock { zone.moveFreePagesLocked(from: block, to: block + PFN(pageblockPages), .unmovable) }
        tableLock.withLock { unmovablePages.append(pfn) }
    }

    /// Stamp for the `version`-th write by `mm` at `addr`: never 0, never FrameStore.torn.
    @inline(__always) static func stamp(mm: Int, addr: UInt64, version: UInt64) -> UInt64 {
        var z = UInt64(mm) &* 0x9E37_79B9_7F4A_7C15 ^ (addr >> 12) &* 0xBF58_476D_1CE4_E5B9 ^ version
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return z == 0 || z == FrameStore.torn ? 1 : z
    }
}
