// The demo's compaction (issue 9 item 10): while the workload's processes keep faulting,
// writing, forking and exiting, kcompactd runs on every node and one full compaction
// (compact_memory) runs part-way through; the free-block tables around it are kept
// for the report.

import CMMSupport
import MMPhysical
import MMSpace
import MMSync
#if canImport(Glibc)
import Glibc
#endif

/// What the workload's compaction did.
public struct WorkloadCompaction: Sendable {
    /// Free blocks per order of each zone just before and just after the full compaction
    /// (taken while the processes run: each row is consistent, the set is not a snapshot).
    public var before: [(node: Int, zone: String, free: [Int])] = []
    public var after: [(node: Int, zone: String, free: [Int])] = []
    public var zones: [ZoneCompaction] = []
    public var seconds = 0.0
    /// Why nothing ran, when nothing did.
    public var notRun: String?
    /// kcompactd ran beside the workload.
    public var kcompactd = false

    /// `{"before":[{node,zone,free}…],"after":[…],"zones":[…],"seconds":S}` (or `not_run`).
    public var json: JSONValue {
        func rows(_ r: [(node: Int, zone: String, free: [Int])]) -> JSONValue {
            .array(r.map { .object([("node", .int($0.node)), ("zone", .string($0.zone)), ("free", .array($0.free.map { .int($0) }))]) })
        }
        if let notRun { return .object([("not_run", .string(notRun))]) }
        return .object([("before", rows(before)), ("after", rows(after)), ("zones", .array(zones.map(\.json))),
                        ("seconds", .double(seconds)), ("kcompactd", .bool(kcompactd))])
    }

    /// The two tables in /proc/buddyinfo's layout, and one line per zone compacted.
    public var text: String {
        if let notRun { return "compaction: not run — \(notRun)\n" }
        func table(_ rows: [(node: Int, zone: String, free: [Int])]) -> String {
            rows.map { "  Node \($0.node), zone \($0.zone.leftPad(8)) " + $0.free.map { String($0).leftPad(6) + " " }.joined() + "\n" }.joined()
        }
        var s = "full compaction while the processes run (\(kcompactd ? "kcompactd on every node as well" : "no kcompactd")):\n"
        s += " free blocks before:\n" + table(before) + " free blocks after:\n" + table(after)
        for z in zones {
            s += "  node \(z.node) zone \(z.zone): \(z.status), \(z.pagesMigrated) migrated, \(z.pagesFailed) failed\n"
        }
        return s + "  \((seconds * 1000).rounded() / 1000) s\n"
    }
}

/// Runs the demo's compaction beside the workload's threads.
final class WorkloadCompactor: @unchecked Sendable {
    let machine: Machine
    private let lock = PlainLock()
    private var result = WorkloadCompaction()
    private var stopKcompactd: (() -> Void)?

    init(_ m: Machine) {
        machine = m
        stopKcompactd = CompactEngine.startKcompactd(m)
        result.kcompactd = stopKcompactd != nil
    }

    /// The thread that waits until `at` (wall clock) and then compacts every zone.
    func thread(at: UInt64) -> (name: String, body: @Sendable () -> Void) {
        (name: "compact_memory", body: { [self] in
            while mm_now_ns() < at { usleep(10_000) }
            let rows = { self.machine.phys.zones.map { (node: $0.node, zone: $0.name, free: $0.freeBlockCounts()) } }
            let before = rows()
            let t0 = mm_now_ns()
            let zones = CompactEngine.compactMemory(self.machine)
            let seconds = Double(mm_now_ns() - t0) / 1e9
            let after = rows()
            self.lock.withLock {
                result.before = before
                result.after = after
                result.seconds = seconds
                if let zones { result.zones = zones } else { result.notRun = CompactEngine.unavailable ?? "compaction did not run" }
            }
        })
    }

    /// Stops kcompactd (before the machine is checked) and returns what ran.
    func finish() -> WorkloadCompaction {
        stopKcompactd?()
        stopKcompactd = nil
        return lock.withLock { result }
    }
}
