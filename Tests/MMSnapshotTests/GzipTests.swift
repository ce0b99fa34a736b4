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
}
