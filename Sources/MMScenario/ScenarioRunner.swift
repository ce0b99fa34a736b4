// Runs a parsed scenario on a fresh machine (docs/SCENARIOS.md): statements outside thread
// blocks in order on the calling thread, each group of consecutive thread blocks
// concurrently (real threads in `run`, scheduler-chosen order under `explore`).

import MMCheck
import MMCompaction
import MMHotplug
import MMMigrate
import MMPhysical
import MMSpace
import MMSync
import Synchronization

/// The outcome of one executed statement, as the JSON lines of `run --json` give it.
public struct StatementResult: Sendable {
    public let line: Int
    public let op: String
    public let thread: String?
    public var ret: Int = 0
    public var errno: Errno? = nil
    /// move_pages' statuses; nil entries are those Linux leaves unwritten.
    public var status: [Int?]? = nil
    /// A named outcome (`compact`: "complete", "success", …), printed as `"status"`.
    public var statusName: String? = nil
    /// Further fields a statement reports, after `errno` (`compact`: its zones).
    public var extra: [(String, JSONValue)] = []
    /// Only for `verify`.
    public var violations: [Violation]? = nil
    /// Hot-remove (`offline`, `online`, `cancel_offline`): Linux's reason for a failure.
    public var reason: String? = nil
    /// Hot-remove (`offline`): pages migrated out of the block.
    public var migrated: Int? = nil
    /// `blocks`: the memory-block table.
    public var blockTable: [MemoryBlockInfo]? = nil

    public var json: JSONValue {
        var m: [(String, JSONValue)] = [("line", .int(line)), ("op", .string(op))]
        if let thread { m.append(("thread", .string(thread))) }
        if let violations {
            m.append(("ok", .bool(violations.isEmpty)))
            m.append(("violations", MachineReport.violationsJSON(violations)))
            return .object(m)
        }
        m.append(("ret", .int(ret)))
        m.append(("errno", errno.map { .string($0.name) } ?? .null))
        if let status { m.append(("status", .array(status.map { $0.map { .int($0) } ?? .null }))) }
        if let statusName { m.append(("status", .string(statusName))) }
        m += extra
        appendHotRemoveJSON(&m)
        return .object(m)
    }

    public var text: String {
        let who = thread.map { " [\($0)]" } ?? ""
        if let violations {
            return "line \(line)\(who): verify " + (violations.isEmpty ? "ok" : "FAILED:\n" + violations.map { "  \($0)" }.joined(separator: "\n"))
        }
        var s = "line \(line)\(who): \(op) → "
        if let errno { s += "-1 \(errno.name)" } else { s += "\(ret)" }
        if let status { s += " status [" + status.map { $0.map { "\($0)" } ?? "null" }.joined(separator: ", ") + "]" }
        if let statusName { s += " status \(statusName)" }
        appendHotRemoveText(&s)
        return s
    }
}

/// Options of a scenario run.
public struct RunOptions: Sendable {
    /// Forces the anon_vma pin policy for the whole run (`--pin-policy`): the file's
    /// `policy` lines are then ignored, so one scenario can be tried under each policy.
    public var pinPolicy: AnonVmaPinPolicy? = nil
    /// Called for every executed statement (from the thread that ran it).
    public var onResult: (@Sendable (StatementResult) -> Void)? = nil
    /// Called for every migration event (`--trace`).
    public var onMigrationEvent: (@Sendable (MigrationEvent) -> Void)? = nil
    /// Test-only: mremap without the rmap lock (Linux's historic bug).
    public var skipMremapRmapLock = false
    /// Forces `policy syscall_lock=` for the whole run (`--syscall-lock`); the file's
    /// lines are then ignored.
    public var syscallLock: ScenarioSyscallLock? = nil
    public init() {}
}

/// Executes one scenario. Create one per run: it owns the machine it boots.
public final class ScenarioRunner: @unchecked Sendable {
    public let scenario: Scenario
    public let options: RunOptions
    public private(set) var machine: Machine!
    var migrator: Migrator!
    /// Hot-plug of the machine's memory blocks (created with the machine).
    var hotplug: MemoryHotplug!
    /// Thread blocks running right now (a `forever` offline ends when it is alone).
    let liveThreads = Atomic<Int>(0)
    /// Results of `verify` statements that failed.
    public private(set) var failedVerifies = 0
    private let resultLock = PlainLock()
    /// Set when the run cannot go on (the host refused threads): `run()` throws it.
    var abortError: ScenarioError?
    func abort(_ e: ScenarioError) { abortError = abortError ?? e }
    /// Pages under writeback started by `writeback` lines, by process and page address
    /// (under resultLock; bookkeeping only, never held across a model lock).
    private var writebacks: [String: [UInt64: PFN]] = [:]
    /// The machine's kcompactd threads while they run (`kcompactd=on`).
    var kcompactd: Kcompactd?
    /// A thread group is running (under resultLock).
    private var threadsRunning = false

