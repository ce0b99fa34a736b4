// Throughput figures for the explorer (printed; meaningful in `swift test -c release`).

import MMExplore
import MMSync
import Testing

/// Always runs the lowest-id runnable thread other than the current one: every
/// scheduling point with two runnable threads is a context switch.
final class RoundRobinStrategy: SchedulingStrategy {
    let switchEveryTime: Bool
    init(switchEveryTime: Bool) { self.switchEveryTime = switchEveryTime }
    var descriptor: StrategyDescriptor { StrategyDescriptor(kind: .random, seed: 0) }
    var executionIndex: UInt64 { 0 }
    var isExhausted: Bool { false }
    func startExecution() {}
    func chooseNext(runnable: [Int], current: Int?, step: Int) throws(ScheduleError) -> Int {
        if !switchEveryTime, let current, runnable.contains(current) { return current }
        return runnable.first { $0 != current } ?? runnable[0]
    }
    func nextRandom() -> UInt64 { 0 }
    func endExecution(steps: Int) throws(ScheduleError) {}
}

extension ExploreTests {
    @Suite struct Measure {
        static let iterations = 20_000

        static func pingPong() -> @Sendable () -> [Violation] {
            {
                let loop: @Sendable () -> Void = { for _ in 0..<iterations { Sched.point("yield") } }
                ModelThreads.runConcurrently([("T1", loop), ("T2", loop)])
                return []
            }
        }

        @Test func costPerSchedulingPoint() {
            for trace in [false, true] {
                let explorer = Explorer(recordTrace: trace)
                defer { explorer.shutdown() }
                for switching in [true, false] {
                    let clock = ContinuousClock()
                    let start = clock.now
                    let o = explorer.runExecution(strategy: RoundRobinStrategy(switchEveryTime: switching),
                                                  maxSteps: 1_000_000, body: Self.pingPong())
                    let elapsed = (clock.now - start).components
                    let ns = (Double(elapsed.seconds) * 1e9 + Double(elapsed.attoseconds) / 1e9) / Double(o.steps)
                    #expect(o.isClean && o.steps >= 2 * Self.iterations)
                    print("scheduling point, \(switching ? "switching every time" : "no switch"), trace \(trace ? "on" : "off"): "
                          + "\((ns / 10).rounded() / 100) µs (\(o.steps) steps)")
                }
            }
        }

        @Test(arguments: [StrategyKind.random, .pct, .dfs])
        func schedulesPerSecondOnLostUpdate(kind: StrategyKind) throws {
            for trace in [false, true] {
                let r = try explore(options: ExploreOptions(strategy: kind, schedules: 5000, seed: 1, depth: 2,
                                                            preemptionBound: 1000, keepGoing: true, recordTrace: trace)) {
                    Toy.lostUpdate(locked: false)
                }
                let steps = Double(r.totalSteps) / Double(max(1, r.schedulesRun))
                print("lost update, \(kind), trace \(trace ? "on" : "off"): \(r.schedulesRun) schedules, "
                      + "\(Int(r.schedulesPerSecond)) schedules/s, \(steps) steps/schedule, "
                      + "\(r.failingSchedules) failing, first at \(r.firstFailureSchedule ?? -1)")
                #expect(r.failingSchedules > 0)
            }
        }
    }
}
