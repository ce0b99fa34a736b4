// A PFN-range crop of a snapshot: PFNs [0, end) only, for replays that must be quick
// (debug-build tests) — whole zones below `end`, and the zone that `end` cuts kept as its
// prefix. The classification and the inferred pageblock types are the full snapshot's
// (the inference ranks a zone's blocks against each other, so inferring again on a
// prefix would give other types); only counts are recomputed. The kernel's buddyinfo
// line of a cut zone no longer describes it and is dropped, and a crop's unmovable pages
// carry no reasons (they are not kept per PFN).

extension KernelSnapshot {
    /// Crops must end on a 16 MiB boundary: the replay's machine is whole memory blocks.
    public static let cropGranulePFNs = 4096

    /// The snapshot cut to PFNs [0, end). `end` must be a positive multiple of
    /// `cropGranulePFNs` (a pageblock boundary) and at most `pfnCount`.
    public func cropped(toEnd end: Int) throws -> KernelSnapshot {
        guard end > 0, end <= pfnCount, end % Self.cropGranulePFNs == 0 else {
            throw SnapshotError("crop", "end PFN \(end) must be a positive multiple of \(Self.cropGranulePFNs) (16 MiB) and at most \(pfnCount)")
        }
        var s = self
        s.pfnCount = end
        s.cells = Array(cells[..<end])
        s.pageblockTypes = Array(pageblockTypes[..<((end + pageblockPages - 1) >> pageblockOrder)])
        s.ram = ram.compactMap { r in r.start < end ? PFNRange(start: r.start, end: min(r.end, end)) : nil }
        s.holes = holes.compactMap { r in r.start < end ? PFNRange(start: r.start, end: min(r.end, end)) : nil }
        var zones: [SnapshotZone] = []
        var cut: [(node: Int, zone: String)] = []
        for var z in self.zones where z.startPFN < end {
            if z.endPFN > end {
                z.info.spanned = end - z.startPFN
                z.info.present = s.ram.reduce(0) { $0 + max(0, min($1.end, end) - max($1.start, z.startPFN)) }
                z.initialisedEnd = min(z.initialisedEnd, end)
                z.inferredBlocks = s.typeTotals(from: z.startPFN, to: z.initialisedEnd)
                z.pagetypeBlocks = z.inferredBlocks
                z.info.freePages = s.counts(zone: z)[.buddy]
                cut.append((z.node, z.name))
            }
            zones.append(z)
        }
        s.zones = zones
        s.buddyinfo = buddyinfo.filter { b in zones.contains { $0.node == b.node && $0.name == b.zone } && !cut.contains { $0.node == b.node && $0.zone == b.zone } }
        var c = ClassCounts()
        for pfn in 0..<end { c.pages[Int(s.cells[pfn] & 0xF)] += 1 }
        // Reasons for unmovable pages are not kept per PFN: a crop does not know them.
        c.unmovable = [:]
        c.movableFolios = (0..<end).reduce(0) { n, p in
            let cell = s.cell(p)
            return n + (cell.cls.isMovable && (cell.headOrder ?? 0) > 0 ? 1 : 0)
        }
        s.counts = c
        s.fileFolios = fileFolios.prefix(below: end)
        return s
    }

    /// Inferred pageblock types over the blocks of [from, to), by pagetypeinfo name.
    func typeTotals(from: Int, to: Int) -> [String: Int] {
        var t: [String: Int] = [:]
        var b = from & ~(pageblockPages - 1)
        while b < to {
            let type = pageblockType(ofPFN: b)
            if type != .none { t[type.procName, default: 0] += 1 }
            b += pageblockPages
        }
        return t
    }
}

extension FileFolioTable {
    /// The folios whose head is below `end`.
    func prefix(below end: Int) -> FileFolioTable {
        var t = FileFolioTable()
        for (i, h) in heads.enumerated() where Int(h) < end {
            t.heads.append(h)
            t.bits.append(bits[i])
        }
        return t
    }
}
