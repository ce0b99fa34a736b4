// The deterministic scheduler: runs one execution of a model at a time, one model
// thread at a time, asking a SchedulingStrategy at every decision who runs next.

import CMMSupport
import MMSync

/// A `ModelScheduler` that runs executions deterministically (docs/ARCHITECTURE.md, The scheduling interface).
///
/// Every model thread is a real pthread pinned to CPU 0 and parked on its own
/// semaphore; exactly one holds the baton and runs. At each hook the running thread
/// records a trace event and, at a decision (`schedulePoint`, `block`, `join`, thread
/// end), asks the strategy which runnable thread goes next, posts it and parks itself.
/// Given the same choices, a deterministic model therefore runs step for step the same.
///
/// **Ending early.** If no thread is runnable while some are unfinished (a deadlock),
/// or an execution exceeds its step bound (a livelock), or the strategy stops it (a
/// replay diverged), the execution ends at once with a violation or an error, and its
/// unfinished threads stay parked forever: they cannot be unwound from the middle of
/// model code. Their stacks and model objects are leaked (`abandonedThreads` counts
/// them); the caller gets control back. Such threads keep the explorer alive, so call
/// `shutdown()` when done rather than relying on deinit.
///
/// Not reentrant: one `runExecution` at a time, never from a model thread.
public final class Explorer: ModelScheduler, @unchecked Sendable {
    // @unchecked Sendable: every mutable field is touched only by the thread holding
    // the baton (one model thread at a time, or the caller of runExecution between
    // executions); baton posts and waits order those accesses (see Workers.swift).

    public static let defaultMaxSteps = 200_000

    /// Whether executions record `TraceEvent`s (the `what` texts). Set between executions.
    public var recordTrace: Bool
    /// Threads left parked by executions that ended early, over this explorer's life.
    public private(set) var abandonedThreads = 0
    /// Most pthreads this explorer may hold for model threads at once: those parked by
    /// earlier executions plus the current execution's. An execution that needs more
    /// ends with `ScheduleError.threadLimit` (so does one the host refuses a thread).
    public var threadCap = Int.max

    private enum Status {
        case runnable
        case blocked(WaitChannel, String)
        /// Blocked with a deadline in model time (blockTimed).
        case timedBlocked(WaitChannel, String, deadline: UInt64)
        case joining([Int])
        case finished
    }
    private final class ModelThread {
        let name: String
        var status: Status = .runnable
        /// Set before the worker is first posted; a thread that never started can give
        /// its worker back when the execution ends early.
        var started = false
        /// Set when a timed block ended by its deadline rather than a wake.
        var timedOut = false
        let worker: Worker
        init(name: String, worker: Worker) {
            self.name = name
            self.worker = worker
        }
    }

    // Per-execution state.
    private var threads: [ModelThread] = []
    private var running = -1
    private var unfinished = 0
    private var steps = 0
    /// The execution's model clock: advances only when no thread is runnable and a
    /// timed waiter's deadline is the next thing that can happen.
    private var clockNs: UInt64 = 0
    /// Set by yieldHint for the next decision: leave the yielding thread out if others can run.
    private var yielding: Int? = nil
    private var maxSteps = defaultMaxSteps
    private var trace: [TraceEvent] = []
    private var choices: [Int] = []
    private var found: [Violation] = []
    private var bodyViolations: [Violation] = []
    private var stopError: ScheduleError?
    private var strategy: (any SchedulingStrategy)?

    private let controller = Baton()
    private var idle: [Worker] = []
    private var isShutDown = false
    /// Idle workers kept for reuse; more are let go.
    private static let maxIdleWorkers = 64

    public init(recordTrace: Bool = true) {
        self.recordTrace = recordTrace
    }

    deinit { shutdown() }

    /// Lets the pooled worker threads exit. The explorer cannot run executions after.
    public func shutdown() {
        guard !isShutDown else { return }
        isShutDown = true
        for w in idle {
            w.assignment = .quit
            w.baton.post()
        }
        idle.removeAll()
    }

    // MARK: Running an execution

