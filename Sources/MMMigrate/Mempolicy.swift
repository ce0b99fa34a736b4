// The NUMA system calls that drive migration from a process (Linux: mm/migrate.c
// do_pages_move, do_pages_stat, kernel_move_pages; mm/mempolicy.c
// kernel_migrate_pages, migrate_to_node), and the kernel-context single-page
// migration of the scenario's `migrate_kernel` statement.

import MMPhysical
import MMSpace
import MMSync

/// move_pages(2) flags (Linux: MPOL_MF_*).
public struct MPolFlags: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let strict = MPolFlags(rawValue: 1)
    public static let move = MPolFlags(rawValue: 2)
    public static let moveAll = MPolFlags(rawValue: 4)
}

/// A system call's result: Linux's return value, or an errno.
public struct SyscallResult: Sendable, Equatable {
    /// The return value (0 or pages not migrated); meaningless when `errno` is set.
    public var ret: Int
    public var errno: Errno?
    /// move_pages' status array: a node, or a negative errno.
    public var status: [Int]?
    public static func error(_ e: Errno) -> SyscallResult { SyscallResult(ret: -1, errno: e, status: nil) }
}

extension Migrator {
    /// Linux: the permission check of kernel_move_pages / kernel_migrate_pages
    /// (ptrace_may_access with PTRACE_MODE_READ_REALCREDS, simplified): a caller may act
    /// on its own process, on one of the same user, or on any with privilege.
    static func mayAccess(caller: Process, target: Process) -> Bool {
        caller === target || caller.privileged || caller.uid == target.uid
    }

    /// move_pages(pid, count, pages, nodes, status, flags). With `nodes == nil` it only
    /// reports where each page is (Linux: do_pages_stat).
    public func movePages(target name: String, caller callerName: String? = nil, addresses: [UInt64],
                          nodes: [Int]?, flags: MPolFlags) -> SyscallResult {
        let flagsKnown: MPolFlags = [.move, .moveAll]
        // Linux's order (kernel_move_pages): flags, the caller's privilege for MOVE_ALL,
        // then the target (find_mm_struct: ESRCH, then the ptrace-style check).
        guard flagsKnown.isSuperset(of: flags) else { return .error(.EINVAL) }
        let callerProcess = callerName.flatMap { machine.process($0) }
        if callerName != nil, callerProcess == nil { return .error(.ESRCH) }
        let callerPrivileged = callerProcess?.privileged ?? machine.process(name)?.privileged ?? false
        if flags.contains(.moveAll), !callerPrivileged { return .error(.EPERM) }
        guard let target = machine.process(name) else { return .error(.ESRCH) }
        let caller = callerProcess ?? target
        guard Self.mayAccess(caller: caller, target: target) else { return .error(.EPERM) }
        if let nodes {
            guard nodes.count == addresses.count else { return .error(.EINVAL) }
            for n in nodes where n < 0 || n >= machine.config.nodes { return .error(.ENODEV) }
        }
        let mm = target.mm
        guard machine.mmgetNotZero(mm) else { return .error(.ESRCH) }
        defer { machine.mmput(mm) }
        mm.mmapLock.readLock()
        defer { mm.mmapLock.unlock() }
        guard let nodes else { return SyscallResult(ret: 0, errno: nil, status: addresses.map { pageStatus(mm, $0) }) }
        return doPagesMove(mm, addresses, nodes, flags)
    }

    /// Where the page at `addr` is: its node, -EFAULT outside any VMA, -ENOENT if not
    /// present (Linux: do_pages_stat_array). Caller holds the mmap_lock.
    func pageStatus(_ mm: MM, _ addr: UInt64) -> Int {
        guard addr < userAddressLimit, mm.findVMA(addr) != nil else { return -Int(Errno.EFAULT.rawValue) }
        let pte = machine.pte(mm, addr)
        if pte.isZeroPage { return -Int(Errno.EFAULT.rawValue) }   // Linux 6.x do_pages_stat_array: is_zero_folio
        if pte.isPresent || pte.isMigration { return machine.phys.nodeOf(pte.pfn) }
        return -Int(Errno.ENOENT.rawValue)
    }

    /// Linux: do_pages_move: isolate each page, then migrate per target node.
    /// Caller holds the mmap_lock for reading (process context).
    private func doPagesMove(_ mm: MM, _ addresses: [UInt64], _ nodes: [Int], _ flags: MPolFlags) -> SyscallResult {
        let phys = machine.phys, pages = phys.pages
        var status = [Int](repeating: 0, count: addresses.count)
        var byNode: [Int: [(index: Int, pfn: PFN)]] = [:]
        var isolated = Set<PFN>()
        for (i, addr) in addresses.enumerated() {
            let target = nodes[i]
            guard addr < userAddressLimit, mm.findVMA(addr & ~4095) != nil else { status[i] = -Int(Errno.EFAULT.rawValue); continue }
            let pte = machine.pte(mm, addr & ~4095)
            // Linux 6.x __add_folio_for_migration: the zero page is -EFAULT.
            if pte.isZeroPage { status[i] = -Int(Errno.EFAULT.rawValue); continue }
            guard pte.isPresent else {
                status[i] = pte.isMigration ? -Int(Errno.EBUSY.rawValue) : -Int(Errno.ENOENT.rawValue)
                continue
            }
            let pfn = pte.pfn
            if phys.nodeOf(pfn) == target { status[i] = target; continue }
            if isolated.contains(pfn) {   // the same page listed twice
                byNode[target, default: []].append((i, pfn))
                continue
            }
            if pages.mapcount(pfn) > 1, !flags.contains(.moveAll) { status[i] = -Int(Errno.EACCES.rawValue); continue }
            guard phys.lruOf(pfn).isolate(pfn) else { status[i] = -Int(Errno.EBUSY.rawValue); continue }
            isolated.insert(pfn)
            byNode[target, default: []].append((i, pfn))
        }
        var notMigrated = 0
        for node in byNode.keys.sorted() {
            let entries = byNode[node]!
            var seen = Set<PFN>()
            let list = entries.map(\.pfn).filter { seen.insert($0).inserted }
            let r = migratePages(list, allocate: { _ in phys.allocPage(node: node, fallback: false) },
                                 mode: .sync, reason: .syscall, context: .process)
            notMigrated += r.notMigrated
            for e in entries {
                switch r.outcomes[e.pfn] {
                case .migrated(let new)?: status[e.index] = phys.nodeOf(new)
                // Freed under us (e.g. the owner COWed away from it meanwhile) is a
                // success: Linux stores the target node, as for a migrated page.
                case .freed?: status[e.index] = node
                case .failed(.EAGAIN)?: status[e.index] = -Int(Errno.EBUSY.rawValue)
                case .failed(let err)?: status[e.index] = -Int(err.rawValue)
                case nil: status[e.index] = -Int(Errno.EBUSY.rawValue)
                }
            }
        }
        return SyscallResult(ret: notMigrated, errno: nil, status: status)
    }

