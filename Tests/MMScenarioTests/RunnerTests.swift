// Tests of the scenario runner (DESIGN §3, docs/SCENARIOS.md) at the library level:
// the JSON line of every executed statement, the end-of-run report, runtime failures as
// errno results, validation of statements without a layer, thread blocks on real
// threads, the pin-policy override, and verify/report failing on a corrupted machine.

import Foundation
import Glibc
import MMCheck
import MMPhysical
import MMScenario
import MMSpace
import Synchronization
import Testing

// MARK: Helpers

/// Collects results from whichever thread ran the statement.
private final class ResultLog: Sendable {
    private let items = Mutex<[StatementResult]>([])
    func add(_ r: StatementResult) { items.withLock { $0.append(r) } }
    var all: [StatementResult] { items.withLock { $0 } }
}

/// A value shared with callbacks on other threads.
private final class Locked<T: Sendable>: Sendable {
    private let m: Mutex<T>
    init(_ v: T) { m = Mutex(v) }
    func withLock<R: Sendable>(_ f: (inout T) -> R) -> R { m.withLock { f(&$0) } }
}

/// One finished run: the runner (its machine stays inspectable), its report and the
/// results in emission order.
private struct Outcome {
    let runner: ScenarioRunner
    let report: MachineReport
    let results: [StatementResult]
    var lines: [String] { results.map(\.json.text) }
    func result(line: Int, sourceLocation: SourceLocation = #_sourceLocation) -> StatementResult? {
        let rs = results.filter { $0.line == line }
        #expect(rs.count == 1, "results for line \(line): \(rs.map(\.json.text))", sourceLocation: sourceLocation)
        return rs.first
    }
}

private func run(_ text: String, pin: AnonVmaPinPolicy? = nil,
                 configure: ((inout RunOptions) -> Void)? = nil) throws -> Outcome {
    let scenario = try ScenarioParser.parse(text: text, file: "t.mm")
    let log = ResultLog()
    var opts = RunOptions()
    opts.pinPolicy = pin
    opts.onResult = { log.add($0) }
    configure?(&opts)
    let runner = ScenarioRunner(scenario, options: opts)
    let report = try runner.run()
    return Outcome(runner: runner, report: report, results: log.all)
}

/// Parses one line of JSON output into a dictionary (Foundation; keys unordered).
private func object(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String: Any] {
    guard let data = text.data(using: .utf8),
          let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        Issue.record("not a JSON object: \(text)", sourceLocation: sourceLocation)
        return [:]
    }
    return obj
}

/// Path of an example scenario, from this file's location in the repository.
private func example(_ name: String) -> String {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)   // Tests/MMScenarioTests/RunnerTests.swift
    return parts.joined(separator: "/") + "/examples/\(name).mm"
}

@Suite struct RunnerTests {

    // MARK: JSON lines

