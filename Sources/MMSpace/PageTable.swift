// Page tables (Linux: the pgd/p4d/pud/pmd/pte levels of arch/x86 and mm/memory.c).
// Two levels: a directory from 2 MiB-aligned ranges to PTE tables of 512 entries, each
// PTE table with its own lock (Linux's split page-table lock, one per PMD-level table).
// The directory is protected by mm->page_table_lock, a short-held plain lock that is
// never held across a model lock.

import MMPhysical
import MMSync
import Synchronization

/// One page-table entry (Linux: pte_t and the swp_entry_t of a migration entry).
/// Present: bit 0, write bit 1, dirty bit 2, young bit 3, PFN from bit 12.
/// Migration entry: bit 0 clear, bit 4 set, write bit 1, PFN from bit 12.
/// Zero page: bit 0 clear, bit 5 set — the shared zero page, read-only, no frame of the
/// machine behind it (Linux: a special PTE of ZERO_PAGE(0), which vm_normal_page skips).
public struct PTE: Equatable, Sendable, CustomStringConvertible {
    public let raw: UInt64
    public init(raw: UInt64) { self.raw = raw }

    public static let none = PTE(raw: 0)
    static let presentBit: UInt64 = 1, writeBit: UInt64 = 2, dirtyBit: UInt64 = 4, youngBit: UInt64 = 8
    static let migrationBit: UInt64 = 16
    static let zeroPageBit: UInt64 = 32

    /// Linux: pte_mkspecial(pfn_pte(my_zero_pfn(addr), vma->vm_page_prot)) on a read fault.
    public static let zeroPage = PTE(raw: zeroPageBit)

    /// Linux: pfn_pte() with protection bits.
    public static func present(_ pfn: PFN, write: Bool, dirty: Bool = false, young: Bool = true) -> PTE {
        PTE(raw: UInt64(pfn) << 12 | presentBit | (write ? writeBit : 0) | (dirty ? dirtyBit : 0) | (young ? youngBit : 0))
    }
    /// Linux: make_migration_entry() + swp_entry_to_pte().
    public static func migration(_ pfn: PFN, write: Bool) -> PTE {
        PTE(raw: UInt64(pfn) << 12 | migrationBit | (write ? writeBit : 0))
    }

    public var isNone: Bool { raw == 0 }
    public var isPresent: Bool { raw & Self.presentBit != 0 }
    /// Linux: is_migration_entry().
    public var isMigration: Bool { raw & Self.presentBit == 0 && raw & Self.migrationBit != 0 }
    /// Linux: is_zero_pfn(pte_pfn(pte)). Neither present (no frame, no mapcount) nor none.
    public var isZeroPage: Bool { raw == Self.zeroPageBit }
    public var pfn: PFN { PFN(truncatingIfNeeded: raw >> 12) }
    public var isWrite: Bool { raw & Self.writeBit != 0 }
    public var isDirty: Bool { raw & Self.dirtyBit != 0 }
    public func withWrite(_ w: Bool) -> PTE { PTE(raw: w ? raw | Self.writeBit : raw & ~Self.writeBit) }
    public func withDirty() -> PTE { PTE(raw: raw | Self.dirtyBit) }

    public var description: String {
        if isNone { return "none" }
        if isMigration { return "migration(pfn \(pfn)\(isWrite ? ", write" : ""))" }
        if isZeroPage { return "zero page" }
        return "pfn \(pfn)\(isWrite ? " w" : "")\(isDirty ? " d" : "")"
    }
}

/// A table of 512 PTEs covering 2 MiB, with its split lock (Linux: pte_lockptr()).
public final class PteTable: @unchecked Sendable {
    public static let entries = 512
    /// Base virtual address covered by this table.
    public let base: UInt64
    /// The split page-table lock. Every read or write of an entry holds it.
    public let ptl = ModelMutex("ptl", rank: .pageTable)
    private let slots: UnsafeMutablePointer<UInt64>

    init(base: UInt64) {
        self.base = base
        slots = .allocate(capacity: Self.entries)
        slots.initialize(repeating: 0, count: Self.entries)
    }
    deinit { slots.deallocate() }

    @inline(__always) static func slot(_ addr: UInt64) -> Int { Int((addr >> 12) & 511) }

    /// Reads an entry. Caller holds `ptl`.
    @inline(__always) public subscript(addr: UInt64) -> PTE {
        get { PTE(raw: slots[Self.slot(addr)]) }
        set { slots[Self.slot(addr)] = newValue.raw }
    }
}

/// An address space's page tables.
///
/// The directory holds only populated tables, sorted by address (Linux skips empty
/// pmd/pud ranges with pmd_none_or_clear_bad() and friends): a walk over [start, end)
/// costs O(log tables + tables in the range), whatever the size of the range, so a
/// 16 TiB mapping with one touched page is walked as fast as a 4 KiB one.
public final class PageTable: @unchecked Sendable {
    /// Linux: mm->page_table_lock (guards the directory only).
    private let directoryLock = PlainLock()
    /// Directory keys (addr >> 21), ascending, and the table of each, same order.
    /// Only touched under directoryLock, so the dynamic exclusivity check (two
    /// runtime calls per lookup, two lookups per migrated page) is left out.
    @exclusivity(unchecked) private var keys: [UInt64] = []
    @exclusivity(unchecked) private var list: [PteTable] = []
    /// Directory entries and PTE slots that range walks looked at (zap, fork, mremap,
    /// migrate_pages): tests show with it that a walk's cost follows what is populated.
    public let visited = Atomic<Int>(0)
    /// The machine's page-table quota (nil: unlimited, for address spaces built by tests).
    let quota: PageTableQuota?

