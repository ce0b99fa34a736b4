// move_pages(2) as Linux 6.x answers it (Linux: mm/migrate.c kernel_move_pages,
// do_pages_move, add_folio_for_migration, move_pages_and_store_status,
// do_pages_stat_array).
//
// The rules, in the order do_pages_move applies them to entry i:
//   node < 0, ≥ MAX_NUMNODES or without memory → the pending batch migrates, then the
//       whole call fails with ENODEV;
//   node differs from the pending batch's → the pending batch migrates first;
//   the page is looked up and isolated (add_folio_for_migration): queued, or a status
//       of its own (already there: the node; -EFAULT, -ENOENT, -EACCES, -EBUSY), after
//       which the pending batch migrates;
//   a batch whose migration leaves pages behind stops the call: it returns those pages
//       plus every entry not yet looked at, and writes no status for the batch or any
//       later entry; -ENOMEM from migration fails the call with ENOMEM.
// The owner's mmap_lock is taken per page for the lookup and isolation only; the batch
// migrates with none held, relying on the anon_vma pin and on the mm reference
// (mm_users) this call holds. `SyscallLock.held` keeps the seed era's lock instead.

import MMPhysical
import MMSpace
import MMSync

/// How a system call that migrates holds the owner's mmap_lock (`policy syscall_lock=`).
public enum SyscallLock: String, Sendable, CaseIterable {
    /// Linux 6.x: only while it finds and isolates pages (per page in move_pages, around
    /// the whole scan in migrate_pages); migration runs with no mmap_lock.
    case isolate
    /// Linux 2.6.22 (the seed's era): held for reading across the whole migration.
    case held
}

/// Linux: MAX_NUMNODES with CONFIG_NODES_SHIFT=10 — the largest node mask a system
/// call accepts; a node below it that the machine lacks is a node without memory.
public let maxNumNodes = 1024

/// do_pages_move's running state: the statuses and the pending batch (one target node,
/// a run of consecutive entries starting at `start`).
struct PagesMove {
    /// nil: not written (the caller's array keeps what it held).
    var status: [Int?]
    var batch: [PFN] = []
    var node: Int? = nil
    var start = 0
    let count: Int
    let lockHeld: Bool
}

/// What flushing a batch came to (Linux: move_pages_and_store_status's return value).
enum BatchFlush: Equatable {
    /// Migrated (or empty): statuses written.
    case done
    /// Pages failed: the call returns this count (failed + entries not yet looked at).
    case notMigrated(Int)
    /// migrate_pages returned -ENOMEM.
    case outOfMemory
}

extension Migrator {
    /// Linux: node_state(node, N_MEMORY) — the machine has the node (every node of a
    /// machine has memory).
    func nodeHasMemory(_ node: Int) -> Bool { node >= 0 && node < machine.config.nodes }

