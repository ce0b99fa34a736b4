// Scenario file parser (docs/SCENARIOS.md): text → `Scenario`, or the first error as
// `FILE:LINE: message`. One statement a line, `#` starts a comment anywhere, tokens
// are separated by blanks, `key=value` arguments may stand anywhere after the keyword.
//
// Contract: every input terminates in time linear in its length and either yields a
// scenario that satisfies every static rule below or a `ScenarioError` naming the line
// and what is wrong. Rules that depend on run-time state (a process that has exited,
// an address that is not mapped) are the runner's business, not checked here.

import MMSync  // readBoundedFile

/// Parses scenario files.
public enum ScenarioParser {
    /// Statement keywords, in the order the documentation lists them.
    public static let keywords: [String] = [
        "machine", "process", "mmap", "touch", "write", "read", "fork", "pin", "unpin",
        "mremap", "munmap", "exit", "unmovable", "move_pages", "query_pages", "migrate_pages",
        "compact", "offline", "online", "migrate_kernel", "policy", "thread", "verify",
        // MARK: keywords — fidelity (migration, NUMA calls)
        "writeback", "writeback_end",

        // MARK: keywords — robustness (limits, OOM)

        // MARK: keywords — compaction
        "alloc", "free_alloc", "sysctl",

        // MARK: keywords — hot-remove
        "cancel_offline", "blocks",

        // MARK: keywords — snapshot

        // MARK: keywords — page cache
        "pagecache",
    ]

    /// Page size assumed by alignment checks.
    public static let pageBytes: UInt64 = 4096
    /// End (exclusive) of the model's user address space: 2^44 (16 TiB), so that every
    /// page index fits the 32-bit page->index of the compact descriptors (MMSpace's
    /// userAddressLimit; Linux x86-64 goes to 2^47).
    public static let userAddressLimit: UInt64 = 1 << 44
    /// Largest `node_mem=` accepted (1 TiB).
    public static let maxNodeMemBytes: UInt64 = 1 << 40
    /// Largest `nodes=` accepted.
    public static let maxNodes = 64
    /// Largest buddy order (`compact order=`), Linux's MAX_ORDER of the seed's era.
    public static let maxOrder = 10

    /// Parses scenario text. `file` is used in error messages only.
    public static func parse(text: String, file: String) throws(ScenarioError) -> Scenario {
        var parser = LineParser(file: file)
        return try parser.parse(Array(text.utf8))
    }

    /// Reads and parses the file at `path`. An unreadable file gives a `ScenarioError`
    /// with line 0 (`PATH: cannot read: REASON`), as does one over the input limits
    /// (`ReadLimits.scenario`: 64 MiB, 1 M lines) or one that need not end (a device).
    public static func parse(path: String) throws(ScenarioError) -> Scenario {
        switch readBoundedFile(path, limits: .scenario) {
        case .success(let bytes):
            var parser = LineParser(file: path)
            return try parser.parse(bytes)
        case .failure(let reason):
            throw ScenarioError(file: path, line: 0, message: "cannot read: \(reason)")
        }
    }

    // MARK: Numbers (internal so that tests can reach them through the public parse)

    enum NumberError: Error { case bad, tooLarge }

    /// A decimal or `0x` hexadecimal number; with `suffix`, optionally followed by
    /// K/M/G or KiB/MiB/GiB (case-insensitive, powers of 1024).
    static func number<S: Collection>(_ token: S, suffix: Bool) -> Result<UInt64, NumberError>
    where S.Element == UInt8 {
        var i = token.startIndex
        let end = token.endIndex
        var radix: UInt64 = 10
        if token.count >= 2, token[i] == UInt8(ascii: "0"),
           token[token.index(after: i)] | 0x20 == UInt8(ascii: "x") {
            radix = 16
            i = token.index(i, offsetBy: 2)
        }
        var value: UInt64 = 0
        var digits = 0
        var overflow = false
        while i != end, let d = digitValue(token[i], radix: radix) {
            let (m, o1) = value.multipliedReportingOverflow(by: radix)
            let (a, o2) = m.addingReportingOverflow(d)
            if o1 || o2 { overflow = true } else { value = a }
            digits += 1
            i = token.index(after: i)
        }
        if digits == 0 { return .failure(.bad) }
        var multiplier: UInt64 = 1
        if i != end {
            guard suffix else { return .failure(.bad) }
            switch token[i] | 0x20 {
            case UInt8(ascii: "k"): multiplier = 1 << 10
            case UInt8(ascii: "m"): multiplier = 1 << 20
            case UInt8(ascii: "g"): multiplier = 1 << 30
            default: return .failure(.bad)
            }
            i = token.index(after: i)
            if i != end {  // "iB"
                guard token.distance(from: i, to: end) == 2,
                      token[i] | 0x20 == UInt8(ascii: "i"),
                      token[token.index(after: i)] | 0x20 == UInt8(ascii: "b")
                else { return .failure(.bad) }
            }
        }
        if overflow { return .failure(.tooLarge) }
        let (r, o) = value.multipliedReportingOverflow(by: multiplier)
        return o ? .failure(.tooLarge) : .success(r)
    }

