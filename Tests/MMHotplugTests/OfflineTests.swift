// Offline and online of memory blocks on one thread: each documented failure mode,
// its reason, and the rollback (Linux: offline_pages' error paths).

import Testing
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck
import MMSync
import MMHotplug

@Suite struct OfflineTests {
    @Test func offlineMovesEveryPageOutAndOnlineGivesTheMemoryBack() throws {
        let m = machine(nodes: 2, mib: 32, blockMiB: 8)
        let p = try process(m, "P", pages: 3000)
        let block = busiestBlock(m, p, pages: 3000)
        let before = pagesIn(m, p, pages: 3000, block).count
        #expect(before > 1000, "the test wants a well-filled block, got \(before) pages")
        let freeBefore = m.phys.freePages()
        let hp = MemoryHotplug(m)
        let r = hp.offline(block)
        #expect(r.ret == 0 && r.errno == nil && r.reason == nil, "offline failed: \(r)")
        #expect(r.migrated == before)
        #expect(block.state == .offline)
        #expect(pagesIn(m, p, pages: 3000, block).isEmpty)
        #expect(m.phys.freePages() == freeBefore - block.pages)
        #expect(try allIntact(m, p, pages: 3000))
        #expect(m.vmstat[.migrateReasonHotplug] == Int64(before))
        let v = Checker.check(m)
        #expect(v.isEmpty, "violations: \(describe(v))")
        #expect(!allocationLands(m, in: block), "an allocation landed in an offline block")

        let on = hp.online(block)
        #expect(on.ret == 0 && block.state == .online)
        #expect(m.phys.freePages() == freeBefore)
        #expect(pageblocks(m, block, are: .movable))
        #expect(allocationLands(m, in: block), "the onlined block is not usable")
        #expect(Checker.check(m).isEmpty)
    }

    @Test func whatCanNeverBeOfflinedIsEINVAL() throws {
        // A hole in block 1 (PFNs 2048…4095). MachineConfig keeps every block inside
        // one zone, so "multizone range" cannot be built here.
        let m = machine(nodes: 1, mib: 32, blockMiB: 8, holes: [3000..<3100])
        let hp = MemoryHotplug(m)
        let holed = hp.offline(m.phys.block(node: 0, index: 1)!)
        #expect(holed.errno == .EINVAL && holed.reason == "memory holes")
        let b0 = m.phys.block(node: 0, index: 0)!
        #expect(hp.offline(b0).ret == 0)
        let again = hp.offline(b0)
        #expect(again.errno == .EINVAL && again.reason == "not online")
        #expect(hp.online(b0).ret == 0)
        #expect(hp.online(b0).errno == .EINVAL)
        #expect(Checker.check(m).isEmpty)
    }

    @Test func unmovablePageIsEBUSYAtOnceWithNothingMigrated() throws {
        let m = machine(nodes: 2, mib: 32, blockMiB: 8)
        let p = try process(m, "P", pages: 2000)
        try m.allocateUnmovable(node: 0, pages: 1)
        let bad = m.unmovable[0]
        let block = m.phys.blockOf(bad)
        let frames = (0..<2000).map { m.frameMapped(p.mm, page($0)) }
        let r = MemoryHotplug(m).offline(block)
        #expect(r.ret == -1 && r.errno == .EBUSY && r.reason == "failure to isolate range")
        #expect(r.migrated == 0 && r.sweeps == 0)
        #expect(block.state == .online)
        #expect(stride(from: block.startPFN, to: block.endPFN, by: pageblockPages).allSatisfy { block.zone!.pageblockType(of: $0) != .isolate })
        #expect(frames == (0..<2000).map { m.frameMapped(p.mm, page($0)) }, "a page moved")
        #expect(m.vmstat[.migrateReasonHotplug] == 0)
        #expect(Checker.check(m).isEmpty)
    }

    @Test func pinnedPageIsEBUSYAfterTheRetryBudgetThenSucceedsOnceUnpinned() throws {
        for policy in [OfflineRetryPolicy.passes(3), .timeout(seconds: 0.05)] {
            let m = machine(nodes: 2, mib: 32, blockMiB: 8)
            let p = try process(m, "P", pages: 1500)
            let addr = page(700)
            try m.pinUserPage(p.mm, addr)
            let pinned = try #require(m.frameMapped(p.mm, addr))
            let block = m.phys.blockOf(pinned)
            let hp = MemoryHotplug(m)
            hp.retry = policy
            let r = hp.offline(block)
            #expect(r.ret == -1 && r.errno == .EBUSY, "\(policy): \(r)")
            #expect(r.reason == (policy == .passes(3) ? "retry limit" : "timeout"))
            #expect(block.state == .online)
            #expect(pageblocks(m, block, are: .movable), "isolation not undone")
            #expect(m.frameMapped(p.mm, addr) == pinned, "the pinned page moved")
            #expect(try m.userRead(p.mm, addr).intact)
            #expect(allocationLands(m, in: block), "\(policy): no allocation lands in the block after rollback")
            #expect(Checker.check(m).isEmpty, "\(policy): \(describe(Checker.check(m)))")
            try m.unpinUserPage(p.mm, addr)
            let again = hp.offline(block)
            #expect(again.ret == 0, "after unpin: \(again)")
            #expect(try allIntact(m, p, pages: 1500))
            #expect(Checker.check(m).isEmpty)
        }
    }

