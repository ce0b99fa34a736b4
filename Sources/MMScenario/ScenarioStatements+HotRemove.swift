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
            let (node, b) = try memoryBlock(args, usage: usage)
            return .cancelOffline(node: node, block: b)
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