    init(quota: PageTableQuota? = nil) { self.quota = quota }

    @inline(__always) static func dirKey(_ addr: UInt64) -> UInt64 { addr >> 21 }

    /// First index whose key is ≥ `k`. Caller holds directoryLock.
    private func lowerBound(_ k: UInt64) -> Int {
        // A mapping faulted in whole has consecutive keys: then the key's distance from
        // the first is its index, and the binary search (about ten unpredictable
        // branches for a 2 GiB mapping, twice per migrated page) is not needed.
        if let first = keys.first, k >= first {
            let guess = k - first
            if guess < UInt64(keys.count), keys[Int(guess)] == k { return Int(guess) }
        }
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if keys[mid] < k { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The PTE table covering `addr`, allocated if `allocate` (Linux: pte_alloc_map_lock
    /// without the lock). Nil also when the machine's page-table quota is used up
    /// (Linux: pte_alloc fails, the fault gets VM_FAULT_OOM), unless `force`.
    public func table(for addr: UInt64, allocate: Bool, force: Bool = false) -> PteTable? {
        directoryLock.withLock {
            let k = Self.dirKey(addr)
            let i = lowerBound(k)
            if i < keys.count, keys[i] == k { return list[i] }
            guard allocate else { return nil }
            if let quota, !quota.take(force: force) { return nil }
            let t = PteTable(base: k << 21)
            keys.insert(k, at: i)
            list.insert(t, at: i)
            return t
        }
    }

    /// The PTE table covering `addr`, if any, without a reference: for rmap walks,
    /// which look one up per VMA per migrated page (a retained lookup cost a retain and
    /// a release each). The caller must otherwise know the table stays alive: an rmap
    /// walker holds the anon_vma lock and found the VMA on that anon_vma's list, and
    /// tables are dropped only by `freeAll`, after exit unlinked every VMA of the mm
    /// from its anon_vma (exitMmap in Fork.swift), which takes that lock.
    @inline(__always)
    func tableUnretained(for addr: UInt64) -> Unmanaged<PteTable>? {
        directoryLock.withLock {
            let k = Self.dirKey(addr)
            let i = lowerBound(k)
            guard i < keys.count, keys[i] == k else { return nil }
            return list.withUnsafeBufferPointer { Unmanaged.passUnretained($0[i]) }
        }
    }

    /// Every table, ordered by address (for zap, fork and the checker).
    public func allTables() -> [PteTable] {
        directoryLock.withLock { list }
    }

    /// Populated tables overlapping [start, end), ordered by address.
    public func tables(in start: UInt64, _ end: UInt64) -> [PteTable] {
        guard start < end else { return [] }
        let out: [PteTable] = directoryLock.withLock {
            var i = lowerBound(Self.dirKey(start))
            var found: [PteTable] = []
            while i < keys.count, keys[i] << 21 < end {
                found.append(list[i])
                i += 1
            }
            return found
        }
        visited.wrappingAdd(out.count + 1, ordering: .relaxed)
        return out
    }

    /// Counts `n` PTE slots looked at by a range walk (see `visited`).
    @inline(__always) public func noteVisited(_ n: Int) { visited.wrappingAdd(n, ordering: .relaxed) }

    /// The slots of table `t` inside [start, end): the clipped range a walk scans.
    @inline(__always) public static func clip(_ t: PteTable, _ start: UInt64, _ end: UInt64) -> (UInt64, UInt64) {
        (max(start, t.base), min(end, t.base + UInt64(PteTable.entries) << 12))
    }

    /// Drops every table (Linux: free_pgtables at exit). Entries must all be none.
    func freeAll() {
        directoryLock.withLock {
            quota?.give(list.count)
            keys.removeAll()
            list.removeAll()
        }
    }
}

/// The page tables a machine may hold, all address spaces together. Page tables are
/// memory (Linux allocates them from the machine's pages, NR_PAGETABLE): without a
/// bound, reading a 16 TiB mapping through the zero page would allocate 32 GiB of
/// tables on the host. The bound is `Machine.pageTableLimit`; HostBudget counts it.
public final class PageTableQuota: Sendable {
    public let limit: Int
    private let used = Atomic<Int>(0)
    public init(limit: Int) {
        precondition(limit > 0, "PageTableQuota: limit \(limit)")
        self.limit = limit
    }
    /// Tables held now.
    public var inUse: Int { used.load(ordering: .relaxed) }
    /// Tables that can still be taken.
    public var available: Int { max(0, limit - inUse) }
    /// Takes one table; refused at the limit unless `force` (mremap and fork, which
    /// check `available` first, must never fail half-way).
    func take(force: Bool) -> Bool {
        let n = used.wrappingAdd(1, ordering: .relaxed).newValue
        if n > limit && !force {
            used.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }
    func give(_ n: Int) { used.wrappingSubtract(n, ordering: .relaxed) }
}
