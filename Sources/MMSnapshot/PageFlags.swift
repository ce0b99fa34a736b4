// Classification of every PFN of a snapshot from /proc/kpageflags and /proc/kpagecount
// (Linux: stable_page_flags() in fs/proc/page.c; bit numbers from
// include/uapi/linux/kernel-page-flags.h and Documentation/admin-guide/mm/pagemap.rst).
// kpagecount is the page's map count, not its reference count.

/// Bits of /proc/kpageflags that the classification reads.
public enum KPF {
    public static let locked: UInt64 = 1 << 0
    public static let lru: UInt64 = 1 << 5
    public static let slab: UInt64 = 1 << 7
    public static let buddy: UInt64 = 1 << 10
    public static let mmap: UInt64 = 1 << 11
    public static let anon: UInt64 = 1 << 12
    public static let compoundHead: UInt64 = 1 << 15
    public static let compoundTail: UInt64 = 1 << 16
    public static let huge: UInt64 = 1 << 17
    public static let nopage: UInt64 = 1 << 20
    public static let thp: UInt64 = 1 << 22
    public static let offline: UInt64 = 1 << 23
    public static let pgtable: UInt64 = 1 << 26
    /// A "kernel hacking" bit (include/linux/kernel-page-flags.h), exported unconditionally.
    public static let reserved: UInt64 = 1 << 32
}

/// What one PFN holds, as far as compaction is concerned. Stored in the low 4 bits of
/// one byte per PFN (`PageCell`).
public enum PageClass: UInt8, Sendable, CaseIterable {
    /// No page: outside "System RAM" in iomem, or KPF_NOPAGE.
    case hole = 0
    /// Free in the buddy allocator (KPF_BUDDY, head or tail of a free block).
    case buddy = 1
    /// Flags 0 and count 0 inside the initialised part of a zone: freed but not (yet)
    /// back in the buddy (per-CPU lists, free-page reporting).
    case zeroFree = 2
    /// Movable in use: on the LRU, anonymous.
    case anon = 3
    /// Movable in use: on the LRU, page cache.
    case file = 4
    /// Unmovable: slab, reserved, page table, offline, hugetlb, in use without LRU,
    /// or mapped with no flags.
    case unmovable = 5
    /// Flags 0 and count 0 past the zone's initialised end (lazy memory init).
    case uninitialised = 6

    public var name: String {
        switch self {
        case .hole: "hole"
        case .buddy: "buddy"
        case .zeroFree: "flags0"
        case .anon: "anon"
        case .file: "file"
        case .unmovable: "unmovable"
        case .uninitialised: "uninitialised"
        }
    }
    public var isMovable: Bool { self == .anon || self == .file }
}

/// One PFN's byte: class in bits 0–3; bits 4–7 hold order+1 on the first page of a
/// unit (a free buddy block, a folio, or a single page) and 0 on its other pages.
public struct PageCell: Sendable, Equatable {
    public var raw: UInt8
    public init(raw: UInt8) { self.raw = raw }
    public init(_ cls: PageClass, headOrder: Int?) {
        raw = cls.rawValue | (UInt8((headOrder ?? -1) + 1) << 4)
    }
    public var cls: PageClass { PageClass(rawValue: raw & 0xF) ?? .hole }
    /// The unit's order when this PFN is its first page, nil on the unit's other pages.
    public var headOrder: Int? { raw >> 4 == 0 ? nil : Int(raw >> 4) - 1 }
}

/// Why a page was classified unmovable (counted in the summary).
public enum UnmovableReason: String, Sendable, CaseIterable {
    case slab, reserved, pgtable, offline, hugetlb
    case noLRU = "in_use_no_lru"
    case mappedNoFlags = "count_no_flags"
}

/// Classification counts over a PFN range.
public struct ClassCounts: Sendable, Equatable {
    public var pages = [Int](repeating: 0, count: PageClass.allCases.count)
    public var unmovable: [UnmovableReason: Int] = [:]
    /// Large folios (compound heads) on the LRU: moved as one unit each.
    public var movableFolios = 0
    public subscript(_ c: PageClass) -> Int { pages[Int(c.rawValue)] }
}

public enum PageClassifier {
    /// Buddy orders run 0...maxOrder (Linux 6.x: MAX_PAGE_ORDER = 10 on x86-64).
    public static let maxOrder = 10

    /// Classifies PFNs [0, flags.count). `ram` (sorted) marks the PFNs that are System
    /// RAM; everything else is a hole. Returns one `PageCell` byte per PFN and the counts.
    public static func classify(flags: [UInt64], counts: [UInt64], ram: [PFNRange]) -> ([UInt8], ClassCounts) {
        let r = classifyWithFolios(flags: flags, counts: counts, ram: ram)
        return (r.cells, r.counts)
    }

