// The model's compaction tracepoints (MMCompaction/CompactionTrace.swift) on a replay
// of the committed real snapshot: the events add up to the run's figures, the lines
// read as the kernel's do, and no event touches a block with no pages.

import Testing
import MMCompaction
import MMPhysical
import MMScenario
import MMSpace
@testable import MMSnapshot

@Suite(.serialized) struct TraceTests {
    @Test func replayTraceAddsUpAndReadsAsTheKernels() throws {
        let s = try ReplayTests.crop()
        let p = try SnapshotReplay.predict(s, options: ReplayOptions(trace: true))
        let text = try #require(p.trace)
        let lines = text.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("mm_compaction_begin: ") }.count == p.zones.count)
        #expect(lines.filter { $0.hasPrefix("mm_compaction_end: ") }.count == p.zones.count)
        var migrated = 0, failed = 0, freeScanned = 0, migrateScanned = 0
        for l in lines {
            let kv = Dictionary(l.split(separator: " ").compactMap { t -> (Substring, Int)? in
                let parts = t.split(separator: "=")
                guard parts.count == 2, let v = Int(parts[1].hasSuffix(",") ? parts[1].dropLast() : parts[1]) else { return nil }
                return (parts[0], v)
            }, uniquingKeysWith: { a, _ in a })
            if l.hasPrefix("mm_compaction_migratepages: ") {
                migrated += kv["nr_migrated"] ?? 0
                failed += kv["nr_failed"] ?? 0
            } else if l.hasPrefix("mm_compaction_isolate_freepages: range=(0x") {
                freeScanned += kv["nr_scanned"] ?? 0
            } else if l.hasPrefix("mm_compaction_isolate_migratepages: range=(0x") {
                migrateScanned += kv["nr_scanned"] ?? 0
            } else {
                #expect(l.hasPrefix("mm_compaction_begin: zone_start=0x") || l.hasPrefix("mm_compaction_end: zone_start=0x"), "\(l)")
            }
        }
        // The tracepoint's nr_failed is the batch less the migrated pages, folios left
        // untried after -ENOMEM included; pages_failed (pgmigrate_fail) leaves those out.
        #expect(migrated == p.pagesMigrated && failed >= p.pagesFailed)
        #expect(freeScanned == p.freeScanned && migrateScanned == p.migrateScanned)
        for z in p.zones {
            let end = "mm_compaction_end: zone_start=0x\(String(z.startPFN, radix: 16)) migrate_pfn=0x\(String(z.migratePFN, radix: 16)) free_pfn=0x\(String(z.freePFN, radix: 16))"
            #expect(lines.contains { $0.hasPrefix(end) }, "zone \(z.zone): \(end)")
        }
        // Off by default: nothing recorded.
        #expect(try SnapshotReplay.predict(s).trace == nil)
    }

    @Test func blocksWithNoPagesAreNeverScanned() throws {
        // A machine with a hole over its top 8 MiB, as a replay makes of a zone's
        // uninitialised tail: neither scanner may report an event inside it.
        let cfg = MachineConfig(nodes: 1, nodeMemBytes: 64 << 20, content: .stamp, holes: [(56 << 8)..<(64 << 8)])
        let m = Machine(cfg)
        let trace = CompactionTrace()
        let p = try m.createProcess("A", node: 0)
        let n = m.phys.freePages(node: 0)
        try m.mmap(p.mm, 0x1000_0000, UInt64(n) << 12)
        try m.touch(p.mm, 0x1000_0000, UInt64(n) << 12)
        for i in stride(from: 1, to: n, by: 2) { try m.madviseDontneed(p.mm, 0x1000_0000 + UInt64(i) << 12, 4096) }
        let r = Compaction.compactMemory(machine: m, trace: trace)
        #expect(r.reduce(0) { $0 + $1.pagesMigrated } > 0)
        for e in trace.events {
            switch e {
            case let .isolateFree(start, _, _, _), let .isolateMigrate(start, _, _, _):
                #expect(Int(start) < 56 << 8, "an isolate event at pfn \(start), inside the hole")
            default: break
            }
        }
        // The record is bounded.
        let small = CompactionTrace(limit: 3)
        _ = Compaction.compactMemory(machine: Machine(cfg), trace: small)
        #expect(small.events.count == 3 && small.dropped > 0 && small.text.hasSuffix("(limit 3)\n"))
    }
}
