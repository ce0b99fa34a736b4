// The hot-remove statements' rules (`cancel_offline`, `blocks`, the `timeout=` of
// `offline`, `policy offline_retry=`); the shared dispatch calls in here from one line
// under its hot-remove marker.

import MMHotplug

extension LineParser {
    mutating func parseHotRemove(_ keyword: String, _ tokens: ArraySlice<String>) throws(ScenarioError) -> Op {
        switch keyword {
        case "cancel_offline":
            let usage = "cancel_offline node=N block=B"
            let args = try splitArgs(keyword, tokens, keys: ["node", "block"])
            try expectPositional(args, 0, names: [], usage: usage)
            guard let nodeText = args.keyed["node"] else { throw error("missing argument: node=N (usage: \(usage))") }
            guard let blockText = args.keyed["block"] else { throw error("missing argument: block=B (usage: \(usage))") }
            let node = try node(nodeText)
            let blocks = machine!.blocksPerNode
            let b = try number(blockText, "block")
            guard b < UInt64(blocks) else {
                throw error("block=\(b) out of range: each node has \(blocks) memory block\(blocks == 1 ? "" : "s") (0…\(blocks - 1))")
            }
            return .cancelOffline(node: node, block: Int(b))
        default:
            let args = try splitArgs(keyword, tokens, keys: [])
            try expectPositional(args, 0, names: [], usage: "blocks")
            return .blocks
        }
    }

    /// `timeout=` of `offline`: `120s`, `500ms`, `2m` or seconds, at most a day.
    func offlineTimeout(_ v: String) throws(ScenarioError) -> Double {
        guard let s = OfflineRetryPolicy.seconds(v) else {
            throw error("bad timeout \(ScenarioParser.show(v)): expected a duration such as 120s, 500ms or 2m (at most 24h)")
        }
        return s
    }

    /// `policy offline_retry=timeout:T|forever|passes:N`.
    func offlineRetry(_ v: String) throws(ScenarioError) -> PolicySetting {
        guard let p = OfflineRetryPolicy(parsing: v) else {
            throw error("bad offline_retry \(ScenarioParser.show(v)): expected timeout:DURATION (e.g. timeout:120s), forever or passes:N (N ≥ 1)")
        }
        return .offlineRetry(p.description)
    }
}
