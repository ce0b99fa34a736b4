// The hot-remove statements end to end: offline / online / cancel_offline / blocks and
// `policy offline_retry=`, their JSON fields, and their parse errors.

import Foundation
import MMScenario
import Synchronization
import Testing

private final class Results: Sendable {
    private let items = Mutex<[StatementResult]>([])
    func add(_ r: StatementResult) { items.withLock { $0.append(r) } }
    func line(_ n: Int) -> StatementResult? { items.withLock { $0.first { $0.line == n } } }
}

private func runScenario(_ text: String) throws -> (MachineReport, Results) {
    let log = Results()
    var o = RunOptions()
    o.onResult = { log.add($0) }
    let report = try ScenarioRunner(try ScenarioParser.parse(text: text, file: "h.mm"), options: o).run()
    return (report, log)
}

private func json(_ r: StatementResult?) -> [String: Any] {
    guard let r, let d = r.json.text.data(using: .utf8),
          let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return [:] }
    return o
}

@Suite struct HotRemoveScenarioTests {
    static let head = """
    machine nodes=2 node_mem=8M block=4M
    process A
    mmap A 0x10000000 64K
    touch A 0x10000000 64K
    """

    @Test func pinnedOfflineFailsThenSucceedsAfterUnpin() throws {
        let (report, log) = try runScenario(Self.head + """

        policy offline_retry=passes:2
        pin A 0x10000000
        offline node=0 block=1
        unpin A 0x10000000
        offline node=0 block=1
        blocks
        online node=0 block=1
        read A 0x10000000 64K
        verify
        """)
        let failed = json(log.line(7))
        #expect(failed["op"] as? String == "offline")
        #expect(failed["ret"] as? Int == -1 && failed["errno"] as? String == "EBUSY")
        #expect(failed["reason"] as? String == "retry limit")
        let ok = json(log.line(9))
        #expect(ok["ret"] as? Int == 0 && ok["errno"] is NSNull && ok["reason"] is NSNull)
        // The failed offline already moved the 15 unpinned pages out (and they stay out).
        #expect(failed["migrated"] as? Int == 15)
        #expect(ok["migrated"] as? Int == 1)
        let blocks = try #require(json(log.line(10))["blocks"] as? [[String: Any]])
        #expect(blocks.count == 4 && blocks[1]["state"] as? String == "offline")
        #expect(json(log.line(11))["ret"] as? Int == 0)
        #expect(log.line(12)?.errno == nil)
        #expect(report.ok, "\(report.violations)")
        #expect(report.vmstat.contains { $0.0 == "pgmigrate_reason_memory_hotplug" && $0.1 == 16 })
    }

    @Test func foreverOfflineEndsWhenCancelledFromAnotherThread() throws {
        let (report, log) = try runScenario(Self.head + """

        policy offline_retry=forever
        pin A 0x10000000
        thread T1 {
          offline node=0 block=1
        }
        thread T2 {
          cancel_offline node=0 block=1
        }
        unpin A 0x10000000
        verify
        """)
        let r = json(log.line(8))
        #expect(r["ret"] as? Int == -1 && r["errno"] as? String == "EINTR" && r["reason"] as? String == "signal backoff", "\(r)")
        #expect(json(log.line(13))["ret"] as? Int == 0)
        #expect(report.ok, "\(report.violations)")
    }

    @Test func unmovableAndTimeoutAndEINVAL() throws {
        let (report, log) = try runScenario("""
        machine nodes=2 node_mem=8M block=4M
        unmovable node=1 pages=1
        offline node=1 block=1
        process A
        mmap A 0x10000000 4K
        touch A 0x10000000 4K
        pin A 0x10000000
        offline node=0 block=1 timeout=20ms
        offline node=0 block=0
        offline node=0 block=0
        online node=0 block=1
        unpin A 0x10000000
        verify
        """)
        #expect(json(log.line(3))["reason"] as? String == "failure to isolate range")
        #expect(json(log.line(3))["migrated"] as? Int == 0)
        #expect(json(log.line(8))["reason"] as? String == "timeout")
        #expect(json(log.line(9))["ret"] as? Int == 0)
        #expect(json(log.line(10))["errno"] as? String == "EINVAL")
        #expect(json(log.line(11))["errno"] as? String == "EINVAL" && json(log.line(11))["reason"] as? String == "not offline")
        #expect(report.ok, "\(report.violations)")
    }

    @Test(arguments: [
        ("offline node=0 block=1 timeout=soon", "bad timeout 'soon'"),
        ("offline node=0 block=1 timeout=-1s", "bad timeout"),
        ("online node=0 block=1 timeout=1s", "unknown key 'timeout'"),
        ("cancel_offline node=0", "missing argument: block=B"),
        ("cancel_offline node=0 block=9", "block=9 out of range"),
        ("blocks 3", "usage: blocks"),
        ("policy offline_retry=sometimes", "bad offline_retry 'sometimes'"),
        ("policy offline_retry=passes:0", "bad offline_retry"),
    ])
    func badLinesNameTheirLine(line: String, fragment: String) throws {
        let e = try #require(throws: ScenarioError.self) {
            try ScenarioParser.parse(text: "machine nodes=2 node_mem=8M block=4M\n\(line)\n", file: "bad.mm")
        }
        #expect(e.line == 2)
        #expect(e.message.contains(fragment), "\(e.message)")
    }
}
