// Memory hot-remove and hot-add of one memory block (Linux: mm/memory_hotplug.c
// offline_pages, scan_movable_pages, do_migrate_range, online_pages;
// Documentation/admin-guide/mm/memory-hotplug.rst for the failure modes).
//
// Offlining a block: refuse what can never be offlined (EINVAL), isolate its
// pageblocks (EBUSY at once on an unmovable page), then repeat sweeps — find the
// in-use movable pages, isolate them from the LRU, migrate them (kernel context, sync,
// reason memory-hotplug) to other blocks — until the block is wholly free and
// isolated; then its frames leave the allocator and the block is offline. How long to
// keep sweeping is the retry policy (it changed across Linux's history). Any failure
// undoes the isolation: the block stays online, every page where it is or migrated
// intact. One `OfflineControl` is threaded through the helpers.

import MMMigrate
import MMPhysical
import MMSpace
import MMSync
import Synchronization

/// How long offline_pages keeps retrying (`policy offline_retry=…`).
public enum OfflineRetryPolicy: Sendable, Equatable, CustomStringConvertible {
    /// Give up with EBUSY once the time is up (the 2007 code: 120 s). Wall time in
    /// real runs; model time under exploration, where one sweep counts one second.
    case timeout(seconds: Double)
    /// Retry until a signal (Linux since 4.15): `cancel_offline`, or the end of the run.
    case forever
    /// Give up with EBUSY after N sweeps over the block (mmlab's bounded variant).
    case passes(Int)

    /// Linux 6.x retries forever, but a scenario must end: the model's default is a
    /// 10-second timeout (documented in docs/HOTPLUG.md).
    public static let `default` = OfflineRetryPolicy.timeout(seconds: 10)

    /// Parses `timeout:120s`, `timeout:500ms`, `forever` or `passes:N`; nil if malformed.
    public init?(parsing text: String) {
        if text == "forever" { self = .forever; return }
        if text.hasPrefix("passes:"), let n = Int(text.dropFirst(7)), n >= 1, n <= 1_000_000 {
            self = .passes(n); return
        }
        guard text.hasPrefix("timeout:"), let s = Self.seconds(String(text.dropFirst(8))) else { return nil }
        self = .timeout(seconds: s)
    }

    /// `120s`, `500ms`, `2m` or a bare number of seconds, 0…86400 s; nil otherwise.
    public static func seconds(_ t: String) -> Double? {
        var body = Substring(t), scale = 1.0
        if body.hasSuffix("ms") { body = body.dropLast(2); scale = 0.001 }
        else if body.hasSuffix("s") { body = body.dropLast(1) }
        else if body.hasSuffix("m") { body = body.dropLast(1); scale = 60 }
        guard !body.isEmpty, body.allSatisfy({ $0.isNumber || $0 == "." }), let v = Double(body) else { return nil }
        let s = v * scale
        return s >= 0 && s <= 86_400 ? s : nil
    }

    public var description: String {
        switch self {
        case .timeout(let s): return s < 1 && s > 0 ? "timeout:\(Int((s * 1000).rounded()))ms" : "timeout:\(Self.trim(s))s"
        case .forever: return "forever"
        case .passes(let n): return "passes:\(n)"
        }
    }

    static func trim(_ s: Double) -> String { s == s.rounded() ? "\(Int(s))" : "\(s)" }
}

/// The outcome of one offline or online, as `--json` and the block results print it.
public struct HotplugResult: Sendable, Equatable {
    /// 0 on success, -1 on failure.
    public var ret: Int = 0
    public var errno: Errno? = nil
    /// Why it failed, as Linux logs it ("memory offlining … failed due to REASON").
    public var reason: String? = nil
    /// Pages migrated out of the block.
    public var migrated: Int = 0
    /// Sweeps over the block (scan + migrate).
    public var sweeps: Int = 0
    /// Wall-clock seconds the call took.
    public var seconds: Double = 0

    public init(ret: Int = 0, errno: Errno? = nil, reason: String? = nil, migrated: Int = 0, sweeps: Int = 0) {
        self.ret = ret
        self.errno = errno
        self.reason = reason
        self.migrated = migrated
        self.sweeps = sweeps
    }

