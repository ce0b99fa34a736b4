// `mmlab snapshot DIR`: capture this machine's physical memory map (root), or read one
// back (`--read`, no root needed) and print what it holds (docs/SNAPSHOT.md).

import ArgumentParser
import MMScenario
import MMSnapshot
#if canImport(Glibc)
import Glibc
#endif

struct Snapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Capture this machine's physical memory map into DIR (root), or summarise one (--read).")

    @Argument(help: "Snapshot directory (created if missing).") var dir: String
    @Flag(help: "Read an existing snapshot and summarise it instead of capturing (no root needed).") var read = false
    @Flag(help: "Also replay the snapshot in mmlab and print the predicted full compaction (compact_memory).") var replay = false
    @Option(help: "Only PFNs below this one (a multiple of 4096, e.g. 0x180000): whole zones below it, the zone it cuts as a prefix.")
    var cropEnd: String?
    @Option(help: "With --replay: write the pageblock picture (snapshot before | mmlab after) as SVG to this file.") var svg: String?
    @Option(help: "With --svg: the snapshot of the kernel's own state after its compaction (kernel compact's DIR/after), a third panel.")
    var kernelAfter: String?
    @OptionGroup var replayFlags: ReplayFlags
    @Option(help: "With --replay: write the predicted page class of every PFN after compaction to this file, one byte each (docs/SNAPSHOT.md, 'Replay').")
    var cellsOut: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        let options = try replayFlags.options()
        if !read {
            let missing = SnapshotCapture.missing()
            guard missing.isEmpty else { failBadInput("snapshot needs " + missing.joined(separator: "; ")) }
            do { try SnapshotCapture.capture(to: dir) } catch let e as SnapshotError { failBadInput(e.description) }
        }
        if svg != nil && !replay { throw ValidationError("--svg needs --replay") }
        if cellsOut != nil && !replay { throw ValidationError("--cells-out needs --replay") }
        let snap = try loadSnapshot(dir, cropEnd: cropEnd)
        guard replay else {
            FileHandleOut.out(json ? snapshotJSON(snap).text : snapshotText(snap, dir: dir))
            return
        }
        if kernelAfter != nil && svg == nil { throw ValidationError("--kernel-after needs --svg") }
        let after = try kernelAfter.map { try loadSnapshot($0, cropEnd: cropEnd) }
        try replaySnapshot(snap, dir: dir, svg: svg, json: json, kernelAfter: after, options: options, cellsOut: cellsOut,
                           traceOut: replayFlags.traceOut)
    }
}

/// The replay's per-CPU list flags (docs/SNAPSHOT.md, "Per-CPU lists"), shared by
/// `mmlab snapshot --replay` and `mmlab compact --snapshot`.
struct ReplayFlags: ParsableArguments {
    @Option(help: "Replay: the CPU whose per-CPU lists the compaction frees onto (its zoneinfo pagesets), or 'off'.")
    var pcpCPU: String = "0"
    @Option(help: "Replay: seconds between the page read and the compaction, over which the other CPUs' lists shrink.")
    var pcpDecay: Double = 0
    @Option(help: "Replay: write the model's compaction tracepoints to this file, in the kernel's trace format (docs/SNAPSHOT.md, 'Tracepoints').")
    var traceOut: String?

    func options() throws -> ReplayOptions {
        if let traceOut, !writeFile(traceOut, "") { throw ValidationError("--trace-out: cannot write '\(traceOut)'") }
        guard pcpDecay.isFinite, pcpDecay >= 0, pcpDecay <= 3600 else {
            throw ValidationError("--pcp-decay: \(pcpDecay) is not a number of seconds in 0…3600")
        }
        if pcpCPU == "off" {
            guard pcpDecay == 0 else { throw ValidationError("--pcp-decay needs a --pcp-cpu") }
            return ReplayOptions(pcpCPU: nil, trace: traceOut != nil)
        }
        guard let cpu = Int(pcpCPU), cpu >= 0, cpu < 4096 else {
            throw ValidationError("--pcp-cpu: '\(pcpCPU)' is neither a CPU number (0…4095) nor 'off'")
        }
        return ReplayOptions(pcpCPU: cpu, decaySeconds: pcpDecay, trace: traceOut != nil)
    }
}

