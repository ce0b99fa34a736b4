// Hot-remove of memory holding page-cache folios (MMHotplug/MemoryHotplug.swift): the
// scan steps over folios whole, each migrates to a target of its own order (Linux:
// alloc_migration_target), and a failed offline restores everything.

import Testing
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck
import MMSync
import MMHotplug

@Suite struct FolioOfflineTests {
    /// Two order-`order` folios and one small folio of file `f`, all in one memory block.
    func setup(order: Int) throws -> (Machine, FileMapping, MemoryBlock, [PFN]) {
        let m = machine(nodes: 2, mib: 16, blockMiB: 8)
        let f = m.createFile("f")
        var heads: [PFN] = []
        for (i, o) in [order, order, 0].enumerated() {
            let h = try #require(m.phys.allocFolio(node: 0, order: o, fallback: false))
            try m.addToPageCache(f, index: i << order, head: h, order: o, dirty: i == 0, writeback: false, hasPrivate: i == 0)
            m.phys.frames.writeStamp(h, 0xCAC4E + UInt64(i))
            heads.append(h)
        }
        let block = m.phys.blockOf(heads[0])
        try #require(heads.allSatisfy { m.phys.blockOf($0) === block }, "the test wants its folios in one block")
        return (m, f, block, heads)
    }

    @Test(arguments: [2, 9])
    func offlineMovesEachFolioWholeToATargetOfItsOrder(order: Int) throws {
        let (m, f, block, heads) = try setup(order: order)
        let r = MemoryHotplug(m).offline(block)
        #expect(r.ret == 0 && block.state == .offline, "\(r)")
        #expect(r.migrated == 2 << order + 1, "pages migrated")
        for (i, old) in heads.enumerated() {
            let new = try #require(f.folio(at: i << order))
            #expect(new != old && (new < block.startPFN || new >= block.endPFN), "folio \(i) left the block")
            #expect(m.phys.pages.folioOrder(new) == (i < 2 ? order : 0), "folio \(i) kept its order")
            #expect(m.phys.frames.readStamp(new) == 0xCAC4E + UInt64(i))
        }
        #expect(m.phys.pages.test(f.folio(at: 0)!, PageFlag.dirty | PageFlag.privateData))
        #expect(Checker.check(m).isEmpty, "\(Checker.check(m))")
        #expect(MemoryHotplug(m).online(block).ret == 0)
        m.truncateFile(f)
        #expect(m.phys.freePages() == m.config.totalPages)
        #expect(Checker.check(m).isEmpty)
    }

    @Test func failedOfflineOfAPinnedFolioRestoresEverything() throws {
        let (m, f, block, heads) = try setup(order: 2)
        m.phys.pages.addRefs(heads[1], 1)   // an unexpected reference: -EAGAIN every time
        let hp = MemoryHotplug(m)
        hp.retry = .passes(2)
        let r = hp.offline(block)
        #expect(r.ret == -1 && r.errno == .EBUSY && block.state == .online, "\(r)")
        #expect(f.folio(at: 4) == heads[1] && m.phys.pages.folioOrder(heads[1]) == 2, "the pinned folio stayed whole")
        #expect(m.phys.zoneOf(heads[1]).pageblockType(of: heads[1]) != .isolate, "isolation undone")
        m.phys.putRefs(heads[1], 1)
        #expect(Checker.check(m).isEmpty, "\(Checker.check(m))")
        m.truncateFile(f)
        #expect(m.phys.freePages() == m.config.totalPages)
    }
}
