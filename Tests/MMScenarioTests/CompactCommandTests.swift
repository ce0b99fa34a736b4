// Tests of `mmlab compact` (issue 9 "What it must show"), of its fragmenters, and of the
// pageblock picture. The command-line tests spawn the `mmlab` built next to this test
// bundle (as CLITests.swift does) and read its JSON; the others call MMScenario directly.

import Foundation
import MMPhysical
import MMSpace
@testable import MMScenario
import Testing

// MARK: running the binary

private struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
}

private enum Binary {
    static let path: String? = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        let beside = (exe as NSString).deletingLastPathComponent + "/mmlab"
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        let fallback = parts.joined(separator: "/") + "/.build/debug/mmlab"
        return FileManager.default.isExecutableFile(atPath: fallback) ? fallback : nil
    }()

    /// Runs mmlab to completion (the pipes are drained on background threads so a large
    /// output cannot block the child).
    static func run(_ args: [String]) throws -> Run {
        let path = try #require(path, "mmlab binary not built (swift build)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        nonisolated(unsafe) var o = Data(), e = Data()
        let g = DispatchGroup()
        DispatchQueue.global().async(group: g) { o = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: g) { e = err.fileHandleForReading.readDataToEndOfFile() }
        p.waitUntilExit()
        g.wait()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func json(_ args: [String]) throws -> (Run, [String: Any]) {
        let r = try run(args + ["--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return (r, try #require(obj, "not one JSON object: \(r.stdout.prefix(300)) \(r.stderr.prefix(300))"))
    }
}

private func ints(_ v: Any?) -> [Int] { (v as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.intValue } }

// MARK: bad input

@Suite struct CompactFlagTests {
    @Test(arguments: [
        ["--mem", "-1G"], ["--nodes", "0"], ["--nodes", "-2"], ["--fragment", "random:1.5"],
        ["--fragment", "random:-0.1"], ["--fragment", "unmovable:x"], ["--fragment", "swiss-cheese"],
        ["--order", "11"], ["--order", "-1"], ["--seed", "-1"], ["--movable", "-5M"], ["--mode", "eager"],
        ["--mem", "6M"], ["--mem", "64M", "--nodes", "3"], ["--proactive", "--order", "3"],
    ])
    func badFlagsExitTwoWithAMessage(_ args: [String]) throws {
        let r = try Binary.run(["compact"] + args)
        #expect(r.status == 2, "\(args): exit \(r.status) \(r.stderr)")
        #expect(!r.stderr.isEmpty && !r.stderr.contains("Fatal error"), "\(args): \(r.stderr)")
    }

    @Test func fragmentKindsParse() throws {
        #expect(try FragmentKind.parse("alternate").get() == .alternate)
        #expect(try FragmentKind.parse("random:0.3").get() == .random(0.3))
        #expect(try FragmentKind.parse("unmovable:1").get() == .unmovable(1))
        #expect((try? FragmentKind.parse("unmovable:").get()) == nil)
        #expect((try? FragmentKind.parse("random:nan").get()) == nil)
        #expect((try? FragmentKind.parse("alternate:0.5").get()) == nil)
    }
}

// MARK: fragmenters

@Suite struct FragmenterTests {
    private func machine(_ mib: Int, nodes: Int = 1) -> Machine {
        Machine(MachineConfig(nodes: nodes, nodeMemBytes: (mib << 20) / nodes, blockBytes: 16 << 20, content: .stamp))
    }

    @Test func alternateFreesEveryOtherFrame() throws {
        let m = machine(64, nodes: 2)
        let f = try Fragmenter.fragment(m, .alternate, seed: 1)
        #expect(f.filledPages == m.phys.totalPages)
        #expect(f.freedPages == m.phys.totalPages / 2)
        let s = MachineState(m)
        #expect(s.freePages == m.phys.totalPages / 2)
        for z in s.zones {
            #expect(z.free[0] == z.presentPages / 2 && z.free[1...].allSatisfy { $0 == 0 }, "\(z.free)")
            #expect(z.score == 100)
            #expect(z.census.classes.allSatisfy { $0 == .movable })
        }
        for pfn in stride(from: PFN(1), to: PFN(m.phys.totalPages), by: 2) { #expect(m.phys.pages.test(pfn, PageFlag.buddy)) }
        #expect(CompactReport.verify(m).1.isEmpty)
    }

    @Test func unmovableMarksTheChosenFractionOfPageblocks() throws {
        let m = machine(256)
        let f = try Fragmenter.fragment(m, .unmovable(0.25), seed: 7)
        let blocks = m.phys.totalPages / pageblockPages
        #expect(f.unmovablePages == blocks / 4)
        #expect(m.unmovable.count == blocks / 4)
        let s = MachineState(m)
        #expect(s.pageblockCounts[.mixed] == blocks / 4 && s.pageblockCounts[.movable] == blocks - blocks / 4)
        for pfn in m.unmovable {
            #expect(m.phys.zoneOf(pfn).pageblockType(of: pfn) == .unmovable)
        }
        #expect(CompactReport.verify(m).1.isEmpty)
        // Same seed, same placement.
        let m2 = machine(256)
        _ = try Fragmenter.fragment(m2, .unmovable(0.25), seed: 7)
        #expect(m2.unmovable == m.unmovable)
    }

    @Test func randomFreesAboutTheFraction() throws {
        let m = machine(64)
        let f = try Fragmenter.fragment(m, .random(0.3), seed: 3)
        let share = Double(f.freedPages) / Double(f.filledPages)
        #expect(share > 0.27 && share < 0.33, "freed \(f.freedPages) of \(f.filledPages)")
        #expect(MachineState(m).freePages == f.freedPages)
        #expect(CompactReport.verify(m).1.isEmpty)
        let all = machine(16)
        #expect(try Fragmenter.fragment(all, .random(1), seed: 3).freedPages == all.phys.totalPages)
    }
}

// MARK: the picture

@Suite struct PageblockPictureTests {
    @Test(arguments: [32, 512, 8192, 32768])
    func gridFitsTheBoxAtEverySize(_ n: Int) {
        let cells = (0..<n).map { PageblockClass.allCases[$0 * 7 % 6] }
        let p = PageblockPicture.Panel(title: "t", cells: cells)
        let g = PageblockPicture.grid(p)
        #expect(g.perLine * g.pitch <= PageblockPicture.boxWidth && g.lines * g.pitch <= PageblockPicture.boxHeight, "n \(n): \(g)")
        #expect(g.perLine * g.lines >= n && g.cell >= 2, "n \(n): \(g)")
        if n >= 64 { #expect(g.perLine % 8 == 0, "n \(n): \(g)") }
        let svg = PageblockPicture(title: "x", panelRows: [[p, p]]).svg
        #expect(svg.hasPrefix("<?xml") && svg.hasSuffix("</svg>\n"))
        #expect(svg.utf8.count < 4 << 20, "n \(n): \(svg.utf8.count) bytes")
        for c in PageblockClass.allCases { #expect(svg.contains(PageblockPicture.colour(c))) }
    }

    @Test func textIsEscapedAndColumnsWork() {
        let p = PageblockPicture.Panel(title: "a<b & \"c\"", cells: Array(repeating: .offline, count: 24),
                                       lineLength: 8, direction: .down, lineLabels: ["blk0", "blk1", "blk2"])
        let svg = PageblockPicture(title: "t", panelRows: [[p]], tables: [.init(title: "T", lines: ["x < y"])]).svg
        #expect(svg.contains("a&lt;b &amp; &quot;c&quot;") && svg.contains("x &lt; y"))
        #expect(svg.contains("blk0") && !svg.contains("blk1"))   // 25 px columns: one label per 3
        #expect(PageblockPicture.grid(p).lines == 3)
    }
}

// MARK: what issue 9 says it must show

@Suite(.serialized) struct CompactAcceptanceTests {
    /// Free order-9 blocks (order 10 counted twice) and free pages of a buddyinfo list.
    private func huge(_ state: Any?) -> (blocks: Int, freePages: Int) {
        var blocks = 0, pages = 0
        for e in ((state as? [String: Any])?["buddyinfo"] as? [[String: Any]]) ?? [] {
            let f = ints(e["free"])
            for (o, n) in f.enumerated() {
                pages += n << o
                if o >= 9 { blocks += n << (o - 9) }
            }
        }
        return (blocks, pages)
    }

    @Test func alternateOneGigabyteCompactsToOrderNine() throws {
        let (r, j) = try Binary.json(["compact", "--nodes", "1", "--mem", "1G", "--fragment", "alternate"])
        #expect(r.status == 0, "\(r.stderr)")
        let before = huge(j["before"]), after = huge(j["after"])
        #expect(before.freePages == (1 << 30) / 4096 / 2, "half the pages free before")
        #expect(before.blocks == 0, "no free order-9 block before")
        let possible = after.freePages / 512
        #expect(after.blocks * 100 >= possible * 95, "after: \(after.blocks) order-9 blocks of \(possible) possible")
        let verify = try #require(j["verify"] as? [String: Any])
        #expect(verify["ok"] as? Bool == true && (verify["violations"] as? [Any])?.isEmpty == true)
        #expect((j["pages_migrated"] as? NSNumber)?.intValue ?? 0 > 0)
        let zones = try #require(j["zones"] as? [[String: Any]])
        #expect(zones.count == 1 && zones[0]["status"] as? String == "complete" && zones[0]["zone"] as? String == "Normal")
        // Text mode says OK (a smaller machine: the 1 GiB run is checked above).
        let t = try Binary.run(["compact", "--mem", "64M"])
        #expect(t.status == 0 && t.stdout.contains("verdict: OK"), "\(t.stdout.suffix(400))")
        #expect(t.stdout.contains("Node 0, zone   Normal"))
    }

    @Test func unmovableQuarterNeverMovesAnUnmovablePage() throws {
        let m = Machine(MachineConfig(nodes: 1, nodeMemBytes: 256 << 20, content: .stamp))
        _ = try Fragmenter.fragment(m, .unmovable(0.25), seed: 5)
        let pinned = m.unmovable
        var o = CompactOptions()
        o.memBytes = 256 << 20
        let run = try #require(CompactEngine.run(m, o))
        #expect(!run.zones.isEmpty)
        let (_, violations) = CompactReport.verify(m)
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        #expect(m.unmovable == pinned)
        for pfn in pinned { #expect(m.phys.pages.test(pfn, PageFlag.unmovable) && !m.phys.pages.test(pfn, PageFlag.buddy)) }
        let after = MachineState(m)
        let z = after.zones[0]
        let blocksWithUnmovable = Set(pinned.map { Int($0) / pageblockPages })
        for b in blocksWithUnmovable {
            let c = z.census.classes[b - Int(z.startPFN) / pageblockPages]
            #expect(c == .unmovable || c == .mixed, "pageblock \(b): \(c)")
        }
        // What the pageblocks holding no unmovable page could give, under Linux's rules:
        // a full sync compaction also empties mixed blocks (every block is a source) but
        // fills only MIGRATE_MOVABLE ones (suitable_migration_target), so the scanners
        // meet early; every clean pageblock the migrate scanner passed can be free.
        let migrateEnd = try #require(run.zones.first?.migratePFN)
        let passed = (0..<z.census.usage.count).filter { b in
            (b + 1) * pageblockPages + Int(z.startPFN) <= migrateEnd && !blocksWithUnmovable.contains(b + Int(z.startPFN) / pageblockPages)
        }
        #expect(passed.count >= 20, "the migrate scanner passed \(passed.count) clean pageblocks")
        #expect(after.freeHugeBlocks * 100 >= passed.count * 95, "\(after.freeHugeBlocks) free order-9 blocks of \(passed.count) clean pageblocks passed")
    }

    @Test func jsonHasTheIssuesShape() throws {
        let (r, j) = try Binary.json(["compact", "--mem", "64M", "--nodes", "2", "--fragment", "random:0.5", "--seed", "9"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Set(j.keys) == ["before", "after", "vmstat", "seconds", "pages_migrated", "zones", "verify"])
        for side in ["before", "after"] {
            let s = try #require(j[side] as? [String: Any])
            #expect(Set(s.keys) == ["buddyinfo", "pageblocks"])
            let bi = try #require(s["buddyinfo"] as? [[String: Any]])
            #expect(bi.count == 2)
            for e in bi {
                #expect(Set(e.keys) == ["node", "zone", "free", "extfrag_index", "unusable_index", "fragmentation_score"])
                let f = ints(e["free"])
                #expect(f.count == 11 && ints(e["extfrag_index"]).count == 11 && ints(e["unusable_index"]).count == 11)
                #expect(ints(e["extfrag_index"]) == FragmentationIndex.extfragRow(f))
                #expect(ints(e["unusable_index"]) == FragmentationIndex.unusableRow(f))
                #expect((e["fragmentation_score"] as? NSNumber)?.intValue == FragmentationIndex.scoreZone(freeBlocks: f))
            }
            let pb = try #require(s["pageblocks"] as? [String: Any])
            #expect(Set(pb.keys) == ["total", "free", "movable", "unmovable", "mixed", "isolated"])
            let total = (pb["total"] as? NSNumber)?.intValue
            #expect(total == 32)
            let sum = ["free", "movable", "unmovable", "mixed", "isolated"].reduce(0) { $0 + ((pb[$1] as? NSNumber)?.intValue ?? -100) }
            #expect(sum == total)
        }
        let zones = try #require(j["zones"] as? [[String: Any]])
        #expect(zones.count == 2)
        for z in zones { #expect(Set(z.keys) == ["node", "zone", "status", "migrate_pfn", "free_pfn"]) }
        let vm = try #require(j["vmstat"] as? [String: Any])
        #expect(vm["compact_migrate_scanned"] != nil && vm["pgmigrate_success"] != nil)
        #expect(j["seconds"] is NSNumber)
    }

    @Test func proactiveKcompactdBringsTheScoreToTheLowMark() throws {
        // vm.compaction_proactiveness 20 (default): compact above 90, down to at most 80.
        let (r, j) = try Binary.json(["compact", "--mem", "64M", "--proactive"])
        #expect(r.status == 0, "\(r.stderr)")
        func score(_ side: String) -> Int? {
            (((j[side] as? [String: Any])?["buddyinfo"] as? [[String: Any]])?.first?["fragmentation_score"] as? NSNumber)?.intValue
        }
        #expect((score("before") ?? 0) > 90)
        #expect((score("after") ?? 100) <= 80, "score after \(score("after") ?? -1)")
        let vm = try #require(j["vmstat"] as? [String: Any])
        #expect(((vm["compact_daemon_migrate_scanned"] as? NSNumber)?.intValue ?? 0) > 0)
        #expect((j["zones"] as? [Any])?.isEmpty == true)
    }

    @Test func svgIsWrittenWithBothPanels() throws {
        let path = NSTemporaryDirectory() + "mmlab-compact-\(getpid()).svg"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try Binary.run(["compact", "--mem", "64M", "--fragment", "unmovable:0.25", "--svg", path])
        #expect(r.status == 0, "\(r.stderr)")
        let svg = try String(contentsOfFile: path, encoding: .utf8)
        #expect(svg.contains("— before") && svg.contains("— after") && svg.contains("buddyinfo after"))
        #expect(svg.contains(PageblockPicture.colour(.mixed)))
        let bad = try Binary.run(["compact", "--mem", "64M", "--svg", "/nonexistent-dir/x.svg"])
        #expect(bad.status == 2 && bad.stderr.contains("--svg"))
    }
}
