// The page-cache folios of a snapshot: a side table with one entry per file folio head
// (order 0 included), holding the few kpageflags bits a replay of page cache needs —
// whether the folio is dirty, under writeback, locked, or has private data (buffer
// heads; migration must then go through the filesystem's migrate_folio). Kept beside
// the one-byte-per-PFN cells so that memory per PFN stays one byte.
// Bits: include/uapi/linux/kernel-page-flags.h (LOCKED 0, DIRTY 4, WRITEBACK 8) and
// include/linux/kernel-page-flags.h, "kernel hacking" bits (PRIVATE 35, PRIVATE_2 36);
// Linux: stable_page_flags() in fs/proc/page.c sets them from the folio's flags.

extension KPF {
    public static let dirty: UInt64 = 1 << 4
    public static let writeback: UInt64 = 1 << 8
    public static let privateData: UInt64 = 1 << 35
    public static let private2: UInt64 = 1 << 36
}

/// The kpageflags bits kept for a file folio head, packed in one byte.
public struct FolioBits: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let locked = FolioBits(rawValue: 1 << 0)
    public static let dirty = FolioBits(rawValue: 1 << 1)
    public static let writeback = FolioBits(rawValue: 1 << 2)
    /// PG_private: the filesystem attached data (buffer heads).
    public static let privateData = FolioBits(rawValue: 1 << 3)
    /// PG_private_2 (PG_fscache on older kernels).
    public static let private2 = FolioBits(rawValue: 1 << 4)

    /// The kept bits of a head's kpageflags word.
    public init(kpageflags f: UInt64) {
        var b: FolioBits = []
        if f & KPF.locked != 0 { b.insert(.locked) }
        if f & KPF.dirty != 0 { b.insert(.dirty) }
        if f & KPF.writeback != 0 { b.insert(.writeback) }
        if f & KPF.privateData != 0 { b.insert(.privateData) }
        if f & KPF.private2 != 0 { b.insert(.private2) }
        self = b
    }
}

/// One file folio: its head PFN, order (from the classification) and kept bits.
public struct FileFolio: Sendable, Equatable {
    public var head: Int
    public var order: Int
    public var bits: FolioBits
}

/// Every file folio head of a snapshot, lowest PFN first: 5 bytes per folio.
public struct FileFolioTable: Sendable, Equatable {
    public internal(set) var heads: [UInt32] = []
    public internal(set) var bits: [UInt8] = []

    public init() {}
    public var count: Int { heads.count }

    mutating func append(head: Int, flags: UInt64) {
        heads.append(UInt32(truncatingIfNeeded: head))
        bits.append(FolioBits(kpageflags: flags).rawValue)
    }

    /// The kept bits of the folio whose head is `pfn`, nil if `pfn` is no file folio head.
    public func bits(ofHead pfn: Int) -> FolioBits? {
        guard pfn >= 0, pfn <= Int(UInt32.max) else { return nil }
        var lo = 0, hi = heads.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Int(heads[mid]) < pfn { lo = mid + 1 } else { hi = mid }
        }
        return lo < heads.count && Int(heads[lo]) == pfn ? FolioBits(rawValue: bits[lo]) : nil
    }
}

/// Counts over the file folios (the `"file_folios"` object of the `"snapshot"` JSON).
public struct FileFolioCounts: Sendable, Equatable {
    /// Folios per order (index = order).
    public var byOrder: [Int] = []
    public var dirty = 0, writeback = 0, locked = 0, privateData = 0, private2 = 0
    /// Large (order > 0) folios that are dirty, or have private data.
    public var largeDirty = 0, largePrivate = 0
}

extension KernelSnapshot {
    /// The file folio of head `pfn` (order from the cells, bits from the side table).
    public func fileFolio(head pfn: Int) -> FileFolio? {
        guard pfn >= 0, pfn < pfnCount, let b = fileFolios.bits(ofHead: pfn) else { return nil }
        return FileFolio(head: pfn, order: cell(pfn).headOrder ?? 0, bits: b)
    }

    /// Counts over every file folio of the snapshot.
    public var fileFolioCounts: FileFolioCounts {
        var c = FileFolioCounts()
        for (i, h) in fileFolios.heads.enumerated() where Int(h) < pfnCount {
            let order = cell(Int(h)).headOrder ?? 0
            if c.byOrder.count <= order { c.byOrder += [Int](repeating: 0, count: order + 1 - c.byOrder.count) }
            c.byOrder[order] += 1
            let b = FolioBits(rawValue: fileFolios.bits[i])
            if b.contains(.dirty) { c.dirty += 1; if order > 0 { c.largeDirty += 1 } }
            if b.contains(.writeback) { c.writeback += 1 }
            if b.contains(.locked) { c.locked += 1 }
            if b.contains(.privateData) { c.privateData += 1; if order > 0 { c.largePrivate += 1 } }
            if b.contains(.private2) { c.private2 += 1 }
        }
        return c
    }
}
