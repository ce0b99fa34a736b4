// Migration of page-cache folios (MMMigrate/MigrateFolio.swift): a folio moves whole to
// a target of its order, its cache slot switches, dirty and private data move, pages
// are counted; -ENOMEM on a large folio splits it when Linux's split rules allow, and
// stops the call when they do not.

import Testing
import Synchronization
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck
import MMSync

/// A folio of `order` on `node` added to `file` at `index`, every page stamped.
@discardableResult
func cacheFolio(_ m: Machine, _ file: FileMapping, index: Int, order: Int, node: Int = 0, dirty: Bool = false,
                writeback: Bool = false, hasPrivate: Bool = false) throws -> PFN {
    let head = try #require(m.phys.allocFolio(node: node, order: order, fallback: false))
    for i in 0..<(1 << order) { m.phys.frames.writeStamp(head + PFN(i), 0xF11E_0000 | UInt64(index + i)) }
    try m.addToPageCache(file, index: index, head: head, order: order, dirty: dirty, writeback: writeback, hasPrivate: hasPrivate)
    return head
}

/// A target of the source's order on `node` (Linux: alloc_migration_target).
func folioOnNode(_ m: Machine, _ node: Int) -> (PFN) -> PFN? {
    { src in m.phys.allocFolio(node: node, order: m.phys.pages.folioOrder(src), fallback: false) }
}

