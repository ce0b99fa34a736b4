// `mmlab offline` through its engine (OfflineExperiment) and through the binary: the
// result table, JSON shape, SVG, and bad flags exiting 2.

import Foundation
import MMHotplug
import MMPhysical
import MMScenario
import Testing

@Suite struct OfflineCommandTests {
    static func options(pins: Int = 0, online: Bool = false) -> OfflineOptions {
        var o = OfflineOptions(config: MachineConfig(nodes: 2, nodeMemBytes: 32 << 20, blockBytes: 8 << 20, movableBytes: 16 << 20))
        o.processes = 2
        o.pagesPerProcess = 1500
        o.pins = pins
        o.allMovable = true
        o.online = online
        o.retry = .passes(2)
        o.seed = 7
        return o
    }

    @Test func allMovableBlocksOfflineUnderLoadAndComeBack() throws {
        let o = Self.options(online: true)
        #expect(OfflineExperiment.problem(o) == nil)
        let (m, out) = OfflineExperiment.run(o)
        let offl = out.results.filter { $0.op == "offline" }
        #expect(offl.count == 4, "seed 7: \(offl)")
        #expect(offl.allSatisfy { $0.result.ret == 0 }, "seed 7: \(offl.map(\.result))")
        #expect(out.results.filter { $0.op == "online" }.count == 4)
        #expect(out.ok, "seed 7: \(out.text(o))")
        #expect(out.offlined.filter { $0.state == .offline }.count == 4)
        #expect(out.after.allSatisfy { $0.state == .online })
        #expect(out.cellsOfflined.contains(.offline) && !out.cellsBefore.contains(.offline))
        #expect(m.phys.blocks.allSatisfy { $0.state == .online })
        let svg = out.picture(o).svg
        #expect(svg.hasPrefix("<svg") || svg.hasPrefix("<?xml"))
        let json = out.json(o).text
        #expect(json.contains("\"before\"") && json.contains("\"results\"") && json.contains("\"after\""))
    }

    @Test func aPinnedPageMakesItsBlockEBUSYAndNothingIsLost() throws {
        let o = Self.options(pins: 1)
        let (_, out) = OfflineExperiment.run(o)
        let failed = out.results.filter { $0.result.ret != 0 }
        #expect(failed.count == 1, "seed 7: \(out.results.map(\.result))")
        #expect(failed.first?.result.errno == .EBUSY && failed.first?.result.reason == "retry limit")
        #expect(out.ok, "seed 7: \(out.text(o))")
    }

    @Test func badOptionsAreProblems() {
        var o = Self.options()
        o.blockIDs = [99]
        #expect(OfflineExperiment.problem(o)?.contains("out of range") == true)
        o.blockIDs = nil
        o.pagesPerProcess = 1 << 30
        #expect(OfflineExperiment.problem(o) != nil)
        var p = Self.options()
        p.config = MachineConfig(nodes: 1, nodeMemBytes: 32 << 20, blockBytes: 8 << 20)
        #expect(OfflineExperiment.problem(p)?.contains("Movable") == true)
    }
}

/// Runs the built `mmlab` (the debug binary next to the repository's .build) with `args`.
private func mmlab(_ args: [String]) throws -> (code: Int32, out: String, err: String) {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    let path = parts.joined(separator: "/") + "/.build/debug/mmlab"
    try #require(FileManager.default.isExecutableFile(atPath: path), "build mmlab first (\(path))")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

@Suite struct OfflineCLITests {
    @Test(arguments: [
        (["--block-ids", "99", "--mem", "64M", "--block", "16M"], "block id 99 out of range"),
        (["--block-ids", "1,x"], "'x' is not a block id"),
        (["--block-ids", "1,1"], "named twice"),
        (["--retry", "sometimes"], "--retry"),
        (["--all-movable"], "needs a Movable zone"),
        (["--block", "3M"], "machine:"),
        (["--mem", "lots"], "not a size"),
        (["--svg", "/nonexistent-dir/x.svg", "--mem", "64M", "--block", "16M"], "cannot write"),
        (["--pin", "99999999", "--mem", "64M", "--block", "16M"], "--pin"),
    ])
    func badFlagsExit2(args: [String], fragment: String) throws {
        let r = try mmlab(["offline"] + args)
        #expect(r.code == 2, "\(args): \(r)")
        #expect(r.err.contains(fragment), "\(args): \(r.err)")
    }

    @Test func jsonRunIsOneObject() throws {
        let r = try mmlab(["offline", "--mem", "64M", "--block", "16M", "--pages", "2000", "--online", "--json"])
        #expect(r.code == 0, "\(r)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let results = try #require(obj["results"] as? [[String: Any]])
        #expect(results.first?["op"] as? String == "offline" && results.first?["ret"] as? Int == 0)
        #expect(results.last?["op"] as? String == "online")
        #expect((obj["blocks"] as? [String: Any])?["before"] is [Any])
        #expect((obj["verify"] as? [String: Any])?["ok"] as? Bool == true)
    }
}
