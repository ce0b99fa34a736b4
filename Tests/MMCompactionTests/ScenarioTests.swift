// Compaction's statements through the scenario runner, and under the explorer.

import MMCompaction
import MMExplore
import MMScenario
import MMSpace
import MMSync
import Testing

private func example(_ name: String) -> String {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)   // Tests/MMCompactionTests/ScenarioTests.swift
    return parts.joined(separator: "/") + "/examples/\(name).mm"
}

/// Runs scenario text and returns the JSON lines of its statements.
private func runJSON(_ text: String) throws -> [String] {
    let s = try ScenarioParser.parse(text: text, file: "t.mm")
    let lines = ViolationLines()
    var o = RunOptions()
    o.onResult = { r in lines.add(r.json.text) }
    let report = try ScenarioRunner(s, options: o).run()
    #expect(report.ok, "\(report.violations)")
    return lines.items
}

private final class ViolationLines: @unchecked Sendable {
    private let lock = PlainLock()
    private var list: [String] = []
    func add(_ s: String) { lock.withLock { list.append(s) } }
    var items: [String] { lock.withLock { list } }
}

@Suite struct CompactionScenarioTests {
    @Test func allocCompactFreeAllocAndSysctl() throws {
        let lines = try runJSON("""
        machine nodes=1 node_mem=16M content=stamp
        process A
        mmap A 0x10000000 16M
        touch A 0x10000000 12M
        alloc node=0 order=10 count=2 unmovable
        sysctl vm.extfrag_threshold=0
        sysctl vm.compaction_proactiveness=0
        alloc node=0 order=2 count=3 movable
        free_alloc node=0 order=2 count=3
        compact node=0
        compact order=9 mode=async
        verify
        """)
        #expect(lines.count == 11)
        #expect(lines[3].contains("\"op\":\"alloc\"") && lines[3].contains("\"errno\":\"ENOMEM\"") && lines[3].contains("-12"))
        #expect(lines[4] == "{\"line\":6,\"op\":\"sysctl\",\"ret\":0,\"errno\":null}")
        #expect(lines[8].hasPrefix("{\"line\":10,\"op\":\"compact\",\"ret\":0,\"errno\":null,\"status\":\"complete\",\"zones\":[{\"node\":0,\"zone\":\"Normal\",\"status\":\"complete\""), "\(lines[8])")
        #expect(lines[9].contains("\"op\":\"compact\"") && lines[7] == "{\"line\":9,\"op\":\"free_alloc\",\"ret\":0,\"errno\":null}")
    }

    @Test func badCompactionStatementsNameTheLine() {
        let head = "machine node_mem=16M\n"
        for (line, fragment) in [("alloc node=0\n", "missing argument: order=K"),
                                 ("alloc node=0 order=11\n", "out of range"),
                                 ("alloc node=0 order=2 sideways\n", "unexpected argument 'sideways'"),
                                 ("free_alloc node=1 order=0\n", "node=1 out of range"),
                                 ("sysctl vm.swappiness=10\n", "unknown key 'vm.swappiness'"),
                                 ("sysctl vm.compaction_proactiveness=101\n", "out of range (0…100)")] {
            do {
                _ = try ScenarioParser.parse(text: head + line, file: "t.mm")
                Issue.record("accepted: \(line)")
            } catch {
                #expect(error.line == 2 && error.message.contains(fragment), "\(line): \(error)")
            }
        }
    }

    @Test func kcompactdStartsWithTheMachineAndStopsAtTheEnd() throws {
        let lines = try runJSON("""
        machine nodes=2 node_mem=16M kcompactd=on content=stamp
        process A
        mmap A 0x10000000 8M
        touch A 0x10000000 8M
        alloc node=0 order=9 count=1 movable
        verify
        """)
        #expect(lines.last == "{\"line\":6,\"op\":\"verify\",\"ok\":true,\"violations\":[]}")
    }

    private func explore(_ pin: AnonVmaPinPolicy) throws -> ExploreReport {
        let scenario = try ScenarioParser.parse(path: example("compaction-exit-race"))
        var o = RunOptions()
        o.pinPolicy = pin
        let opts = ExploreOptions(strategy: .dfs, schedules: 1_000_000, preemptionBound: 2)
        return try MMExplore.explore(options: opts, makeBody: { ScenarioRunner.explorationBody(scenario, options: o) })
    }

    @Test func compactionRacingExitUnderExplore() throws {
        let none = try explore(.none)
        #expect(Set(none.violations.map(\.violation.kind)).contains(.useAfterFree), "\(none.summary)")
        let refcount = try explore(.refcount)
        #expect(refcount.coverageComplete && refcount.failingSchedules == 0, "\(refcount.summary)")
        print("dfs ≤2 preemptions, compaction-exit-race: pin=none \(none.failingSchedules) failing; pin=refcount \(refcount.schedulesRun) schedules, complete")
    }
}
