// Invariants of large folios and the page cache (PageDescriptors.swift has the compound
// encoding, MMSpace/PageCache.swift the reference rule). Each rule has a test that
// corrupts exactly that state (Tests/MMCheckTests/FolioCheckerTests.swift).

import MMPhysical
import MMSpace
import MMSync

extension Checker {
    /// Checks `pfn` if it is a tail, a large-folio head or a page-cache folio; returns
    /// true when it did (the generic refcount rules do not apply to it then).
    static func checkFolioPage(_ machine: Machine, _ pfn: PFN, flags f: UInt32, wantMap: Int32, pins: Int32,
                               _ out: inout [Violation]) -> Bool {
        let pages = machine.phys.pages
        let ref = pages.refcount(pfn), map = pages.mapcount(pfn)
        if f & PageFlag.tail != 0 {
            let head = pages.compoundHead(pfn)
            let covered = head < pfn && pages.isHead(head) && Int(pfn - head) < pages.folioPages(head)
            if !covered {
                out.append(Violation(.accounting, "pfn \(pfn): tail page names pfn \(head), which is no head whose order covers it"))
            }
            if f != PageFlag.tail || ref != 0 || map != 0 || wantMap != 0 || pins != 0 {
                out.append(Violation(.refcount, "pfn \(pfn): tail of folio \(head) with flags \(PageFlag.describe(f)) refcount \(ref) mapcount \(map) (a tail holds nothing)"))
            }
            return true
        }
        if f & PageFlag.head != 0 { checkHead(machine, pfn, &out) }
        let mapping = pages.mapping(pfn)
        guard FileMapping.isFile(mapping) else {
            if f & (PageFlag.dirty | PageFlag.writeback | PageFlag.privateData) != 0, f & PageFlag.anon == 0 {
                out.append(Violation(.accounting, "pfn \(pfn): \(PageFlag.describe(f & (PageFlag.dirty | PageFlag.writeback | PageFlag.privateData))) but in no page cache and not anonymous"))
            }
            return false
        }
        let nr = pages.folioPages(pfn)
        let want = Machine.pageCacheRefs(pages: nr, hasPrivate: f & PageFlag.privateData != 0)
        if map != 0 || wantMap != 0 || pins != 0 {
            out.append(Violation(.mapcount, "pfn \(pfn): page-cache folio with mapcount \(map), \(wantMap) PTEs, \(pins) pins (page-cache folios are never mapped)"))
        }
        if ref != want {
            out.append(Violation(.refcount, "pfn \(pfn): page-cache folio of \(nr) page\(nr == 1 ? "" : "s") with refcount \(ref), expected \(want) (folio_nr_pages\(f & PageFlag.privateData != 0 ? " + private" : ""))"))
        }
        if f & PageFlag.lru == 0 {
            out.append(Violation(.accounting, "pfn \(pfn): page-cache folio not on the LRU"))
        }
        if f & PageFlag.isolated != 0 {
            out.append(Violation(.accounting, "pfn \(pfn): still isolated at a quiet point"))
        }
        guard let file = machine.pageCache.file(encoded: mapping) else {
            out.append(Violation(.accounting, "pfn \(pfn): page->mapping names file #\(mapping & ~FileMapping.mappingTag), which does not exist"))
            return true
        }
        let index = Int(pages.index(pfn))
        if let wrong = (index..<(index + nr)).first(where: { file.folio(at: $0) != pfn }) {
            out.append(Violation(.accounting, "pfn \(pfn): \(file) index \(index) (\(nr) pages) but the cache has \(file.folio(at: wrong).map { "pfn \($0)" } ?? "nothing") at index \(wrong)"))
        }
        return true
    }

    /// A head's order fits, it is aligned, and every page it covers is its tail.
    private static func checkHead(_ machine: Machine, _ pfn: PFN, _ out: inout [Violation]) {
        let pages = machine.phys.pages
        let order = pages.folioOrder(pfn), nr = 1 << order
        guard order >= 1, order <= maxOrder, Int(pfn) & (nr - 1) == 0, Int(pfn) + nr <= machine.phys.totalPages else {
            out.append(Violation(.accounting, "pfn \(pfn): folio head of order \(order) that does not fit (misaligned or beyond memory)"))
            return
        }
        for i in 1..<nr {
            let t = pfn + PFN(i)
            if !pages.isTail(t) || pages.compoundHead(t) != pfn {
                out.append(Violation(.accounting, "pfn \(t): inside order-\(order) folio \(pfn) but not its tail (flags \(PageFlag.describe(pages.flags(t))))"))
                return
            }
        }
    }

    /// Every page-cache slot names a folio of that file that covers the index.
    static func checkPageCaches(_ machine: Machine, _ out: inout [Violation]) {
        let pages = machine.phys.pages
        for file in machine.pageCache.all {
            for (index, head) in file.allSlots() {
                guard Int(head) < machine.phys.totalPages else {
                    out.append(Violation(.accounting, "\(file) index \(index): slot names pfn \(head) beyond memory"))
                    continue
                }
                let start = Int(pages.index(head)), nr = pages.folioPages(head)
                if pages.mapping(head) != file.encoded || pages.isTail(head) || index < start || index >= start + nr {
                    out.append(Violation(.accounting, "\(file) index \(index): slot names pfn \(head), whose mapping/index say otherwise (flags \(PageFlag.describe(pages.flags(head))), index \(start))"))
                }
            }
        }
    }
}