func isolate(_ m: Machine, _ pfns: [PFN]) throws {
    for p in pfns { try #require(m.phys.lruOf(p).isolate(p), "isolate pfn \(p)") }
}

/// Every index of `file` holds the stamp it was written with.
func expectStamps(_ m: Machine, _ file: FileMapping, pages n: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    expectStamps(m, file, indices: Array(0..<n), sourceLocation: sourceLocation)
}

func expectStamps(_ m: Machine, _ file: FileMapping, indices: [Int], sourceLocation: SourceLocation = #_sourceLocation) {
    for i in indices {
        guard let head = file.folio(at: i) else { Issue.record("index \(i) empty", sourceLocation: sourceLocation); continue }
        let pfn = head + PFN(i - Int(m.phys.pages.index(head)))
        #expect(m.phys.frames.readStamp(pfn) == 0xF11E_0000 | UInt64(i), "index \(i) pfn \(pfn)", sourceLocation: sourceLocation)
    }
}

@Suite struct FolioMigrationTests {
    @Test(arguments: [0, 2, 9])
    func pageCacheFolioMovesWholeWithItsFlags(order: Int) throws {
        let m = makeMachine(nodes: 2, mib: 8)
        let f = m.createFile("f")
        let old = try cacheFolio(m, f, index: 0, order: order, dirty: true, hasPrivate: true)
        try isolate(m, [old])
        let before = m.vmstat[.pgmigrateSuccess]
        let r = Migrator(m).migratePages([old], allocate: folioOnNode(m, 1), mode: .sync, reason: .syscall, context: .kernel)
        guard case .migrated(let new)? = r.outcomes[old] else { Issue.record("\(r.outcomes)"); return }
        let nr = 1 << order, d = m.phys.pages
        #expect(m.phys.nodeOf(new) == 1 && d.folioOrder(new) == order)
        #expect(r.pagesSucceeded == nr && r.succeeded == 1 && r.notMigrated == 0)
        #expect(m.vmstat[.pgmigrateSuccess] - before == Int64(nr), "pgmigrate_success counts pages")
        #expect((0..<nr).allSatisfy { f.folio(at: $0) == new }, "the cache slot switched")
        #expect(d.test(new, PageFlag.dirty) && d.test(new, PageFlag.privateData), "dirty and private moved")
        #expect(d.refcount(new) == Int32(nr) + 1)
        #expect(m.phys.freePages(node: 0) == m.config.totalPages / 2, "the old folio went back whole")
        expectStamps(m, f, pages: nr)
        #expect(Checker.check(m) == [])
        m.truncateFile(f)
        #expect(machineIsEmpty(m))
    }

    @Test func unexpectedReferenceIsEAGAINAndTheFolioStays() throws {
        let m = makeMachine(nodes: 2, mib: 8)
        let f = m.createFile("f")
        let old = try cacheFolio(m, f, index: 0, order: 2)
        m.phys.pages.addRefs(old, 1)   // e.g. a filemap_get_folio reader
        try isolate(m, [old])
        let r = Migrator(m).migratePages([old], allocate: folioOnNode(m, 1), mode: .sync, reason: .syscall, context: .kernel)
        #expect(r.outcomes[old] == .failed(.EAGAIN) && r.passes == Migrator.maxPasses)
        #expect(r.pagesFailed == 4 && r.notMigrated == 1)
        #expect(f.folio(at: 0) == old && m.phys.pages.test(old, PageFlag.lru))
        m.phys.putRefs(old, 1)
        #expect(Checker.check(m) == [])
        m.truncateFile(f)
        #expect(machineIsEmpty(m))
    }

    @Test func writebackIsEBUSYUnlessSyncWaits() throws {
        let m = makeMachine(nodes: 2, mib: 8)
        let f = m.createFile("f")
        let old = try cacheFolio(m, f, index: 0, order: 2, writeback: true)
        for mode in [MigrateMode.async, .syncLight] {
            try isolate(m, [old])
            let r = Migrator(m).migratePages([old], allocate: folioOnNode(m, 1), mode: mode, reason: .compaction, context: .kernel)
            #expect(r.outcomes[old] == .failed(.EBUSY), "\(mode)")
        }
        var mig = Migrator(m)
        mig.hooks.beforeWritebackWait = { pfn in m.endFolioWriteback(pfn) }
        try isolate(m, [old])
        let r = mig.migratePages([old], allocate: folioOnNode(m, 1), mode: .sync, reason: .compaction, context: .kernel)
        guard case .migrated? = r.outcomes[old] else { Issue.record("\(r.outcomes)"); return }
        #expect(r.passes == 4, "waits from the first forcing pass on")
        expectStamps(m, f, pages: 4)
        #expect(Checker.check(m) == [])
        m.truncateFile(f)
        #expect(machineIsEmpty(m))
    }

    @Test func cleanLargeFolioWithoutATargetIsSplitAndItsPagesMigrate() throws {
        let m = makeMachine(nodes: 2, mib: 8)
        let f = m.createFile("f")
        let old = try cacheFolio(m, f, index: 0, order: 3, hasPrivate: true)   // clean buffers are released
        try isolate(m, [old])
        // Only order-0 targets exist for this caller: the order-3 folio gets none.
        let small: (PFN) -> PFN? = { src in m.phys.pages.folioOrder(src) == 0 ? m.phys.allocPage(node: 1, fallback: false) : nil }
        let r = Migrator(m).migratePages([old], allocate: small, mode: .sync, reason: .compaction, context: .kernel)
        #expect(!r.outOfMemory && r.splitFolios == 1)
        #expect(r.notMigrated == 1, "the split folio counts once as failed")
        #expect(r.pagesSucceeded == 8 && r.pagesFailed == 0)
        for i in 0..<8 {
            let p = try #require(f.folio(at: i))
            #expect(m.phys.nodeOf(p) == 1 && !m.phys.pages.isHead(p) && m.phys.pages.refcount(p) == 1, "index \(i)")
        }
        #expect(!(0..<8).contains { m.phys.pages.test(f.folio(at: $0)!, PageFlag.privateData) })
        expectStamps(m, f, pages: 8)
        #expect(Checker.check(m) == [])
        m.truncateFile(f)
        #expect(machineIsEmpty(m))
    }

    @Test(arguments: ["dirty+private", "writeback", "numa", "pinned"])
    func unsplittableLargeFolioEndsTheCallWithENOMEM(kind: String) throws {
        let m = makeMachine(nodes: 2, mib: 8)
        let f = m.createFile("f")
        let big = try cacheFolio(m, f, index: 0, order: 2, dirty: kind == "dirty+private",
                                 writeback: kind == "writeback", hasPrivate: kind == "dirty+private")
        let a = try cacheFolio(m, f, index: 4, order: 0), b = try cacheFolio(m, f, index: 5, order: 0)
        if kind == "pinned" { m.phys.pages.addRefs(big, 1) }
        try isolate(m, [big, a, b])
        let small: (PFN) -> PFN? = { src in m.phys.pages.folioOrder(src) == 0 ? m.phys.allocPage(node: 1, fallback: false) : nil }
        let r = Migrator(m).migratePages([big, a, b], allocate: small, mode: .async,
                                         reason: kind == "numa" ? .numaMisplaced : .compaction, context: .kernel)
        #expect(r.outOfMemory && r.splitFolios == 0, "\(kind)")
        #expect(r.outcomes[big] == .failed(.ENOMEM) && r.outcomes[a] == .failed(.ENOMEM) && r.outcomes[b] == .failed(.ENOMEM),
                "-ENOMEM stops the call: \(r.outcomes)")
        // pgmigrate_fail counts the folio that met -ENOMEM, not the two never tried.
        #expect(r.pagesFailed == 4 && r.notMigrated == 3)
        #expect(m.phys.pages.folioOrder(big) == 2 && f.folio(at: 3) == big, "the folio is intact")
        if kind == "pinned" { m.phys.putRefs(big, 1) }
        if kind == "writeback" { m.endFolioWriteback(big) }
        expectStamps(m, f, pages: 6)
        #expect(Checker.check(m) == [])
        m.truncateFile(f)
        #expect(machineIsEmpty(m))
    }

    @Test(arguments: [1, 4])
    func batchedEngineMigratesFoliosLikePageAtATime(batch: Int) throws {
        let m = makeMachine(nodes: 2, mib: 8)
        let f = m.createFile("f")
        let list = [try cacheFolio(m, f, index: 0, order: 2, dirty: true), try cacheFolio(m, f, index: 4, order: 0),
                    try cacheFolio(m, f, index: 8, order: 3, hasPrivate: true), try cacheFolio(m, f, index: 16, order: 1)]
        try isolate(m, list)
        var mig = Migrator(m)
        mig.batchSize = batch
        let r = mig.migratePages(list, allocate: folioOnNode(m, 1), mode: .sync, reason: .compaction, context: .kernel)
        #expect(r.succeeded == 4 && r.pagesSucceeded == 4 + 1 + 8 + 2, "batch \(batch)")
        expectStamps(m, f, indices: Array(0..<5) + Array(8..<18))
        #expect(Checker.check(m) == [])
        m.truncateFile(f)
        #expect(machineIsEmpty(m))
    }

    /// Truncation racing migration of the same folios: whatever the interleaving, no
    /// frame is lost and the checker is clean (safety only, no timing assumed).
    @Test(arguments: [UInt64(7), 8])
    func truncateRacingMigrationLosesNothing(seed: UInt64) throws {
        let m = makeMachine(nodes: 2, mib: 8)
        var rng = SplitMix64(seed: seed)
        for it in 0..<20 {
            let f = m.createFile("f\(it)")
            var heads: [PFN] = []
            for i in 0..<4 { heads.append(try cacheFolio(m, f, index: i * 4, order: 2, dirty: i % 2 == 0)) }
            let delay = rng.below(3_000)
            let hs = heads
            ModelThreads.runConcurrently([
                ("migrator", {
                    var list: [PFN] = []
                    for h in hs where m.phys.lruOf(h).isolate(h) { list.append(h) }
                    _ = Migrator(m).migratePages(list, allocate: folioOnNode(m, 1), mode: .sync, reason: .compaction, context: .kernel)
                }),
                ("truncate", {
                    var x = 0
                    for k in 0..<delay { x &+= k }
                    if x == -1 { print(x) }
                    m.truncateFile(f)
                }),
            ])
            m.truncateFile(f)   // what the race left (a folio put back after its removal pass)
            let v = Checker.check(m)
            #expect(v.isEmpty, "seed \(seed) iteration \(it): \(describe(v))")
            #expect(machineIsEmpty(m), "seed \(seed) iteration \(it): frames left")
            if !v.isEmpty { break }
        }
    }
}
