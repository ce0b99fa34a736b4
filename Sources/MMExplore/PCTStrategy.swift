// PCT: probabilistic concurrency testing with a bug-depth bound (Burckhardt, Kothari,
// Musuvathi, Nagarakatte, "A Randomized Scheduler with Probabilistic Guarantees of
// Finding Bugs", ASPLOS 2010).

/// PCT scheduling. Every thread gets a random distinct priority; the highest-priority
/// runnable thread always runs; at d−1 change points, drawn uniformly over an estimate
/// k of the execution length, the running thread drops below every other thread.
/// A bug that needs d ordering constraints is found with probability ≥ 1/(n·k^(d−1))
/// per execution (n threads).
public final class PCTStrategy: SchedulingStrategy {
    public let descriptor: StrategyDescriptor
    public var executionIndex: UInt64 { streams.index }
    public var isExhausted: Bool { false }
    /// The current estimate k of decisions per execution: the most seen so far in
    /// earlier executions, or the initial estimate before the first one ends.
    public var estimatedSteps: Int { maxStepsSeen ?? initialEstimate }
    private let initialEstimate: Int
    private var maxStepsSeen: Int?
    private var streams: ExecutionStreams
    /// Priority of each thread seen in this execution (higher runs first). Initial
    /// priorities are ≥ depth; change points assign 1…depth−1, below all of them.
    private var priority: [Int: UInt64] = [:]
    private var usedPriorities: Set<UInt64> = []
    /// Decision index → the priority the running thread gets there.
    private var changePoints: [Int: UInt64] = [:]

    /// `depth` is PCT's d (1 = no change point, only a random thread order).
    /// `initialEstimate` is k before any execution has been measured.
    public init(seed: UInt64, depth: Int, initialEstimate: Int = 100, firstExecution: UInt64 = 0) {
        precondition(depth >= 1, "PCTStrategy: depth must be ≥ 1, got \(depth)")
        descriptor = StrategyDescriptor(kind: .pct, seed: seed, depth: depth)
        self.initialEstimate = max(1, initialEstimate)
        streams = ExecutionStreams(seed: seed, firstExecution: firstExecution)
    }

    public func startExecution() {
        streams.startExecution()
        priority.removeAll(keepingCapacity: true)
        usedPriorities.removeAll(keepingCapacity: true)
        changePoints.removeAll(keepingCapacity: true)
        // d−1 distinct change points in 0..<k; change point i lowers to priority i.
        let wanted = min(descriptor.depth - 1, estimatedSteps)
        var i: UInt64 = 1
        while changePoints.count < wanted {
            let step = streams.choices.next(below: estimatedSteps)
            if changePoints[step] == nil {
                changePoints[step] = i
                i += 1
            }
        }
    }

    /// A fresh random priority above every change-point priority, distinct from all
    /// others. Threads created later get one too: a random place in the order.
    private func assignPriority(_ thread: Int) {
        let floor = UInt64(descriptor.depth)
        var p: UInt64
        repeat {
            p = floor + (streams.choices.next() >> 16)   // 48 random bits: collisions are rare
        } while usedPriorities.contains(p)
        usedPriorities.insert(p)
        priority[thread] = p
    }

    public func chooseNext(runnable: [Int], current: Int?, step: Int) throws(ScheduleError) -> Int {
        for t in runnable where priority[t] == nil { assignPriority(t) }
        if let current, let lowered = changePoints[step] {
            if priority[current] == nil { assignPriority(current) }
            priority[current] = lowered
        }
        var best = runnable[0]
        var bestPriority = priority[best]!
        for t in runnable.dropFirst() {
            let p = priority[t]!
            if p > bestPriority { best = t; bestPriority = p }
        }
        return best
    }

    public func nextRandom() -> UInt64 { streams.data.next() }

    public func endExecution(steps: Int) throws(ScheduleError) {
        maxStepsSeen = max(maxStepsSeen ?? 1, steps)
    }
}
