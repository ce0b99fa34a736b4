// Bounded exhaustive search: depth-first over the tree of scheduling choices, with a
// preemption bound (Musuvathi & Qadeer, "Iterative context bounding", PLDI 2007).

/// Depth-first enumeration of every schedule with at most `preemptionBound`
/// preemptions. A preemption is a switch away from a thread that could have gone on;
/// switching when the running thread blocks or finishes is free. Stateless search:
/// each execution replays the recorded prefix of choices and branches at the deepest
/// choice point that still has an untried alternative; `isExhausted` turns true when
/// none is left, i.e. the whole bounded space has been run.
///
/// Requires a deterministic model: replaying a prefix must offer the same runnable
/// threads at every decision, or the strategy stops with `.nondeterminism`.
public final class DFSStrategy: SchedulingStrategy {
    /// One decision with several runnable threads.
    private struct ChoicePoint {
        /// The runnable threads seen there (checked on replay).
        var runnable: [Int]
        /// Alternatives within the bound, in the order they are tried: the current
        /// thread first (no preemption), then the others by id.
        var options: [Int]
        /// Index into `options` of the alternative this execution takes.
        var taken: Int
        /// True if taking an option other than the current thread is a preemption.
        var currentRunnable: Bool
        var current: Int?
    }

    public let descriptor: StrategyDescriptor
    public private(set) var executionIndex: UInt64 = 0
    public private(set) var isExhausted = false
    private var started = false
    private var stack: [ChoicePoint] = []
    private var position = 0
    private var preemptions = 0
    private var data: Xoshiro256

    public init(seed: UInt64 = 0, preemptionBound: Int) {
        precondition(preemptionBound >= 0, "DFSStrategy: preemption bound must be ≥ 0, got \(preemptionBound)")
        descriptor = StrategyDescriptor(kind: .dfs, seed: seed, preemptionBound: preemptionBound)
        data = Xoshiro256(seed: seed, execution: 0, stream: RandomStream.data)
    }

    public func startExecution() {
        if started { executionIndex += 1 }
        started = true
        position = 0
        preemptions = 0
        data = Xoshiro256(seed: descriptor.seed, execution: executionIndex, stream: RandomStream.data)
    }

    public func chooseNext(runnable: [Int], current: Int?, step: Int) throws(ScheduleError) -> Int {
        if runnable.count == 1 { return runnable[0] }
        let currentRunnable = current.map { runnable.contains($0) } ?? false
        if position < stack.count {
            // Replaying the prefix: the program must offer exactly what it did before.
            let point = stack[position]
            guard point.runnable == runnable, point.current == current else {
                throw .nondeterminism("""
                    at step \(step) (choice \(position)) the runnable threads are \(runnable) \
                    (current \(current.map(String.init) ?? "none")); the same prefix offered \
                    \(point.runnable) (current \(point.current.map(String.init) ?? "none")) before
                    """)
            }
            let choice = point.options[point.taken]
            if point.currentRunnable && choice != current { preemptions += 1 }
            position += 1
            return choice
        }
        // A new choice point: keep running the current thread first; the others are
        // alternatives only while the preemption budget allows a switch.
        var options: [Int]
        if currentRunnable, let current {
            options = [current]
            if preemptions < descriptor.preemptionBound {
                options += runnable.filter { $0 != current }
            }
        } else {
            options = runnable
        }
        stack.append(ChoicePoint(runnable: runnable, options: options, taken: 0,
                                 currentRunnable: currentRunnable, current: current))
        position += 1
        return options[0]
    }

    public func nextRandom() -> UInt64 { data.next() }

    /// Backtracks: drops exhausted choice points from the end and advances the
    /// deepest one with an untried alternative. An execution that ended early
    /// (deadlock, step bound) backtracks from wherever it stopped.
    public func endExecution(steps: Int) throws(ScheduleError) {
        stack.removeSubrange(min(position, stack.count)...)
        while let last = stack.last {
            if last.taken + 1 < last.options.count {
                stack[stack.count - 1].taken += 1
                return
            }
            stack.removeLast()
        }
        isExhausted = true
    }
}
