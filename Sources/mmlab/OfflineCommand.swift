// `mmlab offline`: hot-remove memory blocks while processes run (docs/HOTPLUG.md).

import ArgumentParser
import MMHotplug
import MMPhysical
import MMScenario
#if canImport(Glibc)
import Glibc
#endif

struct Offline: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Offline memory blocks while processes write and read on real threads; verify; print the block table.")

    @Option(help: "NUMA nodes.") var nodes: Int = 2
    @Option(help: "Total memory, split evenly across nodes (e.g. 1G).") var mem: String = "512M"
    @Option(help: "Memory block size (a multiple of 2M dividing each node's memory).") var block: String = "128M"
    @Option(help: "Bytes at the top of each node forming its Movable zone (0: none).") var movable: String = "0"
    @Option(help: "Frame contents: full (4 KiB per frame) or stamp (8 bytes).") var content: ContentMode = .full
    @Option(help: "Processes, each on its own thread writing and reading while the offline runs.") var procs: Int = 2
    @Option(help: "Pages each process maps and writes (default: a quarter of memory over all processes).") var pages: Int?
    @Option(help: "Unmovable kernel pages allocated on node 0.") var unmovable: Int = 0
    @Option(help: "Long-term pins on random process pages.") var pin: Int = 0
    @Option(help: "Memory blocks to offline, machine-wide ids (e.g. 0,1). Default: the block holding most process pages.") var blockIds: String?
    @Flag(help: "Offline every block of the Movable zones.") var allMovable = false
    @Flag(help: "Online the offlined blocks again afterwards.") var online = false
    @Flag(help: "No worker threads during the offline (measures the offline alone).") var noWorkers = false
    @Option(help: "Retry policy: timeout:DURATION (wall time), forever or passes:N.") var retry: String = "timeout:10s"
    @Option(help: "Seed of the workers and of the pin placement.") var seed: UInt64 = 1
    @Flag(help: "One JSON object.") var json = false
    @Option(help: "Write an SVG picture of the blocks before and after.") var svg: String?

    func options() throws -> OfflineOptions {
        guard nodes >= 1, nodes <= MachineConfig.maxNodes else { throw ValidationError("--nodes must be 1…\(MachineConfig.maxNodes)") }
        let total = try parseSize(mem, "--mem")
        if let problem = MachineConfig.problemSplitting(totalBytes: total, nodes: nodes) {
            throw ValidationError("--mem \(mem) over --nodes \(nodes): \(problem)")
        }
        let config = MachineConfig(nodes: nodes, nodeMemBytes: total / nodes, blockBytes: try parseSize(block, "--block"),
                                   content: content, movableBytes: try parseSize(movable, "--movable"))
        if let problem = config.problem { throw ValidationError("machine: \(problem)") }
        guard procs >= 1, procs <= 64 else { throw ValidationError("--procs must be 1…64") }
        guard unmovable >= 0, pin >= 0 else { throw ValidationError("--unmovable and --pin must not be negative") }
        var o = OfflineOptions(config: config)
        o.processes = procs
        o.pagesPerProcess = pages ?? max(1, config.totalPages / 4 / procs)
        guard o.pagesPerProcess >= 1, o.pagesPerProcess <= config.totalPages else {
            throw ValidationError("--pages must be 1…\(config.totalPages)")
        }
        o.unmovable = unmovable
        o.pins = pin
        if let ids = blockIds {
            if allMovable { throw ValidationError("--block-ids and --all-movable exclude each other") }
            var list: [Int] = []
            for part in ids.split(separator: ",", omittingEmptySubsequences: false) {
                guard let v = Int(part), v >= 0 else { throw ValidationError("--block-ids: '\(part)' is not a block id") }
                if list.contains(v) { throw ValidationError("--block-ids: block \(v) named twice") }
                list.append(v)
            }
            o.blockIDs = list
        }
        o.allMovable = allMovable
        o.online = online
        o.workers = !noWorkers
        guard let policy = OfflineRetryPolicy(parsing: retry) else {
            throw ValidationError("--retry: '\(retry)' is not timeout:DURATION (e.g. timeout:120s), forever or passes:N")
        }
        o.retry = policy
        o.seed = seed
        if let problem = OfflineExperiment.problem(o) { throw ValidationError(problem) }
        return o
    }

    func run() throws {
        let o = try options()
        // An unwritable picture is refused before the run, not after it.
        var svgFile: UnsafeMutablePointer<FILE>? = nil
        if let svg {
            guard let f = fopen(svg, "w") else { throw ValidationError("--svg: cannot write '\(svg)': \(String(cString: strerror(errno)))") }
            svgFile = f
        }
        let (_, out) = OfflineExperiment.run(o)
        FileHandleOut.out(json ? out.json(o).text : out.text(o))
        if let f = svgFile {
            fputs(out.picture(o).svg, f)
            fclose(f)
            if !json { FileHandleOut.out("picture: \(svg!)") }
        }
        if !out.ok { throw ExitCode(1) }
    }
}
