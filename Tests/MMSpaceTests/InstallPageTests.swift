// Installing allocated frames as anonymous pages without faults (MMSpace/InstallPage.swift):
// the result must be what faults leave (the checker agrees), each page at its PFN, and
// bad requests refused without changing anything.

import Testing
import MMPhysical
import MMSpace
import MMCheck
import MMSync

@Suite struct InstallPageTests {
    static func machine() -> (Machine, [PFN]) {
        let cfg = MachineConfig(nodes: 1, nodeMemBytes: 16 << 20, blockBytes: 16 << 20, content: .stamp)
        var l = BootLayout(pages: cfg.totalPages)
        // Every third frame allocated (to be installed), the rest free.
        var chosen: [PFN] = []
        for p in 0..<cfg.totalPages {
            if p % 3 == 0 { chosen.append(PFN(p)) } else { l.frames[p] = BootFrame.free.rawValue }
        }
        return (Machine(cfg, layout: l), chosen)
    }

    @Test func installedPagesAreMappedAtTheirPFNsAndPassTheChecker() throws {
        let (m, pfns) = Self.machine()
        let p = try m.createProcess("a")
        try m.mmap(p.mm, base, UInt64(pfns.count) << 12)
        try m.installAnonPages(p.mm, at: base, pfns)
        for (i, pfn) in pfns.enumerated() where i % 97 == 0 || i == pfns.count - 1 {
            #expect(m.frameMapped(p.mm, base + UInt64(i) << 12) == pfn)
        }
        #expect(m.phys.lrus[0].count == pfns.count)
        #expect(Checker.check(m).isEmpty, "\(Checker.check(m).prefix(3))")
        // They behave as faulted pages: writable, readable, freed by munmap.
        try m.userWrite(p.mm, base + 4096)
        let r = try m.userRead(p.mm, base + 4096)
        #expect(r.value == r.expected)
        let free = m.phys.freePages()
        try m.munmap(p.mm, base, UInt64(pfns.count) << 12)
        #expect(m.phys.freePages() == free + pfns.count)
        #expect(Checker.check(m).isEmpty)
    }

    @Test func badRequestsAreRefusedAndLeaveNothingBehind() throws {
        let (m, pfns) = Self.machine()
        let p = try m.createProcess("a")
        try m.mmap(p.mm, base, 64 << 12)
        // A free frame, a PFN given twice, no VMA there, a range past the VMA.
        #expect(throws: Errno.EINVAL) { try m.installAnonPages(p.mm, at: base, [pfns[0], 1]) }
        #expect(throws: Errno.EINVAL) { try m.installAnonPages(p.mm, at: base, [pfns[0], pfns[1], pfns[0]]) }
        #expect(throws: Errno.EFAULT) { try m.installAnonPages(p.mm, at: base + (1 << 30), [pfns[0]]) }
        #expect(throws: Errno.EFAULT) { try m.installAnonPages(p.mm, at: base, Array(pfns[0..<65])) }
        #expect(m.phys.pages.flags(pfns[0]) == 0 && m.phys.pages.flags(pfns[1]) == 0)
        try m.installAnonPages(p.mm, at: base, [pfns[0]])
        #expect(throws: Errno.EEXIST) { try m.installAnonPages(p.mm, at: base, [pfns[1]]) }
        #expect(m.phys.pages.flags(pfns[1]) == 0 && m.phys.pages.mapcount(pfns[1]) == 0 && m.phys.pages.refcount(pfns[1]) == 1)
        #expect(m.frameMapped(p.mm, base) == pfns[0])
        // The checker sees the frames never installed as leaks (allocated, unowned), and nothing else.
        let v = Checker.check(m)
        #expect(v.allSatisfy { "\($0)".contains("leak") && !"\($0)".contains("pfn \(pfns[0]):") }, "\(v.prefix(3))")
    }
}
