// Faults, COW, fork, mmap/munmap/mremap, exit and pins (MMSpace: Memory.swift,
// Mmap.swift, Fork.swift), each checked against page descriptors, page tables and the
// invariant checker.

import Testing
import MMPhysical
import MMSpace
import MMCheck
import MMSync

@Suite struct FaultAndForkTests {
    @Test func anonymousFaultsMapZeroedPagesOnTheHomeNode() throws {
        let m = smallMachine(nodes: 2)
        let a = try m.createProcess("A", node: 1)
        try m.mmap(a.mm, base, 8 * page)
        #expect(m.frameMapped(a.mm, base) == nil, "mmap maps nothing until a fault")
        let free = m.phys.freePages()
        let r = try m.userRead(a.mm, base + 3 * page)
        #expect(r.value == 0 && r.intact)
        // Linux: a read fault of untouched anonymous memory maps the shared zero page.
        #expect(m.pte(a.mm, base + 3 * page).isZeroPage && m.phys.freePages() == free, "the read allocated a frame")
        try m.touch(a.mm, base, 8 * page)
        for i in 0..<8 {
            let pfn = try #require(m.frameMapped(a.mm, base + UInt64(i) * page))
            #expect(m.phys.nodeOf(pfn) == 1)
            #expect(m.phys.pages.mapcount(pfn) == 1)
            #expect(m.phys.pages.refcount(pfn) == 1)
            #expect(m.phys.pages.test(pfn, PageFlag.lru) && m.phys.pages.test(pfn, PageFlag.anon))
            #expect(m.phys.pages.mapping(pfn) == a.mm.vmaList[0].anonVma?.encoded)
            let pte = m.pte(a.mm, base + UInt64(i) * page)
            #expect(pte.isPresent && pte.isWrite && pte.isDirty)
            #expect(try m.userRead(a.mm, base + UInt64(i) * page).intact)
        }
        #expect(m.phys.freePages(node: 1) == m.config.pagesPerNode - 8)
        #expect(m.vmstat[.pgfault] == 9, "8 write faults and the read fault that mapped the zero page")
        #expect(Checker.check(m).isEmpty)
        tearDownAndExpectPristine(m)
    }

