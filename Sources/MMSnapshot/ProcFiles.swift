// Parsers for the text files of a snapshot: copies of /proc/zoneinfo, /proc/pagetypeinfo,
// /proc/buddyinfo, /proc/vmstat, /proc/meminfo and the "System RAM" lines of /proc/iomem.
// Each takes the file's text and its name (for errors) and either returns the values it
// needs or throws `FILE:LINE: message`; lines it does not need are skipped.

/// One zone as /proc/zoneinfo describes it (Linux: zoneinfo_show_print()).
public struct ZoneInfo: Sendable, Equatable {
    public var node: Int
    public var name: String
    public var startPFN: Int
    public var spanned: Int
    public var present: Int
    public var managed: Int
    public var freePages: Int
    public var watermarkMin: Int
    public var watermarkLow: Int
    public var watermarkHigh: Int
    /// The zone's per-CPU free lists ("pagesets"), in the file's CPU order.
    public var pcp: [PerCPUPagesInfo] = []
    /// One past the zone's last PFN.
    public var endPFN: Int { startPFN + spanned }
}

/// One CPU's free-page list of a zone as /proc/zoneinfo prints it under "pagesets"
/// (Linux: struct per_cpu_pages): pages held, and the `high` above which a free pushes
/// the oldest ones back to the buddy (docs/SNAPSHOT.md, "Per-CPU lists").
public struct PerCPUPagesInfo: Sendable, Equatable {
    public var cpu: Int
    public var count: Int
    public var high: Int
    public var batch: Int
    public init(cpu: Int, count: Int, high: Int, batch: Int) {
        self.cpu = cpu; self.count = count; self.high = high; self.batch = batch
    }
}

/// One zone's lines of /proc/pagetypeinfo (Linux: pagetypeinfo_showblockcount_print(),
/// pagetypeinfo_showfree_print()).
public struct PagetypeInfo: Sendable, Equatable {
    public var node: Int
    public var zone: String
    /// Pageblocks per migratetype, in the file's column order (`SnapshotSummary.pagetypeNames`).
    public var blocks: [String: Int]
    /// Free blocks per migratetype and order.
    public var free: [String: [Int]]
    public var totalBlocks: Int { blocks.values.reduce(0, +) }
}

/// One line of /proc/buddyinfo: free blocks per order.
public struct BuddyInfoLine: Sendable, Equatable {
    public var node: Int
    public var zone: String
    public var free: [Int]
}

/// A PFN range [start, end).
public struct PFNRange: Sendable, Equatable {
    public var start: Int
    public var end: Int
    public init(start: Int, end: Int) { self.start = start; self.end = end }
    public var count: Int { end - start }
}

enum ProcText {
    /// Splits text into (1-based line number, line) pairs, bounded by the text size limit.
    static func lines(_ text: String) -> [(Int, Substring)] {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map { ($0.offset + 1, $0.element) }
    }

    static func fields(_ line: Substring) -> [Substring] {
        line.split(whereSeparator: { $0 == " " || $0 == "\t" })
    }

    static func int(_ s: Substring, _ file: String, _ line: Int, _ what: String) throws -> Int {
        guard let v = Int(s), v >= 0 else { throw SnapshotError(file, line: line, "\(what): '\(s)' is not a non-negative integer") }
        return v
    }

    /// "Node 0, zone   Normal …" → (node, zone name, the fields after the name).
    static func nodeZone(_ line: Substring, _ file: String, _ n: Int) throws -> (Int, String, [Substring]) {
        let f = fields(line.replacing(",", with: " "))
        guard f.count >= 4, f[0] == "Node", f[2] == "zone" else {
            throw SnapshotError(file, line: n, "expected 'Node N, zone NAME', found '\(line.prefix(60))'")
        }
        return (try int(f[1], file, n, "node"), String(f[3]), Array(f.dropFirst(4)))
    }
}

