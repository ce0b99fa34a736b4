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
    /// move_pages' status array: a node, or a negative errno; nil where Linux writes
    /// nothing (the caller's array keeps its initial value).
    public var status: [Int?]?
    public static func error(_ e: Errno) -> SyscallResult { SyscallResult(ret: -1, errno: e, status: nil) }
    public init(ret: Int, errno: Errno?, status: [Int?]?) {
        self.ret = ret
        self.errno = errno
        self.status = status
    }
}

extension Migrator {
    /// Linux: the permission check of kernel_move_pages / kernel_migrate_pages
    /// (ptrace_may_access with PTRACE_MODE_READ_REALCREDS, simplified): a caller may act
    /// on its own process, on one of the same user, or on any with privilege.
    static func mayAccess(caller: Process, target: Process) -> Bool {
        caller === target || caller.privileged || caller.uid == target.uid
    }

    /// migrate_pages(pid, maxnode, old_nodes, new_nodes): the process's pages on the
    /// nodes of the mask `from` move to the nodes of the mask `to`, the n-th node of
    /// `from` to the n-th of `to` (Linux: node_remap, wrapping when the masks' weights
    /// differ). The order in which a mask lists its nodes does not matter. Pages shared
    /// with other processes move only for a privileged caller (Linux adds
    /// MPOL_MF_MOVE_ALL with CAP_SYS_NICE). Returns the number of pages not moved.
    public func migratePagesSyscall(target name: String, caller callerName: String? = nil,
                                    from: [Int], to: [Int]) -> SyscallResult {
        // Linux's order (kernel_migrate_pages): get_nodes (a node outside any mask:
        // EINVAL), the task (ESRCH), the access check (EPERM), target nodes the task
        // may not use (EPERM unless privileged), then no usable target node (EINVAL).
        guard (from + to).allSatisfy({ $0 >= 0 && $0 < maxNumNodes }) else { return .error(.EINVAL) }
        if let c = callerName, machine.process(c) == nil { return .error(.ESRCH) }
        guard let target = machine.process(name) else { return .error(.ESRCH) }
        let caller = callerName.flatMap { machine.process($0) } ?? target
        guard Self.mayAccess(caller: caller, target: target) else { return .error(.EPERM) }
        let fromMask = Set(from).sorted()
        var toMask = Set(to).sorted()
        if !toMask.allSatisfy(nodeHasMemory), !caller.privileged { return .error(.EPERM) }
        toMask = toMask.filter(nodeHasMemory)   // Linux: nodes_and with cpuset_mems_allowed
        guard !toMask.isEmpty else { return .error(.EINVAL) }
        let mm = target.mm
        guard machine.mmgetNotZero(mm) else { return .error(.EINVAL) }   // Linux: get_task_mm
        defer { machine.mmput(mm) }
        return doMigratePages(mm, from: fromMask, to: toMask, moveAll: caller.privileged)
    }

    /// Linux: node_remap() (bitmap_bitremap): the node of `to` paired with `s` — the
    /// n-th set node of `to` for the n-th set node of `from`, modulo `to`'s weight;
    /// `s` itself when it is not in `from`. Both masks sorted.
    public static func nodeRemap(_ s: Int, from: [Int], to: [Int]) -> Int {
        guard let n = from.firstIndex(of: s), !to.isEmpty else { return s }
        return to[n % to.count]
    }

    /// Linux: do_migrate_pages(). Picks, each round, a source whose destination is not
    /// itself a source still to be emptied (so each page moves once: from 0,1 to 1,2
    /// moves 1→2 before 0→1); failing that the last pair that moves. When the masks'
    /// weights differ a source that is also a destination stays. Stops at an error.
    func doMigratePages(_ mm: MM, from: [Int], to: [Int], moveAll: Bool) -> SyscallResult {
        let held = syscallLock == .held
        if held { mm.mmapLock.readLock() }
        defer { if held { mm.mmapLock.unlock() } }
        let toSet = Set(to)
        var tmp = from
        var notMigrated = 0
        while !tmp.isEmpty {
            var pair: (source: Int, dest: Int)? = nil
            for s in tmp {
                if from.count != to.count && toSet.contains(s) { continue }
                let d = Self.nodeRemap(s, from: from, to: to)
                if s == d { continue }
                pair = (s, d)
                if !tmp.contains(d) { break }
            }
            guard let (source, dest) = pair else { break }
            tmp.removeAll { $0 == source }
            switch migrateToNode(mm, source: source, dest: dest, moveAll: moveAll, lockHeld: held) {
            case .done: break
            case .notMigrated(let k): notMigrated += k
            case .outOfMemory: return .error(.ENOMEM)
            }
        }
        return SyscallResult(ret: notMigrated, errno: nil, status: nil)
    }

