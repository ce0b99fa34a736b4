// The OOM killer (Linux: mm/oom_kill.c out_of_memory, select_bad_process,
// oom_badness, oom_kill_process): a fault that finds no free page, with policy
// oom=kill (the default, as Linux), picks the process with the highest badness — its
// resident pages plus its page tables, shifted by oom_score_adj in thousandths of
// memory — kills it (its exit runs and frees its memory; vmstat oom_kill) and the
// fault is retried. With oom=enomem the fault fails with ENOMEM instead (the model's
// behaviour before the OOM killer existed).
//
// Differences from Linux, on purpose: the victim's exit runs synchronously in the
// faulting thread, which holds no lock then (Linux signals the victim and lets the
// oom_reaper free its memory); there is no oom_lock, so two threads out of memory at
// once may each kill a victim.

import MMPhysical
import MMSync

/// What a fault with no free page does (`policy oom=…`).
public enum OOMPolicy: Int, Sendable, CaseIterable {
    /// Linux: run the OOM killer, then retry the fault.
    case kill
    /// Fail the fault with ENOMEM.
    case enomem
}

/// One process killed by the OOM killer.
public struct OOMKill: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let pid: Int
    /// Resident pages and page tables when chosen, and its oom_score_adj.
    public let rssPages: Int
    public let pageTables: Int
    public let oomScoreAdj: Int
    /// The badness it was chosen with.
    public let points: Int
    /// The process whose fault found no memory.
    public let requester: String
    public var description: String {
        "Out of memory: killed process \(pid) (\(name)) rss \(rssPages) pages, \(pageTables) page tables, "
            + "oom_score_adj \(oomScoreAdj), points \(points); fault by \(requester)"
    }
}

/// How `outOfMemory` ended.
enum OOMOutcome: Equatable {
    /// Another process was killed: its memory is free, retry.
    case killedOther
    /// The faulting process itself was chosen and killed: its fault fails.
    case killedRequester
    /// Nothing could be killed (every candidate has oom_score_adj -1000).
    case noVictim
}

extension Machine {
    /// Kills before a fault gives up with ENOMEM (each kill frees a whole process).
    static let oomRetryLimit = 64
    /// Linux: OOM_SCORE_ADJ_MIN — never chosen.
    public static let oomScoreAdjMin = -1000

    /// What a fault with no free page does (set at a quiet point).
    public var oomPolicy: OOMPolicy {
        get { OOMPolicy(rawValue: oomPolicyRaw.load(ordering: .relaxed)) ?? .kill }
        set { oomPolicyRaw.store(newValue.rawValue, ordering: .relaxed) }
    }

    /// Processes killed by the OOM killer so far, in order.
    public var oomKills: [OOMKill] { oomLock.withLock { oomKillLog } }

    /// Linux: oom_badness(): resident pages plus page tables (in pages), plus
    /// oom_score_adj thousandths of all memory; nil for a process never to be killed.
    func oomBadness(_ p: Process) -> (points: Int, rss: Int, tables: Int)? {
        guard p.oomScoreAdj != Self.oomScoreAdjMin, !p.mm.isDead else { return nil }
        let tables = p.mm.pageTable.allTables()
        var rss = 0
        for t in tables {
            t.ptl.lock()
            var a = t.base
            for _ in 0..<PteTable.entries {
                if t[a].isPresent { rss += 1 }
                a += 4096
            }
            t.ptl.unlock()
        }
        let adj = p.oomScoreAdj * config.totalPages / 1000
        return (rss + tables.count + adj, rss, tables.count)
    }

    /// Linux: out_of_memory() → select_bad_process() → oom_kill_process(). Called by a
    /// fault of `requester` that found no free page, with no lock held.
    func outOfMemory(requester: MM) -> OOMOutcome {
        // Linux: select_bad_process walks every process; a later one with equal
        // points replaces the chosen one (oom_evaluate_task keeps ties going).
        var chosen: (p: Process, points: Int, rss: Int, tables: Int)?
        for p in allProcesses {
            guard let b = oomBadness(p) else { continue }
            if chosen == nil || b.points >= chosen!.points { chosen = (p, b.points, b.rss, b.tables) }
        }
        guard let victim = chosen else { return .noVictim }
        let requesterName = allProcesses.first { $0.mm === requester }?.name ?? requester.ownerName
        let record = OOMKill(name: victim.p.name, pid: victim.p.pid, rssPages: victim.rss, pageTables: victim.tables,
                             oomScoreAdj: victim.p.oomScoreAdj, points: victim.points, requester: requesterName)
        Sched.note("\(record)")
        // Its exit frees its memory (or it raced with its own exit: freed all the same).
        if (try? exit(victim.p.name)) != nil {
            oomLock.withLock { oomKillLog.append(record) }
            vmstat.add(.oomKill)
        }
        return victim.p.mm === requester ? .killedRequester : .killedOther
    }
}
