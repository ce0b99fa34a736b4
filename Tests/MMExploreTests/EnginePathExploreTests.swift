// The engine paths a scenario now reaches, under the explorer: two async / sync-light
// batched kernel migrators of the same pages (the async trylock path: a page another
// migrator holds is -EAGAIN, never waited for) racing the owner's exit.

import MMExplore
import MMScenario
import MMSpace
import MMSync
import Testing

extension ExploreTests.Scenarios {
    static let asyncBatches = """
    machine nodes=2 node_mem=8M block=4M
    process A
    mmap A 0x10000000 8K
    touch A 0x10000000 8K
    thread T1 {
      migrate_kernel A 0x10000000 8K node=1 mode=async batch=2
    }
    thread T2 {
      migrate_kernel A 0x10000000 8K node=1 mode=sync-light batch=2
    }
    thread T3 {
      exit A
    }
    verify
    """

    @Test func asyncAndSyncLightBatchesAgainstExit() throws {
        let scenario = try ScenarioParser.parse(text: Self.asyncBatches, file: "async-batches")
        for (pin, clean) in [(AnonVmaPinPolicy.refcount, true), (AnonVmaPinPolicy.none, false)] {
            var o = RunOptions()
            o.pinPolicy = pin
            let r = try explore(options: ExploreOptions(strategy: .dfs, schedules: 20_000, preemptionBound: 1),
                                makeBody: { ScenarioRunner.explorationBody(scenario, options: o) })
            if clean {
                #expect(r.coverageComplete && r.failingSchedules == 0, "\(pin): \(r.summary)")
            } else {
                #expect(r.violations.contains { $0.violation.kind == .useAfterFree }, "\(pin): \(r.summary)")
            }
        }
    }
}