    /// `classify`, plus the side table of file folio heads (FileFolios.swift).
    public static func classifyWithFolios(flags: [UInt64], counts: [UInt64], ram: [PFNRange])
        -> (cells: [UInt8], counts: ClassCounts, fileFolios: FileFolioTable) {
        // The loader refuses arrays of different lengths; a shorter count array reads as 0.
        let n = flags.count
        var folios = FileFolioTable()
        let counts = counts.count >= n ? counts : counts + [UInt64](repeating: 0, count: n - counts.count)
        var cells = [UInt8](repeating: 0, count: n)
        var tally = ClassCounts()
        var isRAM = [Bool](repeating: false, count: n)
        for r in ram { for p in max(0, r.start)..<min(n, max(r.start, r.end)) { isRAM[p] = true } }
        var pfn = 0
        while pfn < n {   // bounded: every branch advances pfn by at least one
            let f = flags[pfn]
            if !isRAM[pfn] || f & KPF.nopage != 0 {
                cells[pfn] = PageCell(.hole, headOrder: 0).raw
                tally.pages[Int(PageClass.hole.rawValue)] += 1
                pfn += 1
            } else if f & KPF.buddy != 0 {
                pfn = classifyBuddyRun(from: pfn, flags: flags, isRAM: isRAM, cells: &cells, tally: &tally)
            } else if f & KPF.compoundHead != 0 {
                pfn = classifyFolio(from: pfn, flags: flags, counts: counts, isRAM: isRAM, cells: &cells, tally: &tally, folios: &folios)
            } else {
                let (cls, why) = classifySingle(f, counts[pfn])
                cells[pfn] = PageCell(cls, headOrder: 0).raw
                if cls == .file { folios.append(head: pfn, flags: f) }
                tally.pages[Int(cls.rawValue)] += 1
                if let why { tally.unmovable[why, default: 0] += 1 }
                pfn += 1
            }
        }
        return (cells, tally, folios)
    }

    /// A page that is neither free in the buddy nor part of a compound page.
    static func classifySingle(_ f: UInt64, _ count: UInt64) -> (PageClass, UnmovableReason?) {
        if f & KPF.lru != 0 { return (f & KPF.anon != 0 ? .anon : .file, nil) }
        if f == 0 && count == 0 { return (.zeroFree, nil) }
        return (.unmovable, unmovableReason(f))
    }

    static func unmovableReason(_ f: UInt64) -> UnmovableReason {
        if f & KPF.slab != 0 { return .slab }
        if f & KPF.reserved != 0 { return .reserved }
        if f & KPF.pgtable != 0 { return .pgtable }
        if f & KPF.offline != 0 { return .offline }
        if f & KPF.huge != 0 { return .hugetlb }
        if f == 0 { return .mappedNoFlags }
        return .noLRU
    }

    /// A maximal run of KPF_BUDDY pages (every page of a free block reads BUDDY, see
    /// stable_page_flags()), split into naturally aligned blocks, largest first — the
    /// only split the buddy allocator can produce, since aligned buddies merge.
    static func classifyBuddyRun(from start: Int, flags: [UInt64], isRAM: [Bool],
                                 cells: inout [UInt8], tally: inout ClassCounts) -> Int {
        var end = start
        while end < flags.count, isRAM[end], flags[end] & KPF.buddy != 0, flags[end] & KPF.nopage == 0 { end += 1 }
        var p = start
        while p < end {
            var order = min(maxOrder, p == 0 ? maxOrder : p.trailingZeroBitCount)
            while order > 0 && p + (1 << order) > end { order -= 1 }
            cells[p] = PageCell(.buddy, headOrder: order).raw
            for q in (p + 1)..<(p + (1 << order)) { cells[q] = PageCell(.buddy, headOrder: nil).raw }
            p += 1 << order
        }
        tally.pages[Int(PageClass.buddy.rawValue)] += end - start
        return end
    }

    /// A compound head and its tail pages: one unit whose order is the power of two
    /// covering head + tails; its class is the head's.
    static func classifyFolio(from head: Int, flags: [UInt64], counts: [UInt64], isRAM: [Bool],
                              cells: inout [UInt8], tally: inout ClassCounts, folios: inout FileFolioTable) -> Int {
        // Tail pages report their folio's flags (stable_page_flags() reads folio->flags), so a
        // tail whose LRU/ANON/SLAB bits differ from the head's belongs to another folio.
        let folioBits = KPF.lru | KPF.anon | KPF.slab
        var end = head + 1
        while end < flags.count, end - head < 1 << 18, isRAM[end],
              flags[end] & KPF.compoundTail != 0, flags[end] & KPF.compoundHead == 0,
              flags[end] & folioBits == flags[head] & folioBits { end += 1 }
        let size = end - head
        let order = Int.bitWidth - 1 - size.leadingZeroBitCount   // floor(log2): a torn read keeps whole pages only
        let f = flags[head]
        let cls: PageClass
        var why: UnmovableReason?
        if f & KPF.lru != 0 { cls = f & KPF.anon != 0 ? .anon : .file }
        else { cls = .unmovable; why = unmovableReason(f & ~(KPF.compoundHead | KPF.thp)) }
        let unit = 1 << order
        cells[head] = PageCell(cls, headOrder: order).raw
        if cls == .file { folios.append(head: head, flags: f) }
        for q in (head + 1)..<(head + unit) { cells[q] = PageCell(cls, headOrder: nil).raw }
        // Tails past the power of two (a read torn by a concurrent split) count as single pages.
        for q in (head + unit)..<end {
            cells[q] = PageCell(cls, headOrder: 0).raw
            if cls == .file { folios.append(head: q, flags: flags[q]) }
        }
        tally.pages[Int(cls.rawValue)] += size
        if let why { tally.unmovable[why, default: 0] += size }
        if cls.isMovable && order > 0 { tally.movableFolios += 1 }
        return end
    }
}
