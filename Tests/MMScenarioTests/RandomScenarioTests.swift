// Random scenarios (fixed seeds): every statement kind, thread blocks included, on real
// threads and under the explorer, with pin=refcount — every run must end with all
// invariants holding. This is how the pin-vs-exit leak was found; the seed of a failing
// scenario and its text are printed so it can be replayed with `mmlab run`.

import MMExplore
import MMScenario
import MMSync
import Testing

/// A random but valid scenario for `seed`.
func randomScenario(seed: UInt64) -> String {
    var r = SplitMix64(seed: seed)
    var procs = ["A"]
    var lines = ["machine nodes=2 node_mem=8M block=4M content=\(r.chance(50) ? "full" : "stamp")",
                 "policy pin=refcount", "process A", "mmap A 0x10000000 64K"]
    func addr(_ r: inout SplitMix64) -> String { "0x" + String(0x1000_0000 + r.below(20) * 4096, radix: 16) }
    func statement(_ r: inout SplitMix64, inThread: Bool) -> String {
        let p = procs[r.below(procs.count)]
        switch r.below(18) {
        case 0: return "touch \(p) \(addr(&r)) 4K"
        case 1: return "write \(p) \(addr(&r)) 8K"
        case 2: return "read \(p) \(addr(&r)) 4K"
        case 3:
            let c = "P\(procs.count)"
            procs.append(c)
            return "fork \(p) \(c)"
        case 4: return "pin \(p) \(addr(&r))"
        case 5: return "unpin \(p) \(addr(&r))"
        case 6: return "mremap \(p) \(addr(&r)) 8K 0x\(String(0x2000_0000 + r.below(8) * 4096, radix: 16))"
        case 7: return "munmap \(p) \(addr(&r)) 4K"
        case 8: return "mmap \(p) \(addr(&r)) 8K"
        case 9: return "exit \(p)"
        case 10: return "move_pages \(p) node=\(r.below(2)) \(addr(&r)) \(addr(&r)) flags=\(r.chance(50) ? "move" : "move_all")"
        case 11: return "query_pages \(p) \(addr(&r)) \(addr(&r))"
        case 12: return "migrate_pages \(p) from=\(r.below(2)) to=\(r.below(2))"
        case 13: return "unmovable node=\(r.below(2)) pages=\(1 + r.below(40))"
        case 14 where !inThread: return "verify"
        default: return "migrate_kernel \(p) \(addr(&r)) node=\(r.below(2))"
        }
    }
    for _ in 0..<(5 + r.below(20)) {
        if r.chance(15) {
            for _ in 0..<(2 + r.below(2)) {
                lines.append("thread T\(lines.count) {")
                for _ in 0..<(1 + r.below(4)) { lines.append("  " + statement(&r, inThread: true)) }
                lines.append("}")
            }
        } else {
            lines.append(statement(&r, inThread: false))
        }
    }
    lines.append("verify")
    return lines.joined(separator: "\n") + "\n"
}

@Suite(.serialized) struct RandomScenarios {
    @Test func realThreadsKeepEveryInvariant() throws {
        for seed: UInt64 in 1...120 {
            let text = randomScenario(seed: seed)
            let scenario = try ScenarioParser.parse(text: text, file: "random-\(seed)")
            let failed = ViolationCollector()
            var o = RunOptions()
            o.onResult = { r in if let v = r.violations, !v.isEmpty { failed.add(v) } }
            let report = try ScenarioRunner(scenario, options: o).run()
            #expect(report.ok && failed.items.isEmpty, "seed \(seed): \(report.violations + failed.items)\n\(text)")
        }
    }

    @Test func explorerFindsNothingUnderRefcount() throws {
        for seed: UInt64 in 1...40 {
            let text = randomScenario(seed: 1000 + seed)
            let scenario = try ScenarioParser.parse(text: text, file: "random-\(1000 + seed)")
            let r = try explore(options: ExploreOptions(strategy: seed % 2 == 0 ? .pct : .random, schedules: 40, seed: seed),
                                makeBody: { ScenarioRunner.explorationBody(scenario, options: RunOptions()) })
            #expect(r.failingSchedules == 0, "seed \(1000 + seed): \(r.summary)\n\(text)")
        }
    }
}
