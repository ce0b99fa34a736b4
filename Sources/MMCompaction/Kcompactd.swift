// kcompactd: one background compaction thread per node (Linux: kcompactd,
// kcompactd_do_work, wakeup_kcompactd, kcompactd_node_suitable,
// proactive_compact_node, should_proactive_compact_node in mm/compaction.c).
//
// It sleeps on its node's wait queue. An order > 0 allocation failure wakes it to
// compact for that order (sync-light, skip hints honoured, deferral as direct
// compaction). Every 500 ms of model time it checks the node's fragmentation score and,
// above the high mark, compacts proactively until each zone is at or below the low one.
// The threads are ModelDaemons: pthreads in a run, model threads under exploration.

import MMMigrate
import MMPhysical
import MMSpace
import MMSync

extension Compaction {
    /// Linux: wakeup_kcompactd(): remember the order and wake the node's kcompactd if
    /// it sleeps and compaction could help.
    public static func wakeupKcompactd(machine: Machine, node: Int, order: Int) {
        guard order > 0 else { return }
        let n = machine.phys.nodes[node]
        var cur = n.kcompactdMaxOrder.load(ordering: .acquiring)
        while cur < order {
            let (ok, seen) = n.kcompactdMaxOrder.compareExchange(expected: cur, desired: order, ordering: .acquiringAndReleasing)
            if ok { break }
            cur = seen
        }
        guard n.kcompactdWait.hasSleeper, kcompactdNodeSuitable(machine: machine, n) else { return }
        n.kcompactdWait.wake()
    }

    // Linux: kcompactd_node_suitable().
    static func kcompactdNodeSuitable(machine: Machine, _ n: Node) -> Bool {
        let order = n.kcompactdMaxOrder.load(ordering: .acquiring)
        let threshold = machine.phys.sysctl[.extfragThreshold]
        return n.zones.contains { z in
            !z.watermarkOK(order: order, mark: z.watermarks.min) && compactionSuitable(z, order: order, extfragThreshold: threshold)
        }
    }

    // Linux: kcompactd_do_work().
    static func kcompactdDoWork(machine: Machine, _ n: Node, daemon: ModelDaemon?, migrator: Migrator?) {
        let order = n.kcompactdMaxOrder.load(ordering: .acquiring)
        let vm = machine.vmstat
        vm.add(.compactDaemonWake)
        let threshold = machine.phys.sysctl[.extfragThreshold]
        for zone in n.zones {
            if compactionDeferred(zone, order: order) { continue }
            if zone.watermarkOK(order: order, mark: zone.watermarks.min) { continue }
            if !compactionSuitable(zone, order: order, extfragThreshold: threshold) { continue }
            if daemon?.shouldStop == true { return }
            let cc = CompactControl(machine: machine, zone: zone, order: order, mode: .syncLight,
                                    wholeZone: false, ignoreSkipHint: false, migrator: migrator)
            let r = compactZone(cc)
            if r.status == .success {
                compactionDeferReset(zone, order: order, allocSuccess: false)
            } else if r.status == .partialSkipped || r.status == .complete {
                deferCompaction(zone, order: order)
            }
            vm.add(.compactDaemonMigrateScanned, Int64(r.migrateScanned))
            vm.add(.compactDaemonFreeScanned, Int64(r.freeScanned))
        }
        // Done until woken again, unless a higher order arrived meanwhile.
        _ = n.kcompactdMaxOrder.compareExchange(expected: order, desired: 0, ordering: .acquiringAndReleasing)
    }

    /// Linux: should_proactive_compact_node().
    public static func shouldProactiveCompactNode(machine: Machine, node: Int) -> Bool {
        let p = machine.phys.sysctl[.compactionProactiveness]
        guard p > 0 else { return false }
        return FragmentationScore.node(machine.phys.nodes[node]) > FragmentationScore.wmark(low: false, proactiveness: p)
    }

