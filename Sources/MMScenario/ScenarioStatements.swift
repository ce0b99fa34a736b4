// The rules of each scenario statement (docs/SCENARIOS.md): what arguments it takes, in what
// ranges, and the AST node it becomes. The line machinery is in ScenarioParser.swift.

import MMPhysical

extension LineParser {
    mutating func parseStatement(_ keyword: String, _ tokens: ArraySlice<String>) throws(ScenarioError) -> Op {
        switch keyword {
        case "machine":
            let args = try splitArgs(keyword, tokens, keys: ["nodes", "node_mem", "block", "content", "zones", "movable", "kcompactd"])
            try expectPositional(args, 0, names: [], usage: LineParser.machineUsage)
            let spec = try machineSpec(args)
            machine = spec
            machineLine = lineNo
            return .machine(spec)

        case "process":
            let usage = "process NAME [node=N] [uid=U] [privileged] [oom_score_adj=N]"
            let args = try splitArgs(keyword, tokens, keys: ["node", "uid", "oom_score_adj"])
            try expectPositional(args, 1, names: ["process name"], usage: usage, orMore: true)
            var privileged = false
            for extra in args.positional.dropFirst() {
                guard extra == "privileged" else {
                    throw error("unexpected argument \(ScenarioParser.show(extra)) (usage: \(usage))")
                }
                if privileged { throw error("duplicate 'privileged'") }
                privileged = true
            }
            let node = try args.keyed["node"].map { v throws(ScenarioError) in try anyNode(v) }
            let uid = try args.keyed["uid"].map { v throws(ScenarioError) in try int(v, "uid", 0...0xFFFF_FFFE) } ?? 0
            let adj = try args.keyed["oom_score_adj"].map { v throws(ScenarioError) in try oomScoreAdj(v) } ?? 0
            let name = try declare(args.positional[0])
            return .process(name: name, node: node, uid: uid, privileged: privileged, oomScoreAdj: adj)

        case "mmap", "touch", "write", "read", "munmap":
            let args = try splitArgs(keyword, tokens, keys: [])
            try expectPositional(args, 3, names: ["process name", "address", "length"], usage: "\(keyword) PROC ADDR LENGTH")
            let proc = try process(args.positional[0])
            let (addr, length) = try range(args.positional[1], args.positional[2])
            switch keyword {
            case "mmap": return .mmap(proc: proc, addr: addr, length: length)
            case "touch": return .touch(proc: proc, addr: addr, length: length)
            case "write": return .write(proc: proc, addr: addr, length: length)
            case "read": return .read(proc: proc, addr: addr, length: length)
            default: return .munmap(proc: proc, addr: addr, length: length)
            }

        case "fork":
            let args = try splitArgs(keyword, tokens, keys: [])
            try expectPositional(args, 2, names: ["parent process", "child process"], usage: "fork PARENT CHILD")
            let parent = try process(args.positional[0])
            let child = try declare(args.positional[1])
            return .fork(parent: parent, child: child)

        case "pin", "unpin":
            let args = try splitArgs(keyword, tokens, keys: [])
            try expectPositional(args, 2, names: ["process name", "address"], usage: "\(keyword) PROC ADDR")
            let proc = try process(args.positional[0])
            let addr = try address(args.positional[1])
            return keyword == "pin" ? .pin(proc: proc, addr: addr) : .unpin(proc: proc, addr: addr)

        case "mremap":
            let args = try splitArgs(keyword, tokens, keys: [])
            let usage = "mremap PROC OLD_ADDR LENGTH NEW_ADDR"
            try expectPositional(args, 4, names: ["process name", "old address", "length", "new address"], usage: usage)
            let proc = try process(args.positional[0])
            let (old, length) = try range(args.positional[1], args.positional[2], addrWhat: "old address")
            let (new, _) = try range(args.positional[3], args.positional[2], addrWhat: "new address")
            return .mremap(proc: proc, oldAddr: old, length: length, newAddr: new)

        case "exit":
            let args = try splitArgs(keyword, tokens, keys: [])
            try expectPositional(args, 1, names: ["process name"], usage: "exit PROC")
            return .exit(proc: try process(args.positional[0]))

        case "unmovable":
            let args = try splitArgs(keyword, tokens, keys: ["node", "pages"])
            let usage = "unmovable node=N pages=N"
            try expectPositional(args, 0, names: [], usage: usage)
            guard let nodeText = args.keyed["node"] else { throw error("missing argument: node=N (usage: \(usage))") }
            guard let pagesText = args.keyed["pages"] else { throw error("missing argument: pages=N (usage: \(usage))") }
            let node = try anyNode(nodeText)
            let pages = try int(pagesText, "pages", 1...machine!.pagesPerNode)
            return .unmovable(node: node, pages: pages)

        case "move_pages":
            let usage = "move_pages PROC (node=N | nodes=N,N,…) ADDR… [flags=move|move_all|strict|NUMBER] [as=PROC]"
            let args = try splitArgs(keyword, tokens, keys: ["node", "nodes", "flags", "as"])
            try expectPositional(args, 2, names: ["process name", "address"], usage: usage, orMore: true)
            let proc = try process(args.positional[0])
            let addrs = try pageAddresses(args.positional.dropFirst())
            let nodes: [Int]
            switch (args.keyed["node"], args.keyed["nodes"]) {
            case (.some, .some): throw error("node= and nodes= exclude each other: give one node for all pages or one per address")
            case (.some(let n), nil): nodes = Array(repeating: try anyNode(n), count: addrs.count)
            case (nil, .some(let list)):
                nodes = try anyNodeList(list, "nodes", distinct: false)
                if nodes.count != addrs.count {
                    throw error("nodes= lists \(nodes.count) node\(nodes.count == 1 ? "" : "s") for \(addrs.count) address\(addrs.count == 1 ? "" : "es"): give one per address")
                }
            case (nil, nil): throw error("missing argument: node=N or nodes=N,N,… (to query without moving use query_pages)")
            }
            let flags = try args.keyed["flags"].map { v throws(ScenarioError) in try moveFlags(v) } ?? .move
            return .movePages(proc: proc, nodes: nodes, addrs: addrs, flags: flags, caller: try caller(args))

        case "query_pages":
            let args = try splitArgs(keyword, tokens, keys: ["as"])
            try expectPositional(args, 2, names: ["process name", "address"], usage: "query_pages PROC ADDR… [as=PROC]", orMore: true)
            let proc = try process(args.positional[0])
            let addrs = try pageAddresses(args.positional.dropFirst())
            return .queryPages(proc: proc, addrs: addrs, caller: try caller(args))

        case "migrate_pages":
            let usage = "migrate_pages PROC from=N[,N…] to=N[,N…] [as=PROC]"
            let args = try splitArgs(keyword, tokens, keys: ["from", "to", "as"])
            try expectPositional(args, 1, names: ["process name"], usage: usage)
            let proc = try process(args.positional[0])
            guard let fromText = args.keyed["from"] else { throw error("missing argument: from=N (usage: \(usage))") }
            guard let toText = args.keyed["to"] else { throw error("missing argument: to=N (usage: \(usage))") }
            // Node masks (Linux: node_remap pairs the n-th node of each; weights may differ).
            let from = try anyNodeList(fromText, "from", distinct: true)
            let to = try anyNodeList(toText, "to", distinct: true)
            return .migratePages(proc: proc, from: from, to: to, caller: try caller(args))

        case "compact":
            let args = try splitArgs(keyword, tokens, keys: ["node", "order", "mode"])
            try expectPositional(args, 0, names: [], usage: "compact [node=N] [order=N] [mode=sync|async|sync-light]")
            let node = try args.keyed["node"].map { v throws(ScenarioError) in try self.node(v) }
            let order = try args.keyed["order"].map { v throws(ScenarioError) in try int(v, "order", 0...ScenarioParser.maxOrder) }
            let mode = args.keyed["mode"]
            if let mode, !["sync", "async", "sync-light"].contains(mode) {
                throw error("bad mode \(ScenarioParser.show(mode)): expected sync, async or sync-light")
            }
            return .compact(node: node, order: order, mode: mode)

        case "offline", "online":
            let usage = keyword == "offline" ? "offline node=N block=B [timeout=T]" : "online node=N block=B"
            let args = try splitArgs(keyword, tokens, keys: keyword == "offline" ? ["node", "block", "timeout"] : ["node", "block"])
            try expectPositional(args, 0, names: [], usage: usage)
            let (node, b) = try memoryBlock(args, usage: usage)
            guard keyword == "offline" else { return .online(node: node, block: b) }
            let timeout = try args.keyed["timeout"].map { v throws(ScenarioError) in try offlineTimeout(v) }
            return .offline(node: node, block: b, timeout: timeout)

        case "migrate_kernel":
            return try migrateKernelStatement(tokens)

        case "policy":
            let keys = LineParser.policyKeys
            let usage = "policy KEY=VALUE (keys: \(keys.joined(separator: ", ")))"
            let args = try splitArgs(keyword, tokens, keys: keys)
            try expectPositional(args, 0, names: [], usage: usage)
            guard let (key, value) = args.keyed.first else { throw error("missing argument: \(keys[0])=… or another KEY=VALUE (usage: \(usage))") }
            guard args.keyed.count == 1 else { throw error("policy takes exactly one KEY=VALUE (usage: \(usage))") }
            return .policy(try policySetting(key, value))

        // MARK: statements — fidelity (migration, NUMA calls)
        case "writeback", "writeback_end":
            return try writebackStatement(keyword, tokens)

        // MARK: statements — robustness (limits, OOM)

        // MARK: statements — compaction
        case "alloc", "free_alloc", "sysctl": return try parseCompactionStatement(keyword, tokens)

        // MARK: statements — hot-remove
        case "cancel_offline", "blocks": return try parseHotRemove(keyword, tokens)

        // MARK: statements — snapshot

        // MARK: statements — page cache
        case "pagecache": return try parsePageCache(tokens)

        case "verify":
            let args = try splitArgs(keyword, tokens, keys: [])
            try expectPositional(args, 0, names: [], usage: "verify")
            return .verify

        default:
            // `thread` is handled by the caller; the keyword list is checked before.
            throw error("unknown statement \(ScenarioParser.show(keyword))")
        }
    }

