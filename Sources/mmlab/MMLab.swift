// The `mmlab` command line (commands: README.md): a thin layer over the libraries. Exit codes:
// 0 success, 1 a check or violation failed, 2 bad input.

import ArgumentParser
import MMPhysical
import MMScenario
import MMSpace
#if canImport(Glibc)
import Glibc
#endif

@main
struct MMLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mmlab",
        abstract: "A laboratory for Linux-style page migration, compaction and hot-remove.",
        subcommands: [
            Demo.self, Run.self, Stress.self, Explore.self, Replay.self,
            // MARK: subcommands — compaction
            Compact.self,

            // MARK: subcommands — hot-remove
            Offline.self,

            // MARK: subcommands — snapshot
            Snapshot.self, Kernel.self, FragmenterChild.self,

            Bench.self,
        ])

    /// Argument errors exit 2 (bad input), not ArgumentParser's 64.
    static func main() {
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandleOut.stderr(fullMessage(for: error))
                Glibc.exit(2)
            }
            exit(withError: error)   // --help, --version: exit 0
        }
        do {
            try command.run()
        } catch let e as ValidationError {
            failBadInput(e.message)
        } catch {
            exit(withError: error)
        }
    }
}

/// Tiny stdout/stderr helpers (no Foundation).
enum FileHandleOut {
    static func stderr(_ s: String) {
        var s = s
        if !s.hasSuffix("\n") { s += "\n" }
        _ = s.withCString { Glibc.write(2, $0, strlen($0)) }
    }
    static func out(_ s: String) {
        let line = s.hasSuffix("\n") ? s : s + "\n"
        _ = line.withCString { Glibc.write(1, $0, strlen($0)) }
    }
    static var isTerminal: Bool { isatty(1) == 1 }
}

func failBadInput(_ message: String) -> Never {
    FileHandleOut.stderr("mmlab: " + message)
    Glibc.exit(2)
}

/// A scenario file error: `FILE:LINE: message` alone on stderr (editors jump to it), exit 2.
func failScenario(_ error: ScenarioError) -> Never {
    FileHandleOut.stderr(error.description)
    Glibc.exit(2)
}

/// Parses sizes like 256M, 4G, 65536, 0x1000 (K/M/G are powers of 1024).
func parseSize(_ s: String, _ what: String) throws -> Int {
    if s.hasPrefix("-") { throw ValidationError("\(what): '\(s)' is out of range: a size must be positive (e.g. 256M, 4G)") }
    var t = Substring(s.uppercased())
    var mult = 1
    if t.hasSuffix("IB") { t = t.dropLast(2) }
    if let last = t.last, let m = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40][String(last)] {
        mult = m
        t = t.dropLast()
    }
    let v: Int?
    if t.hasPrefix("0X") { v = Int(t.dropFirst(2), radix: 16) } else { v = Int(t) }
    guard let v, v >= 0 else { throw ValidationError("\(what): '\(s)' is not a size (e.g. 256M, 4G)") }
    let (r, o) = v.multipliedReportingOverflow(by: mult)
    guard !o else { throw ValidationError("\(what): '\(s)' is too large") }
    return r
}

extension AnonVmaPinPolicy: ExpressibleByArgument {}
extension ContentMode: ExpressibleByArgument {}
extension ScenarioSyscallLock: ExpressibleByArgument {}
