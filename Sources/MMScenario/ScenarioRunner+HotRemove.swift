// The hot-remove statements at run time: `offline`, `online`, `cancel_offline` and
// `blocks` (MMHotplug), and their optional fields in text and `--json` output.

import MMHotplug
import MMMigrate
import MMPhysical
import MMSync

extension ScenarioRunner {
    /// Creates the machine's hot-plug state: a `forever` offline gives up ("the end of
    /// the run") once no other thread block is left that could cancel it or unpin.
    /// It migrates with the runner's migrator, so `--trace` shows its migrations.
    func bootHotplug(_ migrator: Migrator) {
        let hp = MemoryHotplug(machine, migrator: migrator)
        hp.endOfRun = { [unowned self, unowned hp] in
            liveThreads.load(ordering: .acquiring) <= hp.retryingCount
        }
        hotplug = hp
    }

    func performHotRemove(_ op: Op, _ r: inout StatementResult) {
        let res: HotplugResult
        switch op {
        case let .offline(node, index, timeout):
            guard let b = machine.phys.block(node: node, index: index) else { res = .invalid; break }
            res = hotplug.offline(b, timeout: timeout)
            r.migrated = res.migrated
        case let .online(node, index):
            guard let b = machine.phys.block(node: node, index: index) else { res = .invalid; break }
            res = hotplug.online(b)
        case let .cancelOffline(node, index):
            guard let b = machine.phys.block(node: node, index: index) else { res = .invalid; break }
            res = hotplug.cancelOffline(b)
        default:
            r.blockTable = MemoryBlockInfo.all(machine.phys)
            return
        }
        r.ret = res.ret
        r.errno = res.errno
        r.reason = res.reason
    }
}

extension HotplugResult {
    /// A block the parser let through but the machine does not have (never expected).
    static var invalid: HotplugResult { HotplugResult(ret: -1, errno: .EINVAL, reason: "no such memory block") }
}

extension StatementResult {
    func appendHotRemoveJSON(_ m: inout [(String, JSONValue)]) {
        if op == "offline" || op == "online" || op == "cancel_offline" {
            m.append(("reason", reason.map { .string($0) } ?? .null))
        }
        if let migrated { m.append(("migrated", .int(migrated))) }
        if let blockTable { m.append(("blocks", .array(blockTable.map(Self.blockJSON)))) }
    }

    static func blockJSON(_ b: MemoryBlockInfo) -> JSONValue {
        .object([("block", .int(b.id)), ("node", .int(b.node)), ("index", .int(b.index)), ("zone", .string(b.zone)),
                 ("state", .string(b.state.name)), ("free", .int(b.free)), ("movable", .int(b.movable)),
                 ("unmovable", .int(b.unmovable)), ("pinned", .int(b.pinned))])
    }

    func appendHotRemoveText(_ s: inout String) {
        if let reason { s += " (\(reason))" }
        if let migrated { s += ", \(migrated) page\(migrated == 1 ? "" : "s") migrated" }
        if let blockTable { s += "\n" + MemoryBlockInfo.text(blockTable).split(separator: "\n").map { "  \($0)" }.joined(separator: "\n") }
    }
}
