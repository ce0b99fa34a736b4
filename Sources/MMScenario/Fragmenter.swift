// Fragmenters for `mmlab compact` (docs/COMPACTION.md: `--fragment alternate|random:P|unmovable:P`):
// they bring a freshly booted machine into a known fragmented state through the model's
// own user paths — one process faults every frame in, then gives pages back with
// madvise(MADV_DONTNEED) — so every page left in use is a real, checked mapping.

import MMPhysical
import MMSpace
import MMSync

/// How to fragment a machine.
public enum FragmentKind: Sendable, Equatable, CustomStringConvertible {
    /// Leave the machine as booted.
    case none
    /// Fill memory with one process's pages, then free every other frame (odd PFNs).
    case alternate
    /// Fill memory, then free each page with probability P.
    case random(Double)
    /// `alternate`, then one unmovable kernel page in a fraction P of the pageblocks.
    case unmovable(Double)

    /// Parses `none`, `alternate`, `random:P`, `unmovable:P` (0 ≤ P ≤ 1); the error
    /// message names what is wrong.
    public static func parse(_ s: String) -> Result<FragmentKind, FragmentError> {
        if s == "none" { return .success(.none) }
        if s == "alternate" { return .success(.alternate) }
        let parts = s.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, parts[0] == "random" || parts[0] == "unmovable" else {
            return .failure(FragmentError("unknown fragment kind '\(s)' (alternate, random:P, unmovable:P, none)"))
        }
        guard let p = Double(parts[1]), p.isFinite, p >= 0, p <= 1 else {
            return .failure(FragmentError("\(parts[0]):P needs P in 0…1, got '\(parts[1])'"))
        }
        return .success(parts[0] == "random" ? .random(p) : .unmovable(p))
    }

    public var description: String {
        switch self {
        case .none: "none"
        case .alternate: "alternate"
        case .random(let p): "random:\(p)"
        case .unmovable(let p): "unmovable:\(p)"
        }
    }
}

/// A bad `--fragment` value.
public struct FragmentError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ m: String) { description = m }
}

/// What a fragmenter did.
public struct FragmentOutcome: Sendable {
    public var process = ""
    public var filledPages = 0
    public var freedPages = 0
    public var unmovablePages = 0
}

public enum Fragmenter {
    /// The filler process's name and where its one mapping starts.
    public static let processName = "filler"
    static let base: UInt64 = 0x1000_0000

    /// Fragments a quiet, freshly booted `machine`. Deterministic for a given seed.
    public static func fragment(_ machine: Machine, _ kind: FragmentKind, seed: UInt64) throws(Errno) -> FragmentOutcome {
        var out = FragmentOutcome()
        if kind == .none { return out }
        let p = try machine.createProcess(processName, node: 0)
        out.process = p.name
        out.filledPages = try fill(machine, p.mm)
        var rng = SplitMix64(seed: seed ^ 0xF4A6_0E27)
        switch kind {
        case .none:
            break
        case .alternate, .unmovable:
            out.freedPages = try freeWhere(machine, p.mm, out.filledPages) { pfn in pfn & 1 == 1 }
        case .random(let prob):
            // One draw per page in address order: the same seed frees the same pages.
            // P·2^64 fits a UInt64 for every P < 1 that a Double can hold.
            let threshold: UInt64 = prob >= 1 ? .max : UInt64(prob * 18_446_744_073_709_551_616.0)
            out.freedPages = try freeWhere(machine, p.mm, out.filledPages) { _ in prob >= 1 || rng.next() < threshold }
        }
        if case .unmovable(let prob) = kind {
            out.unmovablePages = try scatterUnmovable(machine, fraction: prob, &rng)
        }
        return out
    }

    /// Faults every free frame of the machine into one mapping; returns the pages mapped.
    static func fill(_ machine: Machine, _ mm: MM) throws(Errno) -> Int {
        let want = machine.phys.freePages()
        try machine.mmap(mm, base, UInt64(want) << 12)
        for i in 0..<want {
            do { try machine.userWrite(mm, base + UInt64(i) << 12) } catch .ENOMEM { return i }
        }
        return want
    }

    /// Frees (MADV_DONTNEED) each page whose frame `pick` chooses; returns how many.
    static func freeWhere(_ machine: Machine, _ mm: MM, _ pages: Int, _ pick: (PFN) -> Bool) throws(Errno) -> Int {
        var freed = 0
        for i in 0..<pages {
            let a = base + UInt64(i) << 12
            guard let pfn = machine.frameMapped(mm, a), pick(pfn) else { continue }
            try machine.madviseDontneed(mm, a, 4096)
            freed += 1
        }
        return freed
    }

    /// Puts one unmovable page into round(P × n) of the n pageblocks of the zones kernel
    /// allocations may use (never Movable), chosen by a seeded shuffle; the page is the
    /// block's first free frame. Returns pages placed.
    static func scatterUnmovable(_ machine: Machine, fraction: Double, _ rng: inout SplitMix64) throws(Errno) -> Int {
        let phys = machine.phys
        let candidates = phys.zones.filter { $0.kind != .movable }.flatMap { z in
            (0..<z.pageblockCount).map { Int(z.startPFN) / pageblockPages + $0 }
        }
        let blocks = candidates.count
        var order = candidates
        for i in stride(from: blocks - 1, to: 0, by: -1) {
            order.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
        let want = min(blocks, Int((fraction * Double(blocks)).rounded()))
        var placed = 0
        for b in order.prefix(want) {
            let start = PFN(b * pageblockPages)
            guard let free = (start..<start + PFN(pageblockPages)).first(where: { phys.pages.test($0, PageFlag.buddy) }) else { continue }
            try machine.allocateUnmovable(at: free)
            placed += 1
        }
        return placed
    }
}