    /// The migration context of a system call under the current `syscallLock`.
    var syscallContext: MigrationContext { syscallLock == .held ? .process : .syscall }

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
        if let nodes, nodes.count != addresses.count { return .error(.EINVAL) }
        // Linux: get_task_mm — this reference keeps the owner's exit from tearing the mm
        // down until the call returns, even while no mmap_lock is held.
        let mm = target.mm
        guard machine.mmgetNotZero(mm) else { return .error(.ESRCH) }
        defer { machine.mmput(mm) }
        guard let nodes else {
            // Linux: do_pages_stat_array — under the mmap_lock for the whole lookup.
            mm.mmapLock.readLock()
            defer { mm.mmapLock.unlock() }
            return SyscallResult(ret: 0, errno: nil, status: addresses.map { pageStatus(mm, $0) })
        }
        return doPagesMove(mm, addresses, nodes, flags)
    }

    /// Where the page at `addr` is: its node, -EFAULT outside any VMA, -ENOENT if no
    /// page is mapped there — a migration entry included, since follow_page finds no
    /// page behind it (Linux: do_pages_stat_array). Caller holds the mmap_lock.
    func pageStatus(_ mm: MM, _ addr: UInt64) -> Int {
        guard addr < userAddressLimit, mm.findVMA(addr) != nil else { return -Int(Errno.EFAULT.rawValue) }
        let pte = machine.pte(mm, addr & ~4095)
        if pte.isZeroPage { return -Int(Errno.EFAULT.rawValue) }   // Linux 6.x do_pages_stat_array: is_zero_folio
        if pte.isPresent { return machine.phys.nodeOf(pte.pfn) }
        return -Int(Errno.ENOENT.rawValue)
    }

    /// Linux: do_pages_move. Entries are batched in the caller's order, one batch per
    /// run of equal target nodes (the rules are at the top of this file).
    func doPagesMove(_ mm: MM, _ addresses: [UInt64], _ nodes: [Int], _ flags: MPolFlags) -> SyscallResult {
        let n = addresses.count
        var mv = PagesMove(status: [Int?](repeating: nil, count: n), count: n, lockHeld: syscallLock == .held)
        if mv.lockHeld { mm.mmapLock.readLock() }
        defer { if mv.lockHeld { mm.mmapLock.unlock() } }
        func finish(_ f: BatchFlush, accounted: Int = 0) -> SyscallResult {
            switch f {
            case .done: return SyscallResult(ret: 0, errno: nil, status: mv.status)
            case .notMigrated(let k): return SyscallResult(ret: k - accounted, errno: nil, status: mv.status)
            case .outOfMemory: return SyscallResult(ret: -1, errno: .ENOMEM, status: mv.status)
            }
        }
        for i in 0..<n {
            let node = nodes[i]
            guard nodeHasMemory(node) else {
                // Linux: goto out_flush — the pending batch migrates; whatever that gives,
                // the call's error stays ENODEV.
                _ = movePagesAndStoreStatus(mm, &mv, upTo: i)
                return SyscallResult(ret: -1, errno: .ENODEV, status: mv.status)
            }
            if let current = mv.node, current != node {
                let f = movePagesAndStoreStatus(mm, &mv, upTo: i)
                if f != .done { return finish(f) }
                mv.node = nil
            }
            if mv.node == nil {
                mv.node = node
                mv.start = i
            }
            guard let own = addFolioForMigration(mm, addresses[i], node, &mv.batch, flags.contains(.moveAll),
                                                 lockHeld: mv.lockHeld) else { continue }
            mv.status[i] = own
            // Entry i has its status: the batch before it migrates now; a failure's count
            // (which includes entry i among those not looked at) must not count it.
            let f = movePagesAndStoreStatus(mm, &mv, upTo: i)
            if f != .done { return finish(f, accounted: 1) }
            mv.node = nil
        }
        return finish(movePagesAndStoreStatus(mm, &mv, upTo: n))
    }

    /// Linux: add_folio_for_migration(). Looks the page up and isolates it onto
    /// `batch` (nil: queued), or returns the status entry i gets instead: the node when
    /// the page is already there, else a negative errno. Takes the owner's mmap_lock
    /// for just this page unless the call holds it throughout.
    func addFolioForMigration(_ mm: MM, _ addr: UInt64, _ node: Int, _ batch: inout [PFN],
                              _ migrateAll: Bool, lockHeld: Bool) -> Int? {
        let phys = machine.phys
        if !lockHeld { mm.mmapLock.readLock() }
        defer { if !lockHeld { mm.mmapLock.unlock() } }
        guard addr < userAddressLimit, mm.findVMA(addr) != nil else { return -Int(Errno.EFAULT.rawValue) }
        let pte = machine.pte(mm, addr & ~4095)
        // Linux 6.x add_folio_for_migration: the zero page is -EFAULT.
        if pte.isZeroPage { return -Int(Errno.EFAULT.rawValue) }
        // A migration entry has no page behind it for follow_page: -ENOENT.
        guard pte.isPresent else { return -Int(Errno.ENOENT.rawValue) }
        let pfn = pte.pfn
        if phys.nodeOf(pfn) == node { return node }
        if phys.pages.mapcount(pfn) > 1, !migrateAll { return -Int(Errno.EACCES.rawValue) }
        // Already isolated (listed twice, or another migrator has it): -EBUSY.
        guard phys.lruOf(pfn).isolate(pfn) else { return -Int(Errno.EBUSY.rawValue) }
        batch.append(pfn)
        return nil
    }

    /// Linux: move_pages_and_store_status() → do_move_pages_to_node(). Migrates the
    /// pending batch (entries start..<i) to its node; on success every one of them gets
    /// the node as its status; on failure none does.
    func movePagesAndStoreStatus(_ mm: MM, _ mv: inout PagesMove, upTo i: Int) -> BatchFlush {
        guard let node = mv.node, !mv.batch.isEmpty else { return .done }
        let list = mv.batch
        mv.batch.removeAll(keepingCapacity: true)
        let phys = machine.phys
        let r = migratePages(list, allocate: { _ in phys.allocPage(node: node, fallback: false) },
                             mode: .sync, reason: .syscall, context: syscallContext)
        if r.outOfMemory { return .outOfMemory }
        if r.notMigrated > 0 { return .notMigrated(r.notMigrated + mv.count - i) }
        for j in mv.start..<i { mv.status[j] = node }
        return .done
    }
}
