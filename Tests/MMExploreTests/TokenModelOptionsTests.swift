// A token records the model options it ran with (item: replay is exact or refuses).

import MMExplore
import MMScenario
import Testing

extension ExploreTests {
    @Suite struct TokenModelOptions {
        static let base = ScheduleToken(descriptor: StrategyDescriptor(kind: .dfs, seed: 3, depth: 0, preemptionBound: 2),
                                        executionIndex: 41, maxSteps: 1000, choices: [0, 0, 1, 2, 1])

        @Test func modelOptionsRoundTrip() throws {
            for code: UInt64 in [1, 2, 3, 4, 9, 16, 31] {
                var t = Self.base
                t.modelOptions = code
                let back = try ScheduleToken(decoding: t.encoded)
                #expect(back == t && back.modelOptions == code, "code \(code)")
            }
        }

        @Test func noOptionsKeepsTheOldEncoding() throws {
            // Tokens printed before options were recorded still decode, as "no options".
            let t = Self.base
            #expect(try ScheduleToken(decoding: t.encoded).modelOptions == 0)
            var stamped = t
            stamped.modelOptions = 5
            #expect(stamped.encoded != t.encoded)
        }

        /// The policy statement is also a model option: `policy mremap_rmap_lock=off` in
        /// the file gives the same stale entry as the test flag.
        @Test func mremapRmapLockPolicyStatement() throws {
            var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
            parts.removeLast(3)
            let text = try String(contentsOfFile: parts.joined(separator: "/") + "/examples/mremap-race.mm", encoding: .utf8)
            let off = try ScenarioParser.parse(text: text.replacingOccurrences(of: "\nprocess A", with: "\npolicy mremap_rmap_lock=off\nprocess A"),
                                               file: "mremap-off")
            let r = try explore(options: ExploreOptions(strategy: .dfs, schedules: 100_000, preemptionBound: 2),
                                makeBody: { ScenarioRunner.explorationBody(off, options: RunOptions()) })
            #expect(r.violations.contains { $0.violation.kind == .staleMigrationEntry }, "\(r.summary)")
        }
    }
}
