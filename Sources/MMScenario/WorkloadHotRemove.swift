// The demo's hot-remove (issue 10 item 9): part-way through the run, while the
// processes keep faulting, writing, forking and exiting, the busiest memory block is
// offlined and then onlined again.

import CMMSupport
import MMHotplug
import MMPhysical
import MMSpace
import MMSync
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What the workload's hot-remove did.
public struct WorkloadHotRemove: Sendable {
    public var block = -1
    /// Pages in use in the block when the offline started.
    public var inUse = 0
    public var offline = HotplugResult()
    public var online: HotplugResult?

    public var json: JSONValue {
        func res(_ r: HotplugResult) -> JSONValue {
            .object([("ret", .int(r.ret)), ("errno", r.errno.map { .string($0.name) } ?? .null),
                     ("reason", r.reason.map { .string($0) } ?? .null), ("migrated", .int(r.migrated)), ("seconds", .double(r.seconds))])
        }
        return .object([("block", .int(block)), ("in_use", .int(inUse)), ("offline", res(offline)),
                        ("online", online.map(res) ?? .null)])
    }

    public var text: String {
        var s = "hot-remove: block \(block) (\(inUse) pages in use) offline → "
        s += offline.ret == 0 ? "0, \(offline.migrated) pages migrated in \((offline.seconds * 1000).rounded() / 1000) s"
                              : "-1 \(offline.errno?.name ?? "") (\(offline.reason ?? ""))"
        if let online { s += "; online → \(online.ret)" }
        return s + "\n"
    }
}

/// Runs the offline/online pair on its own thread at a chosen time.
final class WorkloadHotRemover: Sendable {
    let machine: Machine
    private let result = Mutex<WorkloadHotRemove?>(nil)
    init(_ m: Machine) { machine = m }

    func thread(at when: UInt64) -> (name: String, body: @Sendable () -> Void) {
        (name: "hotremove", body: { [self] in
            while mm_now_ns() < when { usleep(1000) }
            let hp = MemoryHotplug(machine)
            hp.retry = .timeout(seconds: 2)
            let rows = MemoryBlockInfo.all(machine.phys)
            let best = rows.max { $0.movable + $0.pinned < $1.movable + $1.pinned }!
            var r = WorkloadHotRemove()
            r.block = best.id
            r.inUse = best.movable + best.pinned
            let b = machine.phys.blocks[best.id]
            r.offline = hp.offline(b)
            if r.offline.ret == 0 { r.online = hp.online(b) }
            result.withLock { $0 = r }
        })
    }

    func finish() -> WorkloadHotRemove? { result.withLock { $0 } }
}