    /// The `node=N block=B` of the hot-remove statements: a node of the machine and a
    /// memory block index within it.
    func memoryBlock(_ args: Args, usage: String) throws(ScenarioError) -> (node: Int, block: Int) {
        guard let nodeText = args.keyed["node"] else { throw error("missing argument: node=N (usage: \(usage))") }
        guard let blockText = args.keyed["block"] else { throw error("missing argument: block=B (usage: \(usage))") }
        let node = try node(nodeText)
        let blocks = machine?.blocksPerNode ?? 0
        let b = try number(blockText, "block")
        guard b < UInt64(blocks) else {
            throw error("block=\(b) out of range: each node has \(blocks) memory block\(blocks == 1 ? "" : "s") (0…\(max(blocks - 1, 0))) of \((machine?.blockBytes ?? 0) >> 20)M")
        }
        return (node, Int(b))
    }

    /// Keys of `policy KEY=VALUE`, in the order the documentation lists them.
    static let policyKeys: [String] = [
        "pin",
        // MARK: policy keys — fidelity (migration, NUMA calls)
        "syscall_lock", "mremap_rmap_lock",

        // MARK: policy keys — robustness (limits, OOM)
        "oom",

        // MARK: policy keys — compaction

        // MARK: policy keys — hot-remove
        "offline_retry",

    ]

