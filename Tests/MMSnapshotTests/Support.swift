// Helpers for the snapshot tests: a scratch directory, and a small hand-made snapshot.

@testable import MMSnapshot
#if canImport(Glibc)
import Glibc
#endif

/// The directory holding the committed real snapshot(s).
let fixturesDir: String = {
    let path = #filePath
    let dir = path[..<(path.lastIndex(of: "/") ?? path.endIndex)]
    return dir + "/Fixtures"
}()

/// A fresh scratch directory under /tmp.
func scratchDir() -> String {
    var template = Array("/tmp/mmsnapshot-test-XXXXXX".utf8CString)
    let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    return p.map { String(cString: $0) } ?? "/tmp"
}

func writeFile(_ path: String, _ text: String) throws { try SnapshotIO.writeFile(path, Array(text.utf8)) }

func u64Bytes(_ values: [UInt64]) -> [UInt8] {
    values.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}

/// A 2-pageblock machine (pageblock order 3: 8 pages a block, PFNs 0..<24) with one zone
/// "Normal" at PFN 8 spanning 16 pages; PFN 0..<8 is not RAM.
struct TinySnapshot {
    var flags: [UInt64] = [UInt64](repeating: KPF.nopage, count: 8) + [UInt64](repeating: 0, count: 16)
    var counts: [UInt64] = [UInt64](repeating: 0, count: 24)
    var zoneinfo = """
    Node 0, zone   Normal
      pages free     4
            min      1
            low      2
            high     3
            spanned  16
            present  16
            managed  16
      start_pfn:           8
    """
    var pagetypeinfo = """
    Page block order: 3
    Pages per block:  8

    Free pages count per migrate type at order       0      1      2      3
    Node    0, zone   Normal, type    Unmovable      0      0      0      0
    Node    0, zone   Normal, type      Movable      0      0      1      0

    Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate
    Node 0, zone   Normal            1            1            0            0            0
    """
    var buddyinfo = "Node 0, zone   Normal      0      0      1      0\n"
    var vmstat = "nr_free_pages 4\npgmigrate_success 7\n"
    var meminfo = "MemTotal:          96 kB\nMemFree:      16 kB\n"
    var iomem = "00008000-00017fff : System RAM\n"
    var json = "{\"kernel_release\":\"6.18-test\",\"time_utc\":\"2026-12-01T00:00:00Z\",\"pfns\":24,\"read_seconds\":{\"kpageflags.bin\":0.5}}\n"

    /// Writes the snapshot into a new directory; `gzip` picks .bin.gz or .bin page arrays.
    func write(gzip: Bool = true) throws -> String {
        let d = scratchDir()
        for (name, values) in [("kpageflags", flags), ("kpagecount", counts)] {
            let raw = u64Bytes(values)
            if gzip { try SnapshotIO.writeFile("\(d)/\(name).bin.gz", try Gzip.compress(raw)) }
            else { try SnapshotIO.writeFile("\(d)/\(name).bin", raw) }
        }
        for (name, text) in [("zoneinfo.txt", zoneinfo), ("pagetypeinfo.txt", pagetypeinfo), ("buddyinfo.txt", buddyinfo),
                             ("vmstat.txt", vmstat), ("meminfo.txt", meminfo), ("iomem.txt", iomem), ("snapshot.json", json)] {
            try writeFile("\(d)/\(name)", text)
        }
        return d
    }
}