    static func failure(_ e: Errno, _ reason: String) -> HotplugResult {
        HotplugResult(ret: -1, errno: e, reason: reason)
    }
}

/// Linux: the reason strings of offline_pages, and mmlab's own for what the model adds.
public enum OfflineReason {
    public static let holes = "memory holes"
    public static let multizone = "multizone range"
    public static let isolate = "failure to isolate range"
    public static let unmovable = "unmovable page"
    public static let signal = "signal backoff"
    /// mmlab: the retry policy's budget ran out (the pre-4.15 timeout / retry count).
    public static let timeout = "timeout"
    public static let passes = "retry limit"
    /// mmlab: no free page outside the block for a migration target.
    public static let noMemory = "no memory for migration targets"
    /// mmlab: the block is not online (Linux's device core refuses the request).
    public static let notOnline = "not online"
    public static let notOffline = "not offline"
    public static let busy = "operation in progress"
}

/// The state offline_pages threads through its helpers (one per call).
struct OfflineControl {
    let block: MemoryBlock
    let zone: Zone
    let isolation: PageIsolation
    let policy: OfflineRetryPolicy
    let slot: HotplugSlot
    let started: ContinuousClock.Instant
    let exploring: Bool
    var migrated = 0
    var sweeps = 0
    var outOfMemory = false

