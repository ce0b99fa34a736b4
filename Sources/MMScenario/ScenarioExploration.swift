// Scenario files under the explorer: each execution boots a fresh machine, runs the
// scenario with its thread blocks as model threads, and returns what the checker and
// the scenario's `verify` statements found.

import MMCheck
import MMExplore
import MMSpace
import MMSync

extension ScenarioRunner {
    /// The body of one exploration execution of `scenario` (validated beforehand):
    /// a fresh runner and machine, every statement, then the full checker.
    public static func explorationBody(_ scenario: Scenario, options: RunOptions) -> @Sendable () -> [Violation] {
        return {
            var opts = options
            let verifyFound = ViolationCollector()
            opts.onResult = { r in if let v = r.violations { verifyFound.add(v) } }
            opts.onMigrationEvent = nil
            let runner = ScenarioRunner(scenario, options: opts)
            guard let report = try? runner.run() else { return [] }
            var all = verifyFound.items
            for v in report.violations where !all.contains(v) { all.append(v) }
            return all
        }
    }
}

/// Collects violations reported by `verify` statements, from any thread, without
/// duplicates.
public final class ViolationCollector: @unchecked Sendable {
    private let lock = PlainLock()
    private var list: [Violation] = []
    public init() {}
    public func add(_ vs: [Violation]) { lock.withLock { for v in vs where !list.contains(v) { list.append(v) } } }
    public var items: [Violation] { lock.withLock { list } }
}