    @Test func statementResultsAreTheJSONLinesOfTheContract() throws {
        let o = try run("""
        machine nodes=2 node_mem=8M block=4M
        # a comment line still counts as a line
        process A

        mmap A 0x10000000 16K
        touch A 0x10000000 8K
        move_pages A node=1 0x10000000 0x40000000
        query_pages A 0x10000000 0x10001000 0x10002000
        migrate_pages A from=1 to=0
        query_pages A 0x10000000 0x10001000
        verify
        """)
        // `machine` and blank/comment lines give nothing; every other statement one line.
        #expect(o.lines == [
            #"{"line":3,"op":"process","ret":0,"errno":null}"#,
            #"{"line":5,"op":"mmap","ret":0,"errno":null}"#,
            #"{"line":6,"op":"touch","ret":0,"errno":null}"#,
            #"{"line":7,"op":"move_pages","ret":0,"errno":null,"status":[1,-14]}"#,
            #"{"line":8,"op":"query_pages","ret":0,"errno":null,"status":[1,0,-2]}"#,
            #"{"line":9,"op":"migrate_pages","ret":0,"errno":null}"#,
            #"{"line":10,"op":"query_pages","ret":0,"errno":null,"status":[0,0]}"#,
            #"{"line":11,"op":"verify","ok":true,"violations":[]}"#,
        ])
        #expect(o.results.allSatisfy { $0.thread == nil })
        #expect(o.results.map(\.text)[3] == "line 7: move_pages → 0 status [1, -14]")
        #expect(o.results.last?.text == "line 11: verify ok")
        #expect(o.runner.failedVerifies == 0)
        #expect(o.report.ok)
        // What moved is counted with Linux's names: one page there and one back.
        let vm = Dictionary(uniqueKeysWithValues: o.report.vmstat)
        #expect(vm["pgmigrate_success"] == 2)
        #expect(vm["pgmigrate_reason_syscall"] == 2)
        #expect(vm["pgfault"] == 2)
        #expect(vm["nr_anon_pages"] == 2)
    }

    @Test func numaCallsExampleGivesTheDocumentedStatuses() throws {
        let text = try String(contentsOfFile: example("numa-calls"), encoding: .utf8)
        let o = try run(text)
        func line(_ n: Int) -> String { o.result(line: n)?.json.text ?? "" }
        // moved → 1; pinned → -EBUSY; never touched → -ENOENT; no VMA → -EFAULT
        #expect(line(13) == #"{"line":13,"op":"move_pages","ret":1,"errno":null,"status":[1,-16,-2,-14]}"#)
        #expect(line(14) == #"{"line":14,"op":"query_pages","ret":0,"errno":null,"status":[1,0,-2,-14]}"#)
        #expect(line(16) == #"{"line":16,"op":"move_pages","ret":0,"errno":null,"status":[1]}"#)
        #expect(line(17) == #"{"line":17,"op":"move_pages","ret":-1,"errno":"EPERM"}"#)
        #expect(line(20) == #"{"line":20,"op":"move_pages","ret":0,"errno":null,"status":[-13]}"#)
        #expect(line(21) == #"{"line":21,"op":"move_pages","ret":-1,"errno":"EPERM"}"#)
        #expect(line(22) == #"{"line":22,"op":"move_pages","ret":0,"errno":null,"status":[1]}"#)
        #expect(line(23) == #"{"line":23,"op":"move_pages","ret":-1,"errno":"EINVAL"}"#)
        #expect(line(26) == #"{"line":26,"op":"verify","ok":true,"violations":[]}"#)
        #expect(o.results.count == 19)
        #expect(o.report.ok, "\(o.report.violations)")
    }

    // MARK: The end-of-run report

    @Test func machineReportJSONHasVmstatBuddyinfoAndVerify() throws {
        let o = try run("""
        machine nodes=2 node_mem=8M block=4M
        process A
        mmap A 0x10000000 12K
        touch A 0x10000000 12K
        move_pages A node=1 0x10001000
        """)
        let text = o.report.json.text
        #expect(text.hasPrefix(#"{"vmstat":{"nr_free_pages":"#), "\(text)")
        #expect(text.contains(#"},"buddyinfo":[{"node":0,"zone":"Normal","free":["#), "\(text)")
        #expect(text.hasSuffix(#"],"verify":{"ok":true,"violations":[]}}"#), "\(text)")
        #expect(!text.contains("\n"))

        let obj = object(text)
        #expect(Set(obj.keys) == ["vmstat", "buddyinfo", "verify"])
        let vmstat = try #require(obj["vmstat"] as? [String: Int])
        for name in ["nr_free_pages", "pgmigrate_success", "pgmigrate_fail", "compact_migrate_scanned",
                     "compact_free_scanned", "compact_isolated", "compact_stall", "compact_success", "compact_fail"] {
            #expect(vmstat[name] != nil, "vmstat lacks \(name)")
        }
        #expect(vmstat["pgmigrate_success"] == 1)
        #expect(vmstat["pgmigrate_fail"] == 0)
        #expect(vmstat["pgfault"] == 3)

        let buddy = try #require(obj["buddyinfo"] as? [[String: Any]])
        #expect(buddy.count == 2)
        var freeFromLists = 0
        for (i, zone) in buddy.enumerated() {
            #expect(Set(zone.keys) == ["node", "zone", "free"])
            #expect(zone["node"] as? Int == i)
            #expect(zone["zone"] as? String == "Normal")
            let free = try #require(zone["free"] as? [Int])
            #expect(free.count == 11, "orders 0…10: \(free)")
            #expect(free.allSatisfy { $0 >= 0 })
            freeFromLists += free.enumerated().reduce(0) { $0 + $1.element << $1.offset }
        }
        // The free lists hold exactly nr_free_pages; three pages are in use out of 2 × 2048.
        #expect(freeFromLists == vmstat["nr_free_pages"])
        #expect(o.report.totalPages == 4096)
        #expect(o.report.nrFreePages == vmstat["nr_free_pages"])
        #expect(o.report.nrFreePages < 4096 - 3 + 1)

        let verify = try #require(obj["verify"] as? [String: Any])
        #expect(verify["ok"] as? Bool == true)
        #expect((verify["violations"] as? [Any])?.isEmpty == true)
        #expect(o.report.text.hasSuffix("verdict: OK — all invariants hold\n"))
        #expect(o.report.text.contains("  Node 1, zone   Normal "))
    }

    // MARK: Runtime failures

    @Test func runtimeFailuresAreErrnoResultsAndTheRunGoesOn() throws {
        let o = try run("""
        machine nodes=2 node_mem=8M
        process A
        process B
        touch A 0x10000000 4K
        mmap A 0x10000000 8K
        mmap A 0x10001000 4K
        unpin A 0x10000000
        exit B
        exit B
        mmap B 0x10000000 4K
        move_pages B node=1 0x10000000
        touch A 0x10000000 8K
        read A 0x10000000 8K
        read A 0x20000000 4K
        migrate_pages B from=0 to=1
        verify
        """)
        func errno(_ n: Int) -> String? { o.result(line: n)?.errno?.name }
        func ret(_ n: Int) -> Int? { o.result(line: n)?.ret }
        #expect(errno(4) == "EFAULT" && ret(4) == -1)     // touch of an unmapped address
        #expect(errno(5) == nil && ret(5) == 0)
        #expect(errno(6) == "EEXIST" && ret(6) == -1)     // mmap over an existing mapping
        #expect(errno(7) == "EINVAL" && ret(7) == -1)     // unpin without a pin
        #expect(errno(8) == nil && ret(8) == 0)
        #expect(errno(9) == "ESRCH" && ret(9) == -1)      // exit of an exited process
        #expect(errno(10) == "ESRCH")
        #expect(errno(11) == "ESRCH")
        #expect(errno(12) == nil && ret(12) == 0)         // the run went on
        #expect(errno(13) == nil && ret(13) == 0)
        #expect(errno(14) == "EFAULT")
        #expect(errno(15) == "ESRCH")
        #expect(o.result(line: 4)?.json.text == #"{"line":4,"op":"touch","ret":-1,"errno":"EFAULT"}"#)
        #expect(o.result(line: 9)?.text == "line 9: exit → -1 ESRCH")
        #expect(o.results.map(\.line) == Array(2...16))
        #expect(o.result(line: 16)?.violations == [])
        #expect(o.report.ok, "\(o.report.violations)")
        #expect(o.runner.machine.process("B") == nil)
        #expect(o.runner.machine.process("A") != nil)
    }

    // MARK: Validation

    @Test(arguments: [
        ("offline node=0 block=1", "offline"),
        ("online node=0 block=1", "online"),
    ])
    func unimplementedStatementsAreRejectedWithTheirLine(statement: String, name: String) throws {
        let text = """
        machine nodes=2 node_mem=8M block=4M
        process A
        mmap A 0x10000000 4K
        \(statement)
        verify
        """
        let scenario = try ScenarioParser.parse(text: text, file: "x.mm")
        let e = try #require(throws: ScenarioError.self) { try ScenarioRunner.validate(scenario) }
        #expect(e.line == 4)
        #expect(e.file == "x.mm")
        #expect(e.message.contains("'\(name)' is not implemented"), "\(e.message)")
        #expect(e.description.hasPrefix("x.mm:4: "))

        // run() rejects it too, before anything executes.
        let log = ResultLog()
        var opts = RunOptions()
        opts.onResult = { log.add($0) }
        let runner = ScenarioRunner(scenario, options: opts)
        let e2 = try #require(throws: ScenarioError.self) { try runner.run() }
        #expect(e2 == e)
        #expect(log.all.isEmpty, "executed: \(log.all.map(\.json.text))")
    }

    @Test func unimplementedStatementsInsideThreadBlocksAreRejected() throws {
        let scenario = try ScenarioParser.parse(text: """
        machine nodes=2 node_mem=8M block=4M
        process A
        thread T1 {
          exit A
        }
        thread T2 {
          migrate_kernel A 0x10000000
          offline node=1 block=0
        }
        """, file: "th.mm")
        let e = try #require(throws: ScenarioError.self) { try ScenarioRunner.validate(scenario) }
        #expect(e.line == 8)
        #expect(e.description.hasPrefix("th.mm:8: 'offline' is not implemented"), "\(e)")
    }

    @Test func supportedScenariosValidate() throws {
        for name in ["numa-calls", "seed-race", "seed-race-fork", "seed-leak", "two-migrators",
                     "mremap-race", "munmap-race", "process-context"] {
            let s = try ScenarioParser.parse(path: example(name))
            #expect(throws: Never.self, "\(name)") { try ScenarioRunner.validate(s) }
        }
    }

    // MARK: Thread blocks

    @Test func threadBlocksRunConcurrentlyAndTheNextStatementWaits() throws {
        // Each thread's first result waits (bounded) until the other thread has produced
        // one: run one block after the other and the first would time out.
        let arrived = Locked<Set<String>>([])
        let sawPartner = Locked<[String: Bool]>([:])
        let threadIDs = Locked<[String: UInt]>([:])
        let o = try run("""
        machine nodes=2 node_mem=8M block=4M
        process A
        process B
        mmap A 0x10000000 8K
        mmap B 0x10000000 8K
        thread T1 {
          touch A 0x10000000 8K
          read A 0x10000000 8K
        }
        thread T2 {
          touch B 0x10000000 8K
          read B 0x10000000 8K
        }
        verify
        exit A
        """) { opts in
            let inner = opts.onResult!
            opts.onResult = { r in
                let me = r.thread ?? "main"
                threadIDs.withLock { ids in
                    let id = UInt(pthread_self())
                    if let old = ids[me] { if old != id { ids[me] = 0 } } else { ids[me] = id }
                }
                if let t = r.thread, arrived.withLock({ $0.insert(t).inserted }) {
                    let partner = t == "T1" ? "T2" : "T1"
                    var ok = false
                    for _ in 0..<5000 {   // ≤ 5 s
                        if arrived.withLock({ $0.contains(partner) }) { ok = true; break }
                        usleep(1000)
                    }
                    sawPartner.withLock { $0[t] = ok }
                }
                inner(r)
            }
        }
        #expect(sawPartner.withLock { $0 } == ["T1": true, "T2": true], "blocks did not overlap")
        let ids = threadIDs.withLock { $0 }
        #expect(Set(ids.keys) == ["main", "T1", "T2"])
        #expect(ids.values.allSatisfy { $0 != 0 }, "each block runs on one thread: \(ids)")
        #expect(Set(ids.values).count == 3, "main, T1 and T2 on distinct threads: \(ids)")

        let lines = o.results.map(\.line)
        // Statements of a block in order; the statement after the group waits for both.
        let t1 = o.results.filter { $0.thread == "T1" }, t2 = o.results.filter { $0.thread == "T2" }
        #expect(t1.map(\.line) == [7, 8])
        #expect(t2.map(\.line) == [11, 12])
        #expect(Array(lines.suffix(2)) == [14, 15])
        #expect(o.results.suffix(2).allSatisfy { $0.thread == nil })
        #expect(Set(lines.dropFirst(4).prefix(4)) == [7, 8, 11, 12])
        #expect(t1.first?.json.text == #"{"line":7,"op":"touch","thread":"T1","ret":0,"errno":null}"#)
        #expect(t2.last?.text == "line 12 [T2]: read → 0")
        #expect(o.result(line: 14)?.violations == [])
        #expect(o.report.ok, "\(o.report.violations)")
    }

    @Test func examplesRunCleanOnRealThreadsUnderRefcount() throws {
        // Real threads, the fixed policy: whatever the interleaving, nothing breaks.
        for name in ["seed-race", "seed-race-fork", "seed-leak", "two-migrators", "mremap-race",
                     "munmap-race", "process-context"] {
            let text = try String(contentsOfFile: example(name), encoding: .utf8)
            for _ in 0..<10 {
                let o = try run(text, pin: .refcount)
                #expect(o.report.ok, "\(name): \(o.report.violations)")
                #expect(o.runner.failedVerifies == 0, "\(name)")
                #expect(o.results.contains { $0.thread != nil }, "\(name): no thread results")
                #expect(o.results.filter { $0.thread == nil && $0.op != "verify" }.allSatisfy { $0.errno == nil },
                        "\(name): \(o.lines)")
            }
        }
    }

    // MARK: Pin policy

    @Test func pinPolicyOptionOverridesPolicyLines() throws {
        let text = """
        machine nodes=2 node_mem=8M block=4M
        policy pin=seed-v2
        process A
        mmap A 0x10000000 4K
        touch A 0x10000000 4K
        migrate_kernel A 0x10000000
        """
        let plain = try run(text)
        #expect(plain.runner.machine.pinPolicy == .seedV2)
        #expect(plain.result(line: 2)?.json.text == #"{"line":2,"op":"policy","ret":0,"errno":null}"#)

        let twice = try run(text + "\npolicy pin=none")
        #expect(twice.runner.machine.pinPolicy == AnonVmaPinPolicy.none)

        for forced in AnonVmaPinPolicy.allCases {
            let o = try run(text + "\npolicy pin=seed-v2", pin: forced)
            #expect(o.runner.machine.pinPolicy == forced)
            #expect(o.result(line: 2)?.errno == nil)
            #expect(o.result(line: 6)?.json.text == #"{"line":6,"op":"migrate_kernel","ret":0,"errno":null}"#)
            #expect(o.report.ok, "\(forced): \(o.report.violations)")
        }
        // The default, with no policy line: refcount.
        let none = try run("machine nodes=1 node_mem=4M\nprocess A")
        #expect(none.runner.machine.pinPolicy == .refcount)
    }

    // MARK: Failing verification

    @Test func verifyStatementFailsOnACorruptedMachine() throws {
        // Corrupt the mapcount of the touched page right after its `touch` result (the
        // callback runs on the main thread before the next statement): the `verify`
        // that follows must fail, and so must the end-of-run report.
        let runnerBox = Locked<ScenarioRunner?>(nil)
        let corruptedPFN = Locked<UInt64?>(nil)
        let scenario = try ScenarioParser.parse(text: """
        machine nodes=2 node_mem=8M block=4M
        process A
        mmap A 0x10000000 4K
        touch A 0x10000000 4K
        verify
        """, file: "c.mm")
        let log = ResultLog()
        var opts = RunOptions()
        opts.onResult = { r in
            if r.line == 4, let runner = runnerBox.withLock({ $0 }) {
                let m = runner.machine!
                if let pfn = m.frameMapped(m.process("A")!.mm, 0x1000_0000) {
                    m.phys.pages._setMapcountForTesting(pfn, 3)
                    corruptedPFN.withLock { $0 = UInt64(pfn) }
                }
            }
            log.add(r)
        }
        let runner = ScenarioRunner(scenario, options: opts)
        runnerBox.withLock { $0 = runner }
        let report = try runner.run()
        let pfn = try #require(corruptedPFN.withLock { $0 })

        let verify = try #require(log.all.last)
        #expect(verify.line == 5)
        let violations = try #require(verify.violations)
        #expect(violations.contains { $0.kind == .mapcount && $0.message.contains("pfn \(pfn): mapcount 3") }, "\(violations)")
        #expect(verify.json.text.hasPrefix(#"{"line":5,"op":"verify","ok":false,"violations":[{"kind":"mapcount","message":"#),
                "\(verify.json.text)")
        #expect(verify.text.hasPrefix("line 5: verify FAILED:\n  mapcount: "), "\(verify.text)")
        #expect(runner.failedVerifies == 1)

        #expect(!report.ok)
        #expect(report.violations.contains { $0.kind == .mapcount })
        let obj = object(report.json.text)
        let v = try #require(obj["verify"] as? [String: Any])
        #expect(v["ok"] as? Bool == false)
        let list = try #require(v["violations"] as? [[String: String]])
        #expect(list.contains { $0["kind"] == "mapcount" && ($0["message"] ?? "").contains("mapcount 3") }, "\(list)")
        #expect(list.allSatisfy { Set($0.keys) == ["kind", "message"] })
        #expect(report.text.contains("violations ("))
        #expect(report.text.contains("verdict: FAILED — "))
    }

    @Test func reportAfterTheRunSeesCorruption() throws {
        let o = try run("""
        machine nodes=2 node_mem=8M block=4M
        process A
        mmap A 0x10000000 8K
        touch A 0x10000000 8K
        verify
        """)
        #expect(o.report.ok)
        #expect(o.runner.failedVerifies == 0)
        let m = o.runner.machine!
        let pfn = try #require(m.frameMapped(m.process("A")!.mm, 0x1000_1000))
        m.phys.pages._setMapcountForTesting(pfn, 0)
        let after = MachineReport(m)
        #expect(!after.ok)
        #expect(after.violations.contains { $0.kind == .mapcount && $0.message.contains("pfn \(pfn): mapcount 0 but 1 PTE map") },
                "\(after.violations)")
        #expect(after.json.text.contains(#""verify":{"ok":false,"violations":[{"kind":"#))
        m.phys.pages._setMapcountForTesting(pfn, 1)
        #expect(MachineReport(m).ok, "restoring the mapcount makes the machine consistent again")
    }
}
