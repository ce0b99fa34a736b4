// The explorer's thread cap holds within an execution (issue: a single execution
// reached 2,824 threads with a cap of 2,000): an execution that needs more threads than
// the cap allows ends with a thread-limit error, nothing traps, and the explorer goes
// on with the next execution.

import Testing
import MMExplore
import MMSync

@Suite struct ThreadCapTests {
    /// A body that starts `n` threads at once.
    static func wide(_ n: Int) -> @Sendable () -> [Violation] {
        { ModelThreads.runConcurrently((0..<n).map { i in (name: "W\(i)", body: { Sched.point("w\(i)") }) }); return [] }
    }

    @Test func anExecutionOverTheCapEndsWithAThreadLimitError() {
        let explorer = Explorer(recordTrace: false)
        defer { explorer.shutdown() }
        explorer.threadCap = 5   // main + 4
        let over = explorer.runExecution(strategy: RandomStrategy(seed: 1), body: Self.wide(8))
        guard case .threadLimit(let why)? = over.error else {
            Issue.record("expected a thread-limit error, got \(String(describing: over.error))")
            return
        }
        #expect(why.contains("cap of 5"), "\(why)")
        #expect(over.abandonedThreads == 1, "only main was started and is left parked: \(over.abandonedThreads)")
        // The explorer is still usable: an execution within the cap (1 parked + 4) runs clean.
        let within = explorer.runExecution(strategy: RandomStrategy(seed: 1), body: Self.wide(3))
        #expect(within.isClean, "\(String(describing: within.error)) \(within.violations)")
        // Through `explore`: the stop names the limit and the run does not trap.
        var options = ExploreOptions(strategy: .random, schedules: 5, seed: 1)
        options.maxAbandonedThreads = 4
        let report = try? explore(options: options, makeBody: { Self.wide(6) })
        guard case .strategyError(.threadLimit)? = report?.stop else {
            Issue.record("explore stop: \(String(describing: report?.stop))")
            return
        }
    }
}