    /// Runs `body` as model thread 0 ("main") under `strategy` until every model thread
    /// has finished, or no thread can run, or `maxSteps` decisions were taken, or the
    /// strategy stops it. `body` may start threads (`ModelThreads.runConcurrently`) and
    /// returns the violations it found (e.g. an invariant check at its end). The calling
    /// thread is not a model thread: it waits, then gets the outcome.
    public func runExecution(strategy: any SchedulingStrategy, maxSteps: Int = Explorer.defaultMaxSteps,
                             body: @escaping @Sendable () -> [Violation]) -> ExecutionOutcome {
        precondition(!isShutDown, "Explorer.runExecution after shutdown()")
        precondition(mm_sched_get() == nil, "Explorer.runExecution called from a model thread")
        precondition(self.strategy == nil, "Explorer.runExecution is not reentrant")
        strategy.startExecution()
        self.strategy = strategy
        self.maxSteps = max(1, maxSteps)
        steps = 0
        clockNs = 0
        yielding = nil
        unfinished = 0
        choices.removeAll(keepingCapacity: true)
        found.removeAll()
        bodyViolations.removeAll()
        stopError = nil
        trace = []

        if let main = createThread(name: "main", body: { [self] in self.bodyViolations = body() }) {
            running = main
            resume(main)
            controller.wait()
        }

        // Every model thread is now finished, parked for good, or never started.
        var error = stopError
        do { try strategy.endExecution(steps: steps) } catch let e { error = error ?? e }
        var abandoned = 0
        for t in threads {
            if case .finished = t.status { continue }
            if t.started {
                abandoned += 1
            } else {
                // Parked at the top of its loop with no post pending: safe to reuse.
                t.worker.assignment = nil
                idle.append(t.worker)
            }
        }
        abandonedThreads += abandoned
        let schedule = ScheduleToken(descriptor: strategy.descriptor, executionIndex: strategy.executionIndex,
                                     maxSteps: self.maxSteps, choices: choices)
        let outcome = ExecutionOutcome(violations: found + bodyViolations, trace: trace, schedule: schedule,
                                       steps: steps, threadCount: threads.count, error: error,
                                       abandonedThreads: abandoned)
        threads = []
        trace = []
        self.strategy = nil
        return outcome
    }

    /// Replays a token (see `ScheduleToken`) against `body`. Throws only if the token
    /// does not decode; a replay that no longer fits the model comes back as
    /// `outcome.error` (`.divergence`).
    public func replay(token: String, body: @escaping @Sendable () -> [Violation]) throws(TokenError) -> ExecutionOutcome {
        let decoded = try ScheduleToken(decoding: token)
        return runExecution(strategy: ReplayStrategy(token: decoded), maxSteps: decoded.maxSteps, body: body)
    }

    /// A deterministic random number for model code running under this explorer (the
    /// strategy's data stream: replays reproduce it). Call only from a model thread.
    public func nextRandom() -> UInt64 {
        precondition(strategy != nil && mm_sched_get() != nil, "Explorer.nextRandom outside a model thread")
        return strategy!.nextRandom()
    }

    // MARK: ModelScheduler (called by the running model thread)

    public func schedulePoint(_ what: () -> String) {
        let me = caller
        record(me, .point, what())
        reschedule(me)
    }

    public func block(on channel: WaitChannel, _ what: () -> String) {
        let me = caller
        let text = what()   // always: a deadlock report names what each thread waits for
        threads[me].status = .blocked(channel, text)
        record(me, .block, text)
        reschedule(me)
    }

    public func blockTimed(on channel: WaitChannel, timeoutNs: UInt64, _ what: () -> String) -> Bool {
        let me = caller
        let text = what()
        threads[me].timedOut = false
        threads[me].status = .timedBlocked(channel, text, deadline: clockNs &+ timeoutNs)
        record(me, .block, "\(text) (timeout \(timeoutNs / 1_000_000) ms)")
        reschedule(me)
        return !threads[me].timedOut
    }

    public func modelTimeNs() -> UInt64 { clockNs }

    public func yieldHint(_ what: () -> String) {
        let me = caller
        record(me, .point, "yield: " + what())
        yielding = me
        reschedule(me)
    }

