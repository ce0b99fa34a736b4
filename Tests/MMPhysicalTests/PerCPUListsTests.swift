// The per-CPU list model of a replayed machine (MMPhysical/PerCPULists.swift): frees first
// fill the list's headroom, then each pushes one held frame into the buddy; pushes stop at
// the list's own count; the other CPUs' decay pushes come from the same pool; a fixed seed
// gives the same frames.

import Testing
@testable import MMPhysical

@Suite struct PerCPUListsTests {
    /// A 16 MiB machine, every frame allocated (refcount 1, no flags): all placeholders.
    static func machine() -> PhysicalMemory {
        let cfg = MachineConfig(nodes: 1, nodeMemBytes: 16 << 20, blockBytes: 16 << 20, content: .stamp)
        return PhysicalMemory(cfg, layout: BootLayout(pages: cfg.totalPages))
    }

    static func placeholders(_ phys: PhysicalMemory, every: Int) -> [PFN] {
        stride(from: 0, to: phys.totalPages, by: every).map { PFN($0) }
    }

    @Test func headroomAbsorbsThenEachFreePushesOneUpToTheListsCount() {
        let phys = Self.machine()
        let held = Self.placeholders(phys, every: 2)   // alternate frames: pushed ones never merge
        let l = PerCPULists(held: held, count: 100, high: 130)
        l.sourcePagesFreed(20, phys: phys)
        #expect(l.pushed == 0, "20 frees fit the 30 pages of headroom")
        l.sourcePagesFreed(25, phys: phys)
        #expect(l.pushed == 15, "10 more fit, 15 push")
        #expect(phys.freePages() == 15)
        l.sourcePagesFreed(1000, phys: phys)
        #expect(l.pushed == 100, "the list held 100 pages of its own: then it pushes the compaction's own sources")
        #expect(phys.freePages() == 100)
        // Every pushed frame is a free order-0 buddy page and was a placeholder.
        let heldSet = Set(held)
        var free = 0
        for p in 0..<phys.totalPages where phys.pages.test(PFN(p), PageFlag.buddy) {
            free += 1
            #expect(heldSet.contains(PFN(p)), "pfn \(p) was no placeholder")
        }
        #expect(free == 100)
    }

    @Test func decayPushesComeFromThePoolNotFromTheOwnCount() {
        let phys = Self.machine()
        let held = Self.placeholders(phys, every: 2)
        let l = PerCPULists(held: held, count: 10, high: 10)
        l.push(500, phys: phys)
        #expect(l.pushed == 500)
        l.sourcePagesFreed(50, phys: phys)
        #expect(l.pushed == 510, "the own list still pushes its 10")
        l.push(held.count, phys: phys)
        #expect(l.pushed == held.count, "never more than the pool")
        #expect(phys.freePages() == held.count)
    }

    @Test func theSameSeedPushesTheSameFrames() {
        func pushedFrames(seed: UInt64) -> [Int] {
            let phys = Self.machine()
            let l = PerCPULists(held: Self.placeholders(phys, every: 2), count: 64, high: 64, seed: seed)
            l.sourcePagesFreed(64, phys: phys)
            return (0..<phys.totalPages).filter { phys.pages.test(PFN($0), PageFlag.buddy) }
        }
        let a = pushedFrames(seed: 1), b = pushedFrames(seed: 1), c = pushedFrames(seed: 2)
        #expect(a.count == 64)
        #expect(a == b)
        #expect(a != c)
        // Spread over the pool, not its first frames.
        #expect((a.max() ?? 0) > Self.machine().totalPages / 2)
    }
}
