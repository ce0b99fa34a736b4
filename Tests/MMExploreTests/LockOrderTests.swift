// The lock-order checker: an inversion is reported under exploration even when the
// schedule did not deadlock; trylocks and same-rank nesting are allowed.

import MMExplore
import MMSync
import Testing

private final class Locks: @unchecked Sendable {
    let zone = ModelMutex("zone", rank: .zone)
    let anon = ModelMutex("anon_vma", rank: .anonVma)
    let ptlA = ModelMutex("ptl", rank: .pageTable)
    let ptlB = ModelMutex("ptl", rank: .pageTable)
}

private func run(_ body: @escaping @Sendable (Locks) -> Void) throws -> ExploreReport {
    try explore(options: ExploreOptions(strategy: .dfs, schedules: 100, preemptionBound: 1)) {
        let l = Locks()
        return { body(l); return [] }
    }
}

extension ExploreTests {
    @Suite struct LockOrder {
        @Test func inversionIsReportedWithoutADeadlock() throws {
            let r = try run { l in
                l.zone.lock()
                l.anon.lock()   // anon_vma comes before zone->lock
                l.anon.unlock()
                l.zone.unlock()
            }
            let v = try #require(r.firstFailure?.violations.first, "\(r.summary)")
            #expect(v.kind == .lockOrder)
            #expect(v.message.contains("takes anon_vma while holding zone->lock"), "\(v.message)")
        }

        @Test func orderedNestingTrylockAndSameRankAreFine() throws {
            let r = try run { l in
                l.anon.lock()
                l.ptlA.lock()
                l.ptlB.lock()          // same rank: mremap's source then target ptl
                l.zone.lock()
                l.ptlB.unlock()
                l.ptlA.unlock()
                if l.anon.tryLock() { l.anon.unlock() }   // cannot succeed (held): no report either way
                l.zone.unlock()
                l.anon.unlock()
                l.zone.lock()
                if l.ptlA.tryLock() { l.ptlA.unlock() }   // trylock may invert: never deadlocks
                l.zone.unlock()
            }
            #expect(r.failingSchedules == 0 && r.coverageComplete, "\(r.summary)")
        }
    }
}
