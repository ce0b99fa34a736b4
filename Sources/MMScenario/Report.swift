// What a run reports (README.md and docs/SCENARIOS.md): vmstat counters with /proc/vmstat names, free
// blocks per order in /proc/buddyinfo's layout, and the checker's verdict — as text
// for people and as JSON for tools.

import MMCheck
import MMPhysical
import MMSpace
import MMSync

/// The end-of-run summary of a machine.
public struct MachineReport: Sendable {
    public let vmstat: [(String, Int64)]
    public let buddyinfo: [(node: Int, zone: String, free: [Int])]
    public let violations: [Violation]
    public let nrFreePages: Int
    public let totalPages: Int
    /// Processes the OOM killer killed during the run, in order.
    public let oomKills: [OOMKill]

    /// Collects counters and free lists and runs the checker. The machine must be quiet.
    public init(_ machine: Machine) {
        let phys = machine.phys
        var stats: [(String, Int64)] = [
            ("nr_free_pages", Int64(phys.freePages())),
            ("nr_anon_pages", Int64(phys.lrus.reduce(0) { $0 + $1.count })),
        ]
        stats += VMStatItem.allCases.map { ($0.name, machine.vmstat[$0]) }
        vmstat = stats
        buddyinfo = phys.zones.map { ($0.node, $0.name, $0.freeBlockCounts()) }
        violations = Checker.check(machine)
        nrFreePages = phys.freePages()
        totalPages = phys.totalPages
        oomKills = machine.oomKills
    }

    public var ok: Bool { violations.isEmpty }

    /// `{"vmstat":{…},"buddyinfo":[…],"verify":{…}}`
    public var json: JSONValue {
        .object([
            ("vmstat", .object(vmstat.map { ($0.0, .int(Int($0.1))) })),
            ("buddyinfo", .array(buddyinfo.map {
                .object([("node", .int($0.node)), ("zone", .string($0.zone)), ("free", .array($0.free.map { .int($0) }))])
            })),
            ("oom_kills", .array(oomKills.map {
                .object([("process", .string($0.name)), ("pid", .int($0.pid)), ("rss_pages", .int($0.rssPages)),
                         ("page_tables", .int($0.pageTables)), ("oom_score_adj", .int($0.oomScoreAdj)),
                         ("points", .int($0.points)), ("requester", .string($0.requester))])
            })),
            ("verify", Self.verifyJSON(violations)),
        ])
    }

    public static func verifyJSON(_ v: [Violation]) -> JSONValue {
        .object([("ok", .bool(v.isEmpty)), ("violations", violationsJSON(v))])
    }

    public static func violationsJSON(_ v: [Violation]) -> JSONValue {
        .array(v.map { .object([("kind", .string($0.kind.rawValue)), ("message", .string($0.message))]) })
    }

    /// Human-readable: non-zero counters, a buddyinfo table, violations and a verdict.
    public var text: String {
        var s = "vmstat:\n"
        for (name, v) in vmstat where v != 0 || name.hasPrefix("nr_") {
            s += "  \(name.padding(to: 34)) \(v)\n"
        }
        s += "buddyinfo (free blocks per order 0…10):\n"
        for b in buddyinfo {
            s += "  Node \(b.node), zone \(b.zone.leftPad(8)) " + b.free.map { String($0).leftPad(6) }.joined() + "\n"
        }
        for k in oomKills { s += "\(k)\n" }
        if !violations.isEmpty {
            s += "violations (\(violations.count)):\n"
            for v in violations.prefix(50) { s += "  \(v)\n" }
            if violations.count > 50 { s += "  … \(violations.count - 50) more\n" }
        }
        s += ok ? "verdict: OK — all invariants hold\n" : "verdict: FAILED — \(violations.count) violation\(violations.count == 1 ? "" : "s")\n"
        return s
    }
}

extension String {
    /// Pads on the right to `n` characters (table columns in reports and benchmarks).
    public func padding(to n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
    /// Pads on the left to `n` characters.
    public func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
