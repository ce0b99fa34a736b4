// Schedule tokens: the short printable name of one execution, enough to replay it.
//
// Layout (version 1), before base64url without padding:
//
//     version  u8        = 1
//     kind     u8        StrategyKind raw value
//     seed     varint    exploration seed
//     index    varint    execution index (per-execution streams come from seed+index)
//     depth    varint    PCT depth (0 otherwise)
//     bound    varint    DFS preemption bound (0 otherwise)
//     maxSteps varint    the step bound the execution ran with
//     count    varint    number of choices
//     runs     ...       run-length coded choices, until `count` are produced:
//                        varint((runLength − 1) << 4 | min(thread, 15)),
//                        then varint(thread − 15) if thread ≥ 15
//     model    varint    optional: the model options the run used (ModelFlags code
//                        of the command line; absent = 0, none forced)
//     check    u32 LE    FNV-1a over every byte before it
//
// Only decisions with several runnable threads are choices, and consecutive equal
// choices form one run, so non-preemptive stretches cost almost nothing. The first byte
// is the version, so every token starts with "A" (never with "-", which a command line
// would read as an option).

/// A decoded schedule token.
public struct ScheduleToken: Hashable, Sendable {
    public static let currentVersion: UInt8 = 1
    public var descriptor: StrategyDescriptor
    public var executionIndex: UInt64
    public var maxSteps: Int
    /// The thread chosen at each decision where more than one thread was runnable.
    public var choices: [Int]
    /// The model options the execution ran with, as a code the caller defines (the
    /// command line's model flags): a replay with other options is not this run.
    public var modelOptions: UInt64 = 0

    public init(descriptor: StrategyDescriptor, executionIndex: UInt64, maxSteps: Int, choices: [Int]) {
        self.descriptor = descriptor
        self.executionIndex = executionIndex
        self.maxSteps = maxSteps
        self.choices = choices
    }

    // Sanity limits for decoding: far above anything real, low enough that a corrupted
    // token cannot make us allocate gigabytes.
    static let maxParameter: UInt64 = 1 << 20
    static let maxThread: UInt64 = 1 << 20
    /// At most 2^22 choices (32 MiB once decoded): a longer execution's token is refused
    /// rather than letting a forged count allocate without bound.
    static let maxChoices: UInt64 = 1 << 22
    static let maxStepBound: UInt64 = 1 << 40
    /// PCT depth and DFS preemption bound, as `explore --depth` / `--preemptions` take them.
    static let maxStrategyParameter: UInt64 = 1000

    /// The header fields against the command line's ranges (ExploreOptions.problem).
    static func validateHeader(kind: StrategyKind, depth: UInt64, bound: UInt64, maxSteps: UInt64) throws(TokenError) {
        guard maxSteps >= 1 else { throw .outOfRange("step bound 0 (--max-steps must be in 1…2^40)") }
        // As on the command line, a strategy ignores the other's parameter, but both
        // must be in range; pct needs a depth of at least 1.
        guard depth <= maxStrategyParameter else {
            throw .outOfRange("depth \(depth) (--depth must be in 1…\(maxStrategyParameter))")
        }
        guard bound <= maxStrategyParameter else {
            throw .outOfRange("preemption bound \(bound) (--preemptions must be in 0…\(maxStrategyParameter))")
        }
        if kind == .pct && depth == 0 { throw .outOfRange("a pct token needs depth ≥ 1 (--depth must be in 1…\(maxStrategyParameter))") }
    }

