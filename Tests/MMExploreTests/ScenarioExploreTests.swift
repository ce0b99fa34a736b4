// The explorer on the model itself: the example scenarios of examples/ under each pin
// policy, with the outcomes the seed's story predicts.

import MMExplore
import MMScenario
import MMSpace
import MMSync
import Testing

/// Path of an example scenario, from this file's location in the repository.
private func example(_ name: String) -> String {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)   // Tests/MMExploreTests/ScenarioExploreTests.swift
    return parts.joined(separator: "/") + "/examples/\(name).mm"
}

private func explore(_ name: String, _ strategy: StrategyKind, schedules: Int = 2000, seed: UInt64 = 1, depth: Int = 2,
                     preemptions: Int = 2, pin: AnonVmaPinPolicy? = nil, skipMremapLock: Bool = false,
                     syscallLock: ScenarioSyscallLock? = nil, keepGoing: Bool = false) throws -> ExploreReport {
    let scenario = try ScenarioParser.parse(path: example(name))
    var o = RunOptions()
    o.pinPolicy = pin
    o.syscallLock = syscallLock
    o.skipMremapRmapLock = skipMremapLock
    let opts = ExploreOptions(strategy: strategy, schedules: schedules, seed: seed, depth: depth,
                              preemptionBound: preemptions, keepGoing: keepGoing)
    return try MMExplore.explore(options: opts, makeBody: { ScenarioRunner.explorationBody(scenario, options: o) })
}

private func kinds(_ r: ExploreReport) -> Set<Violation.Kind> { Set(r.violations.map(\.violation.kind)) }

extension ExploreTests {
    @Suite struct Scenarios {
        @Test func seedRaceFoundByPCTAndDFSWithoutPin() throws {
            for seed: UInt64 in 1...3 {
                let pct = try explore("seed-race", .pct, seed: seed)
                #expect(kinds(pct) == [.useAfterFree], "pct seed \(seed): \(pct.summary)")
                #expect((pct.firstFailureSchedule ?? .max) <= 2000)
            }
            let dfs = try explore("seed-race", .dfs, schedules: 100_000)
            #expect(kinds(dfs) == [.useAfterFree], "\(dfs.summary)")
            let trace = formatTrace(try #require(dfs.firstFailure).trace)
            #expect(trace.contains("unmap pfn"), "\(trace)")
            #expect(trace.contains("freed"), "\(trace)")
            #expect(trace.contains("used after free"), "\(trace)")
        }

        @Test func replayReproducesTheTraceExactly() throws {
            let r = try explore("seed-race", .pct, seed: 7)
            let first = try #require(r.firstFailure, "\(r.summary)")
            let scenario = try ScenarioParser.parse(path: example("seed-race"))
            let again = try replay(token: first.token, body: ScenarioRunner.explorationBody(scenario, options: RunOptions()))
            #expect(again.error == nil)
            #expect(again.trace == first.trace)
            #expect(again.violations == first.violations)
            #expect(again.token == first.token)
        }

        @Test func seedV2LeaksWithOneMigratorAndBreaksWithTwo() throws {
            // Every schedule that pins also leaves the seed's RCU section open.
            let one = try explore("seed-leak", .dfs, schedules: 100_000, keepGoing: true)
            #expect(kinds(one) == [.leak, .rcuImbalance, .useAfterFree, .doubleFree], "\(one.summary)")
            #expect(one.violations.contains { $0.violation.message.contains("leaked") })
            let two = try explore("two-migrators", .pct, schedules: 2000, depth: 3, keepGoing: true)
            #expect(kinds(two).contains(.useAfterFree), "\(two.summary)")
            #expect(kinds(two).contains(.leak), "\(two.summary)")
        }

        @Test(arguments: ["seed-race", "seed-leak", "seed-race-fork", "two-migrators", "process-context",
                          "mremap-race", "munmap-race"])
        func refcountIsCleanUnderFullDFS(name: String) throws {
            let r = try explore(name, .dfs, schedules: 1_000_000, pin: .refcount)
            #expect(r.coverageComplete, "\(name): \(r.summary)")
            #expect(r.failingSchedules == 0, "\(name): \(r.summary)")
            print("dfs ≤2 preemptions, pin=refcount, \(name): \(r.schedulesRun) schedules, complete")
        }

        /// Linux 6.x's move_pages migrates without the mmap_lock: with no pin the owner's
        /// munmap frees the anon_vma under it. 2.6.22's held lock needs no pin.
        @Test func processContextNeedsAPinOnlyWithoutTheHeldLock() throws {
            let isolate = try explore("process-context", .dfs, schedules: 1_000_000, pin: AnonVmaPinPolicy.none)
            #expect(kinds(isolate) == [.useAfterFree], "\(isolate.summary)")
            let held = try explore("process-context", .dfs, schedules: 1_000_000, pin: AnonVmaPinPolicy.none, syscallLock: .held)
            #expect(held.coverageComplete && held.failingSchedules == 0, "\(held.summary)")
        }

        @Test func mremapWithoutRmapLockLosesAMigrationEntry() throws {
            let safe = try explore("mremap-race", .dfs, schedules: 1_000_000)
            #expect(safe.coverageComplete && safe.failingSchedules == 0, "\(safe.summary)")
            let buggy = try explore("mremap-race", .dfs, schedules: 1_000_000, skipMremapLock: true)
            #expect(kinds(buggy).contains(.staleMigrationEntry), "\(buggy.summary)")
        }
    }
}

extension ExploreTests.Scenarios {
    /// Found by fuzzing `mmlab run`: a pin racing the owner's exit added a pin after the
    /// exit had dropped them all, leaking the page. DFS covers every interleaving.
    @Test func pinRacingExitLeaksNothing() throws {
        let text = """
        machine nodes=2 node_mem=8M block=4M
        process A
        mmap A 0x10000000 8K
        touch A 0x10000000 8K
        thread T1 {
          pin A 0x10001000
        }
        thread T2 {
          exit A
        }
        verify
        """
        let scenario = try ScenarioParser.parse(text: text, file: "pin-exit")
        let r = try MMExplore.explore(options: ExploreOptions(strategy: .dfs, schedules: 100_000, preemptionBound: 2),
                                      makeBody: { ScenarioRunner.explorationBody(scenario, options: RunOptions()) })
        #expect(r.coverageComplete && r.failingSchedules == 0, "\(r.summary)")
    }
}
