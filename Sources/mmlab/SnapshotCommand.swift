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
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        if !read {
            let missing = SnapshotCapture.missing()
            guard missing.isEmpty else { failBadInput("snapshot needs " + missing.joined(separator: "; ")) }
            do { try SnapshotCapture.capture(to: dir) } catch let e as SnapshotError { failBadInput(e.description) }
        }
        let snap: KernelSnapshot
        do { snap = try KernelSnapshot.load(directory: dir) } catch let e as SnapshotError { failBadInput(e.description) }
        guard replay else {
            FileHandleOut.out(json ? snapshotJSON(snap).text : snapshotText(snap, dir: dir))
            return
        }
        guard let p = predict(snapshot: snap) else { failBadInput(modelUnavailableReason ?? "replay failed") }
        FileHandleOut.out(json ? predictionJSON(p, snap).text : snapshotText(snap, dir: dir) + predictionText(p))
    }
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
        ("zones", .array(zones)),
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
    out += "scanned \(p.migrateScanned) (migrate) / \(p.freeScanned) (free); build \(fmt(p.buildSeconds)) s, compact \(fmt(p.compactSeconds)) s, all \(fmt(p.seconds)) s\n"
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
        ("seconds", .double(p.seconds)), ("build_seconds", .double(p.buildSeconds)), ("compact_seconds", .double(p.compactSeconds)),
        ("zones", .array(p.zones.map { z in .object([
            ("node", .int(z.node)), ("zone", .string(z.zone)), ("migrate_pfn", .int(z.migratePFN)), ("free_pfn", .int(z.freePFN)),
            ("status", .string(z.status)),
            ("pageblocks", .object([("before", .int(z.pageblocksFreeBefore)), ("replayed", .int(z.pageblocksFreeReplayed)), ("after", .int(z.pageblocksFreeAfter))])),
            ("buddyinfo_after", .array(z.buddyinfoAfter.map { .int($0) })),
        ]) })),
        ("snapshot", snapshotJSON(s)),
    ])
}
