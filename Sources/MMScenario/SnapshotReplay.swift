// Replay of a real snapshot in mmlab (docs/SNAPSHOT.md, "Replay"): a one-node machine
// whose zones, holes and pages are the snapshot's, then Linux's full compaction on it.
//
// The build is one linear pass over the snapshot plus one over the movable units:
// (1) a boot layout (MMPhysical/BootLayout.swift) says, per PFN, free (the snapshot's
// buddy pages), unmovable, or allocated (movable pages and the "flags 0, count 0"
// placeholders), and per pageblock the inferred migratetype; the machine boots from it,
// its free frames entering the buddy as maximal aligned blocks; (2) each movable unit
// goes through `installAnon` (order-0 anon pages, mapped into the one replay process in
// bulk, MMSpace/InstallPage.swift), `installFileFolio` (a page-cache folio of its order
// with the head's dirty/writeback/private bits, MMSpace/PageCache.swift) or
// `installLargeAnon` (a large anon folio, replayed as a clean page-cache folio). Placeholders stay allocated, off
// the LRU: compaction neither migrates nor targets them; they count as free when
// wholly free pageblocks are counted, as in the kernel's second kpageflags.

import CMMSupport
import MMCompaction
import MMPhysical
import MMSnapshot
import MMSpace

/// A machine rebuilt from a snapshot, ready for compaction.
public struct ReplayedMachine {
    public let machine: Machine
    public let process: Process
    /// Movable pages installed (a file folio of order o counts 2^o), and unmovable ones.
    public let movable: Int
    public let unmovable: Int
    /// Movable units installed: order-0 anon pages, large anon folios, file folios.
    public let anonUnits: Int
    public let fileFolios: Int
    public let buildSeconds: Double
}

/// mmlab's prediction of a full compaction (compact_memory) of a snapshot.
public struct Prediction: Sendable {
    /// Placeholders the compacting CPU's per-CPU lists pushed into the buddy (ReplayOptions.pcpCPU).
    public var pcpPushed: Int
    public struct Zone: Sendable {
        public var node: Int
        public var zone: String
        public var startPFN: Int
        public var endPFN: Int
        public var migratePFN: Int
        public var freePFN: Int
        public var status: String
        public var pageblocksFreeBefore: Int
        /// The same count on the rebuilt machine before compaction (equals `…Before` when faithful).
        public var pageblocksFreeReplayed: Int
        public var pageblocksFreeAfter: Int
        public var buddyinfoAfter: [Int]
    }
    public var pagesMigrated: Int
    public var pagesFailed: Int
    public var migrateScanned: Int
    public var freeScanned: Int
    public var movablePages: Int
    public var unmovablePages: Int
    public var zones: [Zone]
    /// The rebuilt machine's page classes (PageClass raw values per PFN) before and after
    /// compaction, for pictures (SnapshotPicture.swift).
    public var cellsReplayed: [UInt8]
    public var cellsAfter: [UInt8]
    /// The compaction's tracepoints in the kernel's text format (ReplayOptions.trace).
    public var trace: String?
    /// Build + compact + count, in seconds, and each phase.
    public var seconds: Double
    public var buildSeconds: Double
    public var compactSeconds: Double
    public var reportSeconds: Double
}

public enum SnapshotReplay {
    /// Why a snapshot cannot be replayed on the model's zone layout, or nil.
    public static func problem(_ s: KernelSnapshot) -> String? {
        if s.pageblockOrder != pageblockOrder { return "pageblock order \(s.pageblockOrder), the model's is \(pageblockOrder)" }
        let nodes = Set(s.zones.map(\.node))
        if nodes != [0] { return "zones on nodes \(nodes.sorted()): the replay handles node 0 only" }
        let bytes = s.pfnCount << pageShift
        if bytes % (16 << 20) != 0 { return "\(s.pfnCount) PFNs is not a whole number of 16 MiB memory blocks" }
        if s.pfnCount > Int(UInt32.max) { return "\(s.pfnCount) PFNs do not fit the model's 32-bit PFNs" }
        return nil
    }