    func policySetting(_ key: String, _ value: String) throws(ScenarioError) -> PolicySetting {
        switch key {
        case "pin":
            guard let pin = ScenarioPinPolicy(rawValue: value) else {
                throw error("bad pin policy \(ScenarioParser.show(value)): expected none, seed-v2 or refcount")
            }
            return .pin(pin)

        // MARK: policies — fidelity (migration, NUMA calls)
        case "syscall_lock", "mremap_rmap_lock":
            return try fidelityPolicy(key, value)

        // MARK: policies — robustness (limits, OOM)
        case "oom":
            guard let oom = ScenarioOOMPolicy(rawValue: value) else {
                throw error("bad oom policy \(ScenarioParser.show(value)): expected kill or enomem")
            }
            return .oom(oom)

        // MARK: policies — compaction

        // MARK: policies — hot-remove
        case "offline_retry": return try offlineRetry(value)

        default:
            throw error("unknown policy \(ScenarioParser.show(key))")  // splitArgs checked the key
        }
    }

    static let machineUsage = "machine nodes=N node_mem=SIZE [block=SIZE] [content=full|stamp] [zones=DMA32,Normal,Movable] [movable=SIZE] [kcompactd=on|off]"

    /// The `machine` line: values parsed here, geometry judged by MachineConfig (the one
    /// owner of what a machine may be), so the CLI and the model agree with the file.
    func machineSpec(_ args: Args) throws(ScenarioError) -> MachineSpec {
        let nodes = try args.keyed["nodes"].map { v throws(ScenarioError) in try int(v, "nodes", 1...MachineConfig.maxNodes) } ?? 1
        guard let memText = args.keyed["node_mem"] else {
            throw error("missing argument: node_mem=SIZE (usage: \(LineParser.machineUsage))")
        }
        let mem = try size(memText, "node_mem")
        if mem > UInt64(MachineConfig.maxNodeMemBytes) { throw error("node_mem=\(memText) is too large: at most 1024G (1 TiB) per node") }
        let block = try args.keyed["block"].map { v throws(ScenarioError) in try size(v, "block") }
        if let block, block > UInt64(MachineConfig.maxNodeMemBytes) { throw error("block=\(args.keyed["block"]!) does not divide node_mem=\(memText)") }
        var content = ScenarioContentMode.full
        if let c = args.keyed["content"] {
            guard let m = ScenarioContentMode(rawValue: c) else {
                throw error("bad content mode \(ScenarioParser.show(c)): expected full or stamp")
            }
            content = m
        }
        var kinds: [ZoneKind] = [.normal]
        if let z = args.keyed["zones"] {
            kinds = []
            for part in z.split(separator: ",", omittingEmptySubsequences: false) {
                guard let k = ZoneKind(name: String(part)) else {
                    throw error("bad zone \(ScenarioParser.show(String(part))) in zones=: expected DMA32, Normal or Movable")
                }
                if kinds.contains(k) { throw error("zone \(k.name) named twice in zones=") }
                kinds.append(k)
            }
        }
        let movable = try args.keyed["movable"].map { v throws(ScenarioError) in try size(v, "movable") } ?? 0
        if movable > UInt64(MachineConfig.maxNodeMemBytes) { throw error("movable=\(args.keyed["movable"]!) leaves no memory for kernel allocations") }
        var kcompactd = false
        if let k = args.keyed["kcompactd"] {
            guard k == "on" || k == "off" else { throw error("bad kcompactd \(ScenarioParser.show(k)): expected on or off") }
            kcompactd = k == "on"
        }
        let config = MachineConfig(nodes: nodes, nodeMemBytes: Int(mem), blockBytes: block.map { Int($0) },
                                   content: content == .full ? .full : .stamp, zones: kinds,
                                   movableBytes: Int(movable), kcompactd: kcompactd)
        if let problem = config.problem { throw error(problem) }
        return MachineSpec(nodes: nodes, nodeMemBytes: mem, blockBytes: UInt64(config.blockBytes), content: content,
                           zones: config.zoneKinds.map(\.name), movableBytes: movable, kcompactd: kcompactd)
    }

