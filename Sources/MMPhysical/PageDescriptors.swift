// Page descriptors (Linux: struct page in include/linux/mm_types.h, mem_map): one per
// frame, stored as parallel compact arrays indexed by PFN rather than one object per
// page, so that tens of millions of frames fit and hot paths touch only the fields they
// need. 32 bytes per page (Linux's struct page is 64).

import CMMSupport
import MMSync
import Synchronization

/// A page frame number: the index of a 4 KiB frame in the machine.
public typealias PFN = UInt32

/// Sentinel "no page" for list links.
public let noPFN: PFN = .max

public let pageShift = 12
public let pageSize = 1 << pageShift
/// Pageblock order (Linux: pageblock_order = 9 on x86-64: 2 MiB).
public let pageblockOrder = 9
public let pageblockPages = 1 << pageblockOrder
/// Largest buddy order (Linux: MAX_PAGE_ORDER = 10: 4 MiB blocks).
public let maxOrder = 10

/// Page flag bits (Linux: enum pageflags). Stored with the buddy order and free-list
/// migratetype in one atomic 32-bit word.
public enum PageFlag {
    public static let locked: UInt32 = 1 << 0
    /// Someone sleeps on this page's lock or writeback (Linux: PG_waiters).
    public static let waiters: UInt32 = 1 << 1
    public static let lru: UInt32 = 1 << 2
    public static let isolated: UInt32 = 1 << 3
    public static let writeback: UInt32 = 1 << 4
    public static let dirty: UInt32 = 1 << 5
    /// Free and owned by the buddy allocator (Linux: PageBuddy).
    public static let buddy: UInt32 = 1 << 6
    public static let reserved: UInt32 = 1 << 7
    /// An unmovable kernel allocation (Linux: PG_slab and friends).
    public static let unmovable: UInt32 = 1 << 8
    /// page->mapping points at an anon_vma (Linux: PAGE_MAPPING_ANON).
    public static let anon: UInt32 = 1 << 9
    /// A fresh frame handed out as a migration target, not yet mapped.
    public static let migrationTarget: UInt32 = 1 << 10
    /// The first page of a large folio (Linux: PG_head). Its order sits in the order
    /// bits that a free block's head uses for its buddy order (never both: a head is in
    /// use, a buddy page is free).
    public static let head: UInt32 = 1 << 11
    /// Any other page of a large folio (Linux: compound_head with bit 0 set). Its head's
    /// PFN sits in the page's index field: a tail has no index of its own.
    public static let tail: UInt32 = 1 << 12
    /// The folio carries filesystem-private data, buffer heads (Linux: PG_private),
    /// which hold one reference of their own (folio_expected_refs).
    public static let privateData: UInt32 = 1 << 13
    /// Bits that migration copies from the old page to the new one.
    public static let migrateCopyMask: UInt32 = dirty | anon

    static let orderShift: UInt32 = 24
    /// The order bits: a free block's buddy order, or a folio head's order.
    public static let orderMask: UInt32 = 0xF << 24
    static let mtShift: UInt32 = 28
    static let mtMask: UInt32 = 0x7 << 28

    /// Human-readable flag names, for traces and checker messages.
    public static func describe(_ f: UInt32) -> String {
        let names: [(UInt32, String)] = [
            (locked, "locked"), (waiters, "waiters"), (lru, "lru"), (isolated, "isolated"),
            (writeback, "writeback"), (dirty, "dirty"), (buddy, "buddy"), (reserved, "reserved"),
            (unmovable, "unmovable"), (anon, "anon"), (migrationTarget, "target"),
            (head, "head"), (tail, "tail"), (privateData, "private"),
        ]
        return names.filter { f & $0.0 != 0 }.map(\.1).joined(separator: "|")
    }
}

/// Migratetypes of pageblocks and free lists (Linux: enum migratetype).
public enum MigrateType: Int, CaseIterable, Sendable {
    case unmovable = 0, movable = 1, reclaimable = 2, isolate = 3
    public static let allocatable: [MigrateType] = [.unmovable, .movable, .reclaimable]
    /// Linux: fallbacks[] in page_alloc.c — where an allocation steals from when its own
    /// lists are empty.
    public var fallbacks: [MigrateType] {
        switch self {
        case .unmovable: return [.reclaimable, .movable]
        case .movable: return [.reclaimable, .unmovable]
        case .reclaimable: return [.unmovable, .movable]
        case .isolate: return []
        }
    }
}

