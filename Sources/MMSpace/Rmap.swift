// Reverse mapping of anonymous pages (Linux: mm/rmap.c): from a page to every PTE that
// maps it, through page->mapping → anon_vma → its list of VMAs → the address computed
// from page->index.
//
// Lock ordering (outermost first; a thread holding one may take those indented below):
//
//   mm->mmap_lock (ModelRWLock "mmap_lock"); fork nests the new child's inside the parent's
//     page lock (PG_locked bit, PhysicalMemory.lockPage)
//       anon_vma->lock (ModelMutex "anon_vma")
//         page-table lock (PteTable.ptl, "ptl"); mremap nests the source then the target ptl
//           lruvec->lru_lock ("lru")
//             zone->lock ("zone")
//   mm->page_table_lock (PlainLock, never held across any of the above)
//
// Kernel-context migration (compaction, hot-remove) enters at the page lock without
// mmap_lock; that is exactly why it must pin the anon_vma (see AnonVmaPinPolicy).
// Pages are freed (put_page → lru_lock → zone lock) after the ptl is dropped.

import CMMSupport
import MMPhysical
import MMSync
import Synchronization

/// A reference to an anon_vma as stored in page->mapping: slab slot and the slot's
/// generation when the reference was taken. A reference whose generation no longer
/// matches its slot points at freed (or freed and reused) memory.
public struct AnonVmaRef: Hashable, Sendable, CustomStringConvertible {
    public let slot: UInt32
    public let generation: UInt32
    public init(slot: UInt32, generation: UInt32) { self.slot = slot; self.generation = generation }

    /// page->mapping encoding: 0 is "no mapping".
    public var encoded: UInt64 { UInt64(generation) << 32 | UInt64(slot + 1) }
    public init?(encoded: UInt64) {
        guard encoded != 0 else { return nil }
        slot = UInt32(truncatingIfNeeded: encoded) - 1
        generation = UInt32(truncatingIfNeeded: encoded >> 32)
    }
    public var description: String { "anon_vma #\(slot).\(generation)" }
}

/// How migration keeps an anon_vma alive while the page it describes is unmapped.
public enum AnonVmaPinPolicy: String, Sendable, CaseIterable {
    /// Before the seed: nothing pins it; kernel-context migration can use it after free.
    case none
    /// The seed's anon_vma_hold / anon_vma_release / anon_vma_unlink, as posted.
    case seedV2 = "seed-v2"
    /// Linux 2.6.34+: an atomic count; the last dropper frees an empty anon_vma.
    case refcount
}

/// One anon_vma (Linux: struct anon_vma). Slots live forever in the slab and are
/// reused after free, like SLAB_TYPESAFE_BY_RCU memory: locking a freed slot is safe,
/// using what it describes is not — that is what generations detect.
public final class AnonVma: @unchecked Sendable {
    public let slot: UInt32
    /// Linux: anon_vma->lock.
    public let lock = ModelMutex("anon_vma", rank: .anonVma)
    let generationAtomic = Atomic<UInt32>(0)
    let allocatedAtomic = Atomic<Bool>(false)
    /// `refcount` policy: 1 for the VMA list while non-empty, plus one per migration pin.
    let refcount = Atomic<Int32>(0)
    /// `seed-v2` policy: the seed's plain `int ref`, only touched under `lock`.
    /// Exclusivity checked statically only (here and on `vmas`): every access holds
    /// `lock`, and the dynamic check cost every rmap walk about 1–2 % of a migration
    /// (BENCHMARKS.md, profile of `bench compact-full`).
    @exclusivity(unchecked) var seedRef: Int = 0
    /// The VMAs sharing this anon_vma (Linux: anon_vma->head). Under `lock`.
    @exclusivity(unchecked) var vmas: [VMA] = []

    init(slot: UInt32) { self.slot = slot }

    public var generation: UInt32 { generationAtomic.load(ordering: .acquiring) }
    public var isAllocated: Bool { allocatedAtomic.load(ordering: .acquiring) }
    public var ref: AnonVmaRef { AnonVmaRef(slot: slot, generation: generation) }
    /// True when `r` names this slot's current, live incarnation.
    func isLive(_ r: AnonVmaRef) -> Bool { isAllocated && generation == r.generation }
}