    /// Seconds since the start: wall time, or one per sweep under exploration.
    var elapsed: Double {
        if exploring { return Double(sweeps) }
        let d = ContinuousClock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

/// Per-block bookkeeping of hot-plug: one operation at a time, and its cancel flag.
final class HotplugSlot: Sendable {
    /// An offline or online of this block is running (Linux: the device lock).
    let busy = Atomic<Bool>(false)
    /// `cancel_offline` asked the running offline to stop (Linux: a pending signal).
    let cancel = Atomic<Bool>(false)
    /// The running offline is inside its retry loop.
    let retrying = Atomic<Bool>(false)
}

/// Hot-plug of one machine's memory blocks.
public final class MemoryHotplug: @unchecked Sendable {
    public let machine: Machine
    public var migrator: Migrator
    /// The retry policy (change it at a quiet point).
    public var retry: OfflineRetryPolicy = .default
    /// Pages isolated from the LRU and migrated per call of the engine.
    public var chunkPages = 512
    /// Asked between sweeps of a `forever` offline: true when nobody is left who could
    /// cancel it or release what blocks it (the end of the run).
    public var endOfRun: (@Sendable () -> Bool)? = nil
    let slots: [HotplugSlot]

    public init(_ machine: Machine, migrator: Migrator? = nil) {
        self.machine = machine
        self.migrator = migrator ?? Migrator(machine)
        slots = machine.phys.blocks.map { _ in HotplugSlot() }
    }

    /// Offlines that are retrying right now (for `endOfRun` decisions).
    public var retryingCount: Int { slots.reduce(0) { $0 + ($1.retrying.load(ordering: .acquiring) ? 1 : 0) } }

    /// Signals the offline of `block` to stop (Linux: a fatal signal to the task writing
    /// "offline", seen by offline_pages' signal_pending check → EINTR "signal backoff").
    /// Like a signal that arrives before the task gets there, a cancel sent while no
    /// offline of the block runs stays pending and ends the block's next offline at its
    /// first check; every offline clears it when it ends.
    public func cancelOffline(_ block: MemoryBlock) -> HotplugResult {
        slots[block.id].cancel.store(true, ordering: .releasing)
        Sched.note("cancel_offline block \(block.id)")
        return HotplugResult()
    }

    /// Linux: offline_pages(start_pfn, nr_pages, zone, group) for one memory block.
    /// `timeout` overrides the policy's (the statement's `timeout=`).
    public func offline(_ block: MemoryBlock, timeout: Double? = nil) -> HotplugResult {
        let clock = ContinuousClock.now
        var r = offlineBody(block, policy: timeout.map { .timeout(seconds: $0) } ?? retry)
        let d = ContinuousClock.now - clock
        r.seconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        return r
    }

    private func offlineBody(_ block: MemoryBlock, policy: OfflineRetryPolicy) -> HotplugResult {
        let phys = machine.phys
        // Linux: what the device core and offline_pages refuse before touching anything.
        guard block.state == .online else { return .failure(.EINVAL, OfflineReason.notOnline) }
        if block.holePages > 0 { return .failure(.EINVAL, OfflineReason.holes) }
        guard let zone = block.zone, phys.nodeOf(block.startPFN) == phys.nodeOf(block.endPFN - 1) else {
            return .failure(.EINVAL, OfflineReason.multizone)
        }
        let slot = slots[block.id]
        guard slot.busy.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return .failure(.EBUSY, OfflineReason.busy)
        }
        defer {
            slot.cancel.store(false, ordering: .releasing)
            slot.busy.store(false, ordering: .releasing)
        }
        guard block.transition(from: .online, to: .goingOffline) else { return .failure(.EINVAL, OfflineReason.notOnline) }
        Sched.point("offline block \(block.id): going offline")

        let isolation = PageIsolation(phys: phys, zone: zone, start: block.startPFN, end: block.endPFN)
        if let bad = isolation.isolate() {
            Sched.note("offline block \(block.id): unmovable page pfn \(bad.unmovablePFN)")
            _ = block.transition(from: .goingOffline, to: .online)
            return .failure(.EBUSY, OfflineReason.isolate)
        }
        Sched.point("offline block \(block.id): isolated")
        var oc = OfflineControl(block: block, zone: zone, isolation: isolation, policy: policy, slot: slot,
                                started: .now, exploring: Sched.isExploring)
        if let (e, reason) = retryUntilFree(&oc) {
            isolation.undo()
            _ = block.transition(from: .goingOffline, to: .online)
            Sched.note("offline block \(block.id): failed (\(reason)), isolation undone")
            return HotplugResult(ret: -1, errno: e, reason: reason, migrated: oc.migrated, sweeps: oc.sweeps)
        }
        // Linux: __offline_isolated_pages — the frames leave the allocator.
        let taken = zone.lock.withLock { zone.offlineFreePagesLocked(from: block.startPFN, to: block.endPFN) }
        precondition(taken == block.pages, "offline block \(block.id): took \(taken) of \(block.pages) frames")
        let moved = block.transition(from: .goingOffline, to: .offline)
        precondition(moved, "offline block \(block.id): state changed under the offline")
        Sched.note("offline block \(block.id): offline, \(oc.migrated) pages migrated")
        return HotplugResult(ret: 0, errno: nil, reason: nil, migrated: oc.migrated, sweeps: oc.sweeps)
    }

    /// The retry loop of offline_pages: sweep (scan_movable_pages + do_migrate_range)
    /// until test_pages_isolated holds, or the policy, a signal or ENOMEM ends it.
    /// Returns nil when the block is free and isolated, else the errno and reason.
    private func retryUntilFree(_ oc: inout OfflineControl) -> (Errno, String)? {
        oc.slot.retrying.store(true, ordering: .releasing)
        defer { oc.slot.retrying.store(false, ordering: .releasing) }
        // Bounded: every policy ends (forever by a signal or the end of the run, after
        // one more sweep: what ended the run may have been the unpin that frees us).
        var lastSweep = false
        while true {
            if oc.slot.cancel.load(ordering: .acquiring) { return (.EINTR, OfflineReason.signal) }
            var pfn = oc.block.startPFN
            while let found = scanMovablePages(&oc, from: pfn) {
                if case .failure(let e, let reason) = found { return (e, reason) }
                guard case .page(let first) = found else { break }
                pfn = doMigrateRange(&oc, from: first)
                if oc.outOfMemory { return (.ENOMEM, OfflineReason.noMemory) }
                if oc.slot.cancel.load(ordering: .acquiring) { return (.EINTR, OfflineReason.signal) }
            }
            if oc.isolation.allFreeAndIsolated() { return nil }
            oc.sweeps += 1
            Sched.point("offline block \(oc.block.id): sweep \(oc.sweeps) left pages behind")
            switch oc.policy {
            case .timeout(let s) where oc.elapsed >= s: return (.EBUSY, OfflineReason.timeout)
            case .passes(let n) where oc.sweeps >= n: return (.EBUSY, OfflineReason.passes)
            case .forever where lastSweep: return (.EINTR, OfflineReason.signal)
            case .forever where endOfRun?() == true: lastSweep = true
            default: break
            }
        }
    }

    enum ScanResult { case page(PFN), failure(Errno, String) }

    /// Linux: scan_movable_pages() — the first in-use page of the block at or after
    /// `from` that migration may move (on the LRU); nil when none is left. A page no
    /// migration can move fails the offline ("unmovable page").
    private func scanMovablePages(_ oc: inout OfflineControl, from: PFN) -> ScanResult? {
        let pages = machine.phys.pages
        var p = from
        while p < oc.block.endPFN {
            let f = pages.flags(p)
            if f & PageFlag.buddy != 0 {
                // Racy read: the order is only trusted if it stays inside the block.
                let o = pages.buddyOrder(p)
                p += o <= maxOrder && p + (PFN(1) << PFN(o)) <= oc.block.endPFN ? PFN(1) << PFN(o) : 1
                continue
            }
            if f & PageFlag.unmovable != 0, oc.zone.kind != .movable { return .failure(.EBUSY, OfflineReason.unmovable) }
            if f & PageFlag.lru != 0 { return .page(p) }
            // Linux: a folio is stepped over whole (its tails, or a non-LRU head).
            p = f & (PageFlag.head | PageFlag.tail) != 0 ? folioStep(p) : p + 1
        }
        return nil
    }

    /// The PFN after the folio `p` is part of (racy: a folio that changed under us is
    /// stepped over one page at a time).
    private func folioStep(_ p: PFN) -> PFN {
        let pages = machine.phys.pages
        let head = pages.compoundHead(p)
        guard head <= p, pages.isHead(head) else { return p + 1 }
        let end = head + PFN(pages.folioPages(head))
        return end > p ? end : p + 1
    }

    /// Linux: do_migrate_range() — isolates up to `chunkPages` LRU pages from `from` on
    /// and migrates them off the block; returns where the next scan starts. Pages that
    /// cannot be isolated now (being freed, isolated by someone else) wait for the next
    /// sweep.
    private func doMigrateRange(_ oc: inout OfflineControl, from: PFN) -> PFN {
        let phys = machine.phys, pages = phys.pages
        let lru = phys.lrus[oc.block.node]
        var list: [PFN] = []
        list.reserveCapacity(chunkPages)
        var p = from
        var listed = 0
        while p < oc.block.endPFN && listed < chunkPages {
            let f = pages.flags(p)
            if f & PageFlag.lru != 0, lru.isolate(p) {
                list.append(p)
                listed += pages.folioPages(p)
            }
            p = f & (PageFlag.head | PageFlag.tail) != 0 ? folioStep(p) : p + 1
        }
        guard !list.isEmpty else { return p }
        let node = oc.block.node
        // Targets (Linux: alloc_migration_target): a folio of the source's order, outside
        // isolated pageblocks, this node first, then the others in order (isolation keeps
        // every allocation out of the block).
        let r = migrator.migratePages(list, allocate: { src in
                                          phys.allocFolio(node: node, order: pages.folioOrder(src), .movable, fallback: true)
                                      },
                                      mode: .sync, reason: .memoryHotplug, context: .kernel)
        for (_, o) in r.outcomes {
            if case .migrated(let new) = o { oc.migrated += pages.folioPages(new) }
        }
        if r.outOfMemory { oc.outOfMemory = true }
        return p
    }

    /// Linux: online_pages() — the block's frames return to the allocator as free
    /// movable pageblocks of its zone (Linux onlines every pageblock MIGRATE_MOVABLE).
    public func online(_ block: MemoryBlock) -> HotplugResult {
        let slot = slots[block.id]
        guard block.state == .offline else { return .failure(.EINVAL, OfflineReason.notOffline) }
        guard slot.busy.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return .failure(.EBUSY, OfflineReason.busy)
        }
        defer { slot.busy.store(false, ordering: .releasing) }
        guard block.state == .offline, let zone = block.zone else { return .failure(.EINVAL, OfflineReason.notOffline) }
        zone.lock.withLock { zone.onlinePagesLocked(from: block.startPFN, to: block.endPFN, .movable) }
        let moved = block.transition(from: .offline, to: .online)
        precondition(moved, "online block \(block.id): state changed under the online")
        Sched.note("online block \(block.id)")
        return HotplugResult()
    }
}
