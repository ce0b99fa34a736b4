// The side table of file folio heads (MMSnapshot/FileFolios.swift): one entry per
// page-cache folio head with its locked / dirty / writeback / private / private_2 bits,
// read from the head's kpageflags word; counted in the "snapshot" JSON.

import Testing
@testable import MMSnapshot

@Suite struct FileFolioTests {
    @Test func headsKeepTheirBitsAndTailsAreNotHeads() {
        let file = KPF.lru | KPF.mmap
        var flags: [UInt64] = [file | KPF.dirty | KPF.privateData | KPF.compoundHead]   // order-2 dirty folio with buffers
        flags += [UInt64](repeating: file | KPF.dirty | KPF.privateData | KPF.compoundTail, count: 3)
        flags += [file | KPF.writeback | KPF.locked]      // 4: order 0 under writeback, locked
        flags += [file | KPF.private2]                    // 5: order 0, PG_private_2
        flags += [KPF.lru | KPF.anon | KPF.dirty]         // 6: anonymous: not a file folio
        flags += [file]                                   // 7: clean order 0
        let r = PageClassifier.classifyWithFolios(flags: flags, counts: [UInt64](repeating: 1, count: flags.count),
                                                  ram: [PFNRange(start: 0, end: flags.count)])
        #expect(r.fileFolios.heads == [0, 4, 5, 7])
        #expect(r.fileFolios.bits(ofHead: 0) == [.dirty, .privateData])
        #expect(r.fileFolios.bits(ofHead: 1) == nil)
        #expect(r.fileFolios.bits(ofHead: 4) == [.writeback, .locked])
        #expect(r.fileFolios.bits(ofHead: 5) == [.private2])
        #expect(r.fileFolios.bits(ofHead: 6) == nil)
        #expect(r.fileFolios.bits(ofHead: 7) == [])
        #expect(r.fileFolios.bits(ofHead: -1) == nil)
        // Only these bits are kept: kpageflags bit 4 is dirty, 8 writeback, 35/36 private.
        #expect(FolioBits(kpageflags: 1 << 4 | 1 << 8 | 1 << 35 | 1 << 36 | 1 << 0) == [.dirty, .writeback, .privateData, .private2, .locked])
        #expect(FolioBits(kpageflags: ~(1 << 0 | 1 << 4 | 1 << 8 | 1 << 35 | 1 << 36)) == [])
    }

    @Test func fixtureFileFoliosAreCounted() throws {
        let s = try KernelSnapshot.load(directory: fixturesDir + "/kernel-compact-2g/before")
        let c = s.fileFolioCounts
        // One entry per file unit head; their pages add up to the file pages.
        #expect(s.fileFolios.count == c.byOrder.reduce(0, +))
        let pages = c.byOrder.enumerated().reduce(0) { $0 + $1.element << $1.offset }
        #expect(pages == s.counts[.file])
        #expect(s.fileFolios.count > 0)
        #expect(zip(s.fileFolios.heads, s.fileFolios.heads.dropFirst()).allSatisfy { $0 < $1 })
        for h in s.fileFolios.heads.prefix(1000) { #expect(s.cell(Int(h)).cls == .file && s.cell(Int(h)).headOrder != nil) }
        #expect(c.dirty <= s.fileFolios.count && c.privateData <= s.fileFolios.count)
        #expect(c.largeDirty <= c.dirty && c.largePrivate <= c.privateData)
    }
}
