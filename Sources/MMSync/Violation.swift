// The vocabulary every layer uses to report a broken invariant. Kinds are the names of
// the scenario contract (docs/SCENARIOS.md); the checker, the rmap layer (use-after-free on a
// stale anon_vma reference) and the explorer (deadlock) all produce them.

/// One broken invariant, with a one-line reason naming the object.
public struct Violation: Hashable, Sendable, CustomStringConvertible {
    /// The contract's violation kinds; the raw value is what JSON output prints.
    public enum Kind: String, Sendable, CaseIterable {
        case useAfterFree = "use-after-free"
        case leak
        case lostWrite = "lost-write"
        case mapcount
        case refcount
        case staleMigrationEntry = "stale-migration-entry"
        case deadlock
        case accounting
        /// A mapped page whose rmap (page->mapping, page->index, anon_vma list) does not
        /// lead back to the PTE that maps it.
        case rmap
        /// A lock taken while holding one that comes after it in the lock order.
        case lockOrder = "lock-order"
        /// An object freed a second time (the seed's anon_vma_release after the owner's
        /// exit already freed it).
        case doubleFree = "double-free"
        /// An RCU read-side section left open (the seed's anon_vma_hold never calls
        /// rcu_read_unlock, and migration then sleeps inside it).
        case rcuImbalance = "rcu-imbalance"
    }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { "\(kind.rawValue): \(message)" }
}

/// A thread-safe, append-only list of violations found while the model runs (as
/// opposed to those the checker finds at a quiet point).
public final class ViolationLog: @unchecked Sendable {
    private let lock = PlainLock()
    private var items: [Violation] = []
    public init() {}
    public func report(_ v: Violation) {
        Sched.note("VIOLATION \(v)")
        lock.withLock { items.append(v) }
    }
    public var all: [Violation] { lock.withLock { items } }
    public var isEmpty: Bool { lock.withLock { items.isEmpty } }
}
