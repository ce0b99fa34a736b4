// The fragmenter child of `mmlab kernel compact` (hidden subcommand `_fragmenter`): maps
// anonymous memory without huge pages, writes each page's own address into every word
// of it, frees every other page (MADV_DONTNEED) and holds the rest; on "check" from its
// parent it verifies every held page's content and reports. Talks over stdin/stdout.

import ArgumentParser
import CMMSupport
#if canImport(Glibc)
import Glibc
#endif

struct FragmenterChild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_fragmenter", abstract: "Internal: the fragmenter child of `mmlab kernel compact`.",
                                                    shouldDisplay: false)
    @Option(help: "Bytes to map.") var bytes: Int
    @Option(help: "Pin to this CPU (its frees go to that CPU's per-CPU lists).") var cpu: Int?

    func run() throws {
        let page = 4096
        if let cpu, cpu < 0 || mm_pin_to_cpu(Int32(cpu)) != 0 { failBadInput("_fragmenter: cannot pin to CPU \(cpu)") }
        guard bytes >= 2 * page, bytes % page == 0, bytes <= 1 << 40 else { failBadInput("_fragmenter: --bytes must be a multiple of 4096, at least 8192") }
        guard let base = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED else {
            reply("error mmap: \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        // Small pages only: a THP would be one movable unit, not the alternate pattern.
        guard madvise(base, bytes, MADV_NOHUGEPAGE) == 0 else {
            reply("error madvise(MADV_NOHUGEPAGE): \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        let pages = bytes / page
        let words = base.assumingMemoryBound(to: UInt64.self)
        for p in 0..<pages {
            let addr = UInt64(UInt(bitPattern: base + p * page))
            for w in 0..<(page / 8) { words[p * (page / 8) + w] = addr }
        }
        for p in stride(from: 1, to: pages, by: 2) {
            guard madvise(base + p * page, page, MADV_DONTNEED) == 0 else {
                reply("error madvise(MADV_DONTNEED): \(String(cString: strerror(errno)))")
                throw ExitCode(1)
            }
        }
        reply("ready \(pages - pages / 2)")
        // Wait for the parent (bounded by the parent: it closes our stdin on any exit).
        var c: UInt8 = 0
        while read(0, &c, 1) == 1 && c != UInt8(ascii: "\n") {}
        var bad = 0
        var firstBad: UInt64 = 0
        for p in stride(from: 0, to: pages, by: 2) {
            let addr = UInt64(UInt(bitPattern: base + p * page))
            for w in 0..<(page / 8) where words[p * (page / 8) + w] != addr {
                if bad == 0 { firstBad = addr }
                bad += 1
                break
            }
        }
        reply(bad == 0 ? "ok \(pages - pages / 2)" : "bad \(bad) first=0x\(String(firstBad, radix: 16))")
        if bad > 0 { throw ExitCode(1) }
    }

    func reply(_ s: String) {
        let line = s + "\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
    }
}
