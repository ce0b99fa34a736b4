// The readable trace of one execution and the outcome the explorer hands back.

import MMSync

/// One line of an execution's trace.
public struct TraceEvent: Hashable, Sendable {
    /// What kind of hook produced the event.
    public enum Kind: UInt8, Sendable {
        /// A scheduling point (`schedulePoint`: a lock attempt, a marked yield point).
        case point
        /// The thread blocked (`block(on:)`): the text says what it waits for.
        case block
        /// A trace note (`Sched.note`), no scheduling decision.
        case note
        /// Explorer bookkeeping: a thread was spawned, woken, joined or finished.
        case event
    }
    /// Number of scheduling decisions taken before this event.
    public let step: Int
    public let threadID: Int
    public let threadName: String
    public let kind: Kind
    public let text: String

    public init(step: Int, threadID: Int, threadName: String, kind: Kind, text: String) {
        self.step = step
        self.threadID = threadID
        self.threadName = threadName
        self.kind = kind
        self.text = text
    }
}

/// Formats a trace one event a line: step, thread, text (`  12  T1      lock anon_vma`).
/// Blocks are marked `[blocked]`; explorer events are in parentheses. Who runs next is
/// visible in the thread column: a change of thread is a switch.
public func formatTrace(_ trace: [TraceEvent]) -> String {
    let width = max(6, trace.map(\.threadName.count).max() ?? 0)
    var out = ""
    for e in trace {
        let step = String(e.step)
        out += String(repeating: " ", count: max(0, 4 - step.count)) + step + "  "
        out += e.threadName + String(repeating: " ", count: width - e.threadName.count + 2)
        switch e.kind {
        case .point, .note: out += e.text
        case .block: out += "[blocked] " + e.text
        case .event: out += "(" + e.text + ")"
        }
        out += "\n"
    }
    return out
}

/// How one execution went.
public struct ExecutionOutcome: Sendable {
    /// Violations: those the body returned, plus a `.deadlock` one if no thread could
    /// run or the step bound was hit.
    public let violations: [Violation]
    /// Every event, in order (empty if the explorer does not record traces).
    public let trace: [TraceEvent]
    /// The schedule that was run; `token` is its printable form.
    public let schedule: ScheduleToken
    /// Scheduling decisions taken.
    public let steps: Int
    /// Model threads the execution created (including "main").
    public let threadCount: Int
    /// Set when the strategy stopped the execution (a replay diverged, a DFS prefix
    /// behaved differently): then `violations` and `trace` stop where it stopped.
    public let error: ScheduleError?
    /// Threads left parked forever because the execution ended while they were
    /// blocked (deadlock, step bound, strategy error). See `Explorer`.
    public let abandonedThreads: Int

    /// The printable token that replays this execution.
    public var token: String { schedule.encoded }
    /// True if the execution found nothing wrong and ran to its end.
    public var isClean: Bool { violations.isEmpty && error == nil }
}
