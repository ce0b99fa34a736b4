// Tokens: replay reproduces a run step for step; bad tokens are clear errors.

import MMExplore
import MMSync
import Testing

extension ExploreTests {
    @Suite struct Tokens {
        @Test(arguments: [StrategyKind.random, .pct, .dfs])
        func replayingTheFailingTokenGivesTheIdenticalTrace(kind: StrategyKind) throws {
            let seed: UInt64 = 9
            let r = try explore(options: ExploreOptions(strategy: kind, schedules: 500, seed: seed, depth: 2,
                                                        preemptionBound: 1)) { Toy.lostUpdate(locked: false) }
            let f = try #require(r.firstFailure, "\(kind) seed \(seed): \(r.summary)")
            #expect(f.token.first == "A")
            let again = try replay(token: f.token, body: Toy.lostUpdate(locked: false))
            #expect(again.error == nil)
            #expect(again.trace == f.trace, "\(kind) seed \(seed)\n\(formatTrace(f.trace))\nvs\n\(formatTrace(again.trace))")
            #expect(again.violations == f.violations)
            #expect(again.token == f.token)
            #expect(again.steps == f.steps)
        }

        @Test func deadlockTokenReplays() throws {
            let r = try explore(options: ExploreOptions(strategy: .random, schedules: 500, seed: 4)) { Toy.abba() }
            let f = try #require(r.firstFailure, "seed 4")
            let again = try replay(token: f.token, body: Toy.abba())
            #expect(again.trace == f.trace)
            #expect(again.violations == f.violations)
        }

        @Test func untracedExplorationReplaysForTheTrace() throws {
            let r = try explore(options: ExploreOptions(strategy: .random, schedules: 100, seed: 1, recordTrace: false)) {
                Toy.lostUpdate(locked: false)
            }
            let f = try #require(r.firstFailure, "seed 1")
            #expect(!f.trace.isEmpty && r.traceProblem == nil)
            let text = formatTrace(f.trace)
            #expect(text.contains("T1") && text.contains("read counter = 0"))
            print("lost update, random seed 1, schedule \(r.firstFailureSchedule ?? -1):\n\(text)")
        }

        @Test func modelRandomNumbersReplay() throws {
            let explorer = Explorer()
            defer { explorer.shutdown() }
            let shared = Shared()
            let body: @Sendable () -> [Violation] = {
                let e = Sched.current as! Explorer
                shared.values = [e.nextRandom(), e.nextRandom()]
                return []
            }
            let s = RandomStrategy(seed: 77)
            _ = explorer.runExecution(strategy: s, body: body)
            let o = explorer.runExecution(strategy: s, body: body)   // execution index 1
            let first = shared.values
            let again = try explorer.replay(token: o.token, body: body)
            #expect(again.isClean && shared.values == first)
        }

        @Test func divergenceIsAnOutcomeErrorNotACrash() throws {
            // Choices left over: the single-thread model never makes one.
            let r = try explore(options: ExploreOptions(strategy: .random, schedules: 100, seed: 1)) {
                Toy.lostUpdate(locked: false)
            }
            let token = try #require(r.firstFailure?.token)
            let leftover = try replay(token: token, body: Toy.single())
            guard case .divergence(let why)? = leftover.error else {
                Issue.record("expected a divergence, got \(String(describing: leftover.error))"); return
            }
            #expect(why.contains("unused"))
            // A recorded thread that is not runnable.
            let bogus = ScheduleToken(descriptor: StrategyDescriptor(kind: .random, seed: 1), executionIndex: 0,
                                      maxSteps: 1000, choices: [5, 5])
            let o = try replay(token: bogus.encoded, body: Toy.lostUpdate(locked: false))
            guard case .divergence(let why2)? = o.error else {
                Issue.record("expected a divergence, got \(String(describing: o.error))"); return
            }
            #expect(why2.contains("runs thread 5"))
            // main is parked for good; T1 and T2 never started, their workers are reused.
            #expect(o.abandonedThreads == 1)
        }

