// Compaction migrates each isolated list as one batch (Linux 6.3+ migrate_pages_batch):
// the batched engine must move exactly the pages the page-at-a-time engine moves, leave
// the same free memory behind, and lose nothing.

import MMCheck
import MMMigrate
import MMPhysical
import MMSpace
import Testing
@testable import MMCompaction

@Suite struct BatchedCompactionTests {
    @Test func compactionRunsTheBatchedEngine() {
        let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: 16 << 20, content: .stamp))
        #expect(CompactControl.defaultMigrator(m).batchSize == Migrator.maxBatch)
    }

    /// One full compaction of an alternately fragmented machine with the given engine.
    private func compactFragmented(batch: Int?) throws -> (results: [CompactResult], freeBlocks: [Int], m: Machine) {
        let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: 64 << 20, content: .full))
        let n = m.phys.freePages(node: 0)
        let p = try fragmentAlternately(m, pages: n)
        var mig: Migrator? = nil
        if let batch { var e = Migrator(m); e.batchSize = batch; mig = e }
        let results = Compaction.compactMemory(machine: m, migrator: mig)
        try readAll(m, p, pages: n)
        expectClean(m, "after compaction with batch \(batch.map(String.init) ?? "default")")
        let zone = m.phys.nodes[0].zones[0]
        return (results, zone.freeBlockCounts(), m)
    }

    @Test func batchedAndPageAtATimeCompactionAgree() throws {
        let one = try compactFragmented(batch: 1)
        let batched = try compactFragmented(batch: nil)
        #expect(batched.results == one.results, "batched \(batched.results) vs page-at-a-time \(one.results)")
        #expect(batched.freeBlocks == one.freeBlocks, "free blocks per order: batched \(batched.freeBlocks), page-at-a-time \(one.freeBlocks)")
        #expect(one.results.first.map { $0.pagesMigrated > 1000 } == true, "the machine was compacted: \(one.results)")
        #expect(batched.m.vmstat[.pgmigrateSuccess] == one.m.vmstat[.pgmigrateSuccess])
    }
}