    @Test func noRoomElsewhereIsENOMEMWithRollback() throws {
        // One node of two 8 MiB blocks; the process fills more than one block.
        let m = machine(nodes: 1, mib: 16, blockMiB: 8)
        let p = try process(m, "P", pages: 2600)
        let block = busiestBlock(m, p, pages: 2600)
        let r = MemoryHotplug(m).offline(block)
        #expect(r.ret == -1 && r.errno == .ENOMEM && r.reason == "no memory for migration targets", "\(r)")
        #expect(block.state == .online && pageblocks(m, block, are: .movable))
        #expect(try allIntact(m, p, pages: 2600))
        #expect((0..<2600).allSatisfy { m.frameMapped(p.mm, page($0)) != nil }, "a mapping was lost")
        let v = Checker.check(m)
        #expect(v.isEmpty, "violations: \(describe(v))")
    }

    @Test func movableZoneBlocksAlwaysOfflineUnlessPinned() throws {
        // 32 MiB nodes with 16 MiB Movable: blocks 2 and 3 of each node are Movable.
        let m = machine(nodes: 2, mib: 32, blockMiB: 8, movableMiB: 16)
        let p = try process(m, "P", pages: 3000)
        try m.allocateUnmovable(node: 0, pages: 64)
        #expect(m.unmovable.allSatisfy { m.phys.zoneOf($0).kind != .movable })
        let hp = MemoryHotplug(m)
        let movable = m.phys.blocks.filter { $0.zone?.kind == .movable && $0.node == 0 }
        #expect(movable.count == 2)
        for b in movable {
            let r = hp.offline(b)
            #expect(r.ret == 0, "Movable block \(b.id): \(r)")
        }
        #expect(try allIntact(m, p, pages: 3000))
        #expect(Checker.check(m).isEmpty)
        for b in movable { #expect(hp.online(b).ret == 0) }
        // Pinned: a page in a Movable block makes it EBUSY.
        let q = try process(m, "Q", pages: 2000, node: 1)
        let target = try #require((0..<2000).first { m.frameMapped(q.mm, page($0)).map { m.phys.zoneOf($0).kind == .movable } ?? false })
        try m.pinUserPage(q.mm, page(target))
        hp.retry = .passes(2)
        let r = hp.offline(m.phys.blockOf(m.frameMapped(q.mm, page(target))!))
        #expect(r.errno == .EBUSY)
        try m.unpinUserPage(q.mm, page(target))
        #expect(Checker.check(m).isEmpty)
    }

    @Test func retryPolicyParsing() {
        #expect(OfflineRetryPolicy(parsing: "timeout:120s") == .timeout(seconds: 120))
        #expect(OfflineRetryPolicy(parsing: "timeout:500ms") == .timeout(seconds: 0.5))
        #expect(OfflineRetryPolicy(parsing: "forever") == .forever)
        #expect(OfflineRetryPolicy(parsing: "passes:7") == .passes(7))
        for bad in ["", "timeout", "timeout:", "timeout:-1s", "timeout:1e9s", "passes:0", "passes:x", "sometimes"] {
            #expect(OfflineRetryPolicy(parsing: bad) == nil, "\(bad) accepted")
        }
        #expect(OfflineRetryPolicy.default.description == "timeout:10s")
    }

    @Test func blockTableCountsPages() throws {
        let m = machine(nodes: 1, mib: 16, blockMiB: 8)
        let p = try process(m, "P", pages: 100)
        try m.pinUserPage(p.mm, page(3))
        try m.allocateUnmovable(node: 0, pages: 5)
        let rows = MemoryBlockInfo.all(m.phys)
        #expect(rows.count == 2)
        #expect(rows.reduce(0) { $0 + $1.movable } == 99)
        #expect(rows.reduce(0) { $0 + $1.pinned } == 1)
        #expect(rows.reduce(0) { $0 + $1.unmovable } == 5)
        #expect(rows.reduce(0) { $0 + $1.free } == m.phys.freePages())
        #expect(MemoryBlockInfo.text(rows).contains("online"))
    }
}
