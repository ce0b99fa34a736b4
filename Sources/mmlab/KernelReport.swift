// `mmlab kernel compact`'s model side and its report: the prediction for the BEFORE
// snapshot (mmlab's own full compaction of a replayed machine, MMScenario's
// SnapshotReplay) and mmlab's speed on a machine the size of the fragmented region,
// beside the kernel's figures.

import CMMSupport
import MMCompaction
import MMPhysical
import MMScenario
import MMSnapshot
import MMSpace

/// mmlab's own content=full compaction of a machine the size of the fragmented region.
struct ModelSpeed {
    var pagesMigrated: Int
    var seconds: Double
    var pagesPerSecond: Double { seconds > 0 ? Double(pagesMigrated) / seconds : 0 }
}

/// Why the model side is missing from a report (nil when it ran).
nonisolated(unsafe) var modelUnavailableReason: String?

/// Replays `snapshot` in mmlab (MMScenario/SnapshotReplay.swift) and runs full compaction
/// on it (compact_memory: every zone, order -1, sync). Nil, with the reason in
/// `modelUnavailableReason`, when the snapshot does not fit the model.
func predict(snapshot s: KernelSnapshot, options: ReplayOptions = .init()) -> Prediction? {
    do { return try SnapshotReplay.predict(s, options: options) } catch {
        modelUnavailableReason = "replay: \(error)"
        return nil
    }
}

/// Times mmlab's full compaction (content=full) of a one-node machine of `bytes`,
/// fragmented as the fragmenter does: every page written, every other page freed
/// (madvise(MADV_DONTNEED)). Nil, with the reason, when the machine cannot be built.
func modelCompactSameSize(bytes: Int) -> ModelSpeed? {
    guard let m = fragmentedFullMachine(bytes: bytes) else { return nil }   // BenchCompaction.swift
    let t0 = mm_now_ns()
    let results = Compaction.compactMemory(machine: m)
    let seconds = Double(mm_now_ns() - t0) / 1e9
    return ModelSpeed(pagesMigrated: results.reduce(0) { $0 + $1.pagesMigrated }, seconds: seconds)
}

func kernelCompactJSON(_ r: KernelCompactRun, prediction: Prediction?, model: ModelSpeed?) -> JSONValue {
    let migrated = r.delta("pgmigrate_success")
    let zones: [JSONValue] = r.zoneFigures.map { f in
        var m: [(String, JSONValue)] = [("node", .int(f.node)), ("zone", .string(f.zone))]
        if let t = f.trace {
            m += [("zone_start", .int(t.zoneStart)), ("zone_end", .int(t.zoneEnd)),
                  ("migrate_pfn", t.endMigratePFN.map { .int($0) } ?? .null), ("free_pfn", t.endFreePFN.map { .int($0) } ?? .null),
                  ("status", t.status.map { .string($0) } ?? .null)]
        }
        m.append(("pageblocks", .object([
            ("before", .object([("buddyinfo", .int(f.buddyBefore)), ("free", .int(f.flagsBefore)), ("free_buddy", .int(f.flagsBuddyBefore))])),
            ("after", .object([("buddyinfo", .int(f.buddyAfter))])),
            ("after_settle", .object([("buddyinfo", .int(f.buddyAfterSettle)), ("free", .int(f.flagsAfter)), ("free_buddy", .int(f.flagsBuddyAfter))])),
            ("gained", .object([("buddyinfo_immediately", .int(f.buddyAfter - f.buddyBefore)),
                                ("buddyinfo_after_settle", .int(f.buddyAfterSettle - f.buddyBefore)),
                                ("flags", .int(f.flagsAfter - f.flagsBefore)),
                                ("flags_buddy", .int(f.flagsBuddyAfter - f.flagsBuddyBefore))])),
        ])))
        return .object(m)
    }
    let kernel: JSONValue = .object([
        ("release", .string(r.before.meta?.kernelRelease ?? "")),
        ("mem_bytes", .int(r.bytes)), ("held_pages", .int(r.heldPages)), ("settle_s", .double(r.settle)),
        ("compact_cpu", r.compactCPU.map { .int($0) } ?? .null), ("fragmenter_cpu", r.fragmenterCPU.map { .int($0) } ?? .null),
        ("flags_to_compact_s", .double(r.flagsToCompactSeconds)), ("pcp_lists", .string(r.pcpLists.rawValue)),
        ("seconds", .double(r.seconds)),
        ("pages_migrated", .int(migrated)), ("pages_failed", .int(r.delta("pgmigrate_fail"))),
        ("migrate_scanned", .int(r.delta("compact_migrate_scanned"))), ("free_scanned", .int(r.delta("compact_free_scanned"))),
        ("isolated", .int(r.delta("compact_isolated"))),
        ("pages_per_second", .double(r.seconds > 0 ? Double(migrated) / r.seconds : 0)),
        ("zones", .array(zones)),
        ("fragmenter_check", .string(r.fragmenterReport)),
    ])
    var top: [(String, JSONValue)] = [("out", .string(r.dir)), ("kernel", kernel)]
    if let p = prediction {
        top.append(("model", .object([
            ("pages_migrated", .int(p.pagesMigrated)), ("pages_failed", .int(p.pagesFailed)),
            ("migrate_scanned", .int(p.migrateScanned)), ("free_scanned", .int(p.freeScanned)), ("pcp_pushed", .int(p.pcpPushed)),
            ("seconds", .double(p.seconds)),
            ("build_seconds", .double(p.buildSeconds)), ("compact_seconds", .double(p.compactSeconds)),
            ("zones", .array(p.zones.map { z in .object([
                ("node", .int(z.node)), ("zone", .string(z.zone)), ("migrate_pfn", .int(z.migratePFN)), ("free_pfn", .int(z.freePFN)),
                ("status", .string(z.status)), ("pageblocks", .object([("before", .int(z.pageblocksFreeBefore)), ("replayed", .int(z.pageblocksFreeReplayed)), ("after", .int(z.pageblocksFreeAfter))])),
                ("buddyinfo_after", .array(z.buddyinfoAfter.map { .int($0) })),
            ]) })),
        ])))
    } else {
        top.append(("model", .null))
    }
    if let m = model {
        top.append(("model_speed", .object([("pages_migrated", .int(m.pagesMigrated)), ("seconds", .double(m.seconds)),
                                            ("pages_per_second", .double(m.pagesPerSecond)),
                                            ("ratio_to_kernel", .double(migrated > 0 && r.seconds > 0 ? m.pagesPerSecond / (Double(migrated) / r.seconds) : 0))])))
    } else {
        top.append(("model_speed", .null))
    }
    if prediction == nil || model == nil, let why = modelUnavailableReason { top.append(("model_unavailable", .string(why))) }
    top.append(("snapshot", snapshotJSON(r.before)))
    return .object(top)
}

