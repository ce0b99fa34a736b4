// The runner's side of the page cache: the `pagecache` statement, and the completion
// of a page-cache folio's writeback when a sync migration waits for it (the model has
// no I/O; nothing else would end it).

import MMMigrate
import MMPhysical
import MMSpace

extension ScenarioRunner {
    /// `pagecache NAME folios=N order=K …`: each folio is an order-K allocation on the
    /// node (Linux: filemap_alloc_folio, no other node) added at the file's next free
    /// indices. Status: each folio's head, or -ENOMEM for one that got no memory (the
    /// statement then fails with ENOMEM; the folios made before it stay).
    func performPageCache(_ op: Op, _ r: inout StatementResult) throws(Errno) {
        guard case let .pageCache(name, folios, order, dirty, writeback, hasPrivate, node) = op else {
            preconditionFailure("performPageCache: \(op.name) is not the pagecache statement")
        }
        let file = machine.createFile(name)
        let nr = 1 << order
        var status: [Int] = []
        // The next index aligned to the folio (Linux keeps folios naturally aligned).
        let end = file.folios().map { Int(machine.phys.pages.index($0.head)) + machine.phys.pages.folioPages($0.head) }.max() ?? 0
        var index = (end + nr - 1) / nr * nr
        for _ in 0..<folios {
            defer { index += nr }
            guard let head = machine.phys.allocFolio(node: node, order: order, .movable, fallback: false) else {
                status.append(-Int(Errno.ENOMEM.rawValue))
                continue
            }
            do {
                try machine.addToPageCache(file, index: index, head: head, order: order,
                                           dirty: dirty, writeback: writeback, hasPrivate: hasPrivate)
                status.append(Int(head))
            } catch {
                machine.phys.putPage(head)
                status.append(-Int((error as? Errno ?? .EINVAL).rawValue))
            }
        }
        r.status = status
        if let bad = status.first(where: { $0 < 0 }) { throw Errno(rawValue: Int32(-bad)) ?? .ENOMEM }
    }

    /// Ends the writeback of a page-cache folio a migration is about to wait for;
    /// false if `pfn` is no page-cache folio under writeback.
    func completePageCacheWriteback(_ pfn: PFN) -> Bool {
        let pages = machine.phys.pages
        guard FileMapping.isFile(pages.mapping(pfn)), pages.test(pfn, PageFlag.writeback) else { return false }
        machine.endFolioWriteback(pfn)
        return true
    }
}
