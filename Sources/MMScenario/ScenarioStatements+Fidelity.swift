// Scenario rules of the fidelity area (migration, NUMA calls): node numbers as system
// calls receive them, and the `policy` keys that pick a Linux version's behaviour.

extension LineParser {
    /// A node number as a system call receives it: any 32-bit integer (a negative one
    /// written with a leading '-'). Whether the machine has that node is the call's
    /// business (ENODEV from move_pages, EINVAL from migrate_pages), not the parser's.
    func anyNode(_ token: String, _ what: String = "node") throws(ScenarioError) -> Int {
        let negative = token.hasPrefix("-")
        let digits = negative ? String(token.dropFirst()) : token
        let v = try number(digits, what)
        guard v <= (negative ? 1 << 31 : (1 << 31) - 1) else {
            throw error("\(what)=\(token) out of range: a node is a 32-bit int")
        }
        return negative ? -Int(v) : Int(v)
    }

    /// A comma-separated list of `anyNode`s; with `distinct`, no node twice.
    func anyNodeList(_ value: String, _ what: String, distinct: Bool) throws(ScenarioError) -> [Int] {
        var nodes: [Int] = []
        for part in value.split(separator: ",", omittingEmptySubsequences: false) {
            if part.isEmpty { throw error("bad node list \(ScenarioParser.show(value)) for \(what)=: empty element") }
            let n = try anyNode(String(part), what)
            if distinct && nodes.contains(n) { throw error("node \(n) appears twice in \(what)=\(value)") }
            nodes.append(n)
        }
        return nodes
    }

    /// `policy syscall_lock=…` and `policy mremap_rmap_lock=…`.
    func fidelityPolicy(_ key: String, _ value: String) throws(ScenarioError) -> PolicySetting {
        switch key {
        case "syscall_lock":
            guard let v = ScenarioSyscallLock(rawValue: value) else {
                throw error("bad syscall_lock \(ScenarioParser.show(value)): expected isolate or held")
            }
            return .syscallLock(v)
        case "mremap_rmap_lock":
            switch value {
            case "on": return .mremapRmapLock(true)
            case "off": return .mremapRmapLock(false)
            default: throw error("bad mremap_rmap_lock \(ScenarioParser.show(value)): expected on or off")
            }
        default:
            throw error("unknown policy \(ScenarioParser.show(key))")
        }
    }

    /// `migrate_kernel PROC ADDR [LEN] [node=N] [mode=async|sync-light|sync] [batch=N]`.
    func migrateKernelStatement(_ tokens: ArraySlice<String>) throws(ScenarioError) -> Op {
        let usage = "migrate_kernel PROC ADDR [LEN] [node=N] [mode=async|sync-light|sync] [batch=N]"
        let args = try splitArgs("migrate_kernel", tokens, keys: ["node", "mode", "batch"])
        try expectPositional(args, 2, names: ["process name", "address"], usage: usage, orMore: true)
        if args.positional.count > 3 {
            throw error("unexpected argument \(ScenarioParser.show(args.positional[3])) (usage: \(usage))")
        }
        let proc = try process(args.positional[0])
        var addr: UInt64, length: UInt64 = 4096
        if args.positional.count == 3 {
            (addr, length) = try range(args.positional[1], args.positional[2])
        } else {
            addr = try address(args.positional[1])
        }
        let node = try args.keyed["node"].map { v throws(ScenarioError) in try anyNode(v) }
        let mode = args.keyed["mode"] ?? "sync"
        guard ["async", "sync-light", "sync"].contains(mode) else {
            throw error("bad mode \(ScenarioParser.show(mode)): expected async, sync-light or sync")
        }
        let batch = try args.keyed["batch"].map { v throws(ScenarioError) in try int(v, "batch", 1...512) } ?? 1
        return .migrateKernel(proc: proc, addr: addr, length: length, node: node, mode: mode, batch: batch)
    }

    /// `writeback PROC ADDR` / `writeback_end PROC ADDR`.
    func writebackStatement(_ keyword: String, _ tokens: ArraySlice<String>) throws(ScenarioError) -> Op {
        let args = try splitArgs(keyword, tokens, keys: [])
        try expectPositional(args, 2, names: ["process name", "address"], usage: "\(keyword) PROC ADDR")
        let proc = try process(args.positional[0])
        let addr = try address(args.positional[1])
        return keyword == "writeback" ? .writeback(proc: proc, addr: addr) : .writebackEnd(proc: proc, addr: addr)
    }
}