    /// Addresses of move_pages / query_pages: any 64-bit value (Linux answers -EFAULT
    /// per page for what is not mapped).
    func pageAddresses(_ tokens: ArraySlice<String>) throws(ScenarioError) -> [UInt64] {
        var addrs: [UInt64] = []
        addrs.reserveCapacity(tokens.count)
        for t in tokens { addrs.append(try number(t, "address")) }
        return addrs
    }

    /// `flags=`: names move, move_all, strict or numbers, combined with `|`.
    func moveFlags(_ value: String) throws(ScenarioError) -> MovePagesFlags {
        var flags = MovePagesFlags()
        for part in value.split(separator: "|", omittingEmptySubsequences: false) {
            switch part {
            case "move": flags.insert(.move)
            case "move_all": flags.insert(.moveAll)
            case "strict": flags.insert(.strict)
            case "":
                throw error("bad flags \(ScenarioParser.show(value)): empty element between '|'")
            default:
                guard case .success(let v) = ScenarioParser.number(part.utf8, suffix: false) else {
                    throw error("bad flag \(ScenarioParser.show(String(part))) in flags=: expected move, move_all, strict or a number")
                }
                guard v <= 0xFFFF_FFFF else { throw error("flags value \(ScenarioParser.hex(v)) out of range (32 bits)") }
                flags.formUnion(MovePagesFlags(rawValue: Int(v)))
            }
        }
        return flags
    }
}