    private static func digitValue(_ c: UInt8, radix: UInt64) -> UInt64? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt64(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: return UInt64(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: return UInt64(c - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    /// `[A-Za-z_][A-Za-z0-9_-]*`: the syntax of process and thread names.
    static func isName(_ s: String) -> Bool {
        var first = true
        for c in s.utf8 {
            let alpha = (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z")
            let digit = c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")
            let ok = first ? (alpha || c == UInt8(ascii: "_"))
                           : (alpha || digit || c == UInt8(ascii: "_") || c == UInt8(ascii: "-"))
            if !ok { return false }
            first = false
        }
        return !first
    }

    /// A token as shown in messages: quoted, characters a terminal would interpret
    /// escaped (`needsEscape`),
    /// cut after 40 characters.
    static func show(_ s: String) -> String {
        var out = ""
        var n = 0
        for u in s.unicodeScalars {
            if n == 40 { out += "…"; break }
            if needsEscape(u) {
                out += u.escaped(asASCII: true)
            } else if u == "'" || u == "\\" {
                out += "\\" + String(u)
            } else {
                out.unicodeScalars.append(u)
            }
            n += 1
        }
        return "'" + out + "'"
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
}

// MARK: - The line-by-line parser

/// Parser state for one file. Each statement's rules are checked as its line is read.
struct LineParser {
    let file: String
    var lineNo = 0

    var machine: MachineSpec?
    var machineLine = 0
    /// Declared process names → line of their declaration (`process` or `fork`).
    var declared: [String: Int] = [:]
    var top: [Statement] = []

    /// A thread group being collected: closed blocks, waiting for a non-thread statement.
    var group: [ThreadBlock] = []
    /// Names of the group's blocks (closed or open) → line of their `thread`.
    var groupNames: [String: Int] = [:]
    /// The open thread block, if the parser is inside `{ … }`.
    var open: ThreadBlock?
    /// Thread blocks so far, all groups (at most ScenarioParser.maxThreadBlocks).
    var threadBlocks = 0

    init(file: String) { self.file = file }

    func error(_ message: String) -> ScenarioError {
        ScenarioError(file: file, line: lineNo, message: message)
    }

    mutating func parse(_ bytes: [UInt8]) throws(ScenarioError) -> Scenario {
        var start = 0
        let count = bytes.count
        while start <= count {
            var end = start
            while end < count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            lineNo += 1
            try parseLine(bytes[start..<end])
            start = end + 1
            if end == count { break }
        }
        if let block = open {
            throw ScenarioError(file: file, line: block.line,
                                message: "unclosed '{': thread \(block.name) has no closing '}' before the end of the file")
        }
        flushGroup()
        if machine == nil {
            throw ScenarioError(file: file, line: 1,
                                message: "missing 'machine' statement: the first statement must be 'machine nodes=N node_mem=SIZE …'")
        }
        return Scenario(file: file, statements: top)
    }

    /// Splits a line into tokens: the text before the first `#`, cut at blanks.
    static func tokens(_ line: ArraySlice<UInt8>) -> [String] {
        var result: [String] = []
        var i = line.startIndex
        let end = line.firstIndex(of: UInt8(ascii: "#")) ?? line.endIndex
        while i < end {
            while i < end && isBlank(line[i]) { i += 1 }
            let s = i
            while i < end && !isBlank(line[i]) { i += 1 }
            if s < i { result.append(String(decoding: line[s..<i], as: UTF8.self)) }
        }
        return result
    }

    static func isBlank(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0B || c == 0x0C
    }

    mutating func flushGroup() {
        guard !group.isEmpty else { return }
        top.append(Statement(line: group[0].line, op: .threads(group)))
        group = []
        groupNames = [:]
    }

    mutating func parseLine(_ line: ArraySlice<UInt8>) throws(ScenarioError) {
        let tokens = Self.tokens(line)
        guard let keyword = tokens.first else { return }
        let show = ScenarioParser.show

        if keyword == "}" {
            guard let block = open else { throw error("stray '}': no thread block is open") }
            if tokens.count > 1 { throw error("unexpected \(show(tokens[1])) after '}'") }
            group.append(block)
            open = nil
            return
        }
        guard ScenarioParser.keywords.contains(keyword) else {
            let lower = String(decoding: keyword.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
            if lower != keyword && ScenarioParser.keywords.contains(lower) {
                throw error("unknown statement \(show(keyword)): statements are lower-case ('\(lower)')")
            }
            if keyword.hasPrefix("{") || keyword.hasSuffix("{") {
                throw error("unexpected \(show(keyword)): a block opens with 'thread NAME {'")
            }
            throw error("unknown statement \(show(keyword)); known statements: "
                        + ScenarioParser.keywords.joined(separator: ", "))
        }
        if let block = open, ["machine", "policy", "verify", "thread"].contains(keyword) {
            if keyword == "thread" {
                throw error("nested thread block: 'thread' inside thread \(block.name) (opened at line \(block.line)); close it with '}' first")
            }
            let why = keyword == "verify" ? " (verify needs a quiet point: put it after the thread blocks)" : ""
            throw error("'\(keyword)' is not allowed inside a thread block (thread \(block.name), line \(block.line))\(why)")
        }
        if machine == nil && keyword != "machine" {
            throw error("the first statement must be 'machine nodes=N node_mem=SIZE …', found '\(keyword)'")
        }
        if keyword == "machine", machine != nil {
            throw error("machine repeated: the machine is already defined at line \(machineLine)")
        }

        if keyword == "thread" {
            try openThread(tokens)
            return
        }
        // Any other statement ends a pending group of thread blocks.
        if open == nil { flushGroup() }
        let op = try parseStatement(keyword, tokens.dropFirst())
        let statement = Statement(line: lineNo, op: op)
        if open != nil { open!.statements.append(statement) } else { top.append(statement) }
    }

    mutating func openThread(_ tokens: [String]) throws(ScenarioError) {
        let show = ScenarioParser.show
        guard tokens.count >= 2, tokens[1] != "{" else {
            throw error("missing argument: thread name (usage: thread NAME {)")
        }
        let name = tokens[1]
        if name.hasSuffix("{") {
            throw error("put a blank between the thread name and '{' (usage: thread NAME {)")
        }
        guard ScenarioParser.isName(name) else {
            throw error("bad thread name \(show(name)): names match [A-Za-z_][A-Za-z0-9_-]*")
        }
        guard tokens.count >= 3, tokens[2] == "{" else {
            throw error("expected '{' after 'thread \(name)' (usage: thread NAME {, statements on the next lines, then '}')")
        }
        if tokens.count > 3 {
            throw error("unexpected \(show(tokens[3])) after '{': the block's statements go on the following lines")
        }
        if ScenarioParser.reservedNames.contains(name) {
            throw error("thread name '\(name)' is a keyword: thread and process names cannot be statement keywords or 'privileged'")
        }
        if threadBlocks == ScenarioParser.maxThreadBlocks {
            throw error("too many thread blocks: a scenario may have at most \(ScenarioParser.maxThreadBlocks) (each is a real thread)")
        }
        threadBlocks += 1
        if let first = groupNames[name] {
            throw error("duplicate thread name '\(name)' in this group (first at line \(first))")
        }
        groupNames[name] = lineNo
        open = ThreadBlock(name: name, line: lineNo, statements: [])
    }

    // MARK: Arguments

    /// The arguments of one statement: positional tokens in order, and `key=value` pairs.
    struct Args {
        var positional: [String] = []
        var keyed: [String: String] = [:]
    }

    func splitArgs(_ keyword: String, _ tokens: ArraySlice<String>, keys: [String]) throws(ScenarioError) -> Args {
        let show = ScenarioParser.show
        var args = Args()
        for token in tokens {
            guard let eq = token.firstIndex(of: "=") else {
                args.positional.append(token)
                continue
            }
            let key = String(token[..<eq])
            let value = String(token[token.index(after: eq)...])
            if key.isEmpty { throw error("bad argument \(show(token)): missing key before '='") }
            guard keys.contains(key) else {
                let known = keys.isEmpty ? "\(keyword) takes no key=value arguments"
                                         : "known keys for \(keyword): " + keys.joined(separator: ", ")
                throw error("unknown key \(show(key)); \(known)")
            }
            if args.keyed[key] != nil { throw error("duplicate key '\(key)='") }
            if value.isEmpty { throw error("missing value for '\(key)='") }
            args.keyed[key] = value
        }
        return args
    }

    /// Checks the number of positional arguments: exactly `count`, or at least `count`
    /// when `orMore`.
    func expectPositional(_ args: Args, _ count: Int, names: [String], usage: String, orMore: Bool = false) throws(ScenarioError) {
        if args.positional.count < count {
            let what = names[args.positional.count]
            throw error("missing argument: \(what) (usage: \(usage))")
        }
        if !orMore && args.positional.count > count {
            throw error("unexpected argument \(ScenarioParser.show(args.positional[count])) (usage: \(usage))")
        }
    }

    func number(_ token: String, _ what: String) throws(ScenarioError) -> UInt64 {
        switch ScenarioParser.number(token.utf8, suffix: false) {
        case .success(let v): return v
        case .failure(.bad): throw error("bad number \(ScenarioParser.show(token)) for \(what): expected decimal or 0x-hexadecimal digits")
        case .failure(.tooLarge): throw error("number \(ScenarioParser.show(token)) for \(what) is too large")
        }
    }

    func size(_ token: String, _ what: String) throws(ScenarioError) -> UInt64 {
        switch ScenarioParser.number(token.utf8, suffix: true) {
        case .success(let v): return v
        case .failure(.bad): throw error("bad size \(ScenarioParser.show(token)) for \(what): expected a decimal or 0x-hex number with an optional K, M or G suffix")
        case .failure(.tooLarge): throw error("size \(ScenarioParser.show(token)) for \(what) is too large (over 2^64 bytes)")
        }
    }

    /// A number in `range`, as Int.
    func int(_ token: String, _ what: String, _ range: ClosedRange<Int>) throws(ScenarioError) -> Int {
        let v = try number(token, what)
        guard v <= UInt64(Int.max), range.contains(Int(v)) else {
            throw error("\(what)=\(v) out of range (\(range.lowerBound)…\(range.upperBound))")
        }
        return Int(v)
    }

    func node(_ token: String, _ what: String = "node") throws(ScenarioError) -> Int {
        let n = machine!.nodes
        let v = try number(token, what)
        guard v < UInt64(n) else {
            throw error("\(what)=\(v) out of range: the machine has \(n) node\(n == 1 ? "" : "s") (0…\(n - 1))")
        }
        return Int(v)
    }

    /// A comma-separated list of distinct nodes.
    func nodeList(_ value: String, _ what: String, distinct: Bool) throws(ScenarioError) -> [Int] {
        var nodes: [Int] = []
        for part in value.split(separator: ",", omittingEmptySubsequences: false) {
            if part.isEmpty { throw error("bad node list \(ScenarioParser.show(value)) for \(what)=: empty element") }
            let n = try node(String(part), what)
            if distinct && nodes.contains(n) { throw error("node \(n) appears twice in \(what)=\(value)") }
            nodes.append(n)
        }
        return nodes
    }

    /// A process name that must have been declared earlier in the file.
    func process(_ name: String) throws(ScenarioError) -> String {
        guard ScenarioParser.isName(name) else {
            throw error("bad process name \(ScenarioParser.show(name)): names match [A-Za-z_][A-Za-z0-9_-]*")
        }
        guard declared[name] != nil else {
            throw error("process '\(name)' is not declared: add 'process \(name)' (or 'fork P \(name)') before this line")
        }
        return name
    }

    /// A new process name (from `process` or `fork`); declares it.
    mutating func declare(_ name: String) throws(ScenarioError) -> String {
        guard ScenarioParser.isName(name) else {
            throw error("bad process name \(ScenarioParser.show(name)): names match [A-Za-z_][A-Za-z0-9_-]*")
        }
        if ScenarioParser.reservedNames.contains(name) {
            throw error("process name '\(name)' is a keyword: process and thread names cannot be statement keywords or 'privileged' (for the flag write 'process NAME privileged')")
        }
        if let line = declared[name] { throw error("process '\(name)' already declared at line \(line)") }
        declared[name] = lineNo
        return name
    }

    /// A single user address (pin, unpin, migrate_kernel): below the end of the user
    /// address space, alignment not required.
    func address(_ token: String, _ what: String = "address") throws(ScenarioError) -> UInt64 {
        let v = try number(token, what)
        guard v < ScenarioParser.userAddressLimit else {
            throw error("\(what) \(ScenarioParser.hex(v)) is beyond the user address space (below \(ScenarioParser.hex(ScenarioParser.userAddressLimit)))")
        }
        return v
    }

    /// A page-aligned range `addr, length` with length > 0 inside the user address space.
    func range(_ addrToken: String, _ lengthToken: String, addrWhat: String = "address") throws(ScenarioError) -> (UInt64, UInt64) {
        let page = ScenarioParser.pageBytes
        let hex = ScenarioParser.hex
        let addr = try number(addrToken, addrWhat)
        let length = try size(lengthToken, "length")
        if addr % page != 0 { throw error("\(addrWhat) \(hex(addr)) is not page aligned (multiple of 4096)") }
        if length == 0 { throw error("length must be greater than 0") }
        if length % page != 0 { throw error("length \(hex(length)) is not a multiple of the page size (4096)") }
        let (end, overflow) = addr.addingReportingOverflow(length)
        if overflow || end > ScenarioParser.userAddressLimit {
            throw error("range \(hex(addr)) + \(hex(length)) ends beyond the user address space (limit \(hex(ScenarioParser.userAddressLimit)))")
        }
        return (addr, length)
    }

    func caller(_ args: Args) throws(ScenarioError) -> String? {
        guard let name = args.keyed["as"] else { return nil }
        return try process(name)
    }
}
