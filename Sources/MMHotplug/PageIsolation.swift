// Page isolation (Linux: mm/page_isolation.c start_isolate_page_range,
// undo_isolate_page_range, has_unmovable_pages, test_pages_isolated).
//
// Isolating a range turns its pageblocks into MIGRATE_ISOLATE under the zone lock and
// moves their free pages onto the isolate free lists. From then on:
//   - no allocation lands there: no allocation asks for MIGRATE_ISOLATE, none falls
//     back to it, and a chosen-target take (compaction's free scanner) refuses it;
//   - a page freed there stays there: the free path files it by its pageblock's type
//     and never merges it with a buddy of another type.
// The range must be pageblock-aligned and lie in one zone (a memory block does).

import MMPhysical
import MMSync

/// Why isolating a range failed.
public struct IsolationFailure: Sendable, Equatable {
    /// The first unmovable page found (Linux's dump_page(…, "unmovable page")).
    public let unmovablePFN: PFN
}

/// The isolation side of one zone range.
public struct PageIsolation: Sendable {
    public let zone: Zone
    public let start: PFN
    public let end: PFN
    let pages: PageDescriptors

    public init(phys: PhysicalMemory, zone: Zone, start: PFN, end: PFN) {
        precondition(zone.contains(start) && zone.contains(end - 1),
                     "isolation range \(start)..<\(end) not inside zone \(zone.node)/\(zone.name)")
        precondition(Int(start) % pageblockPages == 0 && Int(end) % pageblockPages == 0,
                     "isolation range \(start)..<\(end) not pageblock-aligned")
        self.zone = zone
        self.start = start
        self.end = end
        pages = phys.pages
    }

    /// Linux: has_unmovable_pages() — the first page of pageblock [pb, pb+512) that
    /// migration can never move, or nil. Free pages and LRU/isolated pages are movable;
    /// in the Movable zone every non-reserved page is assumed movable, as in Linux.
    /// Racy without the zone lock (as in Linux): callers hold it to decide.
    func firstUnmovable(inPageblock pb: PFN) -> PFN? {
        if zone.kind == .movable { return nil }
        var p = pb
        let end = pb + PFN(pageblockPages)
        while p < end {
            let f = pages.flags(p)
            if f & PageFlag.buddy != 0 {
                p += PFN(1) << PFN(pages.buddyOrder(p))
                continue
            }
            if f & PageFlag.unmovable != 0 || f & PageFlag.reserved != 0 { return p }
            p += 1
        }
        return nil
    }

    /// Linux: start_isolate_page_range(…, MIGRATE_MOVABLE, MEMORY_OFFLINE | REPORT_FAILURE).
    /// Checks every pageblock for unmovable pages and isolates the whole range, under
    /// one hold of the zone lock; on an unmovable page nothing is isolated.
    public func isolate() -> IsolationFailure? {
        zone.lock.withLock { () -> IsolationFailure? in
            var pb = start
            while pb < end {
                if let bad = firstUnmovable(inPageblock: pb) { return IsolationFailure(unmovablePFN: bad) }
                pb += PFN(pageblockPages)
            }
            zone.moveFreePagesLocked(from: start, to: end, .isolate)
            return nil
        }
    }

    /// Linux: undo_isolate_page_range(…, MIGRATE_MOVABLE) — every pageblock becomes
    /// movable again and its free pages return to the movable lists.
    public func undo() {
        zone.lock.withLock {
            for pb in stride(from: start, to: end, by: pageblockPages) {
                precondition(zone.pageblockType(of: pb) == .isolate,
                             "undo isolation: pageblock \(pb) of zone \(zone.node)/\(zone.name) is not isolated")
            }
            zone.moveFreePagesLocked(from: start, to: end, .movable)
        }
    }

    /// Linux: test_pages_isolated() — true when every page of the range is free on an
    /// isolate list (and every pageblock isolated). Under the zone lock, so a page
    /// being freed right now is either counted free or not yet.
    public func allFreeAndIsolated() -> Bool {
        zone.lock.withLock {
            var p = start
            while p < end {
                guard zone.pageblockType(of: p) == .isolate else { return false }
                let f = pages.flags(p)
                guard f & PageFlag.buddy != 0, pages.buddyMigrateType(p) == .isolate else { return false }
                p += PFN(1) << PFN(pages.buddyOrder(p))
            }
            return true
        }
    }
}
