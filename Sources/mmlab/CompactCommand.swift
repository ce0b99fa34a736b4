// `mmlab compact` (issue 9 item 8): build, fragment, compact, verify, report.

import ArgumentParser
import MMPhysical
import MMScenario
import MMSnapshot
#if canImport(Glibc)
import Glibc
#endif

struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fragment a machine, compact it, verify it; buddyinfo, Linux's indices and pageblocks before and after.")

    @Option(help: "NUMA nodes.") var nodes: Int = 1
    @Option(help: "Total memory, split evenly across nodes (e.g. 1G).") var mem: String = "1G"
    @Option(help: "Frame contents: full (4 KiB bytes per frame) or stamp (8 bytes).") var content: ContentMode = .full
    @Option(help: "A Movable zone of this size at the top of each node (e.g. 256M).") var movable: String?
    @Option(help: "Random seed (fragmenters and placement).") var seed: UInt64 = 1
    @Option(help: "alternate, random:P (free a fraction P), unmovable:P (alternate, then an unmovable page in a fraction P of the pageblocks), none.")
    var fragment: String = "alternate"
    @Option(help: "Request order 0…10 (default: full compaction, order -1).") var order: Int?
    @Option(help: "sync, sync-light or async.") var mode: CompactModeName = .sync
    @Flag(help: "Let kcompactd's proactive compaction alone do it, until it sleeps.") var proactive = false
    @Option(help: "Write the pageblock picture (SVG) to this file.") var svg: String?
    @Option(help: "Replay this snapshot directory (mmlab snapshot) instead: its machine, full compaction; the machine options are not used.")
    var snapshot: String?
    @OptionGroup var replayFlags: ReplayFlags
    @Flag(help: "One JSON object.") var json = false

    func run() throws {
        if let snapshot {
            // The snapshot fixes the machine and the request (compact_memory).
            let options = try replayFlags.options()
            try replaySnapshot(try loadSnapshot(snapshot, cropEnd: nil), dir: snapshot, svg: svg, json: json, options: options,
                               traceOut: replayFlags.traceOut)
            return
        }
        var o = CompactOptions()
        guard nodes >= 1, nodes <= 64 else { throw ValidationError("--nodes must be 1…64") }
        o.nodes = nodes
        o.memBytes = try parseSize(mem, "--mem")
        guard o.memBytes > 0 else { throw ValidationError("--mem must be positive") }
        o.content = content
        if let movable { o.movableBytes = try parseSize(movable, "--movable") }
        o.seed = seed
        switch FragmentKind.parse(fragment) {
        case .success(let k): o.fragment = k
        case .failure(let e): throw ValidationError("--fragment: \(e)")
        }
        if let order, order < 0 || order > maxOrder {
            throw ValidationError("--order must be 0…\(maxOrder) (leave it out for full compaction)")
        }
        o.order = order
        o.mode = mode
        o.proactive = proactive
        if proactive && order != nil { throw ValidationError("--proactive and --order exclude each other (kcompactd picks its own work)") }
        // An unwritable --svg is bad input: found before the run, not after it.
        if let svg, !writeFile(svg, "") { throw ValidationError("--svg: cannot write '\(svg)'") }
        let report: CompactReport
        do { report = try CompactReport.run(o) } catch { throw ValidationError(error.description) }
        if let svg {
            let doc = report.picture.svg
            guard writeFile(svg, doc) else { throw ValidationError("--svg: cannot write '\(svg)'") }
        }
        FileHandleOut.out(json ? report.json.text : report.text)
        if !report.ok { throw ExitCode(1) }
    }
}

extension CompactModeName: ExpressibleByArgument {}

/// Writes `text` to `path` (created or truncated); false on any error.
func writeFile(_ path: String, _ text: String) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var ok = true
    text.utf8CString.withUnsafeBufferPointer { buf in
        var off = 0
        let n = buf.count - 1   // no trailing NUL
        while off < n {
            guard let base = buf.baseAddress else { ok = false; return }
            let w = write(fd, base + off, n - off)
            if w <= 0 { ok = false; return }
            off += w
        }
    }
    return ok
}
