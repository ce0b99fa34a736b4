// Bounded file access for snapshots: whole-file reads with a size limit (procfs files
// report size 0, so we read to EOF), gzip through the system zlib, and the one error
// type every reader throws. Standard library and Glibc only.

import CMMZlib
#if canImport(Glibc)
import Glibc
#endif

/// A snapshot file that is missing, too large, or malformed. `description` is
/// `FILE:LINE: message` (or `FILE: message` when no line applies), as every mmlab
/// input error; the CLI prints it and exits 2.
public struct SnapshotError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    public let line: Int?
    public let message: String

    public init(_ file: String, line: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}

/// Size limits of every reader (a snapshot is input: nothing unbounded is trusted).
public enum SnapshotLimits {
    /// Text files (zoneinfo, vmstat, …): 8 MiB.
    public static let textBytes = 8 << 20
    /// Raw kpageflags/kpagecount after decompression: 64 M PFNs (256 GiB of RAM).
    public static let maxPFNs = 64 << 20
    /// A compressed page-array file on disk.
    public static let gzipBytes = 512 << 20
}

public enum SnapshotIO {
    /// Reads the whole file at `path`, refusing more than `limit` bytes.
    static func readFile(_ path: String, limit: Int, name: String? = nil) throws -> [UInt8] {
        let label = name ?? path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SnapshotError(label, "cannot open: \(errnoText())") }
        defer { close(fd) }
        // Read straight into a growing malloc'd buffer (procfs files report size 0, so
        // grow by doubling); one byte past the limit is enough to know the file is too large.
        var cap = min(limit + 1, 1 << 16)
        guard var buf = malloc(cap) else { throw SnapshotError(label, "out of memory") }
        defer { free(buf) }
        var used = 0
        while true {
            if used == cap {
                guard cap <= limit else { throw SnapshotError(label, "larger than the limit of \(limit) bytes") }
                let ncap = min(cap * 2, limit + 1)
                guard let nb = realloc(buf, ncap) else { throw SnapshotError(label, "out of memory") }
                buf = nb
                cap = ncap
            }
            let n = read(fd, buf + used, cap - used)
            if n < 0 {
                if errno == EINTR { continue }
                throw SnapshotError(label, "read failed: \(errnoText())")
            }
            if n == 0 { break }
            used += n
        }
        guard used <= limit else { throw SnapshotError(label, "larger than the limit of \(limit) bytes") }
        let out = [UInt8](unsafeUninitializedCapacity: used) { dst, count in
            if used > 0 { memcpy(dst.baseAddress!, buf, used) }
            count = used
        }
        return out
    }

    /// Writes `bytes` to `path` (created or truncated, mode 0644).
    public static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SnapshotError(path, "cannot create: \(errnoText())") }
        defer { close(fd) }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SnapshotError(path, "write failed: \(errnoText())")
            }
            off += n
        }
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// gzip through the system zlib (no hand-written inflater).
public enum Gzip {
    /// Decompresses `data`, refusing output larger than `limit`; `name` labels errors.
    public static func decompress(_ data: [UInt8], limit: Int, name: String) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var len = 0
        let rc = data.withUnsafeBufferPointer { mmz_gunzip($0.baseAddress, $0.count, limit, &out, &len) }
        defer { mmz_free(out) }
        switch rc {
        case Int32(MMZ_OK): return out.map { Array(UnsafeBufferPointer(start: $0, count: len)) } ?? []
        case Int32(MMZ_TOO_LARGE): throw SnapshotError(name, "decompresses to more than \(limit) bytes")
        case Int32(MMZ_DATA): throw SnapshotError(name, "not a valid gzip stream (corrupt or truncated)")
        default: throw SnapshotError(name, "out of memory while decompressing")
        }
    }

    /// Decompresses a gzip file of little-endian u64 entries straight into a `[UInt64]`
    /// when its trailer's size field (ISIZE: the size mod 2^32 of the last member) is
    /// the whole size — one copy instead of three, and no first touch of spare buffers.
    /// Nil when the hint does not hold (several members, over 4 GiB): use `decompress`.
    static func decompressU64Hinted(_ data: [UInt8], limit: Int, name: String) throws -> [UInt64]? {
        guard data.count >= 18 else { return nil }
        let n = data.count
        let hint = Int(data[n - 4]) | Int(data[n - 3]) << 8 | Int(data[n - 2]) << 16 | Int(data[n - 1]) << 24
        guard hint > 0, hint % 8 == 0, hint <= limit else { return nil }
        var rc: Int32 = 0
        var len = 0
        let words = [UInt64](unsafeUninitializedCapacity: hint / 8) { buf, count in
            rc = data.withUnsafeBufferPointer { src in
                mmz_gunzip_into(src.baseAddress, src.count, UnsafeMutableRawPointer(buf.baseAddress!).assumingMemoryBound(to: UInt8.self), hint, &len)
            }
            count = rc == Int32(MMZ_OK) ? len / 8 : 0
        }
        switch rc {
        case Int32(MMZ_OK) where len == hint:
            #if _endian(big)
            return words.map { UInt64(littleEndian: $0) }
            #else
            return words
            #endif
        case Int32(MMZ_OK), Int32(MMZ_TOO_LARGE): return nil
        case Int32(MMZ_DATA): throw SnapshotError(name, "not a valid gzip stream (corrupt or truncated)")
        default: throw SnapshotError(name, "out of memory while decompressing")
        }
    }

    /// Compresses `data` as one gzip member.
    public static func compress(_ data: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var len = 0
        let rc = data.withUnsafeBufferPointer { mmz_gzip($0.baseAddress, $0.count, level, &out, &len) }
        defer { mmz_free(out) }
        guard rc == Int32(MMZ_OK), let out else { throw SnapshotError("gzip", "compression failed (out of memory)") }
        return Array(UnsafeBufferPointer(start: out, count: len))
    }
}