    /// Linux: migrate_to_node() → queue_pages_range, then migrate_pages. The scan and
    /// the isolation run under the owner's mmap_lock (held by the caller with
    /// `SyscallLock.held`, else taken here just for the scan); pages that could not be
    /// isolated count as not migrated, shared pages without `moveAll` are skipped.
    func migrateToNode(_ mm: MM, source: Int, dest: Int, moveAll: Bool, lockHeld: Bool) -> BatchFlush {
        let phys = machine.phys, pages = phys.pages
        var list: [PFN] = []
        var failed = 0
        if !lockHeld { mm.mmapLock.readLock() }
        for vma in mm.vmaList {
            // Populated tables only (Linux: walk_page_range skips empty levels).
            for (_, pte) in machine.populatedPTEs(mm, vma.start, vma.end) {
                guard pte.isPresent, phys.nodeOf(pte.pfn) == source else { continue }
                if pages.mapcount(pte.pfn) > 1, !moveAll { continue }
                if phys.lruOf(pte.pfn).isolate(pte.pfn) { list.append(pte.pfn) } else { failed += 1 }
            }
        }
        if !lockHeld { mm.mmapLock.unlock() }
        guard !list.isEmpty else { return failed == 0 ? .done : .notMigrated(failed) }
        let r = migratePages(list, allocate: { _ in phys.allocPage(node: dest, fallback: false) },
                             mode: .sync, reason: .syscall, context: syscallContext)
        if r.outOfMemory { return .outOfMemory }
        let k = failed + r.notMigrated
        return k == 0 ? .done : .notMigrated(k)
    }

    /// The `migrate_kernel` statement: find the frames mapped in [addr, addr+length)
    /// under the page-table lock only, isolate them as compaction would, and migrate
    /// them in kernel context — no mmap_lock, no reference on the mm — to `node`
    /// (default: the next node after each page's), in `mode`, `batch` pages unmapped at
    /// a time. Pages not mapped when it looks are skipped. One page: a failure is the
    /// call's errno; several: ret is the number not migrated, ENOMEM the errno.
    public func migrateKernel(target name: String, address addr: UInt64, length: UInt64 = 4096, node: Int?,
                              mode: MigrateMode = .sync, batch: Int = 1) -> SyscallResult {
        guard let target = machine.process(name) else { return .error(.ESRCH) }
        if let node, !nodeHasMemory(node) { return .error(.ENODEV) }
        let phys = machine.phys
        var byNode: [(node: Int, pfns: [PFN])] = []
        var busy = 0
        var a = addr & ~4095
        while a < addr &+ length && a < userAddressLimit {
            defer { a += 4096 }
            guard let pfn = machine.frameMapped(target.mm, a) else { continue }
            let dst = node ?? (phys.nodeOf(pfn) + 1) % machine.config.nodes
            guard phys.lruOf(pfn).isolate(pfn) else { busy += 1; continue }
            if let i = byNode.firstIndex(where: { $0.node == dst }) { byNode[i].pfns.append(pfn) } else { byNode.append((dst, [pfn])) }
        }
        let single = length <= 4096
        if single && busy > 0 { return .error(.EBUSY) }
        var engine = self
        engine.batchSize = max(1, batch)
        var notMigrated = busy
        for (dst, pfns) in byNode {
            let r = engine.migratePages(pfns, allocate: { _ in phys.allocPage(node: dst, fallback: false) },
                                        mode: mode, reason: .compaction, context: .kernel)
            if single, case .failed(let e)? = r.outcomes[pfns[0]] {
                return SyscallResult(ret: r.notMigrated, errno: e, status: nil)
            }
            if r.outOfMemory { return .error(.ENOMEM) }
            notMigrated += r.notMigrated
        }
        return SyscallResult(ret: notMigrated, errno: nil, status: nil)
    }
}