    @Test(arguments: [UInt64(7), 0xFACE, 0x5EED_5EED])
    func mapcountEqualsPTEsAfterForksAndCOW(seed: UInt64) throws {
        let m = smallMachine()
        var rng = SplitMix64(seed: seed)
        let n = 32
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, UInt64(n) * page)
        try m.touch(a.mm, base, UInt64(n) * page)
        let b = try m.fork(a, child: "B")
        let c = try m.fork(a, child: "C")
        let d = try m.fork(b, child: "D")
        // Right after the forks every frame is mapped by all four.
        for (pfn, ptes) in ptesPerFrame(m) {
            #expect(ptes == 4, "seed \(seed)")
            #expect(m.phys.pages.mapcount(pfn) == 4, "seed \(seed)")
            #expect(m.phys.pages.refcount(pfn) == 4, "seed \(seed)")
        }
        #expect(!m.pte(a.mm, base).isWrite, "fork write-protects the parent")
        // Random writes (COW) and reads in all four.
        let procs = [a, b, c, d]
        for _ in 0..<200 {
            let p = procs[rng.below(procs.count)]
            let addr = base + UInt64(rng.below(n)) * page
            if rng.chance(60) { try m.userWrite(p.mm, addr) } else {
                let r = try m.userRead(p.mm, addr)
                #expect(r.intact, "seed \(seed): \(p.name) at \(hex(addr))")
            }
        }
        let counted = ptesPerFrame(m)
        #expect(!counted.isEmpty)
        for (pfn, ptes) in counted {
            #expect(Int(m.phys.pages.mapcount(pfn)) == ptes, "seed \(seed): pfn \(pfn)")
            #expect(Int(m.phys.pages.refcount(pfn)) == ptes, "seed \(seed): pfn \(pfn)")
        }
        let inUse = m.config.totalPages - m.phys.freePages()
        #expect(inUse == counted.count, "seed \(seed): every allocated frame is mapped")
        #expect(m.vmstat[.cowFault] > 0, "seed \(seed)")
        let v = Checker.check(m)
        #expect(v.isEmpty, "seed \(seed): \(v)")
        #expect(m.violations.isEmpty, "seed \(seed)")
        tearDownAndExpectPristine(m, "seed \(seed)")
    }

    @Test func cowGivesTheWriterANewFrameAndKeepsTheOther() throws {
        let m = smallMachine()
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, 4 * page)
        try m.touch(a.mm, base, 4 * page)
        let before = try #require(m.frameMapped(a.mm, base))
        let parentStamp = a.mm.expectedStamp(base)
        #expect(parentStamp != 0)
        let b = try m.fork(a, child: "B")
        #expect(m.frameMapped(b.mm, base) == before, "fork shares the frame")
        #expect(try m.userRead(b.mm, base).value == parentStamp, "the child reads the parent's data")
        try m.userWrite(b.mm, base)
        let childFrame = try #require(m.frameMapped(b.mm, base))
        #expect(childFrame != before)
        #expect(m.frameMapped(a.mm, base) == before)
        let ra = try m.userRead(a.mm, base)
        #expect(ra.intact && ra.value == parentStamp, "the parent's data is preserved")
        let rb = try m.userRead(b.mm, base)
        #expect(rb.intact && rb.value != parentStamp)
        #expect(m.phys.frames.readStamp(before) == parentStamp)
        #expect(m.phys.pages.mapcount(before) == 1 && m.phys.pages.refcount(before) == 1)
        #expect(m.phys.pages.mapcount(childFrame) == 1)
        #expect(m.vmstat[.cowFault] == 1)
        // The parent is now the only user: its write reuses the frame (no copy).
        try m.userWrite(a.mm, base)
        #expect(m.frameMapped(a.mm, base) == before)
        #expect(m.vmstat[.cowFault] == 1)
        // The child's COW page keeps the shared anon_vma and the same index.
        #expect(m.phys.pages.mapping(childFrame) == m.phys.pages.mapping(before))
        #expect(m.phys.pages.index(childFrame) == m.phys.pages.index(before))
        #expect(Checker.check(m).isEmpty)
        // After the parent exits the child still reads its own data.
        try m.exit("A")
        #expect(try m.userRead(b.mm, base).intact)
        #expect(try m.userRead(b.mm, base + page).intact)
        #expect(Checker.check(m).isEmpty)
        tearDownAndExpectPristine(m)
    }

    @Test func forkSharesTheAnonVmaAndExitUnlinks() throws {
        let m = smallMachine()
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, 2 * page)
        try m.touch(a.mm, base, 2 * page)
        let b = try m.fork(a, child: "B")
        let r = try #require(a.mm.vmaList[0].anonVma)
        #expect(b.mm.vmaList[0].anonVma == r)
        let anon = try #require(m.slab.slot(r))
        #expect(anon.vmaList.count == 2)
        try m.exit("B")
        #expect(anon.vmaList.count == 1)
        #expect(anon.isAllocated)
        #expect(b.mm.isDead)
        #expect(m.vmstat[.forks] == 1)
        tearDownAndExpectPristine(m)
        #expect(!anon.isAllocated)
        #expect(anon.generation != r.generation)
    }
}

