// What `mmlab offline` prints: per-block results and the block tables (text), one JSON
// object (`blocks` before/after, `results`, `verify`), and the SVG picture (each
// memory block a column of its pageblocks, offline blocks greyed) drawn with
// PageblockPicture.

import MMCheck
import MMHotplug
import MMPhysical

extension OfflineOutcome {
    /// Per-block results, the tables before and after, and the verdict.
    public func text(_ o: OfflineOptions) -> String {
        var s = "blocks before:\n" + MemoryBlockInfo.text(before)
        s += "results:\n"
        for r in results {
            let h = r.result
            s += "  \(r.op) block \(r.block): ret \(h.ret)"
            if let e = h.errno { s += " \(e.name) (\(h.reason ?? ""))" }
            if r.op == "offline" { s += ", \(h.migrated) pages migrated, \(h.sweeps) retr\(h.sweeps == 1 ? "y" : "ies")" }
            s += ", \(fmt(h.seconds)) s"
            if r.op == "offline", h.ret == 0, h.seconds > 0 { s += " (\(Int(Double(h.migrated) / h.seconds)) pages/s)" }
            s += "\n"
        }
        s += "blocks after:\n" + MemoryBlockInfo.text(after)
        if o.workers { s += "workers: \(writes) writes, \(reads) reads while offlining\n" }
        s += "verify: " + (ok ? "OK — every page intact, none left in an offline block, all invariants hold"
                           : "FAILED — \(corrupt) corrupt, \(stranded) in offline blocks" + violations.map { "\n  \($0)" }.joined())
        return s
    }

    /// `{"machine":…,"retry":…,"blocks":{"before":[…],"after":[…]},"results":[…],"workers":…,"verify":…}`
    public func json(_ o: OfflineOptions) -> JSONValue {
        let table = { (rows: [MemoryBlockInfo]) in JSONValue.array(rows.map(StatementResult.blockJSON)) }
        let res: [JSONValue] = results.map { r in
            .object([("block", .int(r.block)), ("op", .string(r.op)), ("ret", .int(r.result.ret)),
                     ("errno", r.result.errno.map { .string($0.name) } ?? .null),
                     ("reason", r.result.reason.map { .string($0) } ?? .null),
                     ("migrated", .int(r.result.migrated)), ("sweeps", .int(r.result.sweeps)),
                     ("seconds", .double(r.result.seconds))])
        }
        return .object([
            ("machine", .object([("nodes", .int(o.config.nodes)), ("node_mem", .int(o.config.nodeMemBytes)),
                                 ("block", .int(o.config.blockBytes)), ("movable", .int(o.config.movableBytes)),
                                 ("content", .string(o.config.content.rawValue))])),
            ("retry", .string(o.retry.description)),
            ("blocks", .object([("before", table(before)), ("after", table(after))])),
            ("results", .array(res)),
            ("workers", .object([("writes", .int(writes)), ("reads", .int(reads))])),
            ("verify", .object([("ok", .bool(ok)), ("corrupt", .int(corrupt)), ("stranded", .int(stranded)),
                                ("violations", MachineReport.violationsJSON(violations))])),
        ])
    }

    /// Blocks as columns of their pageblocks, before and right after the offlines.
    public func picture(_ o: OfflineOptions) -> PageblockPicture {
        let perBlock = o.config.blockBytes >> 21
        let labels = before.map { "\($0.id)" }
        let panels = [
            PageblockPicture.Panel(title: "before", cells: cellsBefore, lineLength: perBlock, direction: .down, lineLabels: labels),
            PageblockPicture.Panel(title: "after offline", cells: cellsOfflined, lineLength: perBlock, direction: .down, lineLabels: labels),
        ]
        let lines = results.map { r in
            "\(r.op) block \(r.block): ret \(r.result.ret)" + (r.result.errno.map { " \($0.name) (\(r.result.reason ?? ""))" } ?? "")
                + ", \(r.result.migrated) migrated, \(fmt(r.result.seconds)) s"
        }
        let sub = ["\(o.config.nodes) node(s) × \(o.config.nodeMemBytes >> 20) MiB, blocks of \(o.config.blockBytes >> 20) MiB, retry \(o.retry)",
                   "one column per memory block (block id below), one cell per 2 MiB pageblock"]
        return PageblockPicture(title: "mmlab offline", subtitle: sub, panelRows: [panels],
                                tables: [.init(title: "results", lines: lines), .init(title: "verdict", lines: [ok ? "OK" : "FAILED"])])
    }

    func fmt(_ x: Double) -> String {
        let v = (x * 1000).rounded() / 1000
        return "\(v)"
    }
}