    public func wake(_ channel: WaitChannel) {
        var woken: [String] = []
        for t in threads {
            switch t.status {
            case .blocked(let c, _) where c == channel, .timedBlocked(let c, _, _) where c == channel:
                t.status = .runnable
                if recordTrace { woken.append(t.name) }
            default: break
            }
        }
        if !woken.isEmpty { record(running, .event, "wakes " + woken.joined(separator: ", ")) }
    }

    public func note(_ what: () -> String) {
        record(running, .note, what())
    }

    /// A violation found inside the model (the lock-order checker): kept once per
    /// execution and shown in the trace where it happened.
    public func report(_ violation: Violation) {
        if !found.contains(violation) { found.append(violation) }
        record(running, .event, "\(violation)")
    }

    public func spawn(name: String, body: @escaping @Sendable () -> Void) -> Int {
        guard let id = createThread(name: name, body: body) else {
            // No thread for it: the execution ends here, like a deadlock; the caller
            // stays parked (it is in the middle of model code) and is counted abandoned.
            record(running, .event, "stopped: \(stopError!)")
            let worker = threads[running].worker
            controller.post()
            worker.parkForever()
        }
        record(running, .event, "spawn \(name)")
        return id
    }

    public func join(_ ids: [Int]) {
        let me = caller
        for id in ids { precondition(id >= 0 && id < threads.count && id != me, "Explorer.join: bad thread id \(id)") }
        while !ids.allSatisfy(isFinished) {
            threads[me].status = .joining(ids)
            record(me, .block, "join " + ids.map { self.threads[$0].name }.joined(separator: ", "))
            reschedule(me)
        }
    }

    // MARK: Internals

    /// The running thread, which must be the caller. Checked in debug builds: a hook
    /// called from any other thread (one that does not hold the baton) would corrupt
    /// the schedule.
    private var caller: Int {
        assert(mm_sched_get().map { Unmanaged<SchedulerContext>.fromOpaque($0).takeUnretainedValue().threadID }
               == running, "Explorer: a scheduler hook was called by a thread that is not running")
        return running
    }

    private func isFinished(_ id: Int) -> Bool {
        if case .finished = threads[id].status { return true }
        return false
    }

    /// Appends a trace event if traces are on; `text` is evaluated only then.
    private func record(_ thread: Int, _ kind: TraceEvent.Kind, _ text: @autoclosure () -> String) {
        guard recordTrace else { return }
        trace.append(TraceEvent(step: steps, threadID: thread, threadName: threads[thread].name, kind: kind, text: text()))
    }

    /// A new model thread on a pooled or new worker; nil (with `stopError` set) if the
    /// cap or the host refuses one.
    private func createThread(name: String, body: @escaping @Sendable () -> Void) -> Int? {
        let id = threads.count
        if abandonedThreads + threads.count >= threadCap {
            stopError = .threadLimit("thread \(name) would be thread \(threads.count + 1) of this execution, with "
                                     + "\(abandonedThreads) parked by earlier ones: over the cap of \(threadCap)")
            return nil
        }
        let worker: Worker
        if let w = idle.popLast() {
            worker = w
        } else {
            switch Worker.start() {
            case .success(let w): worker = w
            case .failure(let f):
                stopError = .threadLimit("pthread_create refused thread \(name) (error \(f.code)): the host's thread "
                                         + "limit (ulimit -u / RLIMIT_NPROC, or pids.max) is reached")
                return nil
            }
        }
        let context = SchedulerContext(scheduler: self, threadID: id, threadName: name)
        // The worker reads this only after its baton is posted, i.e. when first chosen.
        worker.assignment = .run(Worker.Job(threadID: id, context: context, body: body, explorer: self))
        threads.append(ModelThread(name: name, worker: worker))
        unfinished += 1
        return id
    }

