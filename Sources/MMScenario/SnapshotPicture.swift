// The picture of a replayed snapshot (`--svg FILE` on `mmlab snapshot --replay`,
// `mmlab compact --snapshot` and `mmlab kernel compact`): per zone, side by side, the
// snapshot's pageblocks before, mmlab's prediction after, and — when the kernel's own
// state after its compaction was captured (a second kpageflags) — the kernel's after.
// Same colours and layout as compaction's picture (PageblockPicture.swift).

import MMPhysical
import MMSnapshot

public enum SnapshotPicture {
    /// The class of every pageblock of [from, to) from per-PFN page classes (the low 4
    /// bits of `KernelSnapshot.cells`, or `SnapshotReplay.cells`): buddy and "flags 0,
    /// count 0" pages are free, anon and file movable, holes and uninitialised memory
    /// absent, the rest unmovable.
    public static func classes(cells: [UInt8], from: Int, to: Int) -> [PageblockClass] {
        var out: [PageblockClass] = []
        var b = from & ~(pageblockPages - 1)
        let end = min(to, cells.count)
        while b < end {
            var free = 0, movable = 0, unmovable = 0
            for pfn in max(b, from)..<min(b + pageblockPages, end) {
                switch PageClass(rawValue: cells[pfn] & 0xF) ?? .hole {
                case .buddy, .zeroFree: free += 1
                case .anon, .file: movable += 1
                case .unmovable: unmovable += 1
                case .hole, .uninitialised: break
                }
            }
            // The rule of PageblockUsage.pageblockClass (MMPhysical/PageblockCensus.swift).
            out.append(free + movable + unmovable == 0 ? .offline
                       : movable > 0 && unmovable > 0 ? .mixed : unmovable > 0 ? .unmovable : movable > 0 ? .movable : .free)
            b += pageblockPages
        }
        return out
    }

    /// Before | predicted after | (kernel after) per zone of the snapshot.
    public static func picture(before s: KernelSnapshot, prediction p: Prediction, kernelAfter: KernelSnapshot?,
                               title: String, subtitle: [String] = []) -> PageblockPicture {
        var rows: [[PageblockPicture.Panel]] = []
        var tables: [PageblockPicture.Table] = []
        for z in s.zones {
            let startMiB = (z.startPFN & ~(pageblockPages - 1)) >> 8
            func panel(_ name: String, _ cells: [UInt8], free: Int) -> PageblockPicture.Panel {
                PageblockPicture.Panel(title: "\(z.name) — \(name) (\(free) free)",
                                       cells: classes(cells: cells, from: z.startPFN, to: z.endPFN), addressLabels: (startMiB, 2))
            }
            func free(_ cells: [UInt8]) -> Int {
                KernelSnapshot.whollyFreePageblocks(cells: cells, from: z.startPFN, to: min(z.initialisedEnd, cells.count), order: s.pageblockOrder, countZeroFree: true)
            }
            var row = [panel("before", s.cells, free: free(s.cells)),
                       panel("mmlab after", p.cellsAfter, free: free(p.cellsAfter))]
            if let a = kernelAfter, a.pfnCount == s.pfnCount { row.append(panel("kernel after", a.cells, free: free(a.cells))) }
            rows.append(row)
            let pad = { (name: String) in name.padding(to: 24) }
            var lines = [pad("order") + (0...maxOrder).map { String($0).leftPad(8) }.joined()]
            lines.append(pad("before (from flags)") + s.derivedBuddyinfo(zone: z).map { String($0).leftPad(8) }.joined())
            if let mz = p.zones.first(where: { $0.startPFN <= z.startPFN && z.endPFN <= $0.endPFN }) {
                lines.append(pad("mmlab after (\(mz.zone))") + mz.buddyinfoAfter.map { String($0).leftPad(8) }.joined())
            }
            if let a = kernelAfter, let az = a.zones.first(where: { $0.node == z.node && $0.name == z.name }) {
                lines.append(pad("kernel after (flags)") + a.derivedBuddyinfo(zone: az).map { String($0).leftPad(8) }.joined())
            }
            tables.append(.init(title: "buddyinfo, zone \(z.name)", lines: lines))
        }
        var sub = subtitle
        sub.append("mmlab: \(p.pagesMigrated) pages migrated, \(p.pagesFailed) failed; scanners met at "
                   + p.zones.map { "\($0.zone) 0x\(String($0.migratePFN, radix: 16))" }.joined(separator: ", ")
                   + "; one cell = one 2 MiB pageblock; free = every page buddy or flags 0 (count: wholly free blocks)")
        return PageblockPicture(title: title, subtitle: sub, panelRows: rows, tables: tables)
    }
}
