// Each strategy finds the lost update and the AB-BA deadlock; DFS covers bounded spaces.

import MMExplore
import MMSync
import Testing

extension ExploreTests {
    @Suite struct Strategies {
        @Test func randomFindsLostUpdate() throws {
            let seed: UInt64 = 1
            let r = try explore(options: ExploreOptions(strategy: .random, schedules: 100, seed: seed)) {
                Toy.lostUpdate(locked: false)
            }
            #expect(r.stop == .violationFound, "seed \(seed): \(r.summary)")
            #expect(r.violations.first?.violation.kind == .lostWrite, "seed \(seed)")
            #expect((r.firstFailureSchedule ?? 999) <= 100, "seed \(seed)")
        }

        @Test(arguments: [UInt64(1), 2, 3, 42])
        func pctDepth2FindsLostUpdate(seed: UInt64) throws {
            let r = try explore(options: ExploreOptions(strategy: .pct, schedules: 200, seed: seed, depth: 2)) {
                Toy.lostUpdate(locked: false)
            }
            #expect(r.stop == .violationFound, "seed \(seed): \(r.summary)")
            #expect(r.firstFailure?.violations.first?.kind == .lostWrite, "seed \(seed)")
        }

        @Test func pctDepth1NeverPreempts() throws {
            // d = 1: no change point, a thread runs until it blocks or ends: no lost update.
            let r = try explore(options: ExploreOptions(strategy: .pct, schedules: 50, seed: 7, depth: 1)) {
                Toy.lostUpdate(locked: false)
            }
            #expect(r.stop == .scheduleLimit, "seed 7: \(r.summary)")
        }

        @Test func dfsBound0CoversWithoutPreemptingAndFindsNothing() throws {
            let r = try explore(options: ExploreOptions(strategy: .dfs, schedules: 1000, preemptionBound: 0)) {
                Toy.lostUpdate(locked: false)
            }
            #expect(r.coverageComplete)
            #expect(r.failingSchedules == 0)
            #expect(r.schedulesRun == 2)   // T1 first or T2 first
        }

        @Test func dfsBound1FindsLostUpdate() throws {
            let r = try explore(options: ExploreOptions(strategy: .dfs, schedules: 1000, preemptionBound: 1)) {
                Toy.lostUpdate(locked: false)
            }
            #expect(r.stop == .violationFound, "\(r.summary)")
            #expect(r.firstFailure?.violations == [Violation(.lostWrite, "counter is 1, expected 2")])
        }

        @Test func dfsExhaustsLockedCounterWithoutViolation() throws {
            var counts: [Int] = []
            for bound in 0...3 {
                let r = try explore(options: ExploreOptions(strategy: .dfs, schedules: 100_000, preemptionBound: bound,
                                                            keepGoing: true)) {
                    Toy.lostUpdate(locked: true)
                }
                #expect(r.coverageComplete, "bound \(bound): \(r.summary)")
                #expect(r.failingSchedules == 0, "bound \(bound): \(r.summary)")
                counts.append(r.schedulesRun)
            }
            print("dfs, locked counter: schedules to exhaust with preemption bound 0…3: \(counts)")
            #expect(counts == counts.sorted() && counts[0] >= 2)
            // The count is a property of the model, not of the run.
            let again = try explore(options: ExploreOptions(strategy: .dfs, schedules: 100_000, preemptionBound: 2)) {
                Toy.lostUpdate(locked: true)
            }
            #expect(again.schedulesRun == counts[2])
        }

        @Test func dfsKeepGoingCountsEveryFailingSchedule() throws {
            let r = try explore(options: ExploreOptions(strategy: .dfs, schedules: 1000, preemptionBound: 2,
                                                        keepGoing: true)) {
                Toy.lostUpdate(locked: false)
            }
            #expect(r.coverageComplete)
            #expect(r.failingSchedules > 0 && r.failingSchedules < r.schedulesRun, "\(r.summary)")
            #expect(r.violations.count == 1 && r.violations[0].count == r.failingSchedules)
        }

        @Test(arguments: [StrategyKind.random, .pct, .dfs])
        func abbaDeadlockIsReportedWithEveryThread(kind: StrategyKind) throws {
            let seed: UInt64 = 3
            let r = try explore(options: ExploreOptions(strategy: kind, schedules: 500, seed: seed, depth: 2,
                                                        preemptionBound: 1)) { Toy.abba() }
            #expect(r.stop == .violationFound, "\(kind) seed \(seed): \(r.summary)")
            let f = try #require(r.firstFailure, "\(kind) seed \(seed)")
            let v = try #require(f.violations.first)
            #expect(v.kind == .deadlock)
            // Both threads, each with the lock it waits for, and main waiting to join them.
            for part in ["T1: wait for B", "T2: wait for A", "main: join T1, T2"] {
                #expect(v.message.contains(part), "\(kind) seed \(seed): \(v.message)")
            }
            #expect(f.abandonedThreads == 3)
            #expect(formatTrace(f.trace).contains("[blocked] wait for"))
        }

        @Test func stepBoundEndsALivelock() throws {
            let explorer = Explorer()
            defer { explorer.shutdown() }
            let o = explorer.runExecution(strategy: RandomStrategy(seed: 5), maxSteps: 1000, body: Toy.spinner())
            #expect(o.steps == 1000)
            #expect(o.violations.count == 1)
            #expect(o.violations.first?.kind == .deadlock)
            #expect(o.violations.first?.message.hasPrefix("step bound exceeded (livelock?)") == true)
            #expect(o.violations.first?.message.contains("spinner: runnable") == true)
            #expect(o.abandonedThreads == 2)
            // The explorer is still usable afterwards.
            let clean = explorer.runExecution(strategy: RandomStrategy(seed: 5), body: Toy.lostUpdate(locked: true))
            #expect(clean.isClean)
            #expect(explorer.abandonedThreads == 2)
        }

        @Test func nestedThreadsAndModelRandomness() throws {
            let r = try explore(options: ExploreOptions(strategy: .random, schedules: 200, seed: 11)) { Toy.nested() }
            #expect(r.stop == .scheduleLimit, "seed 11: \(r.summary)")
            let d = try explore(options: ExploreOptions(strategy: .dfs, schedules: 20_000, preemptionBound: 1)) {
                Toy.nested()
            }
            #expect(d.coverageComplete && d.failingSchedules == 0, "\(d.summary)")
        }

        @Test func badOptionsAreRefused() {
            #expect(throws: ExploreOptionsError.self) {
                _ = try explore(options: ExploreOptions(strategy: .pct, depth: 0)) { Toy.single() }
            }
            #expect(throws: ExploreOptionsError.self) {
                _ = try explore(options: ExploreOptions(strategy: .dfs, preemptionBound: -1)) { Toy.single() }
            }
            #expect(throws: ExploreOptionsError.self) {
                _ = try explore(options: ExploreOptions(maxSteps: 0)) { Toy.single() }
            }
            #expect(StrategyKind(name: "PCT") == .pct && StrategyKind(name: "bfs") == nil)
        }
    }
}