public enum ProcParsers {
    /// Parses /proc/zoneinfo: every zone with its start PFN, sizes, free pages and
    /// watermarks. Empty zones (spanned 0) carry no start_pfn line and get 0.
    public static func zoneinfo(_ text: String, file: String = "zoneinfo.txt") throws -> [ZoneInfo] {
        // Per-CPU list fields are page counts (or a CPU number): bounded by the largest machine.
        func pcpField(_ v: Substring, _ n: Int, _ what: String) throws -> Int {
            let x = try ProcText.int(v, file, n, what)
            guard x <= SnapshotLimits.maxPFNs else { throw SnapshotError(file, line: n, "\(what) \(x) is larger than \(SnapshotLimits.maxPFNs)") }
            return x
        }
        var zones: [ZoneInfo] = []
        var sawStart: [Bool] = []
        var headerLine: [Int] = []
        for (n, line) in ProcText.lines(text) {
            if line.hasPrefix("Node ") {
                let (node, name, _) = try ProcText.nodeZone(line, file, n)
                zones.append(ZoneInfo(node: node, name: name, startPFN: 0, spanned: -1, present: -1, managed: -1,
                                      freePages: -1, watermarkMin: 0, watermarkLow: 0, watermarkHigh: 0))
                sawStart.append(false)
                headerLine.append(n)
                continue
            }
            let f = ProcText.fields(line)
            guard !f.isEmpty, !zones.isEmpty else { continue }
            let i = zones.count - 1
            switch f[0] {
            case "pages" where f.count == 3 && f[1] == "free": zones[i].freePages = try ProcText.int(f[2], file, n, "pages free")
            case "min" where f.count == 2: zones[i].watermarkMin = try ProcText.int(f[1], file, n, "min")
            case "low" where f.count == 2: zones[i].watermarkLow = try ProcText.int(f[1], file, n, "low")
            case "high" where f.count == 2: zones[i].watermarkHigh = try ProcText.int(f[1], file, n, "high")
            case "spanned" where f.count == 2: zones[i].spanned = try ProcText.int(f[1], file, n, "spanned")
            case "present" where f.count == 2: zones[i].present = try ProcText.int(f[1], file, n, "present")
            case "managed" where f.count == 2: zones[i].managed = try ProcText.int(f[1], file, n, "managed")
            case "cpu:" where f.count == 2:
                zones[i].pcp.append(PerCPUPagesInfo(cpu: try pcpField(f[1], n, "cpu"), count: 0, high: 0, batch: 0))
            case "count:" where f.count == 2 && !zones[i].pcp.isEmpty:
                zones[i].pcp[zones[i].pcp.count - 1].count = try pcpField(f[1], n, "pcp count")
            case "high:" where f.count == 2 && !zones[i].pcp.isEmpty:
                zones[i].pcp[zones[i].pcp.count - 1].high = try pcpField(f[1], n, "pcp high")
            case "batch:" where f.count == 2 && !zones[i].pcp.isEmpty:
                zones[i].pcp[zones[i].pcp.count - 1].batch = try pcpField(f[1], n, "pcp batch")
            case "start_pfn:" where f.count == 2:
                zones[i].startPFN = try ProcText.int(f[1], file, n, "start_pfn")
                sawStart[i] = true
            default: continue
            }
        }
        guard !zones.isEmpty else { throw SnapshotError(file, "no 'Node N, zone NAME' section") }
        for (i, z) in zones.enumerated() {
            let at = headerLine[i]
            for (v, what) in [(z.spanned, "spanned"), (z.present, "present"), (z.managed, "managed"), (z.freePages, "pages free")] where v < 0 {
                throw SnapshotError(file, line: at, "zone \(z.name) of node \(z.node) has no '\(what)' line")
            }
            guard sawStart[i] || z.spanned == 0 else { throw SnapshotError(file, line: at, "zone \(z.name) of node \(z.node) has no 'start_pfn:' line") }
            guard z.present <= z.spanned, z.managed <= z.present else {
                throw SnapshotError(file, line: at, "zone \(z.name): managed ≤ present ≤ spanned does not hold (\(z.managed), \(z.present), \(z.spanned))")
            }
            guard z.endPFN <= SnapshotLimits.maxPFNs else { throw SnapshotError(file, line: at, "zone \(z.name) ends at PFN \(z.endPFN), past the limit \(SnapshotLimits.maxPFNs)") }
        }
        return zones
    }

    /// Parses /proc/buddyinfo.
    public static func buddyinfo(_ text: String, file: String = "buddyinfo.txt") throws -> [BuddyInfoLine] {
        var out: [BuddyInfoLine] = []
        for (n, line) in ProcText.lines(text) where !line.allSatisfy({ $0 == " " }) {
            let (node, zone, rest) = try ProcText.nodeZone(line, file, n)
            guard !rest.isEmpty, rest.count <= 16 else { throw SnapshotError(file, line: n, "expected 1 to 16 free counts, found \(rest.count)") }
            out.append(BuddyInfoLine(node: node, zone: zone, free: try rest.map { try ProcText.int($0, file, n, "free count") }))
        }
        guard !out.isEmpty else { throw SnapshotError(file, "no 'Node N, zone NAME' line") }
        return out
    }

