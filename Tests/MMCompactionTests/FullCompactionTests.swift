// Full compaction (compact_memory) of an alternately fragmented machine.

import MMCheck
import MMCompaction
import MMPhysical
import MMSpace
import Testing

@Suite struct FullCompactionTests {
    @Test func alternateFragmentationOfOneGiBIsUndone() throws {
        let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: TestSize.fullCompactionBytes, content: .full))
        let n = m.phys.freePages(node: 0)
        let p = try fragmentAlternately(m, pages: n)
        let free = m.phys.freePages(node: 0)
        #expect(free == n / 2)
        #expect(order9Blocks(m) == 0, "fragmented: no free order-9 block before")
        let results = Compaction.compactMemory(machine: m)
        #expect(results.count == 1 && results[0].status == .complete)
        let want = free / 512
        let got = order9Blocks(m)
        #expect(got * 100 >= want * 95, "order-9 blocks after: \(got) of \(want) possible; \(results)")
        print("full compaction of \(n) pages: \(results[0].pagesMigrated) migrated, \(results[0].migrateScanned) + \(results[0].freeScanned) scanned, order-9 blocks \(got) of \(want)")
        #expect(results[0].pagesMigrated > 0 && Int(m.vmstat[.compactMigrateScanned]) == results[0].migrateScanned)
        #expect(m.vmstat[.pgmigrateSuccess] == Int64(results[0].pagesMigrated))
        #expect(m.vmstat[.migrateReasonCompaction] == Int64(results[0].pagesMigrated))
        try readAll(m, p, pages: n)
        expectClean(m, "after full compaction")
        #expect(m.phys.freePages(node: 0) == free, "no page lost or leaked")
    }
}
