// The scenario AST (docs/SCENARIOS.md): what `ScenarioParser` produces and the runner executes.
// Plain value types only; every statement keeps its 1-based line number so that the
// runner's output and its errors can name it. Nothing here depends on the model layers.

/// A parsed scenario file.
public struct Scenario: Sendable, Equatable {
    /// The file name as given to the parser (used in messages: `FILE:LINE: …`).
    public var file: String
    /// Top-level statements in file order. The first one is always `.machine`.
    public var statements: [Statement]

    public init(file: String, statements: [Statement]) {
        self.file = file
        self.statements = statements
    }

    /// The machine of the scenario (its first statement), if there is one.
    /// A scenario returned by the parser always has one.
    public var machine: MachineSpec? {
        if case .machine(let spec)? = statements.first?.op { return spec }
        return nil
    }
}

/// One statement and the line it came from.
public struct Statement: Sendable, Equatable {
    /// 1-based line number in the file; for `.threads`, the line of the first `thread NAME {`.
    public var line: Int
    public var op: Op

    public init(line: Int, op: Op) {
        self.line = line
        self.op = op
    }
}

/// How frame contents are stored: `full` (4 KiB of bytes per frame) or `stamp`
/// (one 64-bit stamp per frame). Mirrors MMPhysical's `ContentMode` by raw value.
public enum ScenarioContentMode: String, Sendable, Equatable, CaseIterable {
    case full, stamp
}

/// `machine nodes=N node_mem=SIZE [block=SIZE] [content=full|stamp] [zones=Z,…]
/// [movable=SIZE] [kcompactd=on|off]`. Its validity is MMPhysical's `MachineConfig`'s
/// to decide (the parser asks it).
public struct MachineSpec: Sendable, Equatable {
    /// Number of NUMA nodes, 1…64 (default 1).
    public var nodes: Int
    /// Memory per node in bytes: a multiple of 4 MiB, at least 4 MiB.
    public var nodeMemBytes: UInt64
    /// Memory block (hot-plug unit) size in bytes: a multiple of 2 MiB (one pageblock)
    /// that divides `nodeMemBytes`. Default: 16 MiB, or `nodeMemBytes` when that is
    /// smaller, or else the largest of 8 MiB / 4 MiB that divides `nodeMemBytes`.
    public var blockBytes: UInt64
    /// Frame content mode (default `.full`).
    public var content: ScenarioContentMode
    /// Zone names (`zones=`), lowest first: "DMA32", "Normal", "Movable" (default Normal).
    public var zones: [String]
    /// Bytes at the top of each node forming its Movable zone (`movable=`; 0: none).
    public var movableBytes: UInt64
    /// One kcompactd thread per node (`kcompactd=on`; default off).
    public var kcompactd: Bool

    public init(nodes: Int, nodeMemBytes: UInt64, blockBytes: UInt64, content: ScenarioContentMode,
                zones: [String] = ["Normal"], movableBytes: UInt64 = 0, kcompactd: Bool = false) {
        self.nodes = nodes
        self.nodeMemBytes = nodeMemBytes
        self.blockBytes = blockBytes
        self.content = content
        self.zones = zones
        self.movableBytes = movableBytes
        self.kcompactd = kcompactd
    }

    /// 4 KiB frames per node.
    public var pagesPerNode: Int { Int(nodeMemBytes / 4096) }
    /// Memory blocks per node (valid `block=` indices are 0 ..< blocksPerNode).
    public var blocksPerNode: Int { Int(nodeMemBytes / blockBytes) }
    /// 4 KiB frames per memory block.
    public var pagesPerBlock: Int { Int(blockBytes / 4096) }
}

/// The `flags=` of `move_pages`: Linux's MPOL_MF_* bits. Any 32-bit value can be
/// written as a number, so that a scenario can provoke EINVAL.
public struct MovePagesFlags: OptionSet, Sendable, Hashable {
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// MPOL_MF_STRICT (1).
    public static let strict = MovePagesFlags(rawValue: 1)
    /// MPOL_MF_MOVE (2): move pages mapped only by the target process. The default.
    public static let move = MovePagesFlags(rawValue: 2)
    /// MPOL_MF_MOVE_ALL (4): also move shared pages (needs privilege).
    public static let moveAll = MovePagesFlags(rawValue: 4)
}

