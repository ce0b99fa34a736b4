// The other MMSync primitives under the explorer, and the explore driver's reporting.

import MMExplore
import MMSync
import Testing

extension ExploreTests {
    @Suite struct Driver {
        @Test func lostWakeUpIsADeadlock() throws {
            let ok = try explore(options: ExploreOptions(strategy: .dfs, schedules: 1000, preemptionBound: 2)) {
                Toy.waitQueue(forgetWake: false)
            }
            #expect(ok.coverageComplete && ok.failingSchedules == 0, "\(ok.summary)")
            let lost = try explore(options: ExploreOptions(strategy: .dfs, schedules: 1000, preemptionBound: 2)) {
                Toy.waitQueue(forgetWake: true)
            }
            let v = try #require(lost.firstFailure?.violations.first, "\(lost.summary)")
            #expect(v.kind == .deadlock)
            #expect(v.message.contains("waiter: wait on page lock of pfn 7"), "\(v.message)")
        }

        @Test func readWriteLockExcludesWriters() throws {
            let r = try explore(options: ExploreOptions(strategy: .dfs, schedules: 100_000, preemptionBound: 2)) {
                Toy.readersWriter()
            }
            #expect(r.coverageComplete && r.failingSchedules == 0, "\(r.summary)")
            print("dfs bound 2, two readers and a writer: \(r.schedulesRun) schedules")
        }

        @Test func progressAndSummary() throws {
            nonisolated(unsafe) var calls: [ExploreProgress] = []
            let r = try explore(options: ExploreOptions(strategy: .random, schedules: 300, seed: 5, keepGoing: true,
                                                        progressInterval: 0)) {
                Toy.lostUpdate(locked: false)
            } progress: { calls.append($0) }
            #expect(r.schedulesRun == 300 && r.stop == .scheduleLimit)
            #expect(calls.count >= 2 && calls.last?.schedulesRun == 300)
            #expect(calls.last?.failingSchedules == r.failingSchedules)
            #expect(r.schedulesPerSecond > 0 && r.totalSteps >= 300 * 5)
            #expect(r.violations.count == 1 && r.violations[0].count == r.failingSchedules)
            #expect(try ScheduleToken(decoding: r.violations[0].firstToken).executionIndex
                    == UInt64(r.firstFailureSchedule! - 1))
            #expect(r.summary.contains("lost-write: counter is 1, expected 2"))
            print(r.summary)
        }

        @Test func abandonedThreadLimitStopsExploration() throws {
            let r = try explore(options: ExploreOptions(strategy: .random, schedules: 1000, seed: 1, keepGoing: true,
                                                        maxAbandonedThreads: 9)) { Toy.abba() }
            guard case .tooManyAbandonedThreads(let n) = r.stop else {
                Issue.record("seed 1: expected the abandoned-thread limit, got \(r.stop)"); return
            }
            #expect(n >= 9 && r.failingSchedules >= 3)
        }
    }
}
