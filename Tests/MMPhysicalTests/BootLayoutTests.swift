// Booting from a per-PFN layout (MMPhysical/BootLayout.swift): the bulk boot must leave
// exactly what freeing the layout's free frames one page at a time into a drained
// machine leaves — the same free blocks (head, order, migratetype), the same counts per
// order and migratetype, the same in-use descriptors.

import Testing
@testable import MMPhysical
import MMSync

@Suite struct BootLayoutTests {
    /// A 64 MiB machine with two holes, random frames (free runs of random length) and
    /// random pageblock types, from `seed`.
    static func randomLayout(seed: UInt64) -> (MachineConfig, BootLayout) {
        let cfg = MachineConfig(nodes: 1, nodeMemBytes: 64 << 20, blockBytes: 16 << 20, content: .stamp,
                                holes: [1000..<1500, 9000..<9100])
        var rng = SplitMix64(seed: seed)
        var l = BootLayout(pages: cfg.totalPages)
        var p = 0
        while p < l.frames.count {   // runs of 1…2048 frames of one state: long free runs merge high
            let len = 1 + Int(rng.next() % (rng.next() % 4 == 0 ? 2048 : 16))
            let state: BootFrame = rng.next() % 3 == 0 ? .allocated : (rng.next() % 5 == 0 ? .unmovable : .free)
            for q in p..<min(l.frames.count, p + len) { l.frames[q] = state.rawValue }
            p += len
        }
        for b in 0..<l.pageblockTypes.count {
            let r = rng.next() % 4
            l.pageblockTypes[b] = r == 0 ? BootLayout.keepMovable : UInt8(MigrateType.allocatable[Int(r - 1)].rawValue)
        }
        return (cfg, l)
    }

    /// The reference: boot empty, drain, set the types, free the layout's free frames one
    /// by one (lowest first), mark unmovable frames.
    static func slowBoot(_ cfg: MachineConfig, _ l: BootLayout) -> PhysicalMemory {
        let phys = PhysicalMemory(cfg)
        for z in phys.zones { while z.allocPages(order: 0, .movable) != nil {} }
        for z in phys.zones {
            z.lock.withLock {
                for b in stride(from: Int(z.startPFN), to: Int(z.endPFN), by: pageblockPages) {
                    let t = l.pageblockTypes[b >> pageblockOrder]
                    if t != BootLayout.keepMovable, let mt = MigrateType(rawValue: Int(t)) { z.setPageblockTypeLocked(PFN(b), mt) }
                }
            }
        }
        for z in phys.zones {
            for p in Int(z.startPFN)..<Int(z.endPFN) where !z.isHole(PFN(p)) {
                switch BootFrame(rawValue: l.frames[p]) {
                case .free: phys.putPage(PFN(p))
                case .unmovable: phys.pages.setFlags(PFN(p), PageFlag.unmovable)
                default: break
                }
            }
        }
        return phys
    }

    @Test(arguments: [UInt64(1), 2, 3, 0xfeed])
    func bulkBootEqualsFreeingOneByOne(seed: UInt64) {
        let (cfg, l) = Self.randomLayout(seed: seed)
        #expect(l.problem(cfg) == nil)
        let fast = PhysicalMemory(cfg, layout: l)
        let slow = Self.slowBoot(cfg, l)
        for (a, b) in zip(fast.zones, slow.zones) {
            for mt in MigrateType.allCases {
                #expect(a.freeBlockCounts(mt) == b.freeBlockCounts(mt), "seed \(seed) zone \(a.name) \(mt)")
            }
            #expect(a.lock.withLock { a.nrFree } == b.lock.withLock { b.nrFree }, "seed \(seed)")
        }
        var differing: [Int] = []
        for p in 0..<cfg.totalPages {
            let q = PFN(p)
            if fast.pages.flags(q) != slow.pages.flags(q) || fast.pages.refcount(q) != slow.pages.refcount(q) { differing.append(p) }
        }
        #expect(differing.isEmpty, "seed \(seed): descriptors differ at PFNs \(differing.prefix(8))")
        let c = l.counts(cfg)
        #expect(fast.freePages() == c.free, "seed \(seed)")
        // Something was free, in blocks of more than one order: the test is not vacuous.
        #expect(fast.zones.flatMap { $0.freeBlockCounts() }.filter { $0 > 0 }.count > 3, "seed \(seed)")
    }

    @Test func badLayoutsAreRefused() {
        let cfg = MachineConfig(nodes: 1, nodeMemBytes: 16 << 20, blockBytes: 16 << 20, content: .stamp)
        #expect(BootLayout(pages: 10).problem(cfg) != nil)
        var l = BootLayout(pages: cfg.totalPages)
        #expect(l.problem(cfg) == nil)
        l.pageblockTypes[0] = UInt8(MigrateType.isolate.rawValue)
        #expect(l.problem(cfg) != nil)
        l = BootLayout(pages: cfg.totalPages)
        l.frames[7] = 9
        #expect(l.problem(cfg) != nil)
    }
}
