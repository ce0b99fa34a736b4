// The runner's side of compaction: the compact, alloc, free_alloc and sysctl
// statements, and kcompactd's life (started with the machine, parked around `verify`,
// stopped at the end of every run so the final check sees a quiet machine).

import MMCompaction
import MMMigrate
import MMPhysical
import MMSpace

extension ScenarioRunner {
    func performCompaction(_ op: Op, _ r: inout StatementResult) throws(Errno) {
        var migrator = Migrator(machine)
        migrator.onEvent = options.onMigrationEvent
        // A sync pass that waits on writeback completes the I/O when nothing else could.
        migrator.hooks.beforeWritebackWait = self.migrator.hooks.beforeWritebackWait
        switch op {
        case let .compact(node, order, mode):
            let m = mode.flatMap { MigrateMode(rawValue: $0) } ?? .sync
            let results = node.map { Compaction.compactNode(machine: machine, node: $0, order: order, mode: m, migrator: migrator) }
                ?? (0..<machine.config.nodes).flatMap { Compaction.compactNode(machine: machine, node: $0, order: order, mode: m, migrator: migrator) }
            r.statusName = (results.map(\.status).max() ?? .skipped).name
            r.extra = [("zones", .array(results.map(Self.json)))]
        case let .alloc(node, order, count, movable):
            let mt: MigrateType = movable ? .movable : .unmovable
            var status: [Int] = []
            for _ in 0..<count {
                let out = Compaction.allocPages(machine: machine, node: node, order: order, mt, migrator: migrator)
                if let p = out.pfn {
                    machine.adoptKernelBlock(node: node, order: order, head: p, mt)
                    status.append(Int(p))
                } else {
                    status.append(-Int(Errno.ENOMEM.rawValue))
                }
            }
            r.status = status
            if status.contains(where: { $0 < 0 }) { throw .ENOMEM }
        case let .freeAlloc(node, order, count):
            try machine.freeKernelBlocks(node: node, order: order, count: count)
        case let .sysctl(name, value):
            guard let key = VMSysctl.Key(rawValue: name), machine.phys.sysctl.set(key, value) else { throw .EINVAL }
            if key == .compactionProactiveness { Kcompactd.proactivenessChanged(machine: machine) }
        default:
            preconditionFailure("performCompaction: \(op.name) is not a compaction statement")
        }
    }

    /// One zone's result as `compact` reports it in `--json`.
    static func json(_ c: CompactResult) -> JSONValue {
        .object([
            ("node", .int(c.node)), ("zone", .string(c.zone)), ("status", .string(c.status.name)),
            ("migrate_pfn", .int(Int(c.migratePFN))), ("free_pfn", .int(Int(c.freePFN))),
            ("pages_migrated", .int(c.pagesMigrated)), ("pages_failed", .int(c.pagesFailed)),
            ("migrate_scanned", .int(c.migrateScanned)), ("free_scanned", .int(c.freeScanned)),
        ])
    }

    /// Starts kcompactd when the machine asks for it.
    func startDaemons() {
        if machine.config.kcompactd, kcompactd == nil { kcompactd = Kcompactd(machine: machine) }
    }

    /// Stops kcompactd (end of the run: the machine must be quiet for the report).
    func stopDaemons() {
        kcompactd?.stop()
        kcompactd = nil
    }

    /// Runs `body` with kcompactd stopped (the checker needs a quiet point), then restarts it.
    func withDaemonsParked<R>(_ body: () -> R) -> R {
        let running = kcompactd != nil
        stopDaemons()
        defer { if running { startDaemons() } }
        return body()
    }
}
