// kcompactd: proactive compaction down to the low mark, then sleep; off at proactiveness 0.

import MMCompaction
import MMPhysical
import MMSpace
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct KcompactdTests {
    /// Polls `done` at most `rounds` times, 5 ms apart (bounded: no test waits on time).
    func waitFor(rounds: Int, _ done: () -> Bool) -> Bool {
        for _ in 0..<rounds { if done() { return true }; usleep(5_000) }
        return done()
    }

    @Test func proactivenessTwentyBringsTheScoreToEightyAndSleeps() throws {
        let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: 64 << 20, content: .stamp))
        let n = m.phys.freePages(node: 0)
        let p = try fragmentAlternately(m, pages: n)
        #expect(Compaction.fragmentationScore(machine: m, node: 0) > 90)
        let k = Kcompactd(machine: m, intervalNs: 5_000_000)
        let reached = waitFor(rounds: 4000) { k.proactiveRounds >= 1 && Compaction.fragmentationScore(machine: m, node: 0) <= 80 }
        #expect(reached, "score \(Compaction.fragmentationScore(machine: m, node: 0)) after \(k.proactiveRounds) rounds")
        let scanned = m.vmstat[.compactDaemonMigrateScanned]
        #expect(scanned > 0)
        let rounds = k.proactiveRounds
        usleep(100_000)   // 20 intervals: below the high mark nothing more happens
        #expect(m.vmstat[.compactDaemonMigrateScanned] == scanned && k.proactiveRounds == rounds)
        k.stop()
        try readAll(m, p, pages: n)
        expectClean(m, "after kcompactd")
    }

    @Test func proactivenessZeroNeverCompacts() throws {
        let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: 16 << 20, content: .stamp))
        try fragmentAlternately(m)
        m.phys.sysctl.set(.compactionProactiveness, 0)
        let k = Kcompactd(machine: m, intervalNs: 1_000_000)
        usleep(50_000)
        k.stop()
        #expect(k.proactiveRounds == 0 && m.vmstat[.compactDaemonMigrateScanned] == 0)
        #expect(Compaction.fragmentationScore(machine: m, node: 0) > 90)
    }

    @Test func anAllocationFailureWakesKcompactd() throws {
        let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: 16 << 20, content: .stamp))
        try fragmentAlternately(m)
        m.phys.sysctl.set(.compactionProactiveness, 0)
        let k = Kcompactd(machine: m)
        #expect(waitFor(rounds: 1000) { m.phys.nodes[0].kcompactdWait.hasSleeper })
        Compaction.wakeupKcompactd(machine: m, node: 0, order: 9)
        #expect(waitFor(rounds: 4000) { m.vmstat[.compactDaemonWake] >= 1 && m.phys.nodes[0].kcompactdMaxOrder.load(ordering: .acquiring) == 0 })
        k.stop()
        #expect(m.vmstat[.compactDaemonMigrateScanned] > 0)
        expectClean(m, "after kcompactd woken")
    }
}