/// `policy pin=…`: the anon_vma pin policy of migration (docs/ARCHITECTURE.md, Pin policies).
public enum ScenarioPinPolicy: String, Sendable, Equatable, CaseIterable {
    /// Before the seed: nothing pins the anon_vma (racy).
    case none = "none"
    /// The seed's logic line for line, bugs included.
    case seedV2 = "seed-v2"
    /// Correct: an atomic reference count; the last dropper frees an empty anon_vma.
    case refcount = "refcount"
}

/// `policy oom=…`: what a fault that finds no free page does.
public enum ScenarioOOMPolicy: String, Sendable, Equatable, CaseIterable {
    /// Linux: the OOM killer kills the process with the highest badness, then the fault is retried.
    case kill
    /// The fault fails with ENOMEM.
    case enomem
}

/// `policy syscall_lock=…`. Mirrors MMMigrate's `SyscallLock` by raw value.
public enum ScenarioSyscallLock: String, Sendable, Equatable, CaseIterable {
    /// Linux 6.x: the mmap_lock only while pages are found and isolated.
    case isolate
    /// Linux 2.6.22: the mmap_lock held for reading across the whole migration.
    case held
}

/// One `policy KEY=VALUE` line: a model option that selects Linux-version behaviour.
/// Each key names the mechanism it changes; its default is Linux 6.x's behaviour.
public enum PolicySetting: Sendable, Equatable {
    /// `pin=none|seed-v2|refcount`: the anon_vma pin policy of migration.
    case pin(ScenarioPinPolicy)

    // MARK: policies — fidelity (migration, NUMA calls)
    /// `syscall_lock=isolate|held`: how move_pages / migrate_pages hold the owner's
    /// mmap_lock (default isolate, Linux 6.x; held is 2.6.22's).
    case syscallLock(ScenarioSyscallLock)
    /// `mremap_rmap_lock=on|off`: whether mremap moves PTEs under the anon_vma lock
    /// (default on, Linux 2.6.34+; off reproduces the older bug).
    case mremapRmapLock(Bool)

    // MARK: policies — robustness (limits, OOM)
    /// `oom=kill|enomem`: a fault that finds no free page runs the OOM killer (Linux) or fails with ENOMEM.
    case oom(ScenarioOOMPolicy)

    // MARK: policies — compaction

    // MARK: policies — hot-remove
    /// `offline_retry=timeout:T|forever|passes:N`: how long an offline keeps retrying
    /// (the text, validated by the parser; MMHotplug's OfflineRetryPolicy reads it).
    case offlineRetry(String)

    /// The key as written in the file.
    public var key: String {
        switch self {
        case .pin: "pin"

        // MARK: policy keys — fidelity (migration, NUMA calls)
        case .syscallLock: "syscall_lock"
        case .mremapRmapLock: "mremap_rmap_lock"

        // MARK: policy keys — robustness (limits, OOM)
        case .oom: "oom"

        // MARK: policy keys — compaction

        // MARK: policy keys — hot-remove
        case .offlineRetry: "offline_retry"

        }
    }
}

/// One `thread NAME { … }` block of a `.threads` group.
public struct ThreadBlock: Sendable, Equatable {
    /// Thread name, unique within its group.
    public var name: String
    /// Line of `thread NAME {`.
    public var line: Int
    /// The statements the thread runs, in order (never `.machine`, `.policy`,
    /// `.threads` or `.verify`).
    public var statements: [Statement]

    public init(name: String, line: Int, statements: [Statement]) {
        self.name = name
        self.line = line
        self.statements = statements
    }
}