/// The page descriptor arrays. A value type over raw storage owned by `PhysicalMemory`
/// (which unmaps it); copies share the same storage. Every field is atomic so that racy
/// readers (rmap walks, the checker, compaction scanners) are well defined; writers still
/// follow the locking rules in docs/ARCHITECTURE.md.
public struct PageDescriptors: @unchecked Sendable {
    public let count: Int
    let flagsBase: UnsafeMutablePointer<Atomic<UInt32>>
    let refBase: UnsafeMutablePointer<Atomic<Int32>>
    let mapcountBase: UnsafeMutablePointer<Atomic<Int32>>
    let indexBase: UnsafeMutablePointer<Atomic<UInt32>>
    let mappingBase: UnsafeMutablePointer<Atomic<UInt64>>
    /// List links (buddy free lists or LRU, never both: the page is in one or the other,
    /// like Linux's union in struct page). Protected by the zone lock or the LRU lock.
    let nextBase: UnsafeMutablePointer<PFN>
    let prevBase: UnsafeMutablePointer<PFN>
    let raw: UnsafeMutableRawPointer
    let rawBytes: Int

    /// Bytes of descriptor per page: a reported figure (BENCHMARKS.md).
    public static let bytesPerPage = 4 + 4 + 4 + 4 + 8 + 4 + 4

    /// Maps zero-filled storage for `count` descriptors. Zero is the valid initial state
    /// of every field (Atomic<T> has T's layout), so no per-page initialisation runs:
    /// booting a machine of millions of frames costs only what the kernel touches lazily.
    /// `populate` pre-faults it on huge host pages instead (MachineConfig.populate).
    init?(count: Int, populate: Bool = false) {
        self.count = count
        let b = count * Self.bytesPerPage + 64 * 8
        guard let p = mm_map_anon(b, populate ? 1 : 0) else { return nil }
        raw = p
        rawBytes = b
        var off = 0
        func carve<T: ~Copyable>(_: T.Type, _ size: Int) -> UnsafeMutablePointer<T> {
            let ptr = (p + off).bindMemory(to: T.self, capacity: count)
            off += (count * size + 63) & ~63
            return ptr
        }
        flagsBase = carve(Atomic<UInt32>.self, 4)
        refBase = carve(Atomic<Int32>.self, 4)
        mapcountBase = carve(Atomic<Int32>.self, 4)
        indexBase = carve(Atomic<UInt32>.self, 4)
        mappingBase = carve(Atomic<UInt64>.self, 8)
        nextBase = carve(PFN.self, 4)
        prevBase = carve(PFN.self, 4)
    }

    func release() { mm_unmap(raw, rawBytes) }

    // MARK: flags
    @inline(__always) public func flags(_ pfn: PFN) -> UInt32 { flagsBase[Int(pfn)].load(ordering: .acquiring) }
    @inline(__always) public func test(_ pfn: PFN, _ f: UInt32) -> Bool { flags(pfn) & f != 0 }
    /// Sets bits; returns the old word.
    @discardableResult @inline(__always)
    public func setFlags(_ pfn: PFN, _ f: UInt32) -> UInt32 {
        flagsBase[Int(pfn)].bitwiseOr(f, ordering: .acquiringAndReleasing).oldValue
    }
    /// Clears bits; returns the old word.
    @discardableResult @inline(__always)
    public func clearFlags(_ pfn: PFN, _ f: UInt32) -> UInt32 {
        flagsBase[Int(pfn)].bitwiseAnd(~f, ordering: .acquiringAndReleasing).oldValue
    }
    @inline(__always) func storeFlags(_ pfn: PFN, _ v: UInt32) { flagsBase[Int(pfn)].store(v, ordering: .releasing) }

    /// Buddy order of a free block's head page (valid only with PageFlag.buddy).
    @inline(__always) public func buddyOrder(_ pfn: PFN) -> Int {
        Int((flags(pfn) & PageFlag.orderMask) >> PageFlag.orderShift)
    }
    @inline(__always) public func buddyMigrateType(_ pfn: PFN) -> MigrateType {
        MigrateType(rawValue: Int((flags(pfn) & PageFlag.mtMask) >> PageFlag.mtShift))!
    }

    // MARK: compound pages (Linux: include/linux/mm.h, page-flags.h)
    //
    // Encoding, in fields every page has anyway (no byte added per page):
    //   head: PageFlag.head, folio order in the flag word's order bits;
    //   tail: PageFlag.tail only, head PFN in the index field, refcount 0, mapcount 0.
    // Only the head is on the LRU, holds references and carries mapping and index.

