// snapshot.json: written by the capture, read back for its metadata. A small bounded
// JSON reader (depth ≤ 16, the file is at most SnapshotLimits.textBytes) — enough for
// the one flat object mmlab writes; errors name the byte offset.

enum MiniJSON: Equatable {
    case null, bool(Bool), number(Double), string(String)
    case array([MiniJSON])
    case object([(String, MiniJSON)])

    static func == (a: MiniJSON, b: MiniJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.number(x), .number(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    subscript(_ key: String) -> MiniJSON? {
        if case .object(let m) = self { return m.first { $0.0 == key }?.1 }
        return nil
    }

    struct Parser {
        let bytes: [UInt8]
        var at = 0
        let file: String

        mutating func fail(_ what: String) -> SnapshotError {
            // Report a line number: count newlines up to the offset.
            let line = 1 + bytes[0..<min(at, bytes.count)].reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
            return SnapshotError(file, line: line, what)
        }
        mutating func skipSpace() { while at < bytes.count, [9, 10, 13, 32].contains(bytes[at]) { at += 1 } }

        mutating func value(depth: Int) throws -> MiniJSON {
            guard depth < 16 else { throw fail("JSON nested too deeply") }
            skipSpace()
            guard at < bytes.count else { throw fail("unexpected end of JSON") }
            switch bytes[at] {
            case UInt8(ascii: "{"):
                at += 1
                var members: [(String, MiniJSON)] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard case .string(let k) = try value(depth: depth + 1) else { throw fail("object key must be a string") }
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    at += 1
                    members.append((k, try value(depth: depth + 1)))
                    skipSpace()
                    guard at < bytes.count else { throw fail("unterminated object") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    if bytes[at] == UInt8(ascii: "}") { at += 1; return .object(members) }
                    throw fail("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                at += 1
                var items: [MiniJSON] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                while true {
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard at < bytes.count else { throw fail("unterminated array") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    if bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                    throw fail("expected ',' or ']'")
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            default:
                let start = at
                while at < bytes.count, "+-.eE0123456789".utf8.contains(bytes[at]) { at += 1 }
                guard at > start, let d = Double(String(decoding: bytes[start..<at], as: UTF8.self)) else { throw fail("invalid JSON value") }
                return .number(d)
            }
        }

        mutating func literal(_ word: String, _ v: MiniJSON) throws -> MiniJSON {
            let w = Array(word.utf8)
            guard at + w.count <= bytes.count, Array(bytes[at..<(at + w.count)]) == w else { throw fail("invalid JSON literal") }
            at += w.count
            return v
        }

        mutating func string() throws -> String {
            at += 1   // opening quote
            var out: [UInt8] = []
            while at < bytes.count {
                let c = bytes[at]
                at += 1
                if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                if c == UInt8(ascii: "\\") {
                    guard at < bytes.count else { break }
                    let e = bytes[at]
                    at += 1
                    switch e {
                    case UInt8(ascii: "n"): out.append(10)
                    case UInt8(ascii: "t"): out.append(9)
                    case UInt8(ascii: "r"): out.append(13)
                    case UInt8(ascii: "u"):
                        guard at + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[at..<(at + 4)], as: UTF8.self), radix: 16) else { throw fail("bad \\u escape") }
                        at += 4
                        out.append(contentsOf: Array(String(Character(Unicode.Scalar(v) ?? "?")).utf8))
                    default: out.append(e)
                    }
                } else {
                    out.append(c)
                }
            }
            throw fail("unterminated string")
        }
    }

    static func parse(_ bytes: [UInt8], file: String) throws -> MiniJSON {
        var p = Parser(bytes: bytes, file: file)
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.at == bytes.count else { throw p.fail("trailing characters after the JSON value") }
        return v
    }

    /// Writes a string as a JSON string literal.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if u.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16) }
                else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

extension SnapshotMeta {
    /// Reads snapshot.json's kernel release, time and per-file read seconds.
    static func parse(_ bytes: [UInt8], file: String = "snapshot.json") throws -> SnapshotMeta {
        let doc = try MiniJSON.parse(bytes, file: file)
        guard case .string(let release)? = doc["kernel_release"] else { throw SnapshotError(file, "no \"kernel_release\" string") }
        guard case .string(let time)? = doc["time_utc"] else { throw SnapshotError(file, "no \"time_utc\" string") }
        var reads: [String: Double] = [:]
        if case .object(let m)? = doc["read_seconds"] {
            for (k, v) in m {
                guard case .number(let d) = v, d >= 0 else { throw SnapshotError(file, "read_seconds.\(k) is not a non-negative number") }
                reads[k] = d
            }
        }
        return SnapshotMeta(kernelRelease: release, timeUTC: time, readSeconds: reads)
    }

    /// The JSON text `mmlab snapshot` writes.
    func json(pfns: Int) -> String {
        let reads = readSeconds.keys.sorted().map { "\(MiniJSON.quote($0)):\(readSeconds[$0] ?? 0)" }.joined(separator: ",")
        return "{\"kernel_release\":\(MiniJSON.quote(kernelRelease)),\"time_utc\":\(MiniJSON.quote(timeUTC)),\"pfns\":\(pfns),\"read_seconds\":{\(reads)}}\n"
    }
}