/// Reads a snapshot (exit 2 on a bad one), cropped to PFNs below `cropEnd` if given.
func loadSnapshot(_ dir: String, cropEnd: String?) throws -> KernelSnapshot {
    var end: Int?
    if let c = cropEnd {
        let v = c.hasPrefix("0x") ? Int(c.dropFirst(2), radix: 16) : Int(c)
        guard let v else { throw ValidationError("--crop-end: '\(c)' is not a PFN (decimal or 0x hex)") }
        end = v
    }
    do {
        let s = try KernelSnapshot.load(directory: dir)
        return try end.map { try s.cropped(toEnd: $0) } ?? s
    } catch let e as SnapshotError { failBadInput(e.description) }
}

/// The replay of `mmlab snapshot --replay` and `mmlab compact --snapshot`: prediction
/// printed (text or JSON), picture written to `svg`.
func replaySnapshot(_ snap: KernelSnapshot, dir: String, svg: String?, json: Bool, kernelAfter: KernelSnapshot? = nil,
                    options: ReplayOptions, cellsOut: String? = nil, traceOut: String? = nil) throws {
    if let svg, !writeFile(svg, "") { throw ValidationError("--svg: cannot write '\(svg)'") }
    guard let p = predict(snapshot: snap, options: options) else { failBadInput(modelUnavailableReason ?? "replay failed") }
    if let path = cellsOut {
        do { try SnapshotIO.writeFile(path, p.cellsAfter.map { $0 & 0xF }) } catch { throw ValidationError("--cells-out: \(error)") }
    }
    if let traceOut, !writeFile(traceOut, p.trace ?? "") { throw ValidationError("--trace-out: cannot write '\(traceOut)'") }
    if let svg {
        let pic = SnapshotPicture.picture(before: snap, prediction: p, kernelAfter: kernelAfter, title: "mmlab replay of \(dir)",
                                          subtitle: ["kernel \(snap.meta?.kernelRelease ?? "?"), \(snap.meta?.timeUTC ?? "?"), \(snap.pfnCount) PFNs"])
        guard writeFile(svg, pic.svg) else { throw ValidationError("--svg: cannot write '\(svg)'") }
    }
    FileHandleOut.out(json ? predictionJSON(p, snap).text : snapshotText(snap, dir: dir) + predictionText(p))
}

/// `"snapshot":{…}` of every report: what was read, the classification counts, and the
/// inferred pageblock types beside pagetypeinfo's totals.
func snapshotJSON(_ s: KernelSnapshot) -> JSONValue {
    func counts(_ c: ClassCounts) -> JSONValue {
        .object(PageClass.allCases.map { ($0.name, .int(c[$0])) })
    }
    let zones: [JSONValue] = s.zones.map { z in
        let c = s.counts(zone: z)
        return .object([
            ("node", .int(z.node)), ("zone", .string(z.name)),
            ("start_pfn", .int(z.startPFN)), ("spanned", .int(z.info.spanned)), ("present", .int(z.info.present)),
            ("managed", .int(z.info.managed)), ("free_pages", .int(z.info.freePages)),
            ("initialised_end_pfn", .int(z.initialisedEnd)),
            ("pages", counts(c)),
            ("buddyinfo", .array((s.kernelBuddyinfo(zone: z) ?? []).map { .int($0) })),
            ("buddyinfo_from_flags", .array(s.derivedBuddyinfo(zone: z).map { .int($0) })),
            ("pageblocks", .object([
                ("free", .int(s.whollyFreePageblocks(zone: z, countZeroFree: true))),
                ("free_buddy", .int(s.whollyFreePageblocks(zone: z, countZeroFree: false))),
            ])),
            ("pagetypeinfo_blocks", .object(PageblockType.allCases.compactMap { t in z.pagetypeBlocks[t.procName].map { (t.procName, .int($0)) } })),
            ("inferred_blocks", .object(PageblockType.allCases.compactMap { t in z.inferredBlocks[t.procName].map { (t.procName, .int($0)) } })),
            ("inference_matches", .bool(z.inferenceMatches)),
        ])
    }
    return .object([
        ("kernel_release", .string(s.meta?.kernelRelease ?? "")),
        ("time_utc", .string(s.meta?.timeUTC ?? "")),
        ("read_seconds", .object((s.meta?.readSeconds ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, .double($0.value)) })),
        ("pfns", .int(s.pfnCount)),
        ("pageblock_order", .int(s.pageblockOrder)),
        ("holes", .array(s.holes.map { .array([.int($0.start), .int($0.end)]) })),
        ("pages", counts(s.counts)),
        ("unmovable", .object(UnmovableReason.allCases.map { ($0.rawValue, .int(s.counts.unmovable[$0] ?? 0)) })),
        ("movable_large_folios", .int(s.counts.movableFolios)),
        ("file_folios", fileFoliosJSON(s.fileFolioCounts, count: s.fileFolios.count)),
        ("load_seconds", .object(s.loadSeconds.map { ($0.phase, .double($0.seconds)) })),
        ("zones", .array(zones)),
    ])
}

