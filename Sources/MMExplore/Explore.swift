// The exploration driver: runs many executions under one strategy and summarizes them.

import CMMSupport
import MMSync

/// What `explore` runs and when it stops.
public struct ExploreOptions: Sendable {
    public var strategy: StrategyKind
    /// Upper bound on executions (DFS may stop earlier: the bounded space is covered).
    public var schedules: Int
    public var seed: UInt64
    /// PCT bug depth d: a bug that needs d ordering constraints (d − 1 preemptions).
    public var depth: Int
    /// DFS preemption bound.
    public var preemptionBound: Int
    /// Go on after the first failing execution (collect every distinct violation).
    public var keepGoing: Bool
    /// Scheduling decisions per execution before it is declared a livelock.
    public var maxSteps: Int
    /// Record traces in every execution. Off by default: the report replays the first
    /// failure's token to get its trace, which also proves that the token reproduces it.
    public var recordTrace: Bool
    /// Stop once deadlocked executions have left this many threads parked (each holds
    /// a stack; the OS has a thread limit).
    public var maxAbandonedThreads: Int
    /// Seconds between progress callbacks.
    public var progressInterval: Double

    public init(strategy: StrategyKind = .random, schedules: Int = 1000, seed: UInt64 = 0, depth: Int = 3,
                preemptionBound: Int = 2, keepGoing: Bool = false, maxSteps: Int = Explorer.defaultMaxSteps,
                recordTrace: Bool = false, maxAbandonedThreads: Int = 2000, progressInterval: Double = 0.5) {
        self.strategy = strategy
        self.schedules = schedules
        self.seed = seed
        self.depth = depth
        self.preemptionBound = preemptionBound
        self.keepGoing = keepGoing
        self.maxSteps = maxSteps
        self.recordTrace = recordTrace
        self.maxAbandonedThreads = maxAbandonedThreads
        self.progressInterval = progressInterval
    }

    /// Nil if the options are usable, else what is wrong (for a bad-input exit).
    public var problem: String? {
        if schedules < 0 { return "schedules must be ≥ 0 (got \(schedules))" }
        if strategy == .pct && !(1...1000).contains(depth) { return "pct depth must be in 1…1000 (got \(depth))" }
        if strategy == .dfs && !(0...1000).contains(preemptionBound) {
            return "dfs preemption bound must be in 0…1000 (got \(preemptionBound))"
        }
        if maxSteps < 1 || UInt64(maxSteps) > ScheduleToken.maxStepBound { return "max steps must be in 1…2^40 (got \(maxSteps))" }
        return nil
    }

    /// A fresh strategy for these options.
    public func makeStrategy() -> any SchedulingStrategy {
        switch strategy {
        case .random: return RandomStrategy(seed: seed)
        case .pct: return PCTStrategy(seed: seed, depth: depth)
        case .dfs: return DFSStrategy(seed: seed, preemptionBound: preemptionBound)
        }
    }
}

/// Options `explore` refuses.
public struct ExploreOptionsError: Error, Sendable, CustomStringConvertible {
    public let description: String
}

/// A progress snapshot, handed to the callback at most every `progressInterval`.
public struct ExploreProgress: Sendable {
    public let schedulesRun: Int
    public let schedulesPlanned: Int
    public let failingSchedules: Int
    public let elapsedSeconds: Double
    public var schedulesPerSecond: Double { elapsedSeconds > 0 ? Double(schedulesRun) / elapsedSeconds : 0 }
}

/// One distinct violation (same kind and message) and how often it was seen.
public struct ViolationSummary: Sendable {
    public let violation: Violation
    public let count: Int
    /// Token of the first execution that showed it.
    public let firstToken: String
}

/// Why `explore` stopped.
public enum ExploreStop: Sendable, Equatable, CustomStringConvertible {
    case scheduleLimit
    case violationFound
    /// DFS ran every schedule within the preemption bound.
    case exhausted
    /// The strategy stopped an execution (e.g. a DFS prefix replayed differently).
    case strategyError(ScheduleError)
    case tooManyAbandonedThreads(Int)

    public var description: String {
        switch self {
        case .scheduleLimit: return "schedule limit reached"
        case .violationFound: return "violation found"
        case .exhausted: return "search space exhausted"
        case .strategyError(let e): return "\(e)"
        case .tooManyAbandonedThreads(let n): return "\(n) threads left parked by deadlocked executions; stopped"
        }
    }
}

/// What an exploration found.
public struct ExploreReport: Sendable {
    public let options: ExploreOptions
    public let schedulesRun: Int
    public let elapsedSeconds: Double
    public var schedulesPerSecond: Double { elapsedSeconds > 0 ? Double(schedulesRun) / elapsedSeconds : 0 }
    /// Scheduling decisions over all executions.
    public let totalSteps: Int
    /// Executions with a violation.
    public let failingSchedules: Int
    /// Distinct violations, in the order first seen.
    public let violations: [ViolationSummary]
    /// The first execution with a violation or a strategy error, with its trace.
    public let firstFailure: ExecutionOutcome?
    /// 1-based number of the schedule that failed first (schedules to first violation).
    public let firstFailureSchedule: Int?
    /// True when DFS covered its whole bounded space.
    public var coverageComplete: Bool { stop == .exhausted }
    public let stop: ExploreStop
    /// Set if the first failure had to be replayed for its trace and did not replay.
    public let traceProblem: String?
}

