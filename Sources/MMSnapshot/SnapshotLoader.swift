// Reading a snapshot directory back into a `KernelSnapshot`: every file bounded, every
// malformed one a `SnapshotError` naming the file (and line), never a trap.

import CMMSupport
#if canImport(Glibc)
import Glibc
#endif

extension KernelSnapshot {
    /// The files of a snapshot directory (the page arrays may also be uncompressed `.bin`).
    public static let textFiles = ["zoneinfo.txt", "pagetypeinfo.txt", "buddyinfo.txt", "vmstat.txt", "meminfo.txt", "iomem.txt"]

    /// Reads the snapshot in `directory` (see docs/SNAPSHOT.md for the layout).
    public static func load(directory: String) throws -> KernelSnapshot {
        let dir = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let t0 = mm_now_ns()
        let flags = try readPageArray(dir: dir, base: "kpageflags")
        let counts = try readPageArray(dir: dir, base: "kpagecount")
        guard flags.count == counts.count else {
            throw SnapshotError("\(dir)/kpagecount", "has \(counts.count) PFNs but kpageflags has \(flags.count)")
        }
        func text(_ name: String) throws -> String {
            let bytes = try SnapshotIO.readFile("\(dir)/\(name)", limit: SnapshotLimits.textBytes)
            return String(decoding: bytes, as: UTF8.self)
        }
        let f = { (name: String) in "\(dir)/\(name)" }
        let zones = try ProcParsers.zoneinfo(try text("zoneinfo.txt"), file: f("zoneinfo.txt"))
        let pagetype = try ProcParsers.pagetypeinfo(try text("pagetypeinfo.txt"), file: f("pagetypeinfo.txt"))
        let buddy = try ProcParsers.buddyinfo(try text("buddyinfo.txt"), file: f("buddyinfo.txt"))
        let vmstat = try ProcParsers.keyValues(try text("vmstat.txt"), file: f("vmstat.txt"))
        let meminfo = try ProcParsers.keyValues(try text("meminfo.txt"), file: f("meminfo.txt"))
        let ram = try ProcParsers.iomem(try text("iomem.txt"), file: f("iomem.txt"))
        let meta = try SnapshotMeta.parse(try SnapshotIO.readFile(f("snapshot.json"), limit: SnapshotLimits.textBytes), file: f("snapshot.json"))
        let t1 = mm_now_ns()
        var s = try build(flags: flags, counts: counts, zones: zones, pagetype: pagetype, buddyinfo: buddy,
                         vmstat: vmstat, meminfo: meminfo, ram: ram, meta: meta, zoneinfoFile: f("zoneinfo.txt"))
        s.loadSeconds = [("read", Double(t1 - t0) / 1e9), ("classify", Double(mm_now_ns() - t1) / 1e9)]
        return s
    }

    /// Builds a snapshot from already-parsed parts (tests build small ones by hand).
    public static func build(flags: [UInt64], counts: [UInt64], zones: [ZoneInfo],
                             pagetype: (pageblockOrder: Int, zones: [PagetypeInfo]),
                             buddyinfo: [BuddyInfoLine], vmstat: [String: Int], meminfo: [String: Int],
                             ram: [PFNRange], meta: SnapshotMeta?, zoneinfoFile: String = "zoneinfo.txt") throws -> KernelSnapshot {
        let n = flags.count
        guard n > 0 else { throw SnapshotError("kpageflags", "is empty") }
        guard flags.count == counts.count else { throw SnapshotError("kpagecount", "has \(counts.count) PFNs but kpageflags has \(n)") }
        let order = pagetype.pageblockOrder
        guard order >= 1, order <= PageClassifier.maxOrder + 8 else { throw SnapshotError("pagetypeinfo.txt", "page block order \(order) is out of range") }
        for z in zones where z.spanned > 0 && z.endPFN > n {
            throw SnapshotError(zoneinfoFile, "zone \(z.name) ends at PFN \(z.endPFN) but kpageflags has only \(n) PFNs")
        }
        let classified = PageClassifier.classifyWithFolios(flags: flags, counts: counts, ram: ram)
        var cells = classified.cells, counted = classified.counts
        var types = [UInt8](repeating: PageblockType.none.rawValue, count: (n + (1 << order) - 1) >> order)
        let inference = PageblockInference(cells: cells, order: order, ram: ram)
        var out: [SnapshotZone] = []
        for z in zones where z.spanned > 0 {
            let totals = pagetype.zones.first { $0.node == z.node && $0.zone == z.name }?.blocks ?? [:]
            let (initEnd, inferred) = inference.infer(zone: z, totals: totals, types: &types)
            // Past the initialised end, "flags 0, count 0" is memory not yet initialised.
            for pfn in initEnd..<z.endPFN where cells[pfn] & 0xF == PageClass.zeroFree.rawValue {
                cells[pfn] = PageCell(.uninitialised, headOrder: 0).raw
                counted.pages[Int(PageClass.zeroFree.rawValue)] -= 1
                counted.pages[Int(PageClass.uninitialised.rawValue)] += 1
            }
            let matches = totals.filter { $0.value > 0 } == inferred.filter { $0.value > 0 }
            out.append(SnapshotZone(info: z, initialisedEnd: initEnd, pagetypeBlocks: totals, inferredBlocks: inferred, inferenceMatches: matches))
        }
        var holes: [PFNRange] = []
        var at = 0
        for r in ram where r.start < n {
            if r.start > at { holes.append(PFNRange(start: at, end: r.start)) }
            at = max(at, min(r.end, n))
        }
        if at < n { holes.append(PFNRange(start: at, end: n)) }
        return KernelSnapshot(meta: meta, pfnCount: n, pageblockOrder: order, zones: out, ram: ram, holes: holes,
                              cells: cells, pageblockTypes: types, buddyinfo: buddyinfo, vmstat: vmstat,
                              meminfo: meminfo, counts: counted, fileFolios: classified.fileFolios)
    }

    /// Reads `base.bin.gz` (or, failing that, `base.bin`): raw little-endian u64 per PFN.
    public static func readPageArray(dir: String, base: String) throws -> [UInt64] {
        let gz = "\(dir)/\(base).bin.gz", raw = "\(dir)/\(base).bin"
        let bytes: [UInt8]
        let name: String
        if SnapshotIO.exists(gz) {
            name = gz
            let packed = try SnapshotIO.readFile(gz, limit: SnapshotLimits.gzipBytes)
            if let words = try Gzip.decompressU64Hinted(packed, limit: SnapshotLimits.maxPFNs * 8, name: gz) { return words }
            bytes = try Gzip.decompress(packed, limit: SnapshotLimits.maxPFNs * 8, name: gz)
        } else if SnapshotIO.exists(raw) {
            name = raw
            bytes = try SnapshotIO.readFile(raw, limit: SnapshotLimits.maxPFNs * 8)
        } else {
            throw SnapshotError(gz, "missing (and no \(base).bin either)")
        }
        guard bytes.count % 8 == 0 else { throw SnapshotError(name, "\(bytes.count) bytes is not a whole number of u64 entries") }
        return decodeU64LE(bytes)
    }

    static func decodeU64LE(_ bytes: [UInt8]) -> [UInt64] {
        let n = bytes.count / 8
        return [UInt64](unsafeUninitializedCapacity: n) { buf, count in
            bytes.withUnsafeBytes { raw in
                if n > 0 { memcpy(buf.baseAddress!, raw.baseAddress!, n * 8) }
            }
            #if _endian(big)
            for i in 0..<n { buf[i] = UInt64(littleEndian: buf[i]) }
            #endif
            count = n
        }
    }
}