/// Page-cache folios by order and by the kpageflags bits a migration cares about.
func fileFoliosJSON(_ c: FileFolioCounts, count: Int) -> JSONValue {
    .object([
        ("count", .int(count)), ("by_order", .array(c.byOrder.map { .int($0) })),
        ("dirty", .int(c.dirty)), ("writeback", .int(c.writeback)), ("locked", .int(c.locked)),
        ("private", .int(c.privateData)), ("private_2", .int(c.private2)),
        ("large_dirty", .int(c.largeDirty)), ("large_private", .int(c.largePrivate)),
    ])
}

/// The text summary of a snapshot.
func snapshotText(_ s: KernelSnapshot, dir: String) -> String {
    var out = "snapshot \(dir): kernel \(s.meta?.kernelRelease ?? "?"), \(s.meta?.timeUTC ?? "?"), \(s.pfnCount) PFNs, pageblock order \(s.pageblockOrder)\n"
    if let r = s.meta?.readSeconds, !r.isEmpty {
        out += "  read: " + r.sorted { $0.key < $1.key }.map { "\($0.key) \(fmt($0.value)) s" }.joined(separator: ", ") + "\n"
    }
    out += "  pages: " + PageClass.allCases.map { "\($0.name) \(s.counts[$0])" }.joined(separator: ", ") + "\n"
    out += "  unmovable: " + UnmovableReason.allCases.map { "\($0.rawValue) \(s.counts.unmovable[$0] ?? 0)" }.joined(separator: ", ")
    out += "; movable large folios \(s.counts.movableFolios)\n"
    let ff = s.fileFolioCounts
    out += "  file folios: \(s.fileFolios.count) (by order " + ff.byOrder.enumerated().filter { $0.element > 0 }.map { "\($0.offset):\($0.element)" }.joined(separator: " ")
    out += "); dirty \(ff.dirty) (large \(ff.largeDirty)), writeback \(ff.writeback), locked \(ff.locked), private \(ff.privateData) (large \(ff.largePrivate)), private_2 \(ff.private2)\n"
    if !s.loadSeconds.isEmpty { out += "  load: " + s.loadSeconds.map { "\($0.phase) \(fmt($0.seconds)) s" }.joined(separator: ", ") + "\n" }
    out += "  holes: " + s.holes.map { "[\(hex($0.start)), \(hex($0.end)))" }.joined(separator: " ") + "\n"
    for z in s.zones {
        let c = s.counts(zone: z)
        out += "zone \(z.node)/\(z.name): PFN \(hex(z.startPFN))–\(hex(z.endPFN)) spanned \(z.info.spanned) present \(z.info.present) managed \(z.info.managed) free \(z.info.freePages); initialised to \(hex(z.initialisedEnd))\n"
        out += "  pages: " + PageClass.allCases.filter { c[$0] > 0 }.map { "\($0.name) \(c[$0])" }.joined(separator: ", ") + "\n"
        out += "  buddyinfo (kernel):     " + (s.kernelBuddyinfo(zone: z) ?? []).map { String($0).leftPadded(7) }.joined() + "\n"
        out += "  buddyinfo (from flags): " + s.derivedBuddyinfo(zone: z).map { String($0).leftPadded(7) }.joined() + "\n"
        out += "  pageblocks wholly free: \(s.whollyFreePageblocks(zone: z, countZeroFree: true)) (buddy alone \(s.whollyFreePageblocks(zone: z, countZeroFree: false)))\n"
        out += "  pageblock types: " + PageblockType.allCases.compactMap { t in
            let k = z.pagetypeBlocks[t.procName] ?? 0, i = z.inferredBlocks[t.procName] ?? 0
            return k == 0 && i == 0 ? nil : "\(t.procName) \(i)/\(k)"
        }.joined(separator: ", ") + " (inferred/pagetypeinfo)\(z.inferenceMatches ? "" : "  MISMATCH")\n"
    }
    return out
}

