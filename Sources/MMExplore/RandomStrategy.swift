// Random walk: at every decision with several runnable threads, pick one uniformly.

/// Uniformly random scheduling (shuttle's `RandomScheduler`). Finds shallow races
/// quickly; each execution's stream comes from (seed, execution index).
public final class RandomStrategy: SchedulingStrategy {
    public let descriptor: StrategyDescriptor
    public var executionIndex: UInt64 { streams.index }
    public var isExhausted: Bool { false }
    private var streams: ExecutionStreams

    /// Executions are numbered from `firstExecution` (0 unless resuming elsewhere).
    public init(seed: UInt64, firstExecution: UInt64 = 0) {
        descriptor = StrategyDescriptor(kind: .random, seed: seed)
        streams = ExecutionStreams(seed: seed, firstExecution: firstExecution)
    }

    public func startExecution() { streams.startExecution() }

    public func chooseNext(runnable: [Int], current: Int?, step: Int) throws(ScheduleError) -> Int {
        // A forced move consumes no randomness, so the stream only depends on real choices.
        if runnable.count == 1 { return runnable[0] }
        return runnable[streams.choices.next(below: runnable.count)]
    }

    public func nextRandom() -> UInt64 { streams.data.next() }

    public func endExecution(steps: Int) throws(ScheduleError) {}
}