    public init(_ scenario: Scenario, options: RunOptions = RunOptions()) {
        self.scenario = scenario
        self.options = options
    }

    /// The machine a `machine` statement asks for.
    static func config(_ spec: MachineSpec) -> MachineConfig {
        MachineConfig(nodes: spec.nodes, nodeMemBytes: Int(spec.nodeMemBytes), blockBytes: Int(spec.blockBytes),
                      content: spec.content == .full ? .full : .stamp,
                      zones: spec.zones.compactMap { ZoneKind(name: $0) }, movableBytes: Int(spec.movableBytes),
                      kcompactd: spec.kcompactd)
    }

    /// Rejects what cannot run, naming the line (exit 2 material): a machine this host
    /// cannot boot.
    public static func validate(_ s: Scenario) throws(ScenarioError) {
        if let st = s.statements.first, case .machine(let spec) = st.op,
           let problem = PhysicalMemory.bootProblem(config(spec)) {
            throw ScenarioError(file: s.file, line: st.line, message: "machine: \(problem)")
        }
    }

    /// Runs every statement. Returns the machine's end-of-run report (checker included).
    @discardableResult
    public func run() throws(ScenarioError) -> MachineReport {
        try Self.validate(scenario)
        for st in scenario.statements {
            execute(st, thread: nil)
            if let stop = abortError { stopDaemons(); throw stop }
        }
        stopDaemons()
        return MachineReport(machine)
    }

    private func emit(_ r: StatementResult) {
        if r.violations.map({ !$0.isEmpty }) == true { resultLock.withLock { failedVerifies += 1 } }
        options.onResult?(r)
    }

    private func execute(_ st: Statement, thread: String?) {
        var r = StatementResult(line: st.line, op: st.op.name, thread: thread)
        Sched.point("line \(st.line): \(st.op.name)")
        do {
            try perform(st.op, &r)
        } catch let e {
            r.errno = e
            r.ret = -1
        }
        if case .threads = st.op { return }
        if case .machine = st.op { return }
        emit(r)
    }

    private func mm(_ name: String) throws(Errno) -> MM {
        guard let p = machine.process(name) else { throw .ESRCH }
        return p.mm
    }

    private func perform(_ op: Op, _ r: inout StatementResult) throws(Errno) {
        switch op {
        case .machine(let spec):
            machine = Machine(Self.config(spec))
            if let p = options.pinPolicy { machine.pinPolicy = p }
            machine.skipMremapRmapLock.store(options.skipMremapRmapLock, ordering: .relaxed)
            migrator = Migrator(machine)
            migrator.onEvent = options.onMigrationEvent
            // A top-level statement runs alone: nothing could end a writeback it waits
            // for, so the I/O completes then (as it would on a real machine).
            migrator.hooks.beforeWritebackWait = { [unowned self] pfn in self.completeWritebackIfAlone(pfn) }
            if let l = options.syscallLock { migrator.syscallLock = l == .held ? .held : .isolate }
            bootHotplug(migrator)
            startDaemons()
        case let .process(name, node, uid, privileged, adj):
            _ = try machine.createProcess(name, node: node ?? 0, uid: uid, privileged: privileged, oomScoreAdj: adj)
        case let .mmap(p, addr, len): try machine.mmap(mm(p), addr, len)
        case let .touch(p, addr, len), let .write(p, addr, len): try machine.touch(mm(p), addr, len)
        case let .read(p, addr, len):
            let m = try mm(p)
            var a = addr
            while a < addr + len { try machine.userRead(m, a); a += 4096 }
        case let .fork(parent, child):
            guard let pp = machine.process(parent) else { throw .ESRCH }
            try machine.fork(pp, child: child)
        case let .pin(p, addr): try machine.pinUserPage(mm(p), addr & ~4095)
        case let .unpin(p, addr): try machine.unpinUserPage(mm(p), addr & ~4095)
        case let .mremap(p, old, len, new): try machine.mremap(mm(p), old, len, new)
        case let .munmap(p, addr, len): try machine.munmap(mm(p), addr, len)
        case let .exit(p): try machine.exit(p)
        case let .unmovable(node, pages): try machine.allocateUnmovable(node: node, pages: pages)
        case let .movePages(p, nodes, addrs, flags, caller):
            apply(migrator.movePages(target: p, caller: caller, addresses: addrs, nodes: nodes,
                                     flags: MPolFlags(rawValue: flags.rawValue)), &r)
        case let .queryPages(p, addrs, caller):
            apply(migrator.movePages(target: p, caller: caller, addresses: addrs, nodes: nil, flags: [.move]), &r)
        case let .migratePages(p, from, to, caller):
            apply(migrator.migratePagesSyscall(target: p, caller: caller, from: from, to: to), &r)
        case let .migrateKernel(p, addr, length, node, mode, batch):
            apply(migrator.migrateKernel(target: p, address: addr, length: length, node: node,
                                         mode: MigrateMode(rawValue: mode) ?? .sync, batch: batch), &r)
        case .policy(let setting):
            applyPolicy(setting)
        case .threads(let blocks):
            resultLock.withLock { threadsRunning = true }
            defer { resultLock.withLock { threadsRunning = false } }
            liveThreads.add(blocks.count, ordering: .acquiringAndReleasing)
            do {
                try ModelThreads.tryRunConcurrently(blocks.map { b in
                    (name: b.name, body: { [self] in
                        for st in b.statements { execute(st, thread: b.name) }
                        liveThreads.subtract(1, ordering: .acquiringAndReleasing)
                    })
                })
            } catch {
                // No block ran (ThreadStart.swift); the run stops here.
                liveThreads.subtract(blocks.count, ordering: .acquiringAndReleasing)
                abort(ScenarioError(file: scenario.file, line: blocks[0].line, message: "thread blocks: \(error)"))
            }
        // MARK: statements — fidelity (migration, NUMA calls)
        case let .writeback(p, addr): try startWriteback(p, addr)
        case let .writebackEnd(p, addr): try endWriteback(p, addr)

        // MARK: statements — robustness (limits, OOM)

        // MARK: statements — compaction
        case .compact, .alloc, .freeAlloc, .sysctl: try performCompaction(op, &r)

        // MARK: statements — hot-remove
        case .offline, .online, .cancelOffline, .blocks: performHotRemove(op, &r)

        // MARK: statements — snapshot

        // MARK: statements — page cache
        case .pageCache: try performPageCache(op, &r)

        case .verify:
            r.violations = withDaemonsParked { Checker.check(machine) }
        }
    }

