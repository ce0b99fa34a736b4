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
}