    /// Parses /proc/pagetypeinfo: the "Number of blocks type" table (pageblocks per
    /// migratetype and zone) and the free-count table; returns the pageblock order too.
    public static func pagetypeinfo(_ text: String, file: String = "pagetypeinfo.txt") throws -> (pageblockOrder: Int, zones: [PagetypeInfo]) {
        var order = -1
        var zones: [PagetypeInfo] = []
        var columns: [String] = []
        var free: [String: [String: [Int]]] = [:]   // "node/zone" → type → counts
        for (n, line) in ProcText.lines(text) {
            let f = ProcText.fields(line)
            if line.hasPrefix("Page block order:") {
                guard f.count == 4 else { throw SnapshotError(file, line: n, "expected 'Page block order: N'") }
                order = try ProcText.int(f[3], file, n, "page block order")
                guard order <= 20 else { throw SnapshotError(file, line: n, "page block order \(order) is out of range") }
            } else if line.hasPrefix("Number of blocks type") {
                columns = f.dropFirst(4).map(String.init)
                guard !columns.isEmpty else { throw SnapshotError(file, line: n, "no migratetype columns") }
            } else if line.hasPrefix("Node") {
                let (node, zone, rest) = try ProcText.nodeZone(line, file, n)
                if rest.first == "type" {
                    guard rest.count >= 3 else { throw SnapshotError(file, line: n, "expected 'type NAME' and free counts") }
                    // Counts above 100000 print as ">100000" (Linux: pagetypeinfo_showfree_print()
                    // stops counting there): kept as the lower bound.
                    let counts = try rest.dropFirst(2).map { try ProcText.int($0.hasPrefix(">") ? $0.dropFirst() : $0, file, n, "free count") }
                    free["\(node)/\(zone)", default: [:]][String(rest[1])] = counts
                } else {
                    guard !columns.isEmpty else { throw SnapshotError(file, line: n, "block counts before the 'Number of blocks type' header") }
                    guard rest.count == columns.count else {
                        throw SnapshotError(file, line: n, "expected \(columns.count) block counts, found \(rest.count)")
                    }
                    var blocks: [String: Int] = [:]
                    for (c, v) in zip(columns, rest) { blocks[c] = try ProcText.int(v, file, n, "block count") }
                    zones.append(PagetypeInfo(node: node, zone: zone, blocks: blocks, free: [:]))
                }
            }
        }
        guard order >= 0 else { throw SnapshotError(file, "no 'Page block order:' line") }
        guard !zones.isEmpty else { throw SnapshotError(file, "no 'Number of blocks type' table") }
        for i in zones.indices { zones[i].free = free["\(zones[i].node)/\(zones[i].zone)"] ?? [:] }
        return (order, zones)
    }

    /// Parses /proc/vmstat or /proc/meminfo style `key value [kB]` lines into a table.
    public static func keyValues(_ text: String, file: String) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for (n, line) in ProcText.lines(text) where !line.isEmpty {
            let f = ProcText.fields(line)
            guard f.count == 2 || (f.count == 3 && f[2] == "kB") else {
                throw SnapshotError(file, line: n, "expected 'NAME VALUE', found '\(line.prefix(60))'")
            }
            let key = f[0].hasSuffix(":") ? String(f[0].dropLast()) : String(f[0])
            guard let v = Int(f[1]) else { throw SnapshotError(file, line: n, "\(key): '\(f[1])' is not an integer") }
            out[key] = v
        }
        guard !out.isEmpty else { throw SnapshotError(file, "no 'NAME VALUE' line") }
        return out
    }

    /// Parses the "System RAM" lines of /proc/iomem (`START-END : System RAM`, hex byte
    /// addresses, END inclusive) into PFN ranges of whole pages, sorted.
    public static func iomem(_ text: String, file: String = "iomem.txt") throws -> [PFNRange] {
        var out: [PFNRange] = []
        for (n, line) in ProcText.lines(text) where !line.isEmpty {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { throw SnapshotError(file, line: n, "expected 'START-END : NAME'") }
            guard parts[1].trimmingSpaces == "System RAM" else { continue }
            let range = parts[0].trimmingSpaces.split(separator: "-")
            guard range.count == 2, let a = UInt64(range[0], radix: 16), let b = UInt64(range[1], radix: 16), a <= b,
                  b < UInt64(SnapshotLimits.maxPFNs) << 12 else {
                throw SnapshotError(file, line: n, "'\(parts[0].trimmingSpaces)' is not a hex range START-END within \(SnapshotLimits.maxPFNs) pages")
            }
            // Only whole pages are RAM the allocator can use: round the start up, the end down.
            let start = Int((a + 4095) >> 12), end = Int((b + 1) >> 12)
            if start < end { out.append(PFNRange(start: start, end: end)) }
        }
        guard !out.isEmpty else { throw SnapshotError(file, "no 'System RAM' line") }
        out.sort { $0.start < $1.start }
        for i in out.indices.dropFirst() where out[i].start < out[i - 1].end {
            throw SnapshotError(file, "System RAM ranges overlap at PFN \(out[i].start)")
        }
        return out
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