@Suite struct MmapTests {
    @Test func mremapMovesContentsIntact() throws {
        let m = smallMachine()
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, 16 * page)
        try m.touch(a.mm, base, 16 * page)
        let stamps = (0..<16).map { a.mm.expectedStamp(base + UInt64($0) * page) }
        let frames = (0..<16).map { m.frameMapped(a.mm, base + UInt64($0) * page) }
        let dest: UInt64 = 0x2000_0000
        try m.mremap(a.mm, base, 16 * page, dest)
        #expect(rangesEqual(ranges(a.mm), [(dest, dest + 16 * page)]))
        for i in 0..<16 {
            let r = try m.userRead(a.mm, dest + UInt64(i) * page)
            #expect(r.intact && r.value == stamps[i], "page \(i)")
            #expect(m.frameMapped(a.mm, dest + UInt64(i) * page) == frames[i], "mremap moves PTEs, not data")
            #expect(m.pte(a.mm, base + UInt64(i) * page).isNone)
        }
        #expect(throws: Errno.EFAULT) { try m.userRead(a.mm, base) }
        #expect(throws: Errno.EFAULT) { try m.userWrite(a.mm, base + 15 * page) }
        #expect(m.violations.isEmpty)
        #expect(Checker.check(m).isEmpty)
        tearDownAndExpectPristine(m)
    }

    @Test func mremapPartOfAVmaOverAnotherMapping() throws {
        let m = smallMachine()
        let a = try m.createProcess("A")
        let dest: UInt64 = 0x2000_0000
        try m.mmap(a.mm, base, 8 * page)
        try m.mmap(a.mm, dest, 8 * page)
        try m.touch(a.mm, base, 8 * page)
        try m.touch(a.mm, dest, 8 * page)
        let moved = (2..<5).map { a.mm.expectedStamp(base + UInt64($0) * page) }
        let free0 = m.phys.freePages()
        // Move pages 2…4 of the first mapping over pages 1…3 of the second.
        try m.mremap(a.mm, base + 2 * page, 3 * page, dest + page)
        #expect(m.phys.freePages() == free0 + 3, "the pages mremap replaced are freed")
        #expect(rangesEqual(ranges(a.mm), [
            (base, base + 2 * page), (base + 5 * page, base + 8 * page),
            (dest, dest + page), (dest + page, dest + 4 * page), (dest + 4 * page, dest + 8 * page),
        ]), "\(ranges(a.mm).map { (hex($0.0), hex($0.1)) })")
        for i in 0..<3 {
            let r = try m.userRead(a.mm, dest + UInt64(i + 1) * page)
            #expect(r.intact && r.value == moved[i])
        }
        #expect(throws: Errno.EFAULT) { try m.userRead(a.mm, base + 3 * page) }
        for off in [0, 1, 5, 6, 7] { #expect(try m.userRead(a.mm, base + UInt64(off) * page).intact) }
        for off in [0, 4, 7] { #expect(try m.userRead(a.mm, dest + UInt64(off) * page).intact) }
        #expect(Checker.check(m).isEmpty)
        tearDownAndExpectPristine(m)
    }

    @Test(arguments: [true, false])
    func mremapWithinOneVma(backwards: Bool) throws {
        // Source and target inside the same VMA: the target part is removed first, which
        // splits the VMA that holds the source.
        let m = smallMachine()
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, 16 * page)
        try m.touch(a.mm, base, 16 * page)
        let (src, dst): (UInt64, UInt64) = backwards ? (base + 10 * page, base + 2 * page) : (base + 2 * page, base + 10 * page)
        let stamps = (0..<16).map { a.mm.expectedStamp(base + UInt64($0) * page) }
        try m.mremap(a.mm, src, 2 * page, dst)
        let vmas = ranges(a.mm)
        for (x, y) in zip(vmas, vmas.dropFirst()) {
            #expect(x.1 <= y.0, "VMAs overlap: \(vmas.map { (hex($0.0), hex($0.1)) })")
        }
        #expect(vmas.allSatisfy { $0.0 < $0.1 })
        let covered = vmas.reduce(UInt64(0)) { $0 + ($1.1 - $1.0) } / page
        #expect(covered == 14, "16 pages minus the 2 vacated: \(vmas.map { (hex($0.0), hex($0.1)) })")
        for i in 0..<16 {
            let addr = base + UInt64(i) * page
            if addr >= src && addr < src + 2 * page {
                #expect(throws: Errno.EFAULT) { try m.userRead(a.mm, addr) }
            } else if addr >= dst && addr < dst + 2 * page {
                let r = try m.userRead(a.mm, addr)
                #expect(r.intact && r.value == stamps[Int((addr - dst + src - base) / page)])
            } else {
                let r = try m.userRead(a.mm, addr)
                #expect(r.intact && r.value == stamps[i])
            }
        }
        let v = Checker.check(m)
        #expect(v.isEmpty, "\(v)")
        tearDownAndExpectPristine(m)
    }

    @Test func munmapOfTheMiddleSplitsTheVmaAndFreesPages() throws {
        let m = smallMachine()
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, 16 * page)
        try m.touch(a.mm, base, 16 * page)
        let free0 = m.phys.freePages()
        let hole = (0..<4).compactMap { m.frameMapped(a.mm, base + UInt64(4 + $0) * page) }
        #expect(hole.count == 4)
        try m.munmap(a.mm, base + 4 * page, 4 * page)
        #expect(rangesEqual(ranges(a.mm), [(base, base + 4 * page), (base + 8 * page, base + 16 * page)]))
        #expect(m.phys.freePages() == free0 + 4)
        #expect(hole.allSatisfy { m.phys.pages.refcount($0) == 0 && m.phys.pages.mapcount($0) == 0 })
        let vmas = a.mm.vmaList
        #expect(vmas[1].pgoff == vmas[0].pgoff + 8, "the right part keeps its page offset")
        let r = try #require(vmas[0].anonVma)
        #expect(vmas[1].anonVma == r)
        #expect(m.slab.slot(r)?.vmaList.count == 2, "both parts are on the anon_vma")
        for i in 0..<16 {
            let addr = base + UInt64(i) * page
            if (4..<8).contains(i) {
                #expect(throws: Errno.EFAULT) { try m.userRead(a.mm, addr) }
            } else {
                #expect(try m.userRead(a.mm, addr).intact)
            }
        }
        // Trim each end, then remove the rest.
        try m.munmap(a.mm, base, page)
        try m.munmap(a.mm, base + 15 * page, page)
        #expect(rangesEqual(ranges(a.mm), [(base + page, base + 4 * page), (base + 8 * page, base + 15 * page)]))
        #expect(Checker.check(m).isEmpty)
        try m.munmap(a.mm, base, 16 * page)
        #expect(a.mm.vmaList.isEmpty)
        #expect(m.phys.freePages() == m.config.totalPages)
        #expect(m.slab.allSlots().allSatisfy { !$0.isAllocated }, "the last VMA's unlink frees the anon_vma")
        #expect(Checker.check(m).isEmpty)
        // An unmapped range can be mapped again.
        try m.mmap(a.mm, base, 2 * page)
        try m.touch(a.mm, base, 2 * page)
        tearDownAndExpectPristine(m)
    }

    @Test(arguments: AnonVmaPinPolicy.allCases)
    func exitOfTheLastUserFreesEverything(policy: AnonVmaPinPolicy) throws {
        let m = smallMachine(nodes: 2)
        m.pinPolicy = policy
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, 64 * page)
        try m.mmap(a.mm, 0x3000_0000, 8 * page)
        try m.touch(a.mm, base, 64 * page)
        try m.touch(a.mm, 0x3000_0000, 8 * page)
        let b = try m.fork(a, child: "B")
        try m.touch(b.mm, base, 16 * page)
        try m.munmap(b.mm, base + 32 * page, 4 * page)
        let c = try m.fork(b, child: "C")
        try m.touch(c.mm, base + 48 * page, 4 * page)
        try m.pinUserPage(c.mm, base)
        #expect(Checker.check(m).isEmpty)
        #expect(m.slab.allSlots().filter(\.isAllocated).count == 2)
        try m.exit("A")
        try m.exit("C")
        #expect(m.slab.allSlots().filter(\.isAllocated).count == 2, "B still uses both anon_vmas")
        #expect(Checker.check(m).isEmpty)
        try m.exit("B")
        #expect(m.phys.freePages() == m.config.totalPages)
        #expect(m.slab.allSlots().allSatisfy { !$0.isAllocated })
        #expect(m.vmstat[.anonVmaAlloc] == m.vmstat[.anonVmaFree])
        #expect(Checker.check(m).isEmpty)
        #expect(m.allProcesses.isEmpty)
        tearDownAndExpectPristine(m, "policy \(policy)")
    }

    @Test func pinsRaiseAndLowerTheRefcount() throws {
        let m = smallMachine()
        let a = try m.createProcess("A")
        try m.mmap(a.mm, base, 4 * page)
        try m.pinUserPage(a.mm, base + page)   // faults the page in
        let pfn = try #require(m.frameMapped(a.mm, base + page))
        #expect(m.phys.pages.refcount(pfn) == 2)
        #expect(m.phys.pages.mapcount(pfn) == 1)
        try m.pinUserPage(a.mm, base + page)
        #expect(m.phys.pages.refcount(pfn) == 3)
        #expect(a.mm.pinSnapshot().count == 2)
        #expect(Checker.check(m).isEmpty, "the checker counts pins as references")
        try m.unpinUserPage(a.mm, base + page)
        #expect(m.phys.pages.refcount(pfn) == 2)
        // Writes go on through a pinned page's mapping.
        try m.userWrite(a.mm, base + page)
        #expect(m.frameMapped(a.mm, base + page) == pfn)
        #expect(Checker.check(m).isEmpty)
        // A pinned page survives munmap and is freed by the unpin.
        let pinned = try #require(m.frameMapped(a.mm, base + page))
        try m.munmap(a.mm, base, 4 * page)
        #expect(m.phys.pages.refcount(pinned) == 1)
        #expect(m.phys.freePages() == m.config.totalPages - 1)
        #expect(Checker.check(m).isEmpty)
        try m.unpinUserPage(a.mm, base + page)
        #expect(m.phys.freePages() == m.config.totalPages)
        #expect(throws: Errno.EINVAL) { try m.unpinUserPage(a.mm, base + page) }
        // A refcount that drifts from mappings + pins is reported.
        try m.mmap(a.mm, base, page)
        try m.pinUserPage(a.mm, base)
        let p2 = try #require(m.frameMapped(a.mm, base))
        m.phys.pages._setRefcountForTesting(p2, 1)
        #expect(Checker.check(m).contains { $0.kind == .refcount })
        m.phys.pages._setRefcountForTesting(p2, 2)
        #expect(Checker.check(m).isEmpty)
        tearDownAndExpectPristine(m)   // exit drops the pin
    }

    @Test func errors() throws {
        let m = smallMachine(nodes: 2)
        let a = try m.createProcess("A")
        #expect(throws: Errno.EEXIST) { try m.createProcess("A") }
        #expect(throws: Errno.ENODEV) { try m.createProcess("Z", node: 2) }
        try m.mmap(a.mm, base, 4 * page)
        #expect(throws: Errno.EEXIST) { try m.mmap(a.mm, base + 3 * page, 4 * page) }
        #expect(throws: Errno.EEXIST) { try m.mmap(a.mm, base - page, 2 * page) }
        #expect(throws: Errno.EINVAL) { try m.mmap(a.mm, base + 4 * page + 1, page) }
        #expect(throws: Errno.EINVAL) { try m.mmap(a.mm, base + 4 * page, page + 1) }
        #expect(throws: Errno.EINVAL) { try m.mmap(a.mm, base + 4 * page, 0) }
        #expect(throws: Errno.EINVAL) { try m.mmap(a.mm, userAddressLimit, page) }
        #expect(throws: Errno.EINVAL) { try m.munmap(a.mm, base + 1, page) }
        #expect(throws: Errno.EFAULT) { try m.userRead(a.mm, base + 4 * page) }
        #expect(throws: Errno.EFAULT) { try m.userWrite(a.mm, base - page) }
        #expect(throws: Errno.EFAULT) { try m.pinUserPage(a.mm, 0) }
        #expect(throws: Errno.EFAULT) { try m.mremap(a.mm, base + 2 * page, 4 * page, 0x2000_0000) }
        #expect(throws: Errno.EINVAL) { try m.mremap(a.mm, base, 4 * page, base + 2 * page) }
        #expect(throws: Errno.ESRCH) { try m.exit("nobody") }
        #expect(throws: Errno.EEXIST) { try m.fork(a, child: "A") }
        try m.touch(a.mm, base, 4 * page)
        try m.exit("A")
        #expect(throws: Errno.ESRCH) { try m.exit("A") }
        #expect(throws: Errno.ESRCH) { try m.userRead(a.mm, base) }
        #expect(throws: Errno.ESRCH) { try m.mmap(a.mm, 0x4000_0000, page) }
        #expect(throws: Errno.ESRCH) { try m.munmap(a.mm, base, page) }
        #expect(throws: Errno.ESRCH) { try m.fork(a, child: "A2") }
        #expect(m.process("A") == nil)
        tearDownAndExpectPristine(m)
    }
}
