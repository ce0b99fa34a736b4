// The page cache (Linux: mm/filemap.c, struct address_space and its i_pages): files whose
// folios sit in memory, index → folio, each folio on the LRU and migratable like an
// anonymous page, but never mapped into an address space (mapping page-cache folios into
// processes is out of scope: their mapcount is always 0).
//
// Reference rule (Linux: folio_expected_refs in mm/migrate.c): a folio in the cache
// holds folio_nr_pages references for the cache, plus one while it has private data
// (buffer heads). Nothing else holds one at a quiet point; isolation adds one.
//
// Locking: `FileMapping.lock` (Linux: the i_pages xa_lock) protects the index table;
// it is taken under the page lock (migration, split, truncation) and nothing is taken
// inside it.

import MMPhysical
import MMSync

/// One file's page cache (Linux: struct address_space).
public final class FileMapping: @unchecked Sendable, CustomStringConvertible {
    public let id: UInt32
    public let name: String
    /// Linux: mapping->i_pages.xa_lock.
    public let lock = ModelMutex("i_pages")
    /// Every page index a folio covers → that folio's head (Linux: a multi-index xarray
    /// entry covers the folio's 2^order indices). Under `lock`.
    var slots: [Int: PFN] = [:]

    /// page->mapping of a page-cache folio: this tag | id. Bit 63 keeps it apart from an
    /// anon_vma reference (generation << 32 | slot + 1; generations stay far below 2^31).
    public static let mappingTag: UInt64 = 1 << 63
    public var encoded: UInt64 { Self.mappingTag | UInt64(id) }
    /// True if a page->mapping value names a file, not an anon_vma.
    @inline(__always) public static func isFile(_ mapping: UInt64) -> Bool { mapping & mappingTag != 0 }

    init(id: UInt32, name: String) {
        self.id = id
        self.name = name
    }

    public var description: String { "file \(name)" }

    /// The folio covering `index`, if any (Linux: filemap_get_folio without a reference).
    public func folio(at index: Int) -> PFN? { lock.withLock { slots[index] } }

    /// Every folio once: (index of its first page, head), lowest index first.
    public func folios() -> [(index: Int, head: PFN)] {
        let all = lock.withLock { slots }
        var seen = Set<PFN>()
        return all.sorted { $0.key < $1.key }.compactMap { seen.insert($0.value).inserted ? ($0.key, $0.value) : nil }
    }