    /// The printable form.
    public var encoded: String {
        var w = ByteWriter()
        w.bytes.append(Self.currentVersion)
        w.bytes.append(descriptor.kind.rawValue)
        w.varint(descriptor.seed)
        w.varint(executionIndex)
        w.varint(UInt64(max(0, descriptor.depth)))
        w.varint(UInt64(max(0, descriptor.preemptionBound)))
        w.varint(UInt64(max(0, maxSteps)))
        w.varint(UInt64(choices.count))
        var i = 0
        while i < choices.count {
            let thread = choices[i]
            var run = 1
            while i + run < choices.count && choices[i + run] == thread { run += 1 }
            let t = UInt64(max(0, thread))
            w.varint(UInt64(run - 1) << 4 | min(t, 15))
            if t >= 15 { w.varint(t - 15) }
            i += run
        }
        if modelOptions != 0 { w.varint(modelOptions) }
        let check = fnv1a(w.bytes)
        for shift in stride(from: 0, to: 32, by: 8) { w.bytes.append(UInt8(truncatingIfNeeded: check >> UInt32(shift))) }
        return Base64URL.encode(w.bytes)
    }

    /// Decodes a printable token (surrounding whitespace is ignored). Throws a
    /// `TokenError` naming what is wrong; never traps on any input.
    public init(decoding text: String) throws(TokenError) {
        let trimmed = text.trimmingWhitespace
        guard !trimmed.isEmpty else { throw .empty }
        let bytes = try Base64URL.decode(trimmed)
        guard bytes.count >= 2 + 6 + 4 else { throw .truncated("token is only \(bytes.count) bytes") }
        let body = bytes[..<(bytes.count - 4)]
        var stored: UInt32 = 0
        for (k, b) in bytes.suffix(4).enumerated() { stored |= UInt32(b) << UInt32(8 * k) }
        guard fnv1a(Array(body)) == stored else { throw .checksumMismatch }
        guard bytes[0] == Self.currentVersion else { throw .unsupportedVersion(bytes[0]) }
        guard let kind = StrategyKind(rawValue: bytes[1]) else { throw .unknownStrategy(bytes[1]) }
        var r = ByteReader(bytes: Array(body), position: 2)
        let seed = try r.varint("seed")
        let index = try r.varint("execution index")
        let depth = try r.varint("depth", limit: Self.maxParameter)
        let bound = try r.varint("preemption bound", limit: Self.maxParameter)
        let maxSteps = try r.varint("step bound", limit: Self.maxStepBound)
        // Every field within what the command line accepts (ExploreOptions.problem):
        // a token is input like any flag.
        try Self.validateHeader(kind: kind, depth: depth, bound: bound, maxSteps: maxSteps)
        let count = try r.varint("choice count", limit: .max)
        guard count <= Self.maxChoices else {
            throw .outOfRange("choice count \(count) exceeds \(Self.maxChoices), the most a replay decodes")
        }
        // Each choice is one scheduling decision: no more than the step bound.
        guard count <= maxSteps else {
            throw .outOfRange("\(count) choices announced for a step bound of \(maxSteps)")
        }
        // First pass over the runs (bounded by the token's bytes, each run is ≥ 1 byte):
        // the total is checked before anything of the announced size is allocated.
        var runs: [(thread: Int, length: Int)] = []
        var total: UInt64 = 0
        while total < count {
            let head = try r.varint("choice run", limit: Self.maxChoices << 4 | 15)
            var thread = head & 15
            if thread == 15 { thread += try r.varint("thread id", limit: Self.maxThread) }
            total += (head >> 4) + 1
            guard total <= count else {
                throw .outOfRange("choice runs add up to more than the \(count) choices announced")
            }
            runs.append((Int(thread), Int(head >> 4) + 1))
        }
        let model = r.position < body.count ? try r.varint("model options", limit: Self.maxParameter) : 0
        guard r.position == body.count else { throw .trailingBytes(body.count - r.position) }
        var choices: [Int] = []
        choices.reserveCapacity(Int(count))
        for run in runs { choices.append(contentsOf: repeatElement(run.thread, count: run.length)) }
        self.init(descriptor: StrategyDescriptor(kind: kind, seed: seed, depth: Int(depth), preemptionBound: Int(bound)),
                  executionIndex: index, maxSteps: Int(maxSteps), choices: choices)
        modelOptions = model
    }
}