    /// Linux: folio_order(): the order of the folio `pfn` heads, 0 for a small page.
    @inline(__always) public func folioOrder(_ pfn: PFN) -> Int {
        let f = flags(pfn)
        return f & PageFlag.head != 0 ? Int((f & PageFlag.orderMask) >> PageFlag.orderShift) : 0
    }
    /// Linux: folio_nr_pages().
    @inline(__always) public func folioPages(_ pfn: PFN) -> Int { 1 << folioOrder(pfn) }
    @inline(__always) public func isHead(_ pfn: PFN) -> Bool { test(pfn, PageFlag.head) }
    @inline(__always) public func isTail(_ pfn: PFN) -> Bool { test(pfn, PageFlag.tail) }
    /// Linux: compound_head(): the head of the folio `pfn` belongs to (itself if not a tail).
    @inline(__always) public func compoundHead(_ pfn: PFN) -> PFN { isTail(pfn) ? index(pfn) : pfn }

    /// Linux: prep_compound_page(): makes the freshly allocated block [head, head + 2^order)
    /// one folio. The head keeps its reference; the tails have none. Order 0 is a no-op.
    public func prepCompound(_ head: PFN, order: Int) {
        guard order > 0 else { return }
        precondition(order <= maxOrder && Int(head) & ((1 << order) - 1) == 0,
                     "prep_compound of pfn \(head) order \(order): not an aligned block")
        for i in 1..<(1 << order) {
            let t = head + PFN(i)
            precondition(refcount(t) == 0 && flags(t) & ~PageFlag.waiters == 0,
                         "prep_compound: tail pfn \(t) is in use (flags \(PageFlag.describe(flags(t))))")
            setIndex(t, head)
            storeFlags(t, PageFlag.tail)
        }
        flagsBase[Int(head)].bitwiseAnd(~PageFlag.orderMask, ordering: .acquiringAndReleasing)
        setFlags(head, PageFlag.head | (UInt32(order) << PageFlag.orderShift))
    }

    /// Undoes `prepCompound` (the folio is being freed or split): every page becomes a
    /// small page with no flags from the folio.
    public func clearCompound(_ head: PFN, order: Int) {
        guard order > 0 else { return }
        for i in 1..<(1 << order) {
            let t = head + PFN(i)
            setIndex(t, 0)
            storeFlags(t, 0)
        }
        clearFlags(head, PageFlag.head | PageFlag.orderMask)
    }

    // MARK: reference and map counts
    @inline(__always) public func refcount(_ pfn: PFN) -> Int32 { refBase[Int(pfn)].load(ordering: .acquiring) }
    /// Linux: get_page().
    @inline(__always) public func getRef(_ pfn: PFN) {
        let old = refBase[Int(pfn)].wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue
        precondition(old > 0, "get_page on free pfn \(pfn)")
    }
    /// Linux: get_page_unless_zero(). False when the page is being freed or free.
    @inline(__always) public func getRefUnlessZero(_ pfn: PFN) -> Bool {
        var cur = refcount(pfn)
        while cur > 0 {
            let (ok, seen) = refBase[Int(pfn)].compareExchange(expected: cur, desired: cur + 1, ordering: .acquiringAndReleasing)
            if ok { return true }
            cur = seen
        }
        return false
    }
    /// Drops one reference; returns the new count (the caller frees at 0).
    @inline(__always) func dropRef(_ pfn: PFN) -> Int32 {
        let new = refBase[Int(pfn)].wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue
        precondition(new >= 0, "put_page underflow on pfn \(pfn)")
        return new
    }
    /// Linux: folio_ref_freeze(): the count goes from exactly `expected` to 0, so that
    /// no one can take a new reference (get_page_unless_zero fails) while the caller
    /// moves or splits the folio. False if the count was anything else.
    public func freezeRefs(_ pfn: PFN, expected: Int32) -> Bool {
        refBase[Int(pfn)].compareExchange(expected: expected, desired: 0, ordering: .acquiringAndReleasing).exchanged
    }
    /// Linux: folio_ref_unfreeze(): a frozen (0) count becomes `count`.
    public func unfreezeRefs(_ pfn: PFN, _ count: Int32) {
        precondition(refcount(pfn) == 0, "unfreeze of pfn \(pfn) whose count is not frozen")
        setRefcount(pfn, count)
    }
    /// Hands a block's references to a new owner that counts `count` on the head and
    /// none on the other pages (the page cache adopting allocated frames).
    public func setFolioRefcount(_ head: PFN, pages n: Int, to count: Int32) {
        precondition(count > 0 && refcount(head) > 0, "folio refcount of pfn \(head) set on a free page")
        for i in 1..<max(n, 1) { setRefcount(head + PFN(i), 0) }
        setRefcount(head, count)
    }
    /// Adds `n` references to an in-use page (Linux: folio_ref_add).
    public func addRefs(_ pfn: PFN, _ n: Int32) {
        let old = refBase[Int(pfn)].wrappingAdd(n, ordering: .acquiringAndReleasing).oldValue
        precondition(old > 0, "folio_ref_add on free pfn \(pfn)")
    }
    /// Drops `n` references; returns the new count (the caller frees at 0).
    @inline(__always) func dropRefs(_ pfn: PFN, _ n: Int32) -> Int32 {
        let new = refBase[Int(pfn)].wrappingSubtract(n, ordering: .acquiringAndReleasing).newValue
        precondition(new >= 0, "folio_put_refs underflow on pfn \(pfn)")
        return new
    }
    @inline(__always) func setRefcount(_ pfn: PFN, _ v: Int32) { refBase[Int(pfn)].store(v, ordering: .releasing) }
    /// Gives a tail page of a freshly allocated block its own reference (Linux:
    /// split_page → set_page_refcounted). The page must have refcount 0 and be in use.
    public func getRefFromZeroForSplit(_ pfn: PFN) {
        precondition(refcount(pfn) == 0 && !test(pfn, PageFlag.buddy), "split of pfn \(pfn) that is free or referenced")
        setRefcount(pfn, 1)
    }
    /// Test hook: corrupt a count to prove the checker can fail.
    public func _setRefcountForTesting(_ pfn: PFN, _ v: Int32) { setRefcount(pfn, v) }

