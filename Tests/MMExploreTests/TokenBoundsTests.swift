// Forged tokens are input like any flag: decoding is bounded and every field is held
// to the command line's ranges (issue: a token announcing 2^26 choices made replay
// allocate 544 MB before failing; maxSteps 0 decoded though --max-steps 0 is refused).

import Testing
@testable import MMExplore

@Suite struct TokenBoundsTests {
    /// A token with the given header and raw run bytes, correctly checksummed.
    func forge(kind: UInt8 = 0, depth: UInt64 = 0, bound: UInt64 = 0, maxSteps: UInt64, count: UInt64, runs: [UInt64]) -> String {
        var w = ByteWriter()
        w.bytes += [ScheduleToken.currentVersion, kind]
        for v in [1, 0, depth, bound, maxSteps, count] + runs { w.varint(v) }
        let check = fnv1a(w.bytes)
        for shift in stride(from: 0, to: 32, by: 8) { w.bytes.append(UInt8(truncatingIfNeeded: check >> UInt32(shift))) }
        return Base64URL.encode(w.bytes)
    }

    func rejection(_ token: String) -> String? {
        do {
            _ = try ScheduleToken(decoding: token)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func hugeChoiceCountsAreRefusedBeforeAllocating() {
        // 2^26 choices in one run of thread 0 (the issue's forged token), with a step
        // bound that would allow them: over the decode limit.
        let huge = forge(maxSteps: 1 << 30, count: 1 << 26, runs: [((1 << 26) - 1) << 4])
        let why = rejection(huge)
        #expect(why?.contains("exceeds") == true, "\(why ?? "decoded")")
        // More choices than steps: impossible for a real execution.
        let why2 = rejection(forge(maxSteps: 10, count: 1000, runs: [999 << 4]))
        #expect(why2?.contains("step bound of 10") == true, "\(why2 ?? "decoded")")
        // Runs that announce more than the count are refused too.
        #expect(rejection(forge(maxSteps: 100, count: 5, runs: [9 << 4])) != nil)
    }

    @Test func headerFieldsHaveTheCommandLineRanges() {
        #expect(rejection(forge(maxSteps: 0, count: 0, runs: []))?.contains("--max-steps") == true)
        #expect(rejection(forge(kind: 1, depth: 0, maxSteps: 10, count: 0, runs: []))?.contains("--depth") == true)
        #expect(rejection(forge(kind: 1, depth: 1001, maxSteps: 10, count: 0, runs: []))?.contains("--depth") == true)
        #expect(rejection(forge(kind: 2, bound: 5000, maxSteps: 10, count: 0, runs: []))?.contains("--preemptions") == true)
        #expect(rejection(forge(maxSteps: (1 << 40) + 1, count: 0, runs: [])) != nil)
        // The same fields in range decode.
        let ok = try? ScheduleToken(decoding: forge(kind: 1, depth: 3, maxSteps: 10, count: 2, runs: [1 << 4]))
        #expect(ok?.choices == [0, 0] && ok?.maxSteps == 10 && ok?.descriptor.depth == 3)
    }
}
