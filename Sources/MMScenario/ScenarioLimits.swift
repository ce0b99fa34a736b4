// What a scenario file may ask for at most, and how untrusted text is shown in
// messages. A scenario is untrusted input: it must not exhaust the host (threads,
// memory, time) nor make a terminal or editor interpret what an error message quotes.

extension ScenarioParser {
    /// Thread blocks per scenario file, all groups together (docs/SCENARIOS.md). Each
    /// block is a real thread in `run` and a pooled pthread under `explore`; the bound
    /// keeps one file from exhausting the host's process limit.
    public static let maxThreadBlocks = 256

    /// Words that cannot name a process or a thread: the statement keywords and the
    /// bare flag of `process` (`process node=1 privileged` would otherwise be a process
    /// named `privileged`).
    public static let reservedNames: Set<String> = Set(keywords + ["privileged"])

    /// True for a Unicode scalar that a terminal or editor may interpret rather than
    /// show: controls (C0, DEL, C1), format characters (bidirectional overrides such as
    /// U+202E, zero-width characters), line and paragraph separators (U+2028, U+2029),
    /// surrogates, private-use and unassigned code points, and U+FFFD (a decoding error).
    static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        if u.value < 0x20 || u.value == 0x7F || u.value == 0xFFFD { return true }
        if u.value < 0x80 { return false }
        switch u.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
            return true
        case .spaceSeparator:
            return true   // U+00A0 and friends look like a blank but are not one
        default:
            return false
        }
    }

    /// `s` with every scalar that `needsEscape` escaped as `\u{…}` (and nothing else
    /// changed): safe to print in a `FILE:LINE: message` line.
    public static func escapeForTerminal(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: needsEscape) else { return s }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if needsEscape(u) {
                out.append(contentsOf: u.escaped(asASCII: true).unicodeScalars)
            } else {
                out.append(u)
            }
        }
        return String(out)
    }
}

extension LineParser {
    /// `oom_score_adj=N`: a signed decimal in -1000…1000 (Linux's OOM_SCORE_ADJ_MIN…MAX).
    func oomScoreAdj(_ token: String) throws(ScenarioError) -> Int {
        let negative = token.hasPrefix("-")
        let digits = negative ? String(token.dropFirst()) : token
        let v = try number(digits, "oom_score_adj")
        guard v <= 1000 else {
            throw error("oom_score_adj=\(token) out of range (-1000…1000)")
        }
        return negative ? -Int(v) : Int(v)
    }
}
