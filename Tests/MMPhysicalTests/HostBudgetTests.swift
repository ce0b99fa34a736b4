// The host-memory budget: machines that could outgrow it are refused at boot with what
// to use instead; a machine allowed past the host's share refuses new frames (the
// model's allocation fails) instead of letting the host run out.

import Testing
@testable import MMPhysical

@Suite struct HostBudgetTests {
    @Test func worstCaseCountsDescriptorsAndContents() {
        let full = MachineConfig(nodes: 2, nodeMemBytes: 1 << 30, content: .full)
        let stamp = MachineConfig(nodes: 2, nodeMemBytes: 1 << 30, content: .stamp)
        let pages = UInt64(full.totalPages)
        let tables = UInt64(HostBudget.pageTableLimit(full)) * HostBudget.pageTableBytes
        #expect(HostBudget.pageTableLimit(full) == full.totalPages / 64)
        #expect(HostBudget.worstCaseBytes(full) == pages * UInt64(PageDescriptors.bytesPerPage + 4096) + tables)
        #expect(HostBudget.worstCaseBytes(stamp) == pages * UInt64(PageDescriptors.bytesPerPage + 8) + tables)
    }

    @Test func terabyteFullMachineIsRefusedWithAlternatives() throws {
        // 1 TiB content=full on any real host: over half its memory.
        let cfg = MachineConfig(nodes: 1, nodeMemBytes: 1 << 40, content: .full)
        let why = try #require(HostBudget.bootProblem(cfg), "1 TiB content=full accepted on a \(HostBudget.hostPhysicalBytes >> 30) GiB host")
        #expect(why.contains("host-memory budget") && why.contains("--host-mem") && why.contains("smaller machine"), "\(why)")
        #expect(PhysicalMemory.bootProblem(cfg) != nil)
    }

    @Test func guardRefusesNewFramesPastItsCap() throws {
        let cfg = MachineConfig(nodes: 1, nodeMemBytes: 256 << 20, content: .full)
        #expect(HostBudget.frameGuard(cfg, capBytes: 1 << 30) == nil, "a machine within the cap needs no guard")
        let cap: UInt64 = 40 << 20
        let g = try #require(HostBudget.frameGuard(cfg, capBytes: cap))
        let descriptors = UInt64(cfg.totalPages * PageDescriptors.bytesPerPage)
            + UInt64(HostBudget.pageTableLimit(cfg)) * HostBudget.pageTableBytes
        #expect(g.maxTouched == Int((cap - descriptors) / 4096))
        var admitted = 0
        for pfn in 0..<PFN(cfg.totalPages) where g.admit(pfn) { admitted += 1 }
        #expect(admitted == g.maxTouched && g.touchedFrames == g.maxTouched)
        // A frame touched before is always admitted again (its host memory is resident).
        #expect(g.admit(0) && g.admit(PFN(g.maxTouched - 1)))
        #expect(!g.admit(PFN(cfg.totalPages - 1)))
    }
}