    /// Linux: proactive_compact_node(): every zone, order -1, sync-light, whole zone,
    /// skip hints ignored, each run ending when the zone's score is at most the low mark.
    @discardableResult
    public static func proactiveCompactNode(machine: Machine, node: Int, migrator: Migrator? = nil) -> [CompactResult] {
        let vm = machine.vmstat
        return machine.phys.nodes[node].zones.map { zone in
            let cc = CompactControl(machine: machine, zone: zone, order: -1, mode: .syncLight,
                                    wholeZone: true, ignoreSkipHint: true, migrator: migrator)
            cc.proactiveCompaction = true
            let r = compactZone(cc)
            vm.add(.compactDaemonMigrateScanned, Int64(r.migrateScanned))
            vm.add(.compactDaemonFreeScanned, Int64(r.freeScanned))
            return r
        }
    }
}

/// The kcompactd threads of one machine. Start them with the machine (`kcompactd=on`)
/// and `stop()` them before the machine is checked or dropped.
public final class Kcompactd: @unchecked Sendable {
    /// Linux: HPAGE_FRAG_CHECK_INTERVAL_MSEC (500 ms), in model time.
    public static let defaultIntervalNs: UInt64 = 500_000_000
    public let machine: Machine
    private var daemons: [ModelDaemon] = []
    /// Proactive rounds run so far (tests and reports read it; bookkeeping only).
    private let roundsLock = PlainLock()
    private var proactiveRoundsRun = 0

    /// Starts one kcompactd per node. `intervalNs`: the proactive check period.
    public init(machine: Machine, intervalNs: UInt64 = Kcompactd.defaultIntervalNs, migrator: Migrator? = nil) {
        self.machine = machine
        for n in machine.phys.nodes {
            daemons.append(ModelDaemon(name: "kcompactd\(n.id)", waitQueue: n.kcompactdWait) { [unowned(unsafe) self] d in
                self.loop(n, d, intervalNs: intervalNs, migrator: migrator)
            })
        }
    }

    /// Proactive compaction rounds that ran on any node.
    public var proactiveRounds: Int { roundsLock.withLock { proactiveRoundsRun } }

    /// Linux: kcompactd_stop() for every node: each thread is told, woken and joined.
    public func stop() {
        for d in daemons { d.stop() }
    }

    /// A sysctl write of vm.compaction_proactiveness wakes every node for a proactive
    /// check now (Linux: compaction_proactiveness_sysctl_handler).
    public static func proactivenessChanged(machine: Machine) {
        guard machine.phys.sysctl[.compactionProactiveness] > 0 else { return }
        for n in machine.phys.nodes where !n.proactiveCompactTrigger.exchange(true, ordering: .acquiringAndReleasing) {
            n.kcompactdWait.wake()
        }
    }

    // Linux: kcompactd(). Bounded by `shouldStop`: every wait ends on stop().
    private func loop(_ n: Node, _ d: ModelDaemon, intervalNs: UInt64, migrator: Migrator?) {
        let m = machine
        var timeout: UInt64? = intervalNs
        n.kcompactdMaxOrder.store(0, ordering: .releasing)
        while !d.shouldStop {
            if m.phys.sysctl[.compactionProactiveness] == 0 { timeout = nil }
            let requested = n.kcompactdWait.wait(timeoutNs: timeout) {
                d.shouldStop || n.kcompactdMaxOrder.load(ordering: .acquiring) > 0
                    || n.proactiveCompactTrigger.load(ordering: .acquiring)
            }
            if d.shouldStop { break }
            if requested, !n.proactiveCompactTrigger.load(ordering: .acquiring) {
                Compaction.kcompactdDoWork(machine: m, n, daemon: d, migrator: migrator)
                timeout = intervalNs
                continue
            }
            timeout = intervalNs
            if Compaction.shouldProactiveCompactNode(machine: m, node: n.id) {
                let before = FragmentationScore.node(n)
                Compaction.proactiveCompactNode(machine: m, node: n.id, migrator: migrator)
                roundsLock.withLock { proactiveRoundsRun += 1 }
                // No progress: back off 64 intervals (Linux: default_timeout << COMPACT_MAX_DEFER_SHIFT).
                if FragmentationScore.node(n) >= before { timeout = intervalNs << UInt64(Compaction.maxDeferShift) }
            }
            n.proactiveCompactTrigger.store(false, ordering: .releasing)
        }
    }
}
