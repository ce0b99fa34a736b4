// Engine details that decide replays and coverage: failed pages go back to the LRU in
// the caller's order (not a hash order that changes per process).

import Testing
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck

@Suite struct EnginePathTests {
    @Test func failedPagesArePutBackInTheCallersOrder() throws {
        for trial in 0..<4 {
            let m = makeMachine()
            let a = try makeProcess(m, "A", pages: 6)
            let frames = try (0..<6).map { try frame(m, a, page($0)) }
            for i in 0..<6 { try m.pinUserPage(a.mm, page(i)) }   // every migration fails
            let order = trial % 2 == 0 ? frames : frames.reversed()
            for p in order { try #require(m.phys.lruOf(p).isolate(p)) }
            let r = Migrator(m).migratePages(Array(order), allocate: onNode(m, 1), mode: .async,
                                             reason: .compaction, context: .kernel)
            #expect(r.notMigrated == 6)
            // putback pushes each to the front: the list reads the caller's order reversed.
            #expect(m.phys.lrus[0].snapshot() == Array(order.reversed()), "trial \(trial)")
            for i in 0..<6 { try m.unpinUserPage(a.mm, page(i)) }
            #expect(Checker.check(m).isEmpty)
        }
    }
}
