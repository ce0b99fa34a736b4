// Replay: re-runs a recorded schedule (a decoded token) choice by choice.

/// Replays the choices of a `ScheduleToken`. Where the recorded thread is not runnable,
/// or the choices run out or are left over, the execution stops with
/// `ScheduleError.divergence` (the model changed, or is not deterministic).
public final class ReplayStrategy: SchedulingStrategy {
    public let token: ScheduleToken
    public var descriptor: StrategyDescriptor { token.descriptor }
    public var executionIndex: UInt64 { token.executionIndex }
    public var isExhausted: Bool { false }
    private var position = 0
    private var data: Xoshiro256

    public init(token: ScheduleToken) {
        self.token = token
        data = Xoshiro256(seed: token.descriptor.seed, execution: token.executionIndex, stream: RandomStream.data)
    }

    public func startExecution() {
        position = 0
        data = Xoshiro256(seed: token.descriptor.seed, execution: token.executionIndex, stream: RandomStream.data)
    }

    public func chooseNext(runnable: [Int], current: Int?, step: Int) throws(ScheduleError) -> Int {
        if runnable.count == 1 { return runnable[0] }   // forced moves are not recorded
        guard position < token.choices.count else {
            throw .divergence("""
                at step \(step) threads \(runnable) are runnable, but all \
                \(token.choices.count) recorded choices are used up
                """)
        }
        let choice = token.choices[position]
        guard runnable.contains(choice) else {
            throw .divergence("""
                at step \(step) (choice \(position) of \(token.choices.count)) the schedule \
                runs thread \(choice), but only \(runnable) are runnable
                """)
        }
        position += 1
        return choice
    }

    public func nextRandom() -> UInt64 { data.next() }

    public func endExecution(steps: Int) throws(ScheduleError) {
        if position < token.choices.count {
            throw .divergence("""
                the execution ended after \(steps) steps with \(token.choices.count - position) \
                of \(token.choices.count) recorded choices unused
                """)
        }
    }
}