    /// The model's geometry: one node of the snapshot's size, DMA32 below 4 GiB (the
    /// snapshot's DMA and DMA32) and Normal above; holes = iomem holes + every zone's
    /// uninitialised tail (absent memory, as the kernel's compaction treats it).
    public static func config(_ s: KernelSnapshot) -> MachineConfig {
        var holes = s.holes.map { $0.start..<$0.end }
        for z in s.zones where z.initialisedEnd < z.endPFN { holes.append(z.initialisedEnd..<z.endPFN) }
        holes.sort { $0.lowerBound < $1.lowerBound }
        // Merge overlapping ranges (a zone's uninitialised tail may be an iomem hole too).
        var merged: [Range<Int>] = []
        for h in holes where !h.isEmpty {
            if let last = merged.last, h.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, h.upperBound)
            } else {
                merged.append(h)
            }
        }
        let kinds: [ZoneKind] = s.zones.contains { $0.startPFN >= MachineConfig.dma32EndPFN } ? [.dma32, .normal] : [.dma32]
        return MachineConfig(nodes: 1, nodeMemBytes: s.pfnCount << pageShift, content: .stamp, zones: kinds, holes: merged)
    }

    /// The boot layout of a snapshot: buddy pages free, movable pages and placeholders
    /// allocated, everything else unmovable; pageblock types as inferred.
    public static func layout(_ s: KernelSnapshot) -> BootLayout {
        var l = BootLayout(pages: s.pfnCount)
        s.cells.withUnsafeBufferPointer { cells in
            l.frames.withUnsafeMutableBufferPointer { f in
                for pfn in 0..<min(cells.count, f.count) {
                    switch PageClass(rawValue: cells[pfn] & 0xF) ?? .hole {
                    case .buddy: f[pfn] = BootFrame.free.rawValue
                    case .anon, .file, .zeroFree: f[pfn] = BootFrame.allocated.rawValue
                    case .unmovable, .hole, .uninitialised: f[pfn] = BootFrame.unmovable.rawValue
                    }
                }
            }
        }
        for b in 0..<min(l.pageblockTypes.count, s.pageblockTypes.count) {
            let t = PageblockType(rawValue: s.pageblockTypes[b]) ?? .none
            if let mt = migrateType(t) { l.pageblockTypes[b] = UInt8(mt.rawValue) }
        }
        return l
    }

    public static func build(_ s: KernelSnapshot) throws -> ReplayedMachine {
        let t0 = mm_now_ns()
        if let p = problem(s) { throw SnapshotError("replay", p) }
        let cfg = config(s)
        if let p = PhysicalMemory.bootProblem(cfg) { throw SnapshotError("replay", p) }
        let l = layout(s)
        if let p = l.problem(cfg) { throw SnapshotError("replay", p) }
        let m = Machine(cfg, layout: l)
        var b = try Builder(machine: m, movablePages: s.counts[.anon] + s.counts[.file])
        for pfn in 0..<s.pfnCount {
            let c = s.cell(pfn)
            guard c.cls.isMovable, let order = c.headOrder else { continue }   // tails belong to their head's unit
            if c.cls == .anon, order > 0 {
                try b.installLargeAnon(head: PFN(pfn), order: order)
            } else if c.cls == .anon {
                try b.installAnon(head: PFN(pfn), order: order)
            } else {
                try b.installFileFolio(head: PFN(pfn), order: order, flags: s.fileFolios.bits(ofHead: pfn) ?? [])
            }
        }
        try b.flush()
        let unmovable = l.counts(cfg).unmovable
        return ReplayedMachine(machine: m, process: b.process, movable: b.installed, unmovable: unmovable,
                               anonUnits: b.anonUnits, fileFolios: b.fileFolios, buildSeconds: Double(mm_now_ns() - t0) / 1e9)
    }

    /// Installs movable units into the replay process at increasing addresses, in
    /// batches of whole page tables.
    struct Builder {
        let machine: Machine
        let process: Process
        static let base: UInt64 = 0x1000_0000
        var next: UInt64 = Self.base
        var pending: [PFN] = []
        var installed = 0, anonUnits = 0, fileFolios = 0
        /// The replay's page cache: one file for the snapshot's file folios, one for its
        /// large anonymous folios; the next index of each.
        let cache: FileMapping
        let anonLarge: FileMapping
        var nextIndex = [0, 0]

        init(machine: Machine, movablePages: Int) throws {
            self.machine = machine
            process = try machine.createProcess("replay", node: 0)
            cache = machine.createFile("replay-page-cache")
            anonLarge = machine.createFile("replay-large-anon")
            try machine.mmap(process.mm, Self.base, UInt64(max(1, movablePages)) << 12)
            pending.reserveCapacity(PteTable.entries)
        }

        /// An order-0 anonymous page at its own PFN, mapped into the replay process.
        mutating func installAnon(head: PFN, order: Int) throws {
            anonUnits += 1
            try add(head, pages: 1 << order)
        }

        /// A page-cache folio with its head's dirty / writeback / private bits, as a folio of
        /// its order in one replay file (MMSpace/PageCache.swift), at the next free index of
        /// that order. Not mapped: the replay runs no process that would touch it, and what
        /// compaction decides for a page-cache folio (its order's target, the split on
        /// -ENOMEM, writeback) does not depend on its mappings. The locked bit is dropped: a
        /// snapshot's lock holder is long gone when the replay runs.
        mutating func installFileFolio(head: PFN, order: Int, flags: FolioBits) throws {
            fileFolios += 1
            try addFolio(cache, head: head, order: order, dirty: flags.contains(.dirty),
                         writeback: flags.contains(.writeback), hasPrivate: flags.contains(.privateData))
        }

        /// A large anonymous folio (an mTHP or a THP) becomes a clean page-cache folio of its
        /// order: the model maps no large folios, and compaction treats both kinds alike by
        /// order (skip_isolation_on_order, compaction_alloc, the split on -ENOMEM).
        mutating func installLargeAnon(head: PFN, order: Int) throws {
            anonUnits += 1
            try addFolio(anonLarge, head: head, order: order, dirty: false, writeback: false, hasPrivate: false)
        }

        private mutating func addFolio(_ file: FileMapping, head: PFN, order: Int, dirty: Bool, writeback: Bool,
                                       hasPrivate: Bool) throws {
            let nr = 1 << order
            let index = (nextIndex[file === cache ? 0 : 1] + nr - 1) & ~(nr - 1)   // indices aligned to the order
            do {
                try machine.addToPageCache(file, index: index, head: head, order: order,
                                           dirty: dirty, writeback: writeback, hasPrivate: hasPrivate)
            } catch {
                throw SnapshotError("replay", "page-cache folio of order \(order) at PFN \(head): \(error)")
            }
            nextIndex[file === cache ? 0 : 1] = index + nr
            installed += nr
        }

        private mutating func add(_ head: PFN, pages: Int) throws {
            for i in 0..<pages {
                pending.append(head + PFN(i))
                if pending.count == PteTable.entries { try flush() }
            }
        }

        mutating func flush() throws {
            guard !pending.isEmpty else { return }
            do { try machine.installAnonPages(process.mm, at: next, pending) } catch {
                throw SnapshotError("replay", "installing \(pending.count) pages from PFN \(pending[0]): \(error)")
            }
            next += UInt64(pending.count) << 12
            installed += pending.count
            pending.removeAll(keepingCapacity: true)
        }
    }

    public static func migrateType(_ t: PageblockType) -> MigrateType? {
        switch t {
        case .unmovable: .unmovable
        case .movable: .movable
        case .reclaimable: .reclaimable
        case .highAtomic, .cma, .isolate, .none: nil
        }
    }
}