    /// migrate_pages(pid, maxnode, old_nodes, new_nodes): every page of the process on
    /// `from[i]` moves to `to[i]`. Pages shared with other processes move only for a
    /// privileged caller (Linux adds MPOL_MF_MOVE_ALL with CAP_SYS_NICE).
    public func migratePagesSyscall(target name: String, caller callerName: String? = nil,
                                    from: [Int], to: [Int]) -> SyscallResult {
        // Linux's order (kernel_migrate_pages): the task (ESRCH), the access check
        // (EPERM), then whether the nodes exist (EINVAL).
        let n = machine.config.nodes
        if callerName != nil, machine.process(callerName!) == nil { return .error(.ESRCH) }
        guard let target = machine.process(name) else { return .error(.ESRCH) }
        let caller = callerName.flatMap { machine.process($0) } ?? target
        guard Self.mayAccess(caller: caller, target: target) else { return .error(.EPERM) }
        guard from.count == to.count, !from.isEmpty,
              (from + to).allSatisfy({ $0 >= 0 && $0 < n }) else { return .error(.EINVAL) }
        let mm = target.mm
        guard machine.mmgetNotZero(mm) else { return .error(.ESRCH) }
        defer { machine.mmput(mm) }
        mm.mmapLock.readLock()
        defer { mm.mmapLock.unlock() }
        let phys = machine.phys, pages = phys.pages
        var notMigrated = 0
        // Linux do_migrate_pages: first move a source whose destination is not itself a
        // source still to be emptied, so that each page moves once (from 0,1 to 1,2:
        // 1→2 before 0→1). Only a cycle leaves no such pair; then, as Linux, the last
        // one goes first and its pages move twice.
        var pending = zip(from, to).filter { $0.0 != $0.1 }
        var ordered: [(Int, Int)] = []
        while !pending.isEmpty {
            let sources = Set(pending.map { $0.0 })
            let i = pending.firstIndex { !sources.contains($0.1) } ?? pending.count - 1
            ordered.append(pending.remove(at: i))
        }
        for (src, dst) in ordered {
            // Linux: migrate_to_node → queue_pages_range, then migrate_pages.
            var list: [PFN] = []
            for vma in mm.vmaList {
                // Populated tables only (Linux: walk_page_range skips empty levels).
                for (_, pte) in machine.populatedPTEs(mm, vma.start, vma.end) {
                    guard pte.isPresent, phys.nodeOf(pte.pfn) == src else { continue }
                    if pages.mapcount(pte.pfn) > 1, !caller.privileged { continue }
                    if phys.lruOf(pte.pfn).isolate(pte.pfn) { list.append(pte.pfn) } else { notMigrated += 1 }
                }
            }
            let r = migratePages(list, allocate: { _ in phys.allocPage(node: dst, fallback: false) },
                                 mode: .sync, reason: .syscall, context: .process)
            notMigrated += r.notMigrated
        }
        return SyscallResult(ret: notMigrated, errno: nil, status: nil)
    }

    /// The `migrate_kernel` statement: find the frame mapped at `addr` under the
    /// page-table lock only, isolate it as compaction would, and migrate it in kernel
    /// context — no mmap_lock, no reference on the mm — to `node` (default: the next
    /// node). Does nothing if nothing is mapped there when it looks.
    public func migrateKernel(target name: String, address addr: UInt64, node: Int?) -> SyscallResult {
        guard let target = machine.process(name) else { return .error(.ESRCH) }
        if let node, node < 0 || node >= machine.config.nodes { return .error(.ENODEV) }
        let phys = machine.phys
        guard let pfn = machine.frameMapped(target.mm, addr & ~4095) else { return SyscallResult(ret: 0, errno: nil, status: nil) }
        let dst = node ?? (phys.nodeOf(pfn) + 1) % machine.config.nodes
        guard phys.lruOf(pfn).isolate(pfn) else { return .error(.EBUSY) }
        let r = migratePages([pfn], allocate: { _ in phys.allocPage(node: dst, fallback: false) },
                             mode: .sync, reason: .compaction, context: .kernel)
        switch r.outcomes[pfn] {
        case .failed(let e)?: return SyscallResult(ret: r.notMigrated, errno: e, status: nil)
        default: return SyscallResult(ret: 0, errno: nil, status: nil)
        }
    }
}
