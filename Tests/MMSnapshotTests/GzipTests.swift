// gzip through the system zlib: round trip, and every bad stream a clear error.

import Testing
@testable import MMSnapshot

@Suite struct GzipTests {
    @Test func roundTripAndConcatenatedMembers() throws {
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 3) }
        let gz = try Gzip.compress(data)
        #expect(gz.count < data.count)
        #expect(try Gzip.decompress(gz, limit: 1 << 20, name: "x") == data)
        // Two gzip members back to back are one valid file (as `cat a.gz b.gz`).
        #expect(try Gzip.decompress(gz + gz, limit: 1 << 20, name: "x") == data + data)
        #expect(try Gzip.decompress(try Gzip.compress([]), limit: 10, name: "x") == [])
    }

    @Test func corruptTruncatedAndOversizedStreamsAreErrors() throws {
        let data = [UInt8](repeating: 42, count: 50_000)
        let gz = try Gzip.compress(data)
        #expect(throws: SnapshotError("f.gz", "not a valid gzip stream (corrupt or truncated)")) {
            try Gzip.decompress(Array(gz.prefix(gz.count / 2)), limit: 1 << 20, name: "f.gz")
        }
        #expect(throws: SnapshotError("f.gz", "not a valid gzip stream (corrupt or truncated)")) {
            try Gzip.decompress(Array("plain text, not gzip".utf8), limit: 1 << 20, name: "f.gz")
        }
        #expect(throws: SnapshotError("f.gz", "not a valid gzip stream (corrupt or truncated)")) {
            try Gzip.decompress([], limit: 1 << 20, name: "f.gz")
        }
        var flipped = gz
        flipped[gz.count / 2] ^= 0xFF
        #expect(throws: SnapshotError.self) { try Gzip.decompress(flipped, limit: 1 << 20, name: "f.gz") }
        #expect(throws: SnapshotError("f.gz", "decompresses to more than 1000 bytes")) {
            try Gzip.decompress(gz, limit: 1000, name: "f.gz")
        }
    }

    @Test func pageArraysDecompressStraightIntoWordsWhenTheSizeHintHolds() throws {
        let words: [UInt64] = (0..<10_000).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
        let gz = try Gzip.compress(u64Bytes(words))
        #expect(try Gzip.decompressU64Hinted(gz, limit: 1 << 20, name: "x") == words)
        // Two members: the trailer's size is the last member's only → nil (the caller falls back).
        #expect(try Gzip.decompressU64Hinted(gz + gz, limit: 1 << 20, name: "x") == nil)
        // Over the limit: nil here, and the fallback reports the limit.
        #expect(try Gzip.decompressU64Hinted(gz, limit: 1000, name: "x") == nil)
        var corrupt = gz
        corrupt[40] ^= 0x55
        #expect(throws: SnapshotError.self) { try Gzip.decompressU64Hinted(corrupt, limit: 1 << 20, name: "x") }
    }
}