    /// The running thread `me` reached a decision. Returns when `me` runs again; never
    /// returns if the execution ended (me is then parked for good).
    private func reschedule(_ me: Int) {
        guard let next = decide(current: me) else {
            // Ended early while `me` is unfinished. Nothing shared may be touched
            // after the post: the caller of runExecution owns the state again.
            let worker = threads[me].worker
            controller.post()
            worker.parkForever()
        }
        if next == me { return }
        let mine = threads[me].worker.baton
        running = next
        resume(next)
        mine.wait()
    }

    /// Hands the baton to `id`. The caller must not touch shared state afterwards.
    private func resume(_ id: Int) {
        threads[id].started = true
        threads[id].worker.baton.post()
    }

    /// Called by a worker whose model thread's body returned. Hands the baton on.
    func threadFinished(_ me: Int, worker: Worker) {
        threads[me].status = .finished
        unfinished -= 1
        record(me, .event, "finished")
        for t in threads {
            if case .joining(let ids) = t.status, ids.allSatisfy(isFinished) { t.status = .runnable }
        }
        if idle.count < Self.maxIdleWorkers {
            idle.append(worker)
        } else {
            worker.assignment = .quit
            worker.baton.post()
        }
        if unfinished > 0, let next = decide(current: me) {
            running = next
            resume(next)
        } else {
            controller.post()   // all done, or ended early (deadlock among the others)
        }
    }

    /// One scheduling decision: the next thread to run, or nil if the execution ends
    /// here (a deadlock or step-bound violation, or a strategy error, is recorded).
    private func decide(current: Int) -> Int? {
        var runnable: [Int] = []
        for (id, t) in threads.enumerated() {
            if case .runnable = t.status { runnable.append(id) }
        }
        if runnable.isEmpty, let (id, deadline) = earliestTimedWaiter() {
            // Nothing can run: model time jumps to the next deadline (no choice made).
            clockNs = max(clockNs, deadline)
            threads[id].timedOut = true
            threads[id].status = .runnable
            record(id, .event, "timeout at \(clockNs / 1_000_000) ms")
            runnable = [id]
        }
        if let y = yielding {
            yielding = nil
            if runnable.count > 1, let i = runnable.firstIndex(of: y) { runnable.remove(at: i) }
        }
        if runnable.isEmpty {
            // Only reached with unfinished threads: the last finisher does not decide.
            endWith(Violation(.deadlock, "no thread can run: " + threadStates()))
            return nil
        }
        if steps >= maxSteps {
            endWith(Violation(.deadlock, "step bound exceeded (livelock?): \(maxSteps) scheduling decisions; "
                              + threadStates()))
            return nil
        }
        let choice: Int
        do {
            choice = try strategy!.chooseNext(runnable: runnable, current: current, step: steps)
        } catch {
            stopError = error
            record(current, .event, "stopped: \(error)")
            return nil
        }
        guard runnable.contains(choice) else {
            stopError = .invalidChoice("chose thread \(choice) at step \(steps); runnable were \(runnable)")
            return nil
        }
        if runnable.count > 1 { choices.append(choice) }
        steps += 1
        return choice
    }

    /// The timed waiter whose deadline comes first (lowest id on a tie), if any.
    private func earliestTimedWaiter() -> (Int, UInt64)? {
        var best: (Int, UInt64)? = nil
        for (id, t) in threads.enumerated() {
            if case .timedBlocked(_, _, let d) = t.status, best.map({ d < $0.1 }) ?? true { best = (id, d) }
        }
        return best
    }

    private func endWith(_ v: Violation) {
        found.append(v)
        record(running, .event, "\(v)")
    }

    /// Every unfinished thread and what it waits for, for deadlock reports.
    private func threadStates() -> String {
        threads.compactMap { t -> String? in
            switch t.status {
            case .finished: return nil
            case .runnable: return "\(t.name): runnable"
            // Not the channel: a lock's channel id is its address, different every run,
            // and the message must replay identically. The `what` text names the lock.
            case .blocked(_, let what): return "\(t.name): \(what)"
            case .timedBlocked(_, let what, _): return "\(t.name): \(what) (timed)"
            case .joining(let ids): return "\(t.name): join " + ids.map { threads[$0].name }.joined(separator: ", ")
            }
        }.joined(separator: "; ")
    }
}