func hex(_ v: Int) -> String { "0x" + String(v, radix: 16) }

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

/// The predicted compaction of a replayed snapshot, beside the snapshot's own buddyinfo.
func predictionText(_ p: Prediction) -> String {
    var out = "mmlab replay, full compaction (compact_memory): \(p.pagesMigrated) pages migrated, \(p.pagesFailed) failed, "
    out += "scanned \(p.migrateScanned) (migrate) / \(p.freeScanned) (free); build \(fmt(p.buildSeconds)) s, compact \(fmt(p.compactSeconds)) s, "
    out += "report \(fmt(p.reportSeconds)) s, all \(fmt(p.seconds)) s\n"
    out += "  per-CPU lists: \(p.pcpPushed) held free pages pushed into the buddy by the compaction's frees\n"
    for z in p.zones {
        out += "  zone \(z.node)/\(z.zone): scanners met at migrate \(hex(z.migratePFN)) free \(hex(z.freePFN)), status \(z.status); "
        out += "wholly free pageblocks \(z.pageblocksFreeBefore) (rebuilt: \(z.pageblocksFreeReplayed)) → \(z.pageblocksFreeAfter)\n"
        out += "    buddyinfo after: " + z.buddyinfoAfter.map { String($0).leftPadded(7) }.joined() + "\n"
    }
    return out
}

func predictionJSON(_ p: Prediction, _ s: KernelSnapshot) -> JSONValue {
    .object([
        ("pages_migrated", .int(p.pagesMigrated)), ("pages_failed", .int(p.pagesFailed)),
        ("migrate_scanned", .int(p.migrateScanned)), ("free_scanned", .int(p.freeScanned)),
        ("pcp_pushed", .int(p.pcpPushed)),
        ("seconds", .double(p.seconds)), ("build_seconds", .double(p.buildSeconds)), ("compact_seconds", .double(p.compactSeconds)),
        ("report_seconds", .double(p.reportSeconds)), ("movable_pages", .int(p.movablePages)), ("unmovable_pages", .int(p.unmovablePages)),
        ("zones", .array(p.zones.map { z in .object([
            ("node", .int(z.node)), ("zone", .string(z.zone)), ("migrate_pfn", .int(z.migratePFN)), ("free_pfn", .int(z.freePFN)),
            ("status", .string(z.status)),
            ("pageblocks", .object([("before", .int(z.pageblocksFreeBefore)), ("replayed", .int(z.pageblocksFreeReplayed)), ("after", .int(z.pageblocksFreeAfter))])),
            ("buddyinfo_after", .array(z.buddyinfoAfter.map { .int($0) })),
        ]) })),
        ("snapshot", snapshotJSON(s)),
    ])
}
