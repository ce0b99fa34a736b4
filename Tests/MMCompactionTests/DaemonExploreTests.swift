// The scheduling runtime's daemon pieces under the explorer: model time, timed waits,
// stop, and the yield hint — and kcompactd as a model thread in an explored scenario.

import MMCompaction
import MMExplore
import MMScenario
import MMSync
import Synchronization
import Testing

@Suite struct DaemonExploreTests {
    @Test func timedWaitsAdvanceModelTimeOnlyWhenNothingElseRuns() {
        let explorer = Explorer()
        defer { explorer.shutdown() }
        for seed: UInt64 in 1...20 {
            let outcome = explorer.runExecution(strategy: RandomStrategy(seed: seed)) {
                let ticks = Atomic<Int>(0)
                let q = ModelWaitQueue("test")
                let start = Sched.nowNs()
                let d = ModelDaemon(name: "ticker", waitQueue: q) { d in
                    while !d.shouldStop {
                        if !q.wait(timeoutNs: 500_000_000, until: { d.shouldStop }) { ticks.wrappingAdd(1, ordering: .relaxed) }
                    }
                }
                // The main thread only polls: its yields let the ticker run, but model
                // time stands still while main is runnable.
                for _ in 0..<5 { Sched.yieldHint("poll") }
                let mid = Sched.nowNs()
                d.stop()
                var found: [Violation] = []
                if mid != start { found.append(Violation(.accounting, "seed \(seed): model time moved while main could run")) }
                if ticks.load(ordering: .relaxed) != 0 { found.append(Violation(.accounting, "seed \(seed): a timeout fired early")) }
                return found
            }
            #expect(outcome.violations.isEmpty && outcome.error == nil, "seed \(seed): \(outcome.violations)")
        }
    }

    @Test func aSleepingMainLetsTheDaemonTimeOut() {
        let explorer = Explorer()
        defer { explorer.shutdown() }
        let outcome = explorer.runExecution(strategy: RandomStrategy(seed: 3)) {
            let ticks = Atomic<Int>(0)
            let q = ModelWaitQueue("ticker")
            let d = ModelDaemon(name: "ticker", waitQueue: q) { d in
                while !d.shouldStop {
                    if !q.wait(timeoutNs: 500_000_000, until: { d.shouldStop }) { ticks.wrappingAdd(1, ordering: .relaxed) }
                }
            }
            // Main sleeps 2.2 s of model time: the ticker times out at 0.5, 1.0, 1.5, 2.0 s.
            let sleep = ModelWaitQueue("main")
            _ = sleep.wait(timeoutNs: 2_200_000_000, until: { false })
            let now = Sched.nowNs()
            d.stop()
            let t = ticks.load(ordering: .relaxed)
            return t == 4 && now == 2_200_000_000 ? [] : [Violation(.accounting, "ticks \(t) at \(now) ns")]
        }
        #expect(outcome.violations.isEmpty && outcome.error == nil, "\(outcome.violations)")
    }

    @Test func kcompactdRunsUnderExplore() throws {
        let scenario = try ScenarioParser.parse(text: """
        machine nodes=1 node_mem=8M kcompactd=on content=stamp
        process A
        mmap A 0x10000000 4M
        touch A 0x10000000 4M
        thread T1 {
          alloc node=0 order=9 count=1 movable
        }
        thread T2 {
          exit A
        }
        verify
        """, file: "k.mm")
        let opts = ExploreOptions(strategy: .random, schedules: 30, seed: 5)
        let r = try MMExplore.explore(options: opts, makeBody: { ScenarioRunner.explorationBody(scenario, options: RunOptions()) })
        #expect(r.failingSchedules == 0, "\(r.summary)")
    }
}