/// Runs up to `options.schedules` executions of a model. `makeBody` is called before
/// each execution, on the calling thread, to build a fresh model and return its main
/// body (run as model thread "main"; it returns the violations it finds); once more if
/// the first failure is replayed for its trace. Stops at the first failing execution
/// unless `keepGoing`. Throws only for unusable options. Each execution's streams come
/// from (seed, execution index), so any one token replays on its own.
public func explore(options: ExploreOptions, makeBody: () -> (@Sendable () -> [Violation]),
                    progress: ((ExploreProgress) -> Void)? = nil) throws(ExploreOptionsError) -> ExploreReport {
    if let problem = options.problem { throw ExploreOptionsError(description: problem) }
    let explorer = Explorer(recordTrace: options.recordTrace)
    explorer.threadCap = options.maxAbandonedThreads
    defer { explorer.shutdown() }
    let strategy = options.makeStrategy()
    let start = mm_now_ns()
    var lastProgress = start
    var run = 0, totalSteps = 0, failing = 0
    var summaries: [Violation: (count: Int, token: String)] = [:]
    var order: [Violation] = []
    var firstFailure: ExecutionOutcome?
    var firstFailureSchedule: Int?
    var stop = ExploreStop.scheduleLimit

    func elapsed(_ now: UInt64) -> Double { Double(now - start) / 1e9 }

    while run < options.schedules {
        if strategy.isExhausted { stop = .exhausted; break }
        if explorer.abandonedThreads >= options.maxAbandonedThreads {
            stop = .tooManyAbandonedThreads(explorer.abandonedThreads)
            break
        }
        let outcome = explorer.runExecution(strategy: strategy, maxSteps: options.maxSteps, body: makeBody())
        run += 1
        totalSteps += outcome.steps
        if !outcome.violations.isEmpty {
            failing += 1
            let token = outcome.token
            for v in outcome.violations {
                if let s = summaries[v] { summaries[v] = (s.count + 1, s.token) } else {
                    summaries[v] = (1, token)
                    order.append(v)
                }
            }
        }
        if !outcome.isClean && firstFailure == nil {
            firstFailure = outcome
            firstFailureSchedule = run
        }
        if let error = outcome.error { stop = .strategyError(error); break }
        if !outcome.violations.isEmpty && !options.keepGoing { stop = .violationFound; break }
        if let progress {
            let now = mm_now_ns()
            if Double(now - lastProgress) / 1e9 >= options.progressInterval {
                lastProgress = now
                progress(ExploreProgress(schedulesRun: run, schedulesPlanned: options.schedules,
                                         failingSchedules: failing, elapsedSeconds: elapsed(now)))
            }
        }
    }
    if stop == .scheduleLimit && strategy.isExhausted { stop = .exhausted }
    let seconds = elapsed(mm_now_ns())
    progress?(ExploreProgress(schedulesRun: run, schedulesPlanned: options.schedules,
                              failingSchedules: failing, elapsedSeconds: seconds))

    // Without traces, replay the first failure to get one (this also checks that its
    // token reproduces it). Keep the original if the model does not replay the same.
    var traceProblem: String?
    if let f = firstFailure, f.trace.isEmpty, f.error == nil {
        explorer.recordTrace = true
        let again = explorer.runExecution(strategy: ReplayStrategy(token: f.schedule), maxSteps: f.schedule.maxSteps,
                                          body: makeBody())
        if again.error == nil && again.violations == f.violations {
            firstFailure = again
        } else {
            traceProblem = "replaying the first failure did not reproduce it ("
                + (again.error.map { "\($0)" } ?? "violations \(again.violations)") + "): the model is not deterministic"
        }
    }
    return ExploreReport(options: options, schedulesRun: run, elapsedSeconds: seconds, totalSteps: totalSteps,
                         failingSchedules: failing,
                         violations: order.map { ViolationSummary(violation: $0, count: summaries[$0]!.count,
                                                                  firstToken: summaries[$0]!.token) },
                         firstFailure: firstFailure, firstFailureSchedule: firstFailureSchedule, stop: stop,
                         traceProblem: traceProblem)
}

/// Replays one token against a fresh model. Throws if the token does not decode; a
/// replay that no longer fits the model returns with `outcome.error` set.
public func replay(token: String, body: @escaping @Sendable () -> [Violation]) throws(TokenError) -> ExecutionOutcome {
    let explorer = Explorer(recordTrace: true)
    defer { explorer.shutdown() }
    return try explorer.replay(token: token, body: body)
}

extension ExploreReport {
    /// A short human summary (the CLI prints its own, richer, form).
    public var summary: String {
        var s = "\(options.strategy) seed \(options.seed): \(schedulesRun) schedules in "
        s += "\((elapsedSeconds * 1000).rounded() / 1000) s (\(Int(schedulesPerSecond.rounded())) /s), \(stop)"
        if let n = firstFailureSchedule { s += "; first failure at schedule \(n)" }
        for v in violations { s += "\n  \(v.count)× \(v.violation)" }
        if let f = firstFailure { s += "\n  token \(f.token)" }
        return s
    }
}
