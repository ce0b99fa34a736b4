// The `pagecache` statement (MMScenario/ScenarioStatements+PageCache.swift and
// ScenarioRunner+PageCache.swift): its parse rules, its results, and a sync compaction
// that waits on a page-cache folio's writeback without hanging.

import MMCheck
import MMPhysical
import MMScenario
import MMSpace
import MMSync
import Testing

private final class Lines: @unchecked Sendable {
    let lock = PlainLock()
    var byLine: [Int: String] = [:]
    func add(_ r: StatementResult) { lock.withLock { byLine[r.line] = r.text } }
}

private func runText(_ text: String) throws -> (ScenarioRunner, MachineReport, [Int: String]) {
    let scenario = try ScenarioParser.parse(text: text, file: "pc.mm")
    let lines = Lines()
    var opts = RunOptions()
    opts.onResult = { lines.add($0) }
    let runner = ScenarioRunner(scenario, options: opts)
    let report = try runner.run()
    return (runner, report, lines.lock.withLock { lines.byLine })
}

private func parseMessage(_ text: String) -> String? {
    do { _ = try ScenarioParser.parse(text: text, file: "pc.mm"); return nil } catch { return error.description }
}

@Suite struct PageCacheScenarioTests {
    @Test func statementParsesEveryForm() throws {
        let s = try ScenarioParser.parse(text: """
            machine nodes=2 node_mem=16M
            pagecache data folios=3 order=2
            pagecache log.1 order=9 dirty private writeback folios=1 node=1
            """, file: "pc.mm")
        #expect(s.statements.dropFirst().map(\.op) == [
            .pageCache(file: "data", folios: 3, order: 2, dirty: false, writeback: false, hasPrivate: false, node: 0),
            .pageCache(file: "log.1", folios: 1, order: 9, dirty: true, writeback: true, hasPrivate: true, node: 1),
        ])
        #expect(s.statements.last?.op.name == "pagecache")
        #expect(ScenarioParser.keywords.contains("pagecache"))
    }

    @Test(arguments: [
        ("pagecache", "missing argument: NAME"),
        ("pagecache f order=2", "missing argument: folios=N"),
        ("pagecache f folios=1", "missing argument: order=K"),
        ("pagecache f folios=0 order=1", "folios=0 out of range"),
        ("pagecache f folios=1 order=11", "order=11 out of range"),
        ("pagecache f folios=1 order=1 node=2", "node=2 out of range"),
        ("pagecache f folios=1 order=1 clean", "unexpected argument 'clean'"),
        ("pagecache f folios=1 order=1 dirty dirty", "duplicate flag 'dirty'"),
        ("pagecache a/b folios=1 order=1", "bad file name"),
        ("pagecache f folios=1 order=1 size=4", "unknown key 'size'"),
    ])
    func badStatementsNameTheProblem(line: String, fragment: String) {
        let msg = parseMessage("machine nodes=2 node_mem=16M\n" + line + "\n")
        #expect(msg?.hasPrefix("pc.mm:2: ") == true && msg?.contains(fragment) == true, "\(String(describing: msg))")
    }

    @Test func foliosGoToAlignedIndicesAndAFailedAllocationIsENOMEM() throws {
        let (runner, report, lines) = try runText("""
            machine nodes=1 node_mem=8M
            pagecache f folios=2 order=1
            pagecache f folios=1 order=2 dirty
            pagecache g folios=9 order=8
            verify
            """)
        #expect(report.ok, "\(report.violations)")
        let m = try #require(runner.machine)
        let f = m.createFile("f")
        #expect(f.folios().map(\.index) == [0, 2, 4], "order-1 folios at 0 and 2, the order-2 one at 4")
        #expect(lines[3]?.hasPrefix("line 3: pagecache → 0 status [") == true, "\(lines)")
        // 8 MiB holds at most seven order-8 folios above the min watermark.
        #expect(lines[4]?.contains("-1 ENOMEM") == true && lines[4]?.contains("-12") == true, "\(lines)")
        #expect(lines[5] == "line 5: verify ok")
    }

    @Test func syncCompactionWaitingOnPageCacheWritebackCompletesIt() throws {
        let (runner, report, lines) = try runText("""
            machine nodes=1 node_mem=8M
            process A
            mmap A 0x10000000 64K
            touch A 0x10000000 64K
            pagecache f folios=4 order=0 writeback
            compact mode=sync
            verify
            """)
        #expect(report.ok, "\(report.violations)")
        #expect(lines[6]?.hasPrefix("line 6: compact → 0") == true, "\(lines)")
        let m = try #require(runner.machine)
        #expect(m.createFile("f").folios().count == 4)
        #expect(Checker.check(m).isEmpty)
    }
}
