// Frame contents: what user processes read and write, and what migration copies.
// `full` keeps 4 KiB of real bytes per frame (copies cost a real memcpy); `stamp`
// keeps one 64-bit word per frame, for machines of tens of millions of frames.
//
// A process write stores a 64-bit stamp (process, address, version). In full mode
// the stamp goes to the first and the last word of the frame, so a copy that drops
// either end of the page is caught.

import CMMSupport

/// How frame contents are stored (docs/ARCHITECTURE.md, What each module owns).
public enum ContentMode: String, Sendable, CaseIterable {
    case full, stamp
    public var bytesPerFrame: Int { self == .full ? pageSize : 8 }
}

/// Raw storage for every frame's contents. Access rules: a user access holds the
/// page-table lock of a PTE that maps the frame; migration copies a frame only while
/// it is locked and unmapped. Those locks order every access, so plain memory is used.
public struct FrameStore: @unchecked Sendable {
    public let mode: ContentMode
    let base: UnsafeMutableRawPointer
    let bytes: Int

    init?(frames: Int, mode: ContentMode, populate: Bool = false) {
        self.mode = mode
        bytes = frames * mode.bytesPerFrame
        guard let p = mm_map_anon(bytes, populate ? 1 : 0) else { return nil }
        base = p
    }

    func release() { mm_unmap(base, bytes) }

    @inline(__always) func frame(_ pfn: PFN) -> UnsafeMutableRawPointer {
        base + Int(pfn) * mode.bytesPerFrame
    }

    /// Fills a frame with zeroes (Linux: clear_highpage on an anonymous fault).
    @inline(__always) public func zero(_ pfn: PFN) {
        frame(pfn).initializeMemory(as: UInt8.self, repeating: 0, count: mode.bytesPerFrame)
    }

    /// Copies a frame (Linux: copy_highpage / folio_copy). A full frame is copied with
    /// streaming stores (mm_copy_page: the destination is not read into the cache first).
    @inline(__always) public func copy(from src: PFN, to dst: PFN) {
        if mode == .full {
            mm_copy_page(frame(dst), frame(src))
        } else {
            frame(dst).copyMemory(from: frame(src), byteCount: mode.bytesPerFrame)
        }
    }

    /// `copy` without the store fence, for a batch of copies that `fence()` closes
    /// before any of them is published (stamp mode: the plain copy, no fence needed).
    @inline(__always) public func copyUnfenced(from src: PFN, to dst: PFN) {
        if mode == .full {
            mm_copy_page_unfenced(frame(dst), frame(src))
        } else {
            frame(dst).copyMemory(from: frame(src), byteCount: mode.bytesPerFrame)
        }
    }

    /// Makes every `copyUnfenced` so far complete before any later store.
    @inline(__always) public func fence() {
        if mode == .full { mm_store_fence() }
    }

    /// A plain memcpy of a frame: the benchmarks' baseline (BENCHMARKS.md), the same
    /// bytes copied the ordinary way.
    public func memcpy(from src: PFN, to dst: PFN) {
        frame(dst).copyMemory(from: frame(src), byteCount: mode.bytesPerFrame)
    }

    /// Stores a stamp as a user write does.
    @inline(__always) public func writeStamp(_ pfn: PFN, _ stamp: UInt64) {
        let f = frame(pfn)
        f.storeBytes(of: stamp, as: UInt64.self)
        if mode == .full { f.storeBytes(of: stamp, toByteOffset: pageSize - 8, as: UInt64.self) }
    }

    /// Reads the stamp back. In full mode a frame whose two copies disagree reads as
    /// `torn` so the checker reports it.
    @inline(__always) public func readStamp(_ pfn: PFN) -> UInt64 {
        let f = frame(pfn)
        let a = f.load(as: UInt64.self)
        if mode == .full {
            let b = f.load(fromByteOffset: pageSize - 8, as: UInt64.self)
            if a != b { return FrameStore.torn }
        }
        return a
    }

    /// The value `readStamp` gives for a frame whose two ends disagree.
    public static let torn: UInt64 = 0xDEAD_DEAD_DEAD_DEAD
}
