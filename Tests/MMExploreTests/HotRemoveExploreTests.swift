// Hot-remove under the explorer: offline racing the owner's exit (examples/offline-exit-race.mm).

import MMExplore
import MMScenario
import MMSpace
import MMSync
import Testing

private func exploreExitRace(pin: AnonVmaPinPolicy) throws -> ExploreReport {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    let scenario = try ScenarioParser.parse(path: parts.joined(separator: "/") + "/examples/offline-exit-race.mm")
    var o = RunOptions()
    o.pinPolicy = pin
    let opts = ExploreOptions(strategy: .dfs, schedules: 100_000, seed: 1, depth: 2, preemptionBound: 2, keepGoing: false)
    return try MMExplore.explore(options: opts, makeBody: { ScenarioRunner.explorationBody(scenario, options: o) })
}

@Suite struct HotRemoveExploreTests {
    @Test func offlineRacingExitIsCleanWithRefcountPins() throws {
        let r = try exploreExitRace(pin: .refcount)
        #expect(r.violations.isEmpty, "\(r.summary)")
        #expect(r.coverageComplete, "DFS did not cover the space: \(r.summary)")
    }

    @Test func offlineRacingExitFindsTheUseAfterFreeWithoutPins() throws {
        let r = try exploreExitRace(pin: .none)
        #expect(Set(r.violations.map(\.violation.kind)) == [.useAfterFree], "\(r.summary)")
    }
}
