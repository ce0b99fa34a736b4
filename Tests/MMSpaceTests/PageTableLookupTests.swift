// The page-table directory's lookups (MMSpace/PageTable.swift): the direct-index fast
// path for consecutive tables must agree with the binary search on every shape of
// directory, and the unretained lookup the rmap walks use with the retained one.

import Testing
@testable import MMSpace

@Suite struct PageTableLookupTests {
    static let span: UInt64 = 1 << 21

    /// Every table present is found, every absent one is not, and both lookups agree.
    func checkAgree(_ pt: PageTable, present: Set<UInt64>, probe: ClosedRange<UInt64>) {
        for k in probe {
            let addr = k * Self.span + 0x3000
            let t = pt.table(for: addr, allocate: false)
            let u = pt.tableUnretained(for: addr)?.takeUnretainedValue()
            #expect((t != nil) == present.contains(k), "key \(k): found \(t != nil), present \(present.contains(k))")
            #expect(t === u, "key \(k): the unretained lookup gives another table")
            if let t { #expect(t.base == k * Self.span, "key \(k): table of base \(t.base)") }
        }
    }

    @Test func consecutiveTablesAreFoundByIndex() {
        let pt = PageTable()
        let keys = Set<UInt64>(100..<164)
        for k in keys { _ = pt.table(for: k * Self.span, allocate: true) }
        checkAgree(pt, present: keys, probe: 90...170)
    }

    @Test func gapsAndInsertionsBelowTheFirstTableStillResolve() {
        let pt = PageTable()
        // Inserted out of order, with holes, below the first key and far above: the
        // guess (key − first key) then names the wrong slot or none, and the binary
        // search must take over.
        var keys: Set<UInt64> = []
        for k: UInt64 in [50, 51, 52, 60, 61, 7, 400, 53, 3, 1000] {
            _ = pt.table(for: k * Self.span + 0x1000, allocate: true)
            keys.insert(k)
            checkAgree(pt, present: keys, probe: 0...64)
        }
        checkAgree(pt, present: keys, probe: 390...410)
        checkAgree(pt, present: keys, probe: 995...1005)
        #expect(pt.allTables().map(\.base) == keys.sorted().map { $0 * Self.span }, "the directory stays sorted")
    }

    @Test func emptyDirectoryFindsNothing() {
        let pt = PageTable()
        #expect(pt.table(for: 0x1000_0000, allocate: false) == nil)
        #expect(pt.tableUnretained(for: 0x1000_0000) == nil)
    }
}
