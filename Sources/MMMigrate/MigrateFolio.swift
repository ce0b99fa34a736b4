// Migration of page-cache folios and the split of a large folio that got no target
// (Linux: mm/migrate.c __folio_migrate_mapping, folio_expected_refs, migrate_folio /
// buffer_migrate_folio, try_split_folio; mm/huge_memory.c split_huge_page_to_list_to_order;
// mm/filemap.c filemap_release_folio). The page cache itself is MMSpace/PageCache.swift.
//
// A page-cache folio is never mapped, so it needs no unmap and no anon_vma: under its
// page lock the reference count is compared with what the cache, private data and
// our isolation hold, frozen, and the cache slot switched to the new folio under the
// mapping's lock; dirty and private data move with it; the old folio is freed whole.

import MMPhysical
import MMSpace
import MMSync

/// The folios split during one migratePages call and their order-0 pages.
struct SplitList {
    /// Linux: !nosplit — NUMA-misplaced migration never splits.
    let allowed: Bool
    var heads = Set<PFN>()
    var pages: [PFN] = []
}

extension Migrator {
    /// Linux: __folio_migrate_mapping + folio_migrate_flags + the content copy, for a
    /// folio of `file`. Caller holds the old folio's lock; `new` is a fresh folio of
    /// the same order (refcount 1). -EAGAIN if anyone holds an unexpected reference or
    /// the folio left the cache.
    func moveFileFolio(_ old: PFN, _ new: PFN, _ file: FileMapping) -> PageOutcome {
        let phys = machine.phys, pages = phys.pages
        let nr = pages.folioPages(old)
        let hasPrivate = pages.test(old, PageFlag.privateData)
        // Linux: folio_expected_refs + our isolation reference.
        let expected = Machine.pageCacheRefs(pages: nr, hasPrivate: hasPrivate) + 1
        guard !pages.isMapped(old) else { return .failed(.EAGAIN) }
        let index = Int(pages.index(old))
        let moved: Bool = file.lock.withLock {
            guard pages.mapping(old) == file.encoded, pages.freezeRefs(old, expected: expected) else { return false }
            guard file.replaceLocked(index: index, pages: nr, old: old, new: new) else {
                pages.unfreezeRefs(old, expected)
                return false
            }
            // The cache's (and the buffers') references move to the new folio; the old
            // keeps only ours, dropped when it is freed.
            pages.addRefs(new, expected - 1)
            pages.unfreezeRefs(old, 1)
            pages.setMapping(new, file.encoded)
            pages.setIndex(new, UInt32(index))
            pages.setMapping(old, 0)
            return true
        }
        guard moved else { return .failed(.EAGAIN) }
        for i in 0..<nr { phys.frames.copy(from: old + PFN(i), to: new + PFN(i)) }
        // Linux: folio_migrate_flags (dirty) and the private data's move
        // (buffer_migrate_folio → folio_attach_private on the new folio).
        let carried = pages.flags(old) & (PageFlag.dirty | PageFlag.privateData)
        pages.setFlags(new, carried)
        pages.clearFlags(old, carried)
        Sched.note("copy folio pfn \(old) → pfn \(new) (\(nr) pages, \(file))")
        return .migrated(to: new)
    }

    /// Linux: try_split_folio → split_folio_to_list. Splits the isolated, unlocked large
    /// folio `head` into order-0 folios that stay isolated (one reference each for us,
    /// one for the cache) and returns them, head first; nil if it cannot be split now:
    /// the lock is held elsewhere, it is under writeback, its private data cannot be
    /// released (filemap_release_folio fails on a dirty folio), or someone holds an
    /// unexpected reference (can_split_folio). Only page-cache folios are large here.
    func trySplitFolio(_ head: PFN) -> [PFN]? {
        let phys = machine.phys, pages = phys.pages
        guard pages.isHead(head), let file = machine.pageCache.file(encoded: pages.mapping(head)) else { return nil }
        guard phys.trylockPage(head) else { return nil }
        defer { phys.unlockPage(head) }
        let nr = pages.folioPages(head), order = pages.folioOrder(head)
        guard pages.mapping(head) == file.encoded, !pages.test(head, PageFlag.writeback) else { return nil }
        if pages.test(head, PageFlag.privateData) {
            // Linux: filemap_release_folio → try_to_free_buffers: dirty buffers stay.
            guard !pages.test(head, PageFlag.dirty) else { return nil }
            pages.clearFlags(head, PageFlag.privateData)
            phys.putPage(head)   // the buffers' reference; the cache's keep it alive
        }
        let index = Int(pages.index(head))
        let ok: Bool = file.lock.withLock {
            guard pages.freezeRefs(head, expected: Int32(nr) + 1) else { return false }
            let dirty = pages.flags(head) & PageFlag.dirty
            pages.clearCompound(head, order: order)
            for i in 0..<nr {
                let p = head + PFN(i)
                file.setSlotLocked(index + i, p)
                pages.setMapping(p, file.encoded)
                pages.setIndex(p, UInt32(index + i))
                if i > 0 {
                    pages.setFlags(p, PageFlag.isolated | dirty)
                    pages.unfreezeRefs(p, 2)
                }
            }
            pages.unfreezeRefs(head, 2)
            return true
        }
        guard ok else { return nil }
        Sched.note("split folio pfn \(head) order \(order) of \(file) into \(nr) pages")
        return (0..<nr).map { head + PFN($0) }
    }
}
