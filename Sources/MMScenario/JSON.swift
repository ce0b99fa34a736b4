// A tiny JSON value and writer for `--json` output (docs/SCENARIOS.md): one compact line per
// value, object keys in the order given. Standard library only.

/// A JSON value. Objects keep their keys in the order given (no sorting, duplicates
/// are written as given).
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    /// Non-finite doubles (NaN, ±infinity) have no JSON form and are written as `null`.
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// Compact one-line rendering, e.g. `{"line":3,"op":"move_pages","errno":null}`.
    /// Non-ASCII characters are written as UTF-8; `"`, `\`, control characters and
    /// U+2028/U+2029 are escaped.
    public var text: String {
        var out = ""
        write(to: &out, asciiOnly: false)
        return out
    }

    /// Like `text`, but every non-ASCII character is escaped as `\uXXXX` (characters
    /// beyond U+FFFF as a UTF-16 surrogate pair), so the output is pure ASCII.
    public var asciiText: String {
        var out = ""
        write(to: &out, asciiOnly: true)
        return out
    }

    /// Appends the compact rendering of `self` to `out`.
    public func write(to out: inout String, asciiOnly: Bool = false) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if !d.isFinite { out += "null" }
            else if d == d.rounded(.towardZero) && abs(d) < 1e15 { out += String(Int64(d)) }
            else { out += "\(d)" }
        case .string(let s): JSONValue.writeString(s, to: &out, asciiOnly: asciiOnly)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out, asciiOnly: asciiOnly)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out += "," }
                JSONValue.writeString(key, to: &out, asciiOnly: asciiOnly)
                out += ":"
                value.write(to: &out, asciiOnly: asciiOnly)
            }
            out += "}"
        }
    }

    /// Writes `s` as a quoted JSON string.
    public static func writeString(_ s: String, to out: inout String, asciiOnly: Bool = false) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                let v = u.value
                if v < 0x20 || v == 0x2028 || v == 0x2029 || (asciiOnly && v >= 0x7F) {
                    if v > 0xFFFF {
                        let w = v - 0x10000
                        appendEscape(0xD800 + (w >> 10), to: &out)
                        appendEscape(0xDC00 + (w & 0x3FF), to: &out)
                    } else {
                        appendEscape(v, to: &out)
                    }
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }

    private static func appendEscape(_ unit: UInt32, to out: inout String) {
        let digits = Array("0123456789abcdef".unicodeScalars)
        out += "\\u"
        for shift in stride(from: 12, through: 0, by: -4) {
            out.unicodeScalars.append(digits[Int((unit >> UInt32(shift)) & 0xF)])
        }
    }
}

extension JSONValue: Equatable {
    /// Structural equality; objects compare keys and values in order.
    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }
}

extension JSONValue: CustomStringConvertible {
    public var description: String { text }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral {
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// Keeps the literal's key order: `["line": 3, "op": "verify"]` writes `line` first.
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements) }
}

extension JSONValue {
    /// `.string(s)`, or `.null` when `s` is nil.
    public static func stringOrNull(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
    /// `.int(i)`, or `.null` when `i` is nil.
    public static func intOrNull(_ i: Int?) -> JSONValue { i.map { .int($0) } ?? .null }
    /// An array of ints.
    public static func ints<S: Sequence>(_ s: S) -> JSONValue where S.Element: BinaryInteger {
        .array(s.map { .int(Int($0)) })
    }
}
