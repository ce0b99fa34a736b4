// `mmlab bench --only compaction`: full compaction of an alternately fragmented machine
// (issue 9: 4 GiB with content=full, 16 GiB with content=stamp), as `mmlab compact`
// runs it. Fragmenting is not timed; the figures are compaction's own.

import MMPhysical
import MMScenario

extension Bench {
    func benchCompaction(quick: Bool, _ add: (String, Double, String) -> Void) {
        let sizes: [(Int, ContentMode)] = quick ? [(1 << 30, .full)] : [(4 << 30, .full), (16 << 30, .stamp)]
        for (bytes, content) in sizes {
            var o = CompactOptions()
            o.memBytes = bytes
            o.content = content
            o.fragment = .alternate
            let name = "compaction \(bytes >> 30) GiB alternate, content=\(content.rawValue)"
            guard let r = try? CompactReport.run(o) else {
                FileHandleOut.stderr("bench: \(name): machine cannot be built on this host")
                continue
            }
            guard r.run != nil, r.ok else {
                FileHandleOut.stderr("bench: \(name): \(r.notRun ?? "\(r.violations.count) violations") — no figure")
                continue
            }
            add("\(name): seconds", r.seconds, "s")
            add("\(name): pages migrated/s", Double(r.pagesMigrated) / r.seconds, "pages/s")
            add("\(name): pages scanned/s (migrate + free)", Double(r.pagesScanned) / r.seconds, "pages/s")
            add("\(name): free order-9 blocks after", Double(r.after.freeHugeBlocks), "blocks")
        }
    }
}
