// Walking the populated part of a range (Linux: mm/pagewalk.c walk_page_range(), which
// skips empty pmd and pte levels): the cost follows the tables that exist, never the
// size of the range.

import MMPhysical
import MMSync

extension Machine {
    /// The non-empty entries (present or migration) of [start, end), by address, each
    /// read under its table's ptl; unpopulated tables cost nothing. The entries may
    /// change once the ptl is dropped: callers re-check what they act on (as Linux's
    /// queue_pages_range isolates and migration then re-checks under the page lock).
    public func populatedPTEs(_ mm: MM, _ start: UInt64, _ end: UInt64) -> [(addr: UInt64, pte: PTE)] {
        var out: [(addr: UInt64, pte: PTE)] = []
        for t in mm.pageTable.tables(in: start, end) {
            var (a, stop) = PageTable.clip(t, start, end)
            mm.pageTable.noteVisited(Int((stop - a) >> 12))
            t.ptl.lock()
            while a < stop {
                let pte = t[a]
                if !pte.isNone { out.append((a, pte)) }
                a += 4096
            }
            t.ptl.unlock()
        }
        return out
    }
}
