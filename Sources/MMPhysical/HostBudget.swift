// The host-memory budget (`--host-mem`): a simulated machine is real memory of the
// host — 32 B of descriptors per frame, plus 4 KiB (content=full) or 8 B (stamp) of
// frame contents, plus its page tables (at most one of 4 KiB per 64 frames) — mapped lazily, so a machine far larger than the host boots and only
// a large enough touch would take the host down. No scenario or flag may drive the host
// into its OOM killer:
//
// - at boot, a machine whose descriptors plus frame storage could exceed the budget is
//   refused (`bootProblem`), naming what to use instead;
// - a budget raised past what the host has lets such a machine boot, and then the
//   machine refuses to touch a new frame once the host memory it has touched would go
//   past the host's share (`HostFrameGuard`): the allocation fails, as memory running
//   out does inside the model (the fault gets ENOMEM or runs the model's OOM killer).

import CMMSupport
#if canImport(Glibc)
import Glibc
#endif
import MMSync
import Synchronization

/// The process-wide host-memory budget and the rules that apply it.
public enum HostBudget {
    /// The host's physical memory in bytes (0 if unknown).
    public static let hostPhysicalBytes: UInt64 = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return pages > 0 && size > 0 ? UInt64(pages) * UInt64(size) : 0
    }()

    private static let budget = Atomic<UInt64>(0)   // 0: the default
    private static let hostOverride = Atomic<UInt64>(0)

    /// The budget in bytes: `--host-mem`, by default half of the host's physical memory.
    public static var limitBytes: UInt64 {
        get {
            let b = budget.load(ordering: .relaxed)
            return b != 0 ? b : hostBytes / 2
        }
        set { budget.store(newValue, ordering: .relaxed) }
    }
    /// Back to the default budget.
    public static func resetLimit() { budget.store(0, ordering: .relaxed) }

    /// The host size the rules use: the real one, or a test's stand-in.
    public static var hostBytes: UInt64 {
        let o = hostOverride.load(ordering: .relaxed)
        return o != 0 ? o : hostPhysicalBytes
    }
    /// Test-only: pretend the host has `bytes` (0: the real size).
    public static func overrideHostBytes(_ bytes: UInt64) { hostOverride.store(bytes, ordering: .relaxed) }

    /// Host bytes a machine can come to use: every descriptor and every frame's contents.
    public static func worstCaseBytes(_ config: MachineConfig) -> UInt64 {
        UInt64(config.totalPages) * UInt64(PageDescriptors.bytesPerPage + config.content.bytesPerFrame)
            + UInt64(pageTableLimit(config)) * pageTableBytes
    }

    /// Page tables a machine may hold (MMSpace's PageTableQuota; Machine.pageTableLimit
    /// is this rule): one per 64 frames, at least 256.
    public static func pageTableLimit(_ config: MachineConfig) -> Int { max(256, config.totalPages / 64) }
    /// Host bytes of one page table: 512 entries and its object (lock, header).
    static let pageTableBytes: UInt64 = 4096 + 128

    /// The host memory the touched part of a machine may use: the budget, and never
    /// more than 7/8 of the host (the rest is the host's own).
    public static var runtimeCapBytes: UInt64 {
        let host = hostBytes
        return host == 0 ? limitBytes : min(limitBytes, host / 8 * 7)
    }

    /// Why `config` exceeds the budget, with what to use instead; nil if it fits.
    public static func bootProblem(_ config: MachineConfig) -> String? {
        let need = worstCaseBytes(config), limit = limitBytes
        guard need > limit else { return nil }
        let mib = { (b: UInt64) in "\(b >> 20) MiB" }
        var s = "\(config.nodes) node\(config.nodes == 1 ? "" : "s") × \(config.nodeMemBytes >> 20) MiB content=\(config.content.rawValue) "
        s += "can use up to \(mib(need)) of host memory (descriptors, frame contents and page tables), over the host-memory budget of \(mib(limit))"
        if budget.load(ordering: .relaxed) == 0 { s += " (half of this host's \(mib(hostBytes)))" }
        var fixes: [String] = []
        if config.content == .full {
            var stamp = config
            stamp.content = .stamp
            if worstCaseBytes(stamp) <= limit { fixes.append("content=stamp (\(mib(worstCaseBytes(stamp))))") }
        }
        fixes.append("a smaller machine")
        fixes.append("a larger --host-mem (at most what the host can spare)")
        return s + "; use " + fixes.joined(separator: ", or ")
    }

    /// The guard a machine of `config` needs at run time, or nil when its worst case
    /// fits the runtime cap (the usual case: no cost on the allocation path).
    public static func frameGuard(_ config: MachineConfig) -> HostFrameGuard? {
        frameGuard(config, capBytes: runtimeCapBytes)
    }

    static func frameGuard(_ config: MachineConfig, capBytes cap: UInt64) -> HostFrameGuard? {
        guard worstCaseBytes(config) > cap else { return nil }
        // Descriptors and page tables are counted as if all were touched.
        let descriptors = UInt64(config.totalPages) * UInt64(PageDescriptors.bytesPerPage)
            + UInt64(pageTableLimit(config)) * pageTableBytes
        let frames = cap > descriptors ? (cap - descriptors) / UInt64(config.content.bytesPerFrame) : 0
        return HostFrameGuard(totalFrames: config.totalPages, maxTouched: Int(min(frames, UInt64(Int.max))))
    }
}

/// Counts the frames a machine has ever handed out (their host memory stays resident)
/// and refuses a new one past `maxTouched`. A bitmap of one bit per frame, mapped lazily.
public final class HostFrameGuard: @unchecked Sendable {
    // @unchecked: the bitmap is only accessed with atomic operations.
    public let maxTouched: Int
    private let words: UnsafeMutablePointer<Atomic<UInt64>>
    private let wordCount: Int
    private let touched = Atomic<Int>(0)

    init?(totalFrames: Int, maxTouched: Int) {
        self.maxTouched = maxTouched
        wordCount = (totalFrames + 63) / 64
        guard let p = mm_map_anon(wordCount * 8, 0) else { return nil }
        words = p.bindMemory(to: Atomic<UInt64>.self, capacity: wordCount)
    }
    deinit { mm_unmap(UnsafeMutableRawPointer(words), wordCount * 8) }

    /// Frames touched so far.
    public var touchedFrames: Int { touched.load(ordering: .relaxed) }

    /// True if `pfn` may be used: touched before, or a new one within the cap.
    func admit(_ pfn: PFN) -> Bool {
        let i = Int(pfn) / 64, bit = UInt64(1) << UInt64(Int(pfn) % 64)
        if words[i].load(ordering: .relaxed) & bit != 0 { return true }
        let n = touched.wrappingAdd(1, ordering: .relaxed).newValue
        if n > maxTouched {
            touched.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        let old = words[i].bitwiseOr(bit, ordering: .relaxed).oldValue
        if old & bit != 0 { touched.wrappingSubtract(1, ordering: .relaxed) }   // raced: counted once
        return true
    }
}