    /// Every slot, index → head, lowest index first (the checker's view).
    public func allSlots() -> [(index: Int, head: PFN)] {
        lock.withLock { slots }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Switches every slot of `old` to `new` (Linux: __folio_migrate_mapping's
    /// xas_store loop). Caller holds `lock`; false if `old` is not at `index`.
    public func replaceLocked(index: Int, pages: Int, old: PFN, new: PFN) -> Bool {
        guard slots[index] == old else { return false }
        for i in index..<(index + pages) { slots[i] = new }
        return true
    }

    /// Points slot `index` at `pfn` (a split gives each page its own slot). Under `lock`.
    public func setSlotLocked(_ index: Int, _ pfn: PFN) { slots[index] = pfn }
}

/// Every file of one machine.
public final class PageCacheRegistry: @unchecked Sendable {
    private let lock = PlainLock()
    private var files: [FileMapping] = []

    public init() {}

    /// Every file, in creation order.
    public var all: [FileMapping] { lock.withLock { files } }

    /// The file a page->mapping value names, or nil.
    public func file(encoded: UInt64) -> FileMapping? {
        guard FileMapping.isFile(encoded) else { return nil }
        let id = Int(encoded & ~FileMapping.mappingTag)
        return lock.withLock { id < files.count ? files[id] : nil }
    }

    /// The file called `name`, created if new.
    func file(named name: String) -> FileMapping {
        lock.withLock {
            if let f = files.first(where: { $0.name == name }) { return f }
            let f = FileMapping(id: UInt32(files.count), name: name)
            files.append(f)
            return f
        }
    }
}

extension Machine {
    /// The file called `name` (Linux: an inode's address_space); the same object each time.
    public func createFile(_ name: String) -> FileMapping { pageCache.file(named: name) }

    /// Linux: folio_expected_refs() without the caller's reference: what the cache and
    /// private data hold on a page-cache folio of `pages` pages.
    public static func pageCacheRefs(pages: Int, hasPrivate: Bool) -> Int32 { Int32(pages) + (hasPrivate ? 1 : 0) }

    /// Makes the allocated frames [head, head + 2^order) a page-cache folio of `file` at
    /// `index` (on the LRU). Throws (no trap) if the frames are not allocated, or a
    /// folio is already at that index.
    ///
    /// The frames come from allocPages / allocFolio (head refcount 1, tails 0) or one by
    /// one (refcount 1 each, no other owner): the caller's allocation references become
    /// the cache's (Linux: __filemap_add_folio takes folio_nr_pages references).
    /// EINVAL: misaligned head or index, order out of range, frames beyond memory, free,
    /// mapped, on the LRU or owned by anything else; EEXIST: an index is taken.
    public func addToPageCache(_ file: FileMapping, index: Int, head: PFN, order: Int,
                               dirty: Bool, writeback: Bool, hasPrivate: Bool) throws {
        let nr = 1 << max(order, 0)
        guard order >= 0, order <= maxOrder, index >= 0, index % nr == 0, index + nr <= Int(UInt32.max),
              Int(head) % nr == 0, Int(head) + nr <= phys.totalPages else { throw Errno.EINVAL }
        try checkAddable(head: head, order: order)
        let pages = phys.pages
        let taken: Bool = file.lock.withLock {
            if (index..<(index + nr)).contains(where: { file.slots[$0] != nil }) { return true }
            pages.setFolioRefcount(head, pages: nr, to: Self.pageCacheRefs(pages: nr, hasPrivate: hasPrivate))
            if order > 0, !pages.isHead(head) { pages.prepCompound(head, order: order) }
            var f: UInt32 = 0
            if dirty { f |= PageFlag.dirty }
            if writeback { f |= PageFlag.writeback }
            if hasPrivate { f |= PageFlag.privateData }
            pages.setFlags(head, f)
            pages.setMapping(head, file.encoded)
            pages.setIndex(head, UInt32(index))
            for i in index..<(index + nr) { file.slots[i] = head }
            return false
        }
        if taken { throw Errno.EEXIST }
        phys.lruOf(head).add(head)
        Sched.note("page cache \(file.name): index \(index) → pfn \(head) order \(order)")
    }

    /// The frames of an add must be allocated and owned by the caller alone.
    private func checkAddable(head: PFN, order: Int) throws {
        let pages = phys.pages, nr = 1 << order
        // Unmovable pages (allocateUnmovable, unmovable kernel blocks) carry
        // PageFlag.unmovable and fail the flag tests below; movable kernel blocks carry no
        // flag, so their ranges are checked — without building a set of every kernel page
        // on each add (a replay makes hundreds of thousands of adds).
        let end = Int(head) + nr
        if kernelBlocks.contains(where: { $0.migratetype == .movable && Int($0.head) < end && Int(head) < Int($0.head) + (1 << $0.order) }) {
            throw Errno.EINVAL
        }
        let headOK = pages.isHead(head) && pages.folioOrder(head) == order
        for i in 0..<nr {
            let p = head + PFN(i)
            let f = pages.flags(p) & ~PageFlag.waiters
            if pages.mapcount(p) != 0 || pages.mapping(p) != 0 { throw Errno.EINVAL }
            if i == 0 {
                guard pages.refcount(p) == 1, f & ~(PageFlag.head | PageFlag.orderMask) == 0 else { throw Errno.EINVAL }
            } else if headOK {
                guard f == PageFlag.tail, pages.compoundHead(p) == head else { throw Errno.EINVAL }
            } else {
                // A tail of a plain block (refcount 0: not free, else it would be a
                // buddy page) or a page allocated on its own (refcount 1).
                guard f == 0, pages.refcount(p) <= 1, !phys.isInFreeBlock(p) else { throw Errno.EINVAL }
            }
        }
        if pages.isHead(head), !headOK { throw Errno.EINVAL }
    }

    /// Takes the folio at `index` out of `file` and drops the cache's references
    /// (Linux: truncate_inode_folio → filemap_remove_folio, with the folio locked;
    /// writeback is waited for by truncation, and the model's I/O completes here, as
    /// nobody else would end it). Private data is released first (try_to_free_buffers
    /// after the write-out). ENOENT if no folio starts at `index`; EBUSY if migration
    /// replaced it more than `removeRetries` times meanwhile.
    public func removeFromPageCache(_ file: FileMapping, index: Int) throws {
        let pages = phys.pages
        // Bounded: each retry follows a migration that replaced the folio under us.
        for _ in 0..<Self.removeRetries {
            guard let head = file.folio(at: index), pages.index(head) == UInt32(truncatingIfNeeded: index) else { throw Errno.ENOENT }
            // A reference first (Linux: find_lock_entries → folio_try_get): without it a
            // migration could free the folio, and its frame be reused, between the
            // lookup and the lock — and we would lock and unlock someone else's page.
            // Zero references: frozen by a migration or freed; look again.
            guard pages.getRefUnlessZero(head) else {
                Sched.yieldHint("truncate \(file.name): folio at \(index) frozen or freed, retry")
                continue
            }
            phys.lockPage(head)
            // Re-check under the page lock: migration may have replaced the folio.
            let still: Bool = file.lock.withLock { file.slots[index] == head && pages.mapping(head) == file.encoded }
            guard still else { phys.unlockPage(head); phys.putPage(head); continue }
            if pages.test(head, PageFlag.writeback) { phys.endWriteback(head) }
            let nr = pages.folioPages(head)
            let hadPrivate = pages.test(head, PageFlag.privateData)
            file.lock.withLock {
                for i in index..<(index + nr) where file.slots[i] == head { file.slots[i] = nil }
                pages.setMapping(head, 0)
            }
            pages.clearFlags(head, PageFlag.dirty | PageFlag.privateData)
            phys.unlockPage(head)
            phys.putRefs(head, Self.pageCacheRefs(pages: nr, hasPrivate: hadPrivate) + 1)   // + our lookup reference
            return
        }
        throw Errno.EBUSY
    }

    /// Retries of a removal that keeps losing its folio to migration (EBUSY after).
    static let removeRetries = 1000

    /// Removes every folio of `file` (Linux: truncate_inode_pages(mapping, 0)).
    public func truncateFile(_ file: FileMapping) {
        for (index, _) in file.folios() { try? removeFromPageCache(file, index: index) }
    }

    /// Ends writeback of a page-cache folio (Linux: folio_end_writeback). The cache's
    /// references stay: writeback holds none of its own here.
    public func endFolioWriteback(_ head: PFN) {
        phys.endWriteback(head)
        Sched.note("writeback pfn \(head) ended")
    }

    /// Marks a page-cache folio under writeback (Linux: folio_start_writeback, under the
    /// folio lock). EINVAL if `head` is no page-cache folio; EBUSY if already under writeback.
    public func startFolioWriteback(_ head: PFN) throws {
        let pages = phys.pages
        guard Int(head) < phys.totalPages, FileMapping.isFile(pages.mapping(head)) else { throw Errno.EINVAL }
        phys.lockPage(head)
        defer { phys.unlockPage(head) }
        guard FileMapping.isFile(pages.mapping(head)) else { throw Errno.EINVAL }
        if pages.test(head, PageFlag.writeback) { throw Errno.EBUSY }
        phys.setWriteback(head)
    }
}