/// Why a token could not be decoded.
public enum TokenError: Error, Hashable, Sendable, CustomStringConvertible {
    case empty
    case invalidCharacter(Character, offset: Int)
    case invalidLength(Int)
    case checksumMismatch
    case unsupportedVersion(UInt8)
    case unknownStrategy(UInt8)
    case truncated(String)
    case outOfRange(String)
    case trailingBytes(Int)

    public var description: String {
        let what: String
        switch self {
        case .empty: what = "it is empty"
        case .invalidCharacter(let c, let offset):
            what = "character \"\(c)\" at offset \(offset) is not base64url (A–Z a–z 0–9 - _)"
        case .invalidLength(let n): what = "\(n) characters cannot be base64url"
        case .checksumMismatch: what = "checksum mismatch (mistyped or truncated?)"
        case .unsupportedVersion(let v):
            what = "version \(v) is not supported (this build reads version \(ScheduleToken.currentVersion))"
        case .unknownStrategy(let k): what = "unknown strategy kind \(k)"
        case .truncated(let s): what = "truncated: \(s)"
        case .outOfRange(let s): what = "out of range: \(s)"
        case .trailingBytes(let n): what = "\(n) unexpected bytes after the choices"
        }
        return "invalid schedule token: \(what)"
    }
}

// MARK: - Byte coding

struct ByteWriter {
    var bytes: [UInt8] = []
    /// LEB128: seven bits a byte, low first, high bit set on all but the last.
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
}

struct ByteReader {
    let bytes: [UInt8]
    var position: Int

    mutating func varint(_ field: String, limit: UInt64 = .max) throws(TokenError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.count else { throw .truncated("\(field) is cut off") }
            let b = bytes[position]
            position += 1
            // The 10th byte may only carry the single top bit of a 64-bit value.
            guard shift < 63 || (shift == 63 && b <= 1) else { throw .outOfRange("\(field) does not fit 64 bits") }
            value |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            shift += 7
        }
        guard value <= limit else { throw .outOfRange("\(field) \(value) exceeds \(limit)") }
        return value
    }
}

/// 32-bit FNV-1a: catches mistyped or cut tokens (not an integrity guarantee).
func fnv1a(_ bytes: [UInt8]) -> UInt32 {
    var h: UInt32 = 0x811C_9DC5
    for b in bytes { h = (h ^ UInt32(b)) &* 0x0100_0193 }
    return h
}

/// base64url (RFC 4648 §5) without padding; no Foundation needed.
enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var chunk: UInt32 = 0
            for k in 0..<3 { chunk = chunk << 8 | UInt32(k < n ? bytes[i + k] : 0) }
            for k in 0...n { out.append(alphabet[Int((chunk >> UInt32(18 - 6 * k)) & 63)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) throws(TokenError) -> [UInt8] {
        var sextets: [UInt8] = []
        sextets.reserveCapacity(text.utf8.count)
        for (offset, ch) in text.enumerated() {
            guard let a = ch.asciiValue, let v = value(of: a) else { throw .invalidCharacter(ch, offset: offset) }
            sextets.append(v)
        }
        guard sextets.count % 4 != 1 else { throw .invalidLength(sextets.count) }
        var out: [UInt8] = []
        out.reserveCapacity(sextets.count * 3 / 4)
        var i = 0
        while i < sextets.count {
            let n = min(4, sextets.count - i)
            var chunk: UInt32 = 0
            for k in 0..<4 { chunk = chunk << 6 | UInt32(k < n ? sextets[i + k] : 0) }
            for k in 0..<(n - 1) { out.append(UInt8(truncatingIfNeeded: chunk >> UInt32(16 - 8 * k))) }
            i += 4
        }
        return out
    }

    private static func value(of a: UInt8) -> UInt8? {
        switch a {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return a - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return a - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return a - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): return 62
        case UInt8(ascii: "_"): return 63
        default: return nil
        }
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
