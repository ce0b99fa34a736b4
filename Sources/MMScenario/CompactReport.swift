// The run and the report of `mmlab compact`: text for people, one JSON object for tools
// (issue 9's shape), and the pageblock picture.

import CMMSupport
import MMCheck
import MMPhysical
import MMSpace
import MMSync

/// Everything one `mmlab compact` run measured.
public struct CompactReport: Sendable {
    public let options: CompactOptions
    public let fragmented: FragmentOutcome
    public let before: MachineState
    public let after: MachineState
    /// nil when no compaction ran (see `notRun`).
    public let run: CompactionRun?
    public let notRun: String?
    /// Counter deltas over the compaction, /proc/vmstat names, in VMStatItem order.
    public let vmstatDelta: [(String, Int64)]
    /// Final value of every counter.
    public let vmstat: [(String, Int64)]
    /// Pages read back through the owners' page tables after compaction.
    public let pagesVerified: Int
    public let violations: [Violation]

    public var ok: Bool { violations.isEmpty && run != nil }
    public var pagesMigrated: Int { Int(delta("pgmigrate_success")) }
    public var pagesScanned: Int { Int(delta("compact_migrate_scanned") + delta("compact_free_scanned")) }
    public var seconds: Double { run?.seconds ?? 0 }

    func delta(_ name: String) -> Int64 { vmstatDelta.first { $0.0 == name }?.1 ?? 0 }

    /// Builds, fragments, compacts and verifies. Throws only for a machine the host cannot
    /// map or a fragmenter that cannot fill it (both bad input: exit 2).
    public static func run(_ o: CompactOptions) throws(CompactError) -> CompactReport {
        if let p = o.problem { throw CompactError(p) }
        let cfg = o.machineConfig
        if let p = PhysicalMemory.bootProblem(cfg) { throw CompactError("machine: \(p)") }
        let m = Machine(cfg)
        let frag: FragmentOutcome
        do { frag = try Fragmenter.fragment(m, o.fragment, seed: o.seed) } catch {
            throw CompactError("--fragment \(o.fragment): the fragmenter failed with \(error)")
        }
        let before = MachineState(m)
        let counters0 = VMStatItem.allCases.map { m.vmstat[$0] }
        let run = CompactEngine.run(m, o)
        let counters1 = VMStatItem.allCases.map { m.vmstat[$0] }
        let after = MachineState(m)
        let (checked, violations) = verify(m)
        return CompactReport(
            options: o, fragmented: frag, before: before, after: after, run: run,
            notRun: run == nil ? (CompactEngine.unavailable ?? "compaction did not run") : nil,
            vmstatDelta: VMStatItem.allCases.map { ($0.name, counters1[$0.rawValue] - counters0[$0.rawValue]) },
            vmstat: [("nr_free_pages", Int64(m.phys.freePages()))] + VMStatItem.allCases.map { ($0.name, counters1[$0.rawValue]) },
            pagesVerified: checked, violations: violations)
    }

    /// Reads every page every process wrote back through its page tables (a lost write is
    /// reported by the read itself), checks that each unmovable page is where it was and
    /// still unmovable, then runs the checker.
    static func verify(_ m: Machine) -> (Int, [Violation]) {
        var checked = 0
        for p in m.allProcesses {
            for vpn in p.mm.shadowSnapshot().keys.sorted() {
                if (try? m.userRead(p.mm, vpn << 12)) != nil { checked += 1 }
            }
        }
        var extra: [Violation] = []
        for pfn in m.unmovable where !m.phys.pages.test(pfn, PageFlag.unmovable) || m.phys.pages.test(pfn, PageFlag.buddy) {
            extra.append(Violation(.accounting, "pfn \(pfn): unmovable page moved or freed (flags \(PageFlag.describe(m.phys.pages.flags(pfn))))"))
        }
        return (checked, extra + Checker.check(m))
    }
}

/// A bad `mmlab compact` input, with the message to print.
public struct CompactError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ m: String) { description = m }
}

// MARK: text and JSON

extension CompactReport {
    /// What the free memory could hold in order-9 blocks: floor(free pages / 512).
    public var possibleHugeBlocks: Int { after.freePages / pageblockPages }

    public var verdictLine: String {
        guard let _ = run else { return "verdict: NOT RUN — \(notRun ?? "") (nothing was compacted)" }
        let got = after.freeHugeBlocks, can = possibleHugeBlocks
        let pct = can == 0 ? 100.0 : Double(got) * 100 / Double(can)
        let shape = "free order-9 blocks \(before.freeHugeBlocks) → \(got) of \(can) possible (\(format1(pct))%)"
        if !violations.isEmpty { return "verdict: FAILED — \(violations.count) violation\(violations.count == 1 ? "" : "s"); \(shape)" }
        return "verdict: OK — all invariants hold, \(pagesVerified) pages intact; \(shape)"
    }