/// What a statement does. Process names are the names of `process` lines (or of
/// `fork` children); addresses and lengths are in bytes.
public enum Op: Sendable, Equatable {
    /// `machine nodes=N node_mem=SIZE [block=SIZE] [content=full|stamp] [zones=…]
    /// [movable=SIZE] [kcompactd=on|off]` — first statement.
    case machine(MachineSpec)
    /// `process NAME [node=N] [uid=U] [privileged] [oom_score_adj=N]` — a new address space.
    /// `node`: home node for its allocations (nil: the runner's default);
    /// `oomScoreAdj`: -1000 (never OOM-killed) … 1000, Linux's /proc/PID/oom_score_adj.
    case process(name: String, node: Int?, uid: Int, privileged: Bool, oomScoreAdj: Int = 0)
    /// `mmap P ADDR LEN` — anonymous private read-write mapping. Page aligned, LEN > 0.
    case mmap(proc: String, addr: UInt64, length: UInt64)
    /// `touch P ADDR LEN` — fault in and write stamped contents. Page aligned, LEN > 0.
    case touch(proc: String, addr: UInt64, length: UInt64)
    /// `write P ADDR LEN` — write fresh stamps to every page of the range (extension).
    case write(proc: String, addr: UInt64, length: UInt64)
    /// `read P ADDR LEN` — read every page of the range and check its stamp (extension).
    case read(proc: String, addr: UInt64, length: UInt64)
    /// `fork PARENT CHILD` — CHILD is declared by this statement.
    case fork(parent: String, child: String)
    /// `pin P ADDR` — an extra long-term reference on the page mapped at ADDR.
    case pin(proc: String, addr: UInt64)
    /// `unpin P ADDR` — drop one such reference.
    case unpin(proc: String, addr: UInt64)
    /// `mremap P OLD LEN NEW` — move a mapping. Page aligned, LEN > 0.
    case mremap(proc: String, oldAddr: UInt64, length: UInt64, newAddr: UInt64)
    /// `munmap P ADDR LEN`. Page aligned, LEN > 0.
    case munmap(proc: String, addr: UInt64, length: UInt64)
    /// `exit P`.
    case exit(proc: String)
    /// `unmovable node=N pages=N` — kernel allocations that cannot move.
    case unmovable(node: Int, pages: Int)
    /// `move_pages P (node=N | nodes=N,N,…) ADDR… [flags=…] [as=Q]`.
    /// `nodes` has one entry per address (`node=N` is expanded to all of them); any
    /// integers (a node the machine lacks is the call's ENODEV).
    /// Addresses need not be aligned or mapped (Linux reports that per page).
    /// `caller`: the calling process (`as=`), nil when it is `proc` itself.
    case movePages(proc: String, nodes: [Int], addrs: [UInt64], flags: MovePagesFlags, caller: String?)
    /// `query_pages P ADDR… [as=Q]` — move_pages with no nodes: report each page's node.
    case queryPages(proc: String, addrs: [UInt64], caller: String?)
    /// `migrate_pages P from=N[,N…] to=N[,N…] [as=Q]` — two node masks (sets: order
    /// does not matter, weights may differ), no node twice in one list; any integers.
    case migratePages(proc: String, from: [Int], to: [Int], caller: String?)
    /// `compact [node=N] [order=0…10] [mode=sync|async|sync-light]` (nil: not given).
    case compact(node: Int?, order: Int?, mode: String?)
    /// `offline node=N block=B [timeout=T]` — hot-remove memory block B of node N
    /// (`timeout`: seconds, overriding `policy offline_retry=`; nil: the policy's).
    case offline(node: Int, block: Int, timeout: Double? = nil)
    /// `online node=N block=B`.
    case online(node: Int, block: Int)
    /// `migrate_kernel P ADDR [LEN] [node=N] [mode=async|sync-light|sync] [batch=N]` —
    /// kernel-context migration of the pages mapped in [ADDR, ADDR+LEN) (LEN default
    /// 4K) to node N (nil: each page's next node), in `mode` (default sync), `batch`
    /// pages unmapped before any is copied (default 1: page at a time).
    case migrateKernel(proc: String, addr: UInt64, length: UInt64, node: Int?, mode: String, batch: Int)
    /// `policy KEY=VALUE` — one model option (see `PolicySetting`).
    case policy(PolicySetting)
    // MARK: statements — fidelity (migration, NUMA calls)
    /// `writeback P ADDR` — start writeback of the page mapped at ADDR (PG_writeback
    /// set, an I/O reference held) until `writeback_end P ADDR`.
    case writeback(proc: String, addr: UInt64)
    /// `writeback_end P ADDR` — end it: clear PG_writeback, wake the waiters.
    case writebackEnd(proc: String, addr: UInt64)