    @inline(__always) public func mapcount(_ pfn: PFN) -> Int32 { mapcountBase[Int(pfn)].load(ordering: .acquiring) }
    /// Linux: page_mapped().
    @inline(__always) public func isMapped(_ pfn: PFN) -> Bool { mapcount(pfn) > 0 }
    /// Adds one mapping; returns the new mapcount.
    @discardableResult @inline(__always)
    public func incMapcount(_ pfn: PFN) -> Int32 {
        mapcountBase[Int(pfn)].wrappingAdd(1, ordering: .acquiringAndReleasing).newValue
    }
    /// Removes one mapping; returns the new mapcount.
    @discardableResult @inline(__always)
    public func decMapcount(_ pfn: PFN) -> Int32 {
        let new = mapcountBase[Int(pfn)].wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue
        precondition(new >= 0, "mapcount underflow on pfn \(pfn)")
        return new
    }
    /// Test hook: corrupt a count to prove the checker can fail.
    public func _setMapcountForTesting(_ pfn: PFN, _ v: Int32) { mapcountBase[Int(pfn)].store(v, ordering: .releasing) }

    // MARK: mapping and index
    /// page->mapping: 0, or an encoded anon_vma reference (see MMSpace's AnonVmaRef).
    @inline(__always) public func mapping(_ pfn: PFN) -> UInt64 { mappingBase[Int(pfn)].load(ordering: .acquiring) }
    @inline(__always) public func setMapping(_ pfn: PFN, _ v: UInt64) { mappingBase[Int(pfn)].store(v, ordering: .releasing) }
    /// page->index: the linear page offset of an anonymous page in its VMA's space.
    @inline(__always) public func index(_ pfn: PFN) -> UInt32 { indexBase[Int(pfn)].load(ordering: .acquiring) }
    @inline(__always) public func setIndex(_ pfn: PFN, _ v: UInt32) { indexBase[Int(pfn)].store(v, ordering: .releasing) }

    // MARK: list links (under the owning list's lock)
    @inline(__always) func next(_ pfn: PFN) -> PFN { nextBase[Int(pfn)] }
    @inline(__always) func prev(_ pfn: PFN) -> PFN { prevBase[Int(pfn)] }
    @inline(__always) func setNext(_ pfn: PFN, _ v: PFN) { nextBase[Int(pfn)] = v }
    @inline(__always) func setPrev(_ pfn: PFN, _ v: PFN) { prevBase[Int(pfn)] = v }
}

/// A doubly linked list of pages threaded through the descriptors' links (Linux:
/// struct list_head embedded in struct page). The owner's lock protects it.
struct PageList {
    var head: PFN = noPFN
    var count: Int = 0

    mutating func pushFront(_ pfn: PFN, _ d: PageDescriptors) {
        d.setPrev(pfn, noPFN)
        d.setNext(pfn, head)
        if head != noPFN { d.setPrev(head, pfn) }
        head = pfn
        count += 1
    }

    mutating func remove(_ pfn: PFN, _ d: PageDescriptors) {
        let n = d.next(pfn), p = d.prev(pfn)
        if p != noPFN { d.setNext(p, n) } else {
            precondition(head == pfn, "pfn \(pfn) is not on this list")
            head = n
        }
        if n != noPFN { d.setPrev(n, p) }
        d.setNext(pfn, noPFN)
        d.setPrev(pfn, noPFN)
        count -= 1
    }

    mutating func popFront(_ d: PageDescriptors) -> PFN? {
        guard head != noPFN else { return nil }
        let p = head
        remove(p, d)
        return p
    }
}
