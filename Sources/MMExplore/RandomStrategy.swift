// Random walk: at every decision with several runnable threads, pick one uniformly.

/// Uniformly random scheduling (shuttle's `RandomScheduler`). Finds shallow races
/// quickly; each execution's stream comes from (seed, execution index).
public final class RandomStrategy: SchedulingStrategy {
    public let descriptor: StrategyDescriptor
    public private(set) var executionIndex: UInt64 = 0
    public var isExhausted: Bool { false }
    private var started = false
    private var rng: Xoshiro256
    private var data: Xoshiro256

    /// Executions are numbered from `firstExecution` (0 unless resuming elsewhere).
    public init(seed: UInt64, firstExecution: UInt64 = 0) {
        descriptor = StrategyDescriptor(kind: .random, seed: seed)
        executionIndex = firstExecution
        rng = Xoshiro256(seed: seed, execution: firstExecution, stream: RandomStream.choices)
        data = Xoshiro256(seed: seed, execution: firstExecution, stream: RandomStream.data)
    }

    public func startExecution() {
        if started { executionIndex += 1 }
        started = true
        rng = Xoshiro256(seed: descriptor.seed, execution: executionIndex, stream: RandomStream.choices)
        data = Xoshiro256(seed: descriptor.seed, execution: executionIndex, stream: RandomStream.data)
    }

    public func chooseNext(runnable: [Int], current: Int?, step: Int) throws(ScheduleError) -> Int {
        // A forced move consumes no randomness, so the stream only depends on real choices.
        if runnable.count == 1 { return runnable[0] }
        return runnable[rng.next(below: runnable.count)]
    }

    public func nextRandom() -> UInt64 { data.next() }

    public func endExecution(steps: Int) throws(ScheduleError) {}
}