    // MARK: statements — robustness (limits, OOM)

    // MARK: statements — compaction
    /// `alloc node=N order=K count=C [movable|unmovable]` — kernel allocations of
    /// 2^K pages on node N (direct compaction when they fail).
    case alloc(node: Int, order: Int, count: Int, movable: Bool)
    /// `free_alloc node=N order=K count=C` — frees the C latest `alloc` blocks of that node and order.
    case freeAlloc(node: Int, order: Int, count: Int)
    /// `sysctl vm.NAME=N` — one of vm.compaction_proactiveness, vm.extfrag_threshold,
    /// vm.compact_unevictable_allowed.
    case sysctl(name: String, value: Int)

    // MARK: statements — hot-remove
    /// `cancel_offline node=N block=B` — signal the offline of that block (from another
    /// thread): it stops retrying with EINTR "signal backoff" and rolls back.
    case cancelOffline(node: Int, block: Int)
    /// `blocks` — print the memory-block table (/sys/devices/system/memory).
    case blocks

    // MARK: statements — snapshot

    // MARK: statements — page cache
    /// `pagecache NAME folios=N order=K [dirty] [writeback] [private] [node=N]` — N
    /// folios of 2^K pages allocated on node N (default 0) into file NAME at its next
    /// free indices, on the LRU, with those flags (Linux: filemap_add_folio).
    case pageCache(file: String, folios: Int, order: Int, dirty: Bool, writeback: Bool, hasPrivate: Bool, node: Int)

    /// Consecutive `thread NAME { … }` blocks: they start together and the next
    /// statement waits for all of them.
    case threads([ThreadBlock])
    /// `verify` — run the invariant checker (a quiet point; not inside threads).
    case verify

    /// The statement keyword, as written in the file (and as the `"op"` of `--json`
    /// output); `"threads"` for a thread group.
    public var name: String {
        switch self {
        case .machine: "machine"
        case .process: "process"
        case .mmap: "mmap"
        case .touch: "touch"
        case .write: "write"
        case .read: "read"
        case .fork: "fork"
        case .pin: "pin"
        case .unpin: "unpin"
        case .mremap: "mremap"
        case .munmap: "munmap"
        case .exit: "exit"
        case .unmovable: "unmovable"
        case .movePages: "move_pages"
        case .queryPages: "query_pages"
        case .migratePages: "migrate_pages"
        case .compact: "compact"
        case .offline: "offline"
        case .online: "online"
        case .migrateKernel: "migrate_kernel"
        case .policy: "policy"
        // MARK: statements — fidelity (migration, NUMA calls)
        case .writeback: "writeback"
        case .writebackEnd: "writeback_end"

        // MARK: statements — robustness (limits, OOM)

        // MARK: statements — compaction
        case .alloc: "alloc"
        case .freeAlloc: "free_alloc"
        case .sysctl: "sysctl"

        // MARK: statements — hot-remove
        case .cancelOffline: "cancel_offline"
        case .blocks: "blocks"

        // MARK: statements — snapshot

        // MARK: statements — page cache
        case .pageCache: "pagecache"

        case .threads: "threads"
        case .verify: "verify"
        }
    }
}

/// A malformed or unreadable scenario file. `description` is `FILE:LINE: message`
/// (`FILE: message` when `line` is 0, i.e. the file itself could not be read).
public struct ScenarioError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    /// 1-based line number; 0 when the error concerns the whole file.
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        // Both parts may quote the file's bytes or its name: escape what a terminal
        // would interpret (ScenarioLimits.swift).
        let f = ScenarioParser.escapeForTerminal(file), m = ScenarioParser.escapeForTerminal(message)
        return line == 0 ? "\(f): \(m)" : "\(f):\(line): \(m)"
    }
}
