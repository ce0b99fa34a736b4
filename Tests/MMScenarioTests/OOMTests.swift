// Out of memory as Linux handles it (mm/oom_kill.c): a fault with no free page kills
// the process with the highest badness (largest rss, shifted by oom_score_adj), its
// exit frees its memory, the fault is retried; later statements on the killed process
// are errno results (ESRCH), never crashes. `policy oom=enomem` keeps ENOMEM. Reads of
// untouched memory map the shared zero page and never fail for lack of memory.

import MMCheck
import MMPhysical
import MMScenario
import MMSpace
import Synchronization
import Testing

private final class Results: Sendable {
    private let items = Mutex<[StatementResult]>([])
    func add(_ r: StatementResult) { items.withLock { $0.append(r) } }
    var all: [StatementResult] { items.withLock { $0 } }
}

private func run(_ text: String) throws -> (ScenarioRunner, MachineReport, [Int: StatementResult]) {
    let scenario = try ScenarioParser.parse(text: text, file: "oom.mm")
    let log = Results()
    var opts = RunOptions()
    opts.onResult = { log.add($0) }
    let runner = ScenarioRunner(scenario, options: opts)
    let report = try runner.run()
    return (runner, report, Dictionary(log.all.map { ($0.line, $0) }, uniquingKeysWith: { a, _ in a }))
}

/// 4 MiB (1024 frames): `big` takes 768 of them, `small` then wants 512.
private let pressure = """
machine nodes=1 node_mem=4M
process big
process small
mmap big 0x100000 3M
mmap small 0x1000000 2M
touch big 0x100000 3M
touch small 0x1000000 2M
touch big 0x100000 4K
query_pages big 0x100000
verify
"""

@Suite struct OOMTests {
    @Test func faultWithNoFreePageKillsTheLargestProcess() throws {
        let (runner, report, r) = try run(pressure)
        #expect(r[7]?.errno == nil, "small's touch must succeed after the kill: \(r[7]?.text ?? "-")")
        // big is gone: its later statements are errno results of the run.
        #expect(r[8]?.errno == .ESRCH && r[9]?.errno == .ESRCH, "\(r[8]?.text ?? "-") / \(r[9]?.text ?? "-")")
        #expect(r[10]?.violations?.isEmpty == true, "verify: \(r[10]?.violations ?? [])")
        let kills = report.oomKills
        #expect(kills.map(\.name) == ["big"] && kills.first?.rssPages == 768 && kills.first?.requester == "small", "\(kills)")
        #expect(runner.machine.vmstat[.oomKill] == 1)
        #expect(runner.machine.process("big") == nil && runner.machine.process("small") != nil)
        // Reported in --json.
        let json = report.json.text
        #expect(json.contains("\"oom_kills\":[{\"process\":\"big\""), "\(json.prefix(800))")
        #expect(report.ok, "\(report.violations)")
    }

    @Test func policyEnomemKeepsTheOldBehaviour() throws {
        let (runner, report, r) = try run(pressure.replacingOccurrences(of: "process big\n", with: "policy oom=enomem\nprocess big\n"))
        #expect(r[8]?.errno == .ENOMEM, "\(r[8]?.text ?? "-")")
        #expect(report.oomKills.isEmpty && runner.machine.vmstat[.oomKill] == 0)
        #expect(runner.machine.process("big") != nil)
        #expect(report.ok, "\(report.violations)")
    }

    @Test func oomScoreAdjSteersTheChoice() throws {
        // big is protected (-1000): the smaller process, or the requester itself, goes.
        let protected = pressure.replacingOccurrences(of: "process big\n", with: "process big oom_score_adj=-1000\n")
        let (_, report, r) = try run(protected)
        #expect(report.oomKills.map(\.name) == ["small"], "\(report.oomKills)")
        #expect(r[7]?.errno == .ENOMEM, "the requester killed itself: its fault fails, \(r[7]?.text ?? "-")")
        #expect(r[8]?.errno == nil, "big keeps running: \(r[8]?.text ?? "-")")
        // A positive adjustment makes an otherwise smaller process the victim.
        let text = """
        machine nodes=1 node_mem=4M
        process a
        process b oom_score_adj=1000
        mmap a 0x100000 3M
        mmap b 0x1000000 2M
        touch a 0x100000 2560K
        touch b 0x1000000 1M
        touch a 0x100000 4K
        touch b 0x1000000 2M
        verify
        """
        let (_, rep2, r2) = try run(text)
        #expect(rep2.oomKills.map(\.name) == ["b"], "\(rep2.oomKills)")
        #expect(rep2.oomKills.first.map { $0.points > 1024 } == true, "adj 1000 adds all of memory: \(rep2.oomKills)")
        #expect(r2[9]?.errno == .ENOMEM && r2[10]?.violations?.isEmpty == true)
    }

    @Test func everyProcessProtectedMeansENOMEM() throws {
        let text = pressure.replacingOccurrences(of: "process big\nprocess small\n",
                                                 with: "process big oom_score_adj=-1000\nprocess small oom_score_adj=-1000\n")
        let (_, report, r) = try run(text)
        #expect(r[7]?.errno == .ENOMEM && report.oomKills.isEmpty, "\(r[7]?.text ?? "-")")
        #expect(report.ok)
    }

    @Test func oomScoreAdjIsParsedWithItsRange() {
        let head = "machine nodes=1 node_mem=4M\n"
        for (arg, ok) in [("-1000", true), ("1000", true), ("0", true), ("-1001", false), ("1001", false), ("-", false), ("x", false)] {
            let s = try? ScenarioParser.parse(text: head + "process A oom_score_adj=\(arg)\n", file: "t")
            #expect((s != nil) == ok, "oom_score_adj=\(arg)")
        }
        #expect((try? ScenarioParser.parse(text: head + "policy oom=maybe\n", file: "t")) == nil)
    }

    @Test func readsMapTheZeroPageAndNeverRunOutOfMemory() throws {
        // Memory is full (big took everything), yet small reads 1 MiB of untouched memory.
        let text = """
        machine nodes=2 node_mem=4M
        policy oom=enomem
        process big
        process small
        mmap big 0x100000 8M
        mmap small 0x1000000 1M
        touch big 0x100000 8M
        read small 0x1000000 1M
        query_pages small 0x1000000 0x1001000
        move_pages small node=1 0x1000000
        write small 0x1000000 4K
        verify
        """
        let (runner, report, r) = try run(text)
        #expect(r[7]?.errno == nil, "\(r[7]?.text ?? "-")")
        #expect(r[8]?.errno == nil, "reading untouched memory failed: \(r[8]?.text ?? "-")")
        // Linux 6.x: the zero page is -EFAULT for both query and move (is_zero_folio).
        #expect(r[9]?.status == [-14, -14], "\(r[9]?.text ?? "-")")
        #expect(r[10]?.status == [-14], "\(r[10]?.text ?? "-")")
        #expect(r[11]?.errno == .ENOMEM, "a write needs a frame: \(r[11]?.text ?? "-")")
        let small = try #require(runner.machine.process("small"))
        #expect(runner.machine.pte(small.mm, 0x1000000).isZeroPage)
        #expect(r[12]?.violations?.isEmpty == true && report.ok, "\(report.violations)")
    }
}
