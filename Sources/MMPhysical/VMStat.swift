// Event counters with Linux's /proc/vmstat names (Linux: mm/vmstat.c).

import Synchronization

/// One counter; `name` is what vmstat output prints.
public enum VMStatItem: Int, CaseIterable, Sendable {
    case pgfault
    case pgmajfault
    case pgalloc
    case pgfree
    case thpFaultAlloc
    case pgmigrateSuccess
    case pgmigrateFail
    case migrateReasonCompaction
    case migrateReasonHotplug
    case migrateReasonSyscall
    case migrateReasonNuma
    case compactMigrateScanned
    case compactFreeScanned
    case compactIsolated
    case compactStall
    case compactFail
    case compactSuccess
    case compactDaemonWake
    case compactDaemonMigrateScanned
    case compactDaemonFreeScanned
    case cowFault
    case migrationEntryWait
    case forks
    case anonVmaAlloc
    case anonVmaFree

    /// The /proc/vmstat name.
    public var name: String {
        switch self {
        case .pgfault: return "pgfault"
        case .pgmajfault: return "pgmajfault"
        case .pgalloc: return "pgalloc_normal"
        case .pgfree: return "pgfree"
        case .thpFaultAlloc: return "thp_fault_alloc"
        case .pgmigrateSuccess: return "pgmigrate_success"
        case .pgmigrateFail: return "pgmigrate_fail"
        case .migrateReasonCompaction: return "pgmigrate_reason_compaction"
        case .migrateReasonHotplug: return "pgmigrate_reason_memory_hotplug"
        case .migrateReasonSyscall: return "pgmigrate_reason_syscall"
        case .migrateReasonNuma: return "pgmigrate_reason_numa_misplaced"
        case .compactMigrateScanned: return "compact_migrate_scanned"
        case .compactFreeScanned: return "compact_free_scanned"
        case .compactIsolated: return "compact_isolated"
        case .compactStall: return "compact_stall"
        case .compactFail: return "compact_fail"
        case .compactSuccess: return "compact_success"
        case .compactDaemonWake: return "compact_daemon_wake"
        case .compactDaemonMigrateScanned: return "compact_daemon_migrate_scanned"
        case .compactDaemonFreeScanned: return "compact_daemon_free_scanned"
        case .cowFault: return "cow_fault"
        case .migrationEntryWait: return "migration_entry_wait"
        case .forks: return "nr_forks"
        case .anonVmaAlloc: return "anon_vma_alloc"
        case .anonVmaFree: return "anon_vma_free"
        }
    }
}

/// The counters of one machine. Updates are relaxed atomic adds: cheap and exact.
public final class VMStat: Sendable {
    private let counters: [Atomic<Int64>.Box]
    public init() {
        counters = VMStatItem.allCases.map { _ in Atomic<Int64>.Box(0) }
    }
    @inline(__always) public func add(_ item: VMStatItem, _ n: Int64 = 1) {
        counters[item.rawValue].value.wrappingAdd(n, ordering: .relaxed)
    }
    public subscript(_ item: VMStatItem) -> Int64 {
        counters[item.rawValue].value.load(ordering: .relaxed)
    }
}

extension Atomic where Value == Int64 {
    /// A heap box so an array can hold atomics (Atomic itself is non-copyable).
    public final class Box: Sendable {
        public let value: Atomic<Int64>
        public init(_ v: Int64) { value = Atomic(v) }
    }
}