    /// `writeback P ADDR`.
    private func startWriteback(_ p: String, _ addr: UInt64) throws(Errno) {
        let page = addr & ~4095
        if resultLock.withLock({ writebacks[p]?[page] != nil }) { throw .EBUSY }
        switch migrator.startWriteback(try mm(p), page) {
        case .success(let pfn): resultLock.withLock { writebacks[p, default: [:]][page] = pfn }
        case .failure(let e): throw e
        }
    }

    /// `writeback_end P ADDR` (works after P's exit too: the I/O outlives the process).
    private func endWriteback(_ p: String, _ addr: UInt64) throws(Errno) {
        let pfn: PFN? = resultLock.withLock { writebacks[p]?.removeValue(forKey: addr & ~4095) }
        guard let pfn else { throw .EINVAL }
        migrator.endWriteback(pfn)
    }

    /// The writeback a sync migration is about to wait for completes now if no thread
    /// group runs (nothing else could ever end it).
    private func completeWritebackIfAlone(_ pfn: PFN) {
        // A page-cache folio's I/O has no statement to end it: it completes when a
        // sync migration waits for it (ScenarioRunner+PageCache.swift).
        if completePageCacheWriteback(pfn) { return }
        let done: Bool = resultLock.withLock {
            guard !threadsRunning else { return false }
            for (p, pages) in writebacks {
                if let addr = pages.first(where: { $0.value == pfn })?.key {
                    writebacks[p]?.removeValue(forKey: addr)
                    return true
                }
            }
            return false
        }
        if done { migrator.endWriteback(pfn) }
    }

    private func applyPolicy(_ setting: PolicySetting) {
        switch setting {
        case .pin(let pin):
            if options.pinPolicy == nil { machine.pinPolicy = AnonVmaPinPolicy(rawValue: pin.rawValue)! }

        // MARK: policies — fidelity (migration, NUMA calls)
        case .syscallLock(let l):
            if options.syscallLock == nil { migrator.syscallLock = l == .held ? .held : .isolate }
        case .mremapRmapLock(let on):
            if !options.skipMremapRmapLock { machine.skipMremapRmapLock.store(!on, ordering: .relaxed) }

        // MARK: policies — robustness (limits, OOM)
        case .oom(let oom):
            machine.oomPolicy = oom == .kill ? .kill : .enomem

        // MARK: policies — compaction

        // MARK: policies — hot-remove
        case .offlineRetry(let text): hotplug.retry = OfflineRetryPolicy(parsing: text) ?? .default

        }
    }

    private func apply(_ s: SyscallResult, _ r: inout StatementResult) {
        r.ret = s.ret
        r.errno = s.errno
        r.status = s.status
        if s.errno != nil { r.ret = -1 }
    }
}