func kernelCompactText(_ r: KernelCompactRun, prediction: Prediction?, model: ModelSpeed?) -> String {
    let migrated = r.delta("pgmigrate_success")
    var out = "kernel compact: \(r.bytes >> 20) MiB fragmented (\(r.heldPages) pages held), kernel \(r.before.meta?.kernelRelease ?? "?"), per-CPU lists \(r.pcpLists.rawValue); files in \(r.dir)\n"
    out += "                               kernel" + (prediction != nil ? "        mmlab   ratio" : "") + "\n"
    func row(_ name: String, _ k: Int, _ m: Int?) {
        var l = "  " + name.padding(to: 26) + String(k).leftPadded(11)
        if let m { l += String(m).leftPadded(13) + (k > 0 ? "  " + fmt(Double(m) / Double(k)) : "") }
        out += l + "\n"
    }
    row("pages migrated", migrated, prediction?.pagesMigrated)
    row("pages failed", r.delta("pgmigrate_fail"), prediction?.pagesFailed)
    row("migrate scanned", r.delta("compact_migrate_scanned"), prediction?.migrateScanned)
    row("free scanned", r.delta("compact_free_scanned"), prediction?.freeScanned)
    out += "  seconds (compact_memory)   " + fmt(r.seconds).leftPadded(10) + "\n"
    out += "  pages/s                    " + String(Int(r.seconds > 0 ? Double(migrated) / r.seconds : 0)).leftPadded(10) + "\n"
    for f in r.zoneFigures {
        out += "zone \(f.node)/\(f.zone):"
        if let t = f.trace {
            out += " traced zone \(hex(t.zoneStart))–\(hex(t.zoneEnd)), scanners met at migrate \(t.endMigratePFN.map(hex) ?? "?") free \(t.endFreePFN.map(hex) ?? "?"), status \(t.status ?? "?")"
            if let p = prediction?.zones.first(where: { $0.node == f.node && $0.zone == f.zone }) { out += "; mmlab \(hex(p.migratePFN))" }
        } else {
            out += " (no compaction tracepoint for this zone)"
        }
        func line(_ name: String, _ cols: [String]) { out += "    " + name.padding(to: 28) + cols.map { $0.leftPadded(9) }.joined() + "\n" }
        out += "\n"
        line("wholly free pageblocks", ["before", "after", "+\(fmt(r.settle)) s", "gained"])
        line("buddyinfo", [f.buddyBefore, f.buddyAfter, f.buddyAfterSettle, f.buddyAfterSettle - f.buddyBefore].map(String.init))
        line("kpageflags, flags-0 free", [String(f.flagsBefore), "–", String(f.flagsAfter), String(f.flagsAfter - f.flagsBefore)])
        line("kpageflags, buddy alone", [String(f.flagsBuddyBefore), "–", String(f.flagsBuddyAfter), String(f.flagsBuddyAfter - f.flagsBuddyBefore)])
        if let p = prediction?.zones.first(where: { $0.node == f.node && $0.zone == f.zone }) {
            line("mmlab replay, flags-0 free", [String(p.pageblocksFreeBefore), String(p.pageblocksFreeAfter), "–",
                                                String(p.pageblocksFreeAfter - p.pageblocksFreeBefore)])
        }
    }
    out += "fragmenter: \(r.fragmenterReport)\n"
    if let m = model {
        out += "mmlab content=full compaction of \(r.bytes >> 20) MiB fragmented alike: \(m.pagesMigrated) pages in \(fmt(m.seconds)) s = \(Int(m.pagesPerSecond)) pages/s"
        if migrated > 0 && r.seconds > 0 { out += " (\(fmt(m.pagesPerSecond / (Double(migrated) / r.seconds)))× the kernel)" }
        out += "\n"
    }
    if prediction == nil || model == nil, let why = modelUnavailableReason { out += "model side: not run — \(why)\n" }
    return out
}
