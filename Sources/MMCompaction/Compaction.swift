// Compaction's entry points (Linux: compact_nodes / compact_node for
// /proc/sys/vm/compact_memory and /sys/devices/system/node/nodeN/compact;
// try_to_compact_pages, compact_zone_order; and the allocator's slow path that calls
// them: __alloc_pages_slowpath → __alloc_pages_direct_compact in mm/page_alloc.c).

import MMMigrate
import MMPhysical
import MMSpace
import MMSync

extension Compaction {
    /// Compacts every zone of every node the way writing 1 to
    /// /proc/sys/vm/compact_memory does (Linux: compact_nodes → compact_node): order
    /// -1, sync, the whole zone, skip hints ignored. One result per zone, node-major.
    /// `pcp` gives a zone the compacting CPU's per-CPU list (a replayed snapshot's).
    /// `trace` records Linux's compaction tracepoints of every zone's run.
    public static func compactMemory(machine: Machine, migrator: Migrator? = nil,
                                     pcp: (Zone) -> PerCPULists? = { _ in nil }, trace: CompactionTrace? = nil) -> [CompactResult] {
        (0..<machine.config.nodes).flatMap { compactNode(machine: machine, node: $0, migrator: migrator, pcp: pcp, trace: trace) }
    }

    /// Compacts the zones of one node. With `order` nil this is Linux's compact_node
    /// (order -1, whole zone, skip hints ignored) in `mode` (default sync). With an
    /// order it is a targeted run per zone as direct compaction makes one (cached
    /// scanner positions, skip hints honoured), ending as soon as a free block of that
    /// order exists. No deferral either way.
    public static func compactNode(machine: Machine, node: Int, order: Int? = nil, mode: MigrateMode = .sync,
                                   migrator: Migrator? = nil, pcp: (Zone) -> PerCPULists? = { _ in nil },
                                   trace: CompactionTrace? = nil) -> [CompactResult] {
        precondition(node >= 0 && node < machine.config.nodes, "compactNode: node \(node) out of range")
        return machine.phys.nodes[node].zones.map { zone in
            let cc = CompactControl(machine: machine, zone: zone, order: order ?? -1, mode: mode,
                                    wholeZone: order == nil, ignoreSkipHint: order == nil, migrator: migrator)
            cc.pcp = pcp(zone)
            cc.trace = trace
            return compactZone(cc)
        }
    }

    /// Linux: enum compact_priority — how hard direct compaction tries.
    public enum Priority: Int, Sendable {
        /// MIN_COMPACT_PRIORITY: sync-light over the whole zone, skip hints and block
        /// suitability ignored, deferral ignored.
        case min = 0
        /// COMPACT_PRIO_SYNC_LIGHT (DEF_COMPACT_PRIORITY).
        case syncLight = 1
        /// COMPACT_PRIO_ASYNC (INIT_COMPACT_PRIORITY).
        case async = 2
    }

    // Linux: compact_zone_order().
    static func compactZoneOrder(machine: Machine, zone: Zone, order: Int, _ mt: MigrateType,
                                 priority: Priority, migrator: Migrator?) -> CompactResult {
        let cc = CompactControl(machine: machine, zone: zone, order: order, mode: priority == .async ? .async : .syncLight,
                                migratetype: mt, wholeZone: priority == .min, ignoreSkipHint: priority == .min,
                                migrator: migrator)
        cc.ignoreBlockSuitable = priority == .min
        cc.directCompaction = true
        return compactZone(cc)
    }

    /// Linux: try_to_compact_pages(): compacts each zone of `node` an allocation of
    /// `mt` may use, best first, until one succeeds. Deferred zones are skipped (except
    /// at the minimum priority); sync runs that end without success defer the zone.
    /// Returns the overall status (the maximum, as Linux takes it) and each zone's result.
    public static func tryToCompactPages(machine: Machine, node: Int, order: Int, _ mt: MigrateType,
                                         priority: Priority, migrator: Migrator? = nil) -> (CompactStatus, [CompactResult]) {
        var rc = CompactStatus.skipped
        var results: [CompactResult] = []
        for zone in machine.phys.nodes[node].zonelist(mt) {
            if priority != .min, compactionDeferred(zone, order: order) {
                rc = max(rc, .deferred)
                results.append(CompactResult(node: zone.node, zone: zone.name, status: .deferred, migratePFN: 0, freePFN: 0,
                                             pagesMigrated: 0, pagesFailed: 0, migrateScanned: 0, freeScanned: 0, pagesIsolated: 0))
                continue
            }
            let r = compactZoneOrder(machine: machine, zone: zone, order: order, mt, priority: priority, migrator: migrator)
            results.append(r)
            rc = max(rc, r.status)
            if r.status == .success {
                compactionDeferReset(zone, order: order, allocSuccess: false)
                break
            }
            if priority != .async, r.status == .complete || r.status == .partialSkipped {
                deferCompaction(zone, order: order)
            }
        }
        return (rc, results)
    }

    /// What an allocation through the slow path did.
    public struct AllocOutcome: Sendable {
        /// The head page (refcount 1), or nil: the allocation failed.
        public var pfn: PFN?
        /// Direct compaction rounds that ran (each counted as compact_stall).
        public var stalls = 0
        public var results: [CompactResult] = []
    }

    /// An allocation of 2^order pages on `node` only (Linux: alloc_pages_node with
    /// __GFP_THISNODE, through __alloc_pages_slowpath): the fast path; on failure of
    /// an order > 0 request, kcompactd is woken and direct compaction runs async, then
    /// sync-light, each followed by a retry of the allocation (Linux:
    /// __alloc_pages_direct_compact counts compact_stall, then compact_success or
    /// compact_fail). Reclaim, which Linux tries between the two, does not exist here.
    public static func allocPages(machine: Machine, node: Int, order: Int, _ mt: MigrateType,
                                  migrator: Migrator? = nil) -> AllocOutcome {
        let phys = machine.phys
        var out = AllocOutcome()
        if let p = phys.allocPages(node: node, order: order, mt, fallback: false) { out.pfn = p; return out }
        guard order > 0 else { return out }
        // The model has no kswapd; its reset_isolation_suitable (run when kswapd goes
        // to sleep) happens here: skip hints go after a full direct pass.
        for zone in phys.nodes[node].zones { resetIsolationSuitable(zone) }
        wakeupKcompactd(machine: machine, node: node, order: order)
        for priority in [Priority.async, .syncLight] {
            let (rc, results) = tryToCompactPages(machine: machine, node: node, order: order, mt, priority: priority, migrator: migrator)
            out.results += results
            if rc == .skipped { continue }
            machine.vmstat.add(.compactStall)
            out.stalls += 1
            if let p = phys.allocPages(node: node, order: order, mt, fallback: false) {
                let zone = phys.zoneOf(p)
                zone.withCompactState { $0.blockskipFlush = false }
                compactionDeferReset(zone, order: order, allocSuccess: true)
                machine.vmstat.add(.compactSuccess)
                out.pfn = p
                return out
            }
            machine.vmstat.add(.compactFail)
        }
        return out
    }
}
