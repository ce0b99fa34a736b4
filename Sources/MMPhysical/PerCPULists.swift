// The per-CPU free lists of a replayed machine, as far as compaction's outcome depends
// on them (Linux: struct per_cpu_pages; free_frozen_page_commit → free_pcppages_bulk).
//
// In Linux a freed order-0 page first joins the freeing CPU's list (pcp), not the buddy.
// Only when the list holds `high` pages does a free push pages out, oldest first, into
// the buddy, where the free scanner can find them. Since 6.7 `high` tunes itself up to
// `high_max` on allocation-heavy work: after a process faulted in gigabytes and then freed
// every other page, one CPU's list may hold 250 000 pages. Those read "flags 0, count 0"
// in a snapshot and are no migration target — until compaction, which frees one source
// page per page it migrates on its own CPU, pushes as many of them into the buddy once
// that CPU's list is full. That is where the kernel finds targets a snapshot shows none
// for (docs/FIDELITY.md, run r1).
//
// The model frees straight to the buddy everywhere else. Here a machine rebuilt from a
// snapshot hands its "flags 0, count 0" placeholder frames (allocated, refcount 1, no
// flags) to one `PerCPULists` per zone with the compacting CPU's count and high; each
// page compaction migrates first fills the list's headroom (high − count), then pushes
// one placeholder into the buddy. Which placeholder is oldest is not in a snapshot; the
// choice is uniform over the placeholders, drawn from a fixed seed (the same replay gives
// the same answer). Not modelled: the vmstat worker's decay (at most batch << 5 pages per
// CPU and second, Linux: decay_pcp_high), the other CPUs' lists, and the source pages
// themselves staying on the list (the model's go to the buddy at once).

import MMSync

/// One zone's per-CPU list of the compacting CPU, holding placeholder frames. Which of a
/// zone's placeholders are this CPU's is not in a snapshot either: the list draws its
/// `count` pages from all of them as it pushes.
public final class PerCPULists: @unchecked Sendable {
    /// The zone's placeholder frames, in no order; those at `remaining` and above have
    /// been pushed.
    private var held: [PFN]
    /// Placeholders not yet pushed (by any CPU).
    private var remaining: Int
    /// Pages the compacting CPU's own list still holds from before the compaction.
    private var ownRemaining: Int
    /// Frees the list absorbs before it pushes (high − count, at least 0).
    private var headroom: Int
    private var rng: SplitMix64
    private let lock = PlainLock()
    private var pushedCount = 0
    /// Placeholders pushed into the buddy so far.
    public var pushed: Int { lock.withLock { pushedCount } }

    /// `held`: the placeholder frames of one zone (every one allocated, refcount 1, no
    /// flags, owned by this list from now on); `count` and `high`: the compacting CPU's
    /// list in that zone (its zoneinfo "pagesets" entry).
    public init(held: [PFN], count: Int, high: Int, seed: UInt64 = 0x7063_705f_7265_706c) {
        self.held = held
        remaining = held.count
        // The list holds `count` pages: once as many were pushed, what it pushes next are
        // the compaction's own freed sources (already in the model's buddy).
        ownRemaining = max(0, count)
        headroom = max(0, high - count)
        rng = SplitMix64(seed: seed)
    }

    /// Pushes `pages` held frames into the buddy now, whatever the headroom: the lists of
    /// the other CPUs as the vmstat worker shrinks them (Linux: decay_pcp_high).
    public func push(_ pages: Int, phys: PhysicalMemory) {
        let out = lock.withLock { draw(pages) }
        for pfn in out { phys.putPage(pfn) }
    }

    /// Takes up to `n` placeholders at random; caller holds the lock.
    private func draw(_ n: Int) -> [PFN] {
        var n = min(n, remaining)
        var out: [PFN] = []
        out.reserveCapacity(n)
        while n > 0 {   // bounded: n ≤ remaining, which falls by one each time
            let i = rng.below(remaining)
            remaining -= 1
            held.swapAt(i, remaining)
            out.append(held[remaining])
            n -= 1
        }
        pushedCount += out.count
        return out
    }

    /// `pages` source pages were freed by the CPU that owns this list (Linux:
    /// free_frozen_page_commit at pcp->high → free_pcppages_bulk): the headroom absorbs
    /// what it can, each page beyond pushes one held frame into the buddy.
    public func sourcePagesFreed(_ pages: Int, phys: PhysicalMemory) {
        guard pages > 0 else { return }
        let out: [PFN] = lock.withLock {
            let absorbed = min(headroom, pages)
            headroom -= absorbed
            let n = min(pages - absorbed, ownRemaining)
            ownRemaining -= n
            return draw(n)
        }
        for pfn in out { phys.putPage(pfn) }
    }
}
