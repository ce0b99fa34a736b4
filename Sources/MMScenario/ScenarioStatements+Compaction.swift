// The rules of compaction's statements: alloc, free_alloc, sysctl (the `compact`
// statement's rule is in ScenarioStatements.swift).

import MMPhysical

extension LineParser {
    mutating func parseCompactionStatement(_ keyword: String, _ tokens: ArraySlice<String>) throws(ScenarioError) -> Op {
        switch keyword {
        case "alloc", "free_alloc":
            let usage = keyword == "alloc" ? "alloc node=N order=K count=C [movable|unmovable]" : "free_alloc node=N order=K count=C"
            let args = try splitArgs(keyword, tokens, keys: ["node", "order", "count"])
            try expectPositional(args, 0, names: [], usage: usage, orMore: keyword == "alloc")
            guard let nodeText = args.keyed["node"] else { throw error("missing argument: node=N (usage: \(usage))") }
            guard let orderText = args.keyed["order"] else { throw error("missing argument: order=K (usage: \(usage))") }
            let node = try node(nodeText)
            let order = try int(orderText, "order", 0...ScenarioParser.maxOrder)
            let count = try args.keyed["count"].map { v throws(ScenarioError) in try int(v, "count", 1...1 << 20) } ?? 1
            guard keyword == "alloc" else { return .freeAlloc(node: node, order: order, count: count) }
            var movable: Bool? = nil
            for extra in args.positional {
                guard extra == "movable" || extra == "unmovable" else {
                    throw error("unexpected argument \(ScenarioParser.show(extra)) (usage: \(usage))")
                }
                if movable != nil { throw error("give movable or unmovable once (usage: \(usage))") }
                movable = extra == "movable"
            }
            return .alloc(node: node, order: order, count: count, movable: movable ?? false)

        default:  // "sysctl"
            let keys = VMSysctl.Key.allCases.map(\.rawValue)
            let usage = "sysctl NAME=N (names: \(keys.joined(separator: ", ")))"
            let args = try splitArgs(keyword, tokens, keys: keys)
            try expectPositional(args, 0, names: [], usage: usage)
            guard let (name, value) = args.keyed.first else { throw error("missing argument: NAME=N (usage: \(usage))") }
            guard args.keyed.count == 1 else { throw error("sysctl takes exactly one NAME=N (usage: \(usage))") }
            guard let key = VMSysctl.Key(rawValue: name) else { throw error("unknown sysctl \(ScenarioParser.show(name))") }
            return .sysctl(name: name, value: try int(value, name, key.range))
        }
    }
}