    public var text: String {
        let o = options
        var s = "mmlab compact: \(o.nodes) node\(o.nodes == 1 ? "" : "s") × \((o.memBytes / o.nodes) >> 20) MiB, content=\(o.content.rawValue), "
        s += "fragment=\(o.fragment), seed \(o.seed)\n"
        s += "fragmented: \(fragmented.filledPages) pages faulted in by \(fragmented.process.isEmpty ? "nobody" : fragmented.process), "
        s += "\(fragmented.freedPages) freed, \(fragmented.unmovablePages) unmovable pages placed\n"
        for (name, st) in [("before", before), ("after", after)] {
            if name == "after" && run == nil { break }
            s += "\n\(name) compaction:\nbuddyinfo:\n" + st.buddyinfoLines.map { "  " + $0 + "\n" }.joined()
            s += "extfrag_index:\n" + st.extfragLines.map { "  " + $0 + "\n" }.joined()
            s += "unusable_index:\n" + st.unusableLines.map { "  " + $0 + "\n" }.joined()
            s += "fragmentation score: " + st.nodeScores.enumerated().map { "node \($0.offset) \($0.element)" }.joined(separator: ", ") + "\n"
            let c = st.pageblockCounts
            s += "pageblocks: \(st.pageblockTotal) — " + PageblockClass.allCases.filter { (c[$0] ?? 0) > 0 }.map { "\($0.name) \(c[$0] ?? 0)" }.joined(separator: ", ") + "\n"
        }
        s += "\n"
        if let run {
            s += "compaction: \(requestLine)\n"
            for z in run.zones {
                s += "  node \(z.node) zone \(z.zone): \(z.status), migrate_pfn \(z.migratePFN), free_pfn \(z.freePFN), "
                s += "\(z.pagesMigrated) migrated, \(z.pagesFailed) failed\n"
            }
            s += "counters (during compaction):\n"
            for (name, v) in vmstatDelta where v != 0 && (name.hasPrefix("compact_") || name.hasPrefix("pgmigrate")) {
                s += "  \(name.padding(to: 34)) \(v)\n"
            }
            let rate = seconds > 0 ? Double(pagesMigrated) / seconds : 0
            s += "\(format3(seconds)) s, \(pagesMigrated) pages migrated, \(Int(rate.rounded())) pages/s\n"
        } else {
            s += "compaction: NOT RUN — \(notRun ?? "")\n"
        }
        if !violations.isEmpty {
            s += "violations (\(violations.count)):\n"
            for v in violations.prefix(50) { s += "  \(v)\n" }
        }
        return s + verdictLine + "\n"
    }

    var requestLine: String {
        let o = options
        if o.proactive { return "kcompactd proactive compaction until it sleeps" }
        return o.order.map { "order \($0), mode \(o.mode.rawValue)" } ?? "full (order -1, compact_memory), mode \(o.mode.rawValue)"
    }

    /// Issue 9's object: before, after, vmstat, seconds, pages_migrated, zones, verify.
    public var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("before", before.json), ("after", after.json),
            ("vmstat", .object(vmstat.map { ($0.0, .int(Int($0.1))) })),
            ("seconds", .double(seconds)), ("pages_migrated", .int(pagesMigrated)),
            ("zones", .array((run?.zones ?? []).map(\.json))),
            ("verify", MachineReport.verifyJSON(violations)),
        ]
        if let notRun { members.append(("not_run", .string(notRun))) }
        return .object(members)
    }
}

func format1(_ d: Double) -> String { "\((d * 10).rounded() / 10)" }
func format3(_ d: Double) -> String { "\((d * 1000).rounded() / 1000)" }

// MARK: picture

extension CompactReport {
    /// Before | after per node and zone, buddyinfo and counters under them.
    public var picture: PageblockPicture {
        var rows: [[PageblockPicture.Panel]] = []
        for (i, z) in before.zones.enumerated() {
            let startMiB = Int(z.startPFN) >> 8
            var row = [PageblockPicture.Panel(
                title: "Node \(z.node) \(z.zone) — before (score \(z.score), \(z.freeHugeBlocks) free order-9)",
                cells: z.census.classes, addressLabels: (startMiB, 2))]
            if run != nil, i < after.zones.count {
                let a = after.zones[i]
                row.append(PageblockPicture.Panel(
                    title: "Node \(a.node) \(a.zone) — after (score \(a.score), \(a.freeHugeBlocks) free order-9)",
                    cells: a.census.classes, addressLabels: (startMiB, 2)))
            }
            rows.append(row)
        }
        let o = options
        var sub = ["\(o.nodes) node\(o.nodes == 1 ? "" : "s") × \((o.memBytes / o.nodes) >> 20) MiB, content=\(o.content.rawValue), fragment=\(o.fragment), seed \(o.seed); one cell = one 2 MiB pageblock"]
        if run != nil {
            sub.append("compaction: \(requestLine) — \(format3(seconds)) s, \(pagesMigrated) pages migrated")
        } else {
            sub.append("compaction NOT RUN: \(notRun ?? "")")
        }
        var tables = [PageblockPicture.Table(title: "buddyinfo before", lines: before.buddyinfoLines)]
        if run != nil {
            tables.append(.init(title: "buddyinfo after", lines: after.buddyinfoLines))
            tables.append(.init(title: "extfrag_index after", lines: after.extfragLines))
            let counters = vmstatDelta.filter { $0.1 != 0 && ($0.0.hasPrefix("compact_") || $0.0.hasPrefix("pgmigrate")) }
            tables.append(.init(title: "counters during compaction", lines: counters.map { "\($0.0.padding(to: 34)) \($0.1)" }))
        }
        tables.append(.init(title: "verdict", lines: [verdictLine]))
        return PageblockPicture(title: "mmlab compact", subtitle: sub, panelRows: rows, tables: tables)
    }
}