/// The anon_vma slab (Linux: anon_vma_cachep). Free slots are reused LIFO so that a
/// stale reference very likely meets a *different* live anon_vma, as on a real kernel.
public final class AnonVmaSlab: @unchecked Sendable {
    private let lock = PlainLock()
    private var slots: [AnonVma] = []          // owns the slots; under lock
    private var freeSlots: [UInt32] = []
    /// Lock-free lookup for rmap walks: slot → unretained AnonVma pointer, published
    /// (release) after the slot exists; slots are never destroyed while the slab lives.
    private let table: UnsafeMutablePointer<Atomic<UInt>>
    private static let tableCapacity = 1 << 20
    let vmstat: VMStat

    init(vmstat: VMStat) {
        self.vmstat = vmstat
        // Zero-filled lazily by the host (an empty entry is 0): creating a machine stays
        // cheap, which matters when the explorer boots one per schedule.
        guard let raw = mm_map_anon(Self.tableCapacity * MemoryLayout<UInt>.stride, 0) else {
            fatalError("cannot map the anon_vma slot table")
        }
        table = raw.bindMemory(to: Atomic<UInt>.self, capacity: Self.tableCapacity)
    }

    deinit {
        mm_unmap(UnsafeMutableRawPointer(table), Self.tableCapacity * MemoryLayout<UInt>.stride)
    }

    /// Linux: anon_vma_alloc().
    func alloc() -> AnonVma {
        let a: AnonVma = lock.withLock {
            if let s = freeSlots.popLast() { return slots[Int(s)] }
            let a = AnonVma(slot: UInt32(slots.count))
            slots.append(a)
            if Int(a.slot) < Self.tableCapacity {
                table[Int(a.slot)].store(UInt(bitPattern: Unmanaged.passUnretained(a).toOpaque()), ordering: .releasing)
            }
            return a
        }
        precondition(!a.isAllocated, "anon_vma slot \(a.slot) allocated twice")
        a.seedRef = 0
        a.refcount.store(0, ordering: .relaxed)
        a.allocatedAtomic.store(true, ordering: .releasing)
        vmstat.add(.anonVmaAlloc)
        Sched.note("\(a.ref) allocated")
        return a
    }

    /// Linux: anon_vma_free(). The generation moves on, so every outstanding reference
    /// becomes stale.
    func free(_ a: AnonVma) {
        let r = a.ref
        precondition(a.isAllocated, "double free of \(r)")
        a.allocatedAtomic.store(false, ordering: .releasing)
        a.generationAtomic.wrappingAdd(1, ordering: .acquiringAndReleasing)
        lock.withLock { freeSlots.append(a.slot) }
        vmstat.add(.anonVmaFree)
        Sched.note("\(r) freed")
    }

    /// The slot a reference names (always valid memory; maybe not the same anon_vma).
    @inline(__always)
    public func slot(_ r: AnonVmaRef) -> AnonVma? {
        let i = Int(r.slot)
        if i < Self.tableCapacity {
            let bits = table[i].load(ordering: .acquiring)
            guard bits != 0, let raw = UnsafeRawPointer(bitPattern: bits) else { return nil }
            return Unmanaged<AnonVma>.fromOpaque(raw).takeUnretainedValue()
        }
        return lock.withLock { i < slots.count ? slots[i] : nil }
    }

    /// `slot(_:)` without a reference, for the per-page rmap paths (a retain and a
    /// release per lookup otherwise). Safe: slots are never destroyed while the slab
    /// lives, so the pointer stays valid memory; whether it is still the anon_vma the
    /// reference names is what the caller checks (`isLive`).
    @inline(__always)
    func slotUnretained(_ r: AnonVmaRef) -> Unmanaged<AnonVma>? {
        let i = Int(r.slot)
        if i < Self.tableCapacity {
            let bits = table[i].load(ordering: .acquiring)
            guard bits != 0, let raw = UnsafeRawPointer(bitPattern: bits) else { return nil }
            return Unmanaged<AnonVma>.fromOpaque(raw)
        }
        return slot(r).map { Unmanaged.passUnretained($0) }
    }

    /// Every slot ever created (for the checker).
    public func allSlots() -> [AnonVma] { lock.withLock { slots } }
}

extension AnonVma {
    /// The VMAs on the list. Caller holds `lock` (or the machine is quiet).
    public var vmaList: [VMA] { vmas }
    /// `refcount`-policy count (for the checker and tests).
    public var pinCount: Int32 { refcount.load(ordering: .acquiring) }
    /// `seed-v2` count (for the checker and tests).
    public var seedCount: Int { seedRef }
}