        @Test func malformedTokensThrowClearErrors() throws {
            let good = ScheduleToken(descriptor: StrategyDescriptor(kind: .pct, seed: 12345, depth: 2),
                                     executionIndex: 17, maxSteps: 200_000, choices: [1, 1, 2, 1, 2, 2, 2]).encoded
            #expect(throws: TokenError.empty) { try ScheduleToken(decoding: "  ") }
            #expect(throws: TokenError.invalidCharacter("!", offset: 0)) { try ScheduleToken(decoding: "!!!!") }
            #expect(throws: TokenError.self) { try ScheduleToken(decoding: "A") }
            #expect(throws: TokenError.self) { try ScheduleToken(decoding: String(good.dropLast(3))) }
            #expect(throws: TokenError.self) { try ScheduleToken(decoding: good + "AA") }
            // Every single-character change is caught (the checksum covers every byte).
            let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
            var chars = Array(good)
            for i in chars.indices {
                let original = chars[i]
                chars[i] = original == "x" ? "y" : "x"
                #expect(throws: TokenError.self, "changed offset \(i)") { try ScheduleToken(decoding: String(chars)) }
                chars[i] = original
            }
            // Random strings never trap (fixed seed, bounded).
            var rng = Xoshiro256(seed: 2024)
            for _ in 0..<2000 {
                let n = rng.next(below: 40)
                let s = String((0..<n).map { _ in alphabet[rng.next(below: alphabet.count)] })
                _ = try? ScheduleToken(decoding: s)
            }
            let err = try #require(throws: TokenError.self) { try ScheduleToken(decoding: "Zm9vYmFy") }
            #expect("\(err)".hasPrefix("invalid schedule token:"))
            #expect(try ScheduleToken(decoding: " \(good)\n").choices == [1, 1, 2, 1, 2, 2, 2])
            // A replay of garbage throws before running anything.
            #expect(throws: TokenError.self) { _ = try replay(token: "not a token", body: Toy.single()) }
        }

        @Test func encodingRoundTrips() throws {
            var rng = Xoshiro256(seed: 99)
            for round in 0..<300 {
                let threads = 1 + rng.next(below: round % 3 == 0 ? 40 : 4)
                var choices: [Int] = []
                for _ in 0..<rng.next(below: 300) {
                    let t = rng.next(below: threads)
                    choices += Array(repeating: t, count: 1 + rng.next(below: 30))
                }
                let kind = StrategyKind.allCases[rng.next(below: 3)]
                let t = ScheduleToken(descriptor: StrategyDescriptor(kind: kind, seed: rng.next(),
                                                                     depth: 1 + rng.next(below: 5),
                                                                     preemptionBound: rng.next(below: 4)),
                                      executionIndex: rng.next() >> UInt64(rng.next(below: 64)),
                                      maxSteps: choices.count + 1 + rng.next(below: 1_000_000), choices: choices)
                #expect(try ScheduleToken(decoding: t.encoded) == t, "round \(round)")
            }
        }

        @Test func sameSeedSameTokens() {
            func tokens(_ make: () -> any SchedulingStrategy) -> [String] {
                let explorer = Explorer(recordTrace: false)
                defer { explorer.shutdown() }
                let s = make()
                return (0..<30).map { _ in explorer.runExecution(strategy: s, body: Toy.lostUpdate(locked: true)).token }
            }
            for seed: UInt64 in [0, 1, 0xDEAD_BEEF] {
                let a = tokens { RandomStrategy(seed: seed) }
                #expect(a == tokens { RandomStrategy(seed: seed) }, "random seed \(seed)")
                #expect(Set(a).count > 5, "random seed \(seed)")
                let p = tokens { PCTStrategy(seed: seed, depth: 3) }
                #expect(p == tokens { PCTStrategy(seed: seed, depth: 3) }, "pct seed \(seed)")
            }
            #expect(tokens { RandomStrategy(seed: 1) } != tokens { RandomStrategy(seed: 2) })
        }

        @Test func traceFormat() throws {
            let o = try replay(token: ScheduleToken(descriptor: StrategyDescriptor(kind: .random, seed: 0),
                                                    executionIndex: 0, maxSteps: 100, choices: []).encoded,
                               body: Toy.single())
            #expect(o.isClean)
            #expect(formatTrace(o.trace).hasPrefix("   0  main    alone\n"))
        }
    }
}
