// The one small protocol every exploration strategy implements (shuttle-style), the
// errors a strategy may stop an execution with, and the deterministic PRNG they share.

import MMSync

/// Which strategy produced a schedule. The raw value is what a token stores.
public enum StrategyKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Uniformly random choice among the runnable threads at every decision.
    case random = 0
    /// Probabilistic concurrency testing with a bug-depth bound (Burckhardt et al. 2010).
    case pct = 1
    /// Exhaustive depth-first search with a preemption bound.
    case dfs = 2

    public var description: String {
        switch self {
        case .random: return "random"
        case .pct: return "pct"
        case .dfs: return "dfs"
        }
    }

    /// Parses "random", "pct" or "dfs" (the command-line spelling).
    public init?(name: String) {
        guard let kind = Self.allCases.first(where: { $0.description == name.lowercased() }) else {
            return nil
        }
        self = kind
    }
}

/// What names a strategy's executions: everything a token carries besides the choices.
public struct StrategyDescriptor: Hashable, Sendable {
    public var kind: StrategyKind
    /// The seed of the whole exploration; each execution derives its own streams from
    /// (seed, execution index), so one execution replays without the ones before it.
    public var seed: UInt64
    /// PCT bug depth d (0 for other strategies).
    public var depth: Int
    /// DFS preemption bound (0 for other strategies).
    public var preemptionBound: Int

    public init(kind: StrategyKind, seed: UInt64, depth: Int = 0, preemptionBound: Int = 0) {
        self.kind = kind
        self.seed = seed
        self.depth = depth
        self.preemptionBound = preemptionBound
    }
}

/// Why a strategy stopped an execution. Reported in the outcome, never a crash.
public enum ScheduleError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A replayed schedule no longer fits the program: the recorded thread is not
    /// runnable at that decision, or the recorded choices ran out (or were left over).
    case divergence(String)
    /// The program did not behave the same on a replayed prefix (DFS): it depends on
    /// something outside the scheduler's control (time, addresses, real threads).
    case nondeterminism(String)
    /// A strategy returned a thread that was not runnable: a bug in the strategy.
    case invalidChoice(String)
    /// The execution needed a thread it could not have: the explorer's thread cap
    /// (parked plus live threads) or the host's limit. It ended without running further.
    case threadLimit(String)

    public var description: String {
        switch self {
        case .divergence(let s): return "replay diverged: \(s)"
        case .nondeterminism(let s): return "nondeterministic model: \(s)"
        case .invalidChoice(let s): return "strategy error: \(s)"
        case .threadLimit(let s): return "thread limit: \(s)"
        }
    }
}

/// A scheduling strategy: the explorer asks it, at every decision, which runnable
/// model thread runs next. One instance serves a whole exploration (many executions);
/// all calls of one execution come from the model thread holding the baton, one at a
/// time, so implementations need no locking.
public protocol SchedulingStrategy: AnyObject {
    /// Kind and parameters, for the token.
    var descriptor: StrategyDescriptor { get }
    /// Index of the execution started by the latest `startExecution()` (0 for the first).
    var executionIndex: UInt64 { get }
    /// True when no further execution would explore anything new (DFS only).
    var isExhausted: Bool { get }
    /// Begins a new execution: reset per-execution state, derive per-execution RNGs.
    func startExecution()
    /// Picks the next thread among `runnable` (sorted thread ids, never empty).
    /// `current` is the thread that reached the decision (it may be absent from
    /// `runnable` if it just blocked or finished). `step` counts decisions from 0.
    /// Called at every decision, including those with one runnable thread; only the
    /// decisions with several runnable threads are recorded in the token.
    func chooseNext(runnable: [Int], current: Int?, step: Int) throws(ScheduleError) -> Int
    /// A deterministic random number for the model (a stream separate from choices,
    /// derived from (seed, execution index), so a replay reproduces it).
    func nextRandom() -> UInt64
    /// Ends the execution that took `steps` decisions. May report a replay that did
    /// not consume all its choices.
    func endExecution(steps: Int) throws(ScheduleError)
}

// MARK: - Deterministic PRNG

/// The numbering of executions and their two random streams — `choices` for scheduling
/// decisions, `data` for the model's own randomness — shared by the seeded strategies.
/// Each execution's streams derive from (seed, execution index) alone, so any single
/// execution can be replayed from its token.
struct ExecutionStreams {
    let seed: UInt64
    private(set) var index: UInt64
    private var started = false
    var choices: Xoshiro256
    var data: Xoshiro256

    init(seed: UInt64, firstExecution: UInt64) {
        self.seed = seed
        index = firstExecution
        choices = Xoshiro256(seed: seed, execution: firstExecution, stream: RandomStream.choices)
        data = Xoshiro256(seed: seed, execution: firstExecution, stream: RandomStream.data)
    }

    /// Starts the next execution (the first call starts `firstExecution`).
    mutating func startExecution() {
        if started { index += 1 }
        started = true
        choices = Xoshiro256(seed: seed, execution: index, stream: RandomStream.choices)
        data = Xoshiro256(seed: seed, execution: index, stream: RandomStream.data)
    }
}

/// xoshiro256** (Blackman, Vigna): the generator behind every random choice. Pure
/// integer arithmetic, so the same seed gives the same stream on every machine —
/// unlike `SystemRandomNumberGenerator`.
public struct Xoshiro256: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    /// Seeds the four words from SplitMix64, as the authors recommend.
    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
    }

    /// The stream of one execution: independent of every other (seed, index, stream).
    public init(seed: UInt64, execution: UInt64, stream: UInt64) {
        let a = SplitMix64.mix(seed ^ 0x6A09_E667_F3BC_C908)
        let b = SplitMix64.mix(a &+ execution &* 0x9E37_79B9_7F4A_7C15)
        self.init(seed: SplitMix64.mix(b ^ (stream &* 0xD1B5_4A32_D192_ED03)))
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// A uniform integer in 0..<n (Lemire's multiply-and-reject, unbiased). We do not
    /// use the standard library's `Int.random(in:using:)`: its algorithm is not a
    /// documented contract, and tokens must replay across toolchains.
    public mutating func next(below n: Int) -> Int {
        precondition(n > 0, "Xoshiro256.next(below:) needs n > 0, got \(n)")
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }
}

/// Stream numbers of `Xoshiro256(seed:execution:stream:)`.
enum RandomStream {
    /// Scheduling choices (random, PCT priorities and change points).
    static let choices: UInt64 = 1
    /// Numbers handed to the model through `nextRandom()`.
    static let data: UInt64 = 2
}
