// The vm sysctls compaction reads (Linux: /proc/sys/vm/compaction_proactiveness,
// extfrag_threshold, compact_unevictable_allowed; kernel/sysctl.c and mm/compaction.c).
// One set per machine; atomics, because kcompactd reads them while a scenario writes.

import Synchronization

/// The machine's vm.* tunables, with Linux's defaults and ranges.
public final class VMSysctl: Sendable {
    /// A tunable's name as /proc/sys/vm spells it, and the values it accepts.
    public enum Key: String, CaseIterable, Sendable {
        case compactionProactiveness = "vm.compaction_proactiveness"
        case extfragThreshold = "vm.extfrag_threshold"
        case compactUnevictableAllowed = "vm.compact_unevictable_allowed"

        /// Linux's accepted range (proc_dointvec_minmax bounds).
        public var range: ClosedRange<Int> {
            switch self {
            case .compactionProactiveness: 0...100
            case .extfragThreshold: 0...1000
            case .compactUnevictableAllowed: 0...1
            }
        }
        /// Linux's default.
        public var defaultValue: Int {
            switch self {
            case .compactionProactiveness: 20
            case .extfragThreshold: 500
            case .compactUnevictableAllowed: 1
            }
        }
    }

    private let values: [Atomic<Int64>.Box]

    public init() { values = Key.allCases.map { Atomic<Int64>.Box(Int64($0.defaultValue)) } }

    public subscript(_ key: Key) -> Int {
        get { Int(values[Key.allCases.firstIndex(of: key)!].value.load(ordering: .acquiring)) }
    }

    /// Writes a value; false (unchanged) when it is outside the key's range (Linux: -EINVAL).
    @discardableResult
    public func set(_ key: Key, _ value: Int) -> Bool {
        guard key.range.contains(value) else { return false }
        values[Key.allCases.firstIndex(of: key)!].value.store(Int64(value), ordering: .releasing)
        return true
    }
}

