// The rule of the page-cache statement: `pagecache NAME folios=N order=K [dirty]
// [writeback] [private] [node=N]` (docs/SCENARIOS.md).

import MMPhysical

extension LineParser {
    static let pageCacheUsage = "pagecache NAME folios=N order=K [dirty] [writeback] [private] [node=N]"

    mutating func parsePageCache(_ tokens: ArraySlice<String>) throws(ScenarioError) -> Op {
        let usage = Self.pageCacheUsage
        let args = try splitArgs("pagecache", tokens, keys: ["folios", "order", "node"])
        try expectPositional(args, 1, names: ["NAME"], usage: usage, orMore: true)
        let name = args.positional[0]
        guard name.utf8.count <= 64, name.utf8.allSatisfy({ c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2E || c == 0x2D
        }) else {
            throw error("bad file name \(ScenarioParser.show(name)): letters, digits, '_', '.', '-', at most 64")
        }
        guard let foliosText = args.keyed["folios"] else { throw error("missing argument: folios=N (usage: \(usage))") }
        guard let orderText = args.keyed["order"] else { throw error("missing argument: order=K (usage: \(usage))") }
        let folios = try int(foliosText, "folios", 1...1 << 20)
        let order = try int(orderText, "order", 0...ScenarioParser.maxOrder)
        let node = try args.keyed["node"].map { v throws(ScenarioError) in try self.node(v) } ?? 0
        var flags = Set<String>()
        for extra in args.positional.dropFirst() {
            guard ["dirty", "writeback", "private"].contains(extra) else {
                throw error("unexpected argument \(ScenarioParser.show(extra)) (usage: \(usage))")
            }
            guard flags.insert(extra).inserted else { throw error("duplicate flag '\(extra)' (usage: \(usage))") }
        }
        return .pageCache(file: name, folios: folios, order: order, dirty: flags.contains("dirty"),
                          writeback: flags.contains("writeback"), hasPrivate: flags.contains("private"), node: node)
    }
}
