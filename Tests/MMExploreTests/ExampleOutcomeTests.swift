// Every example's documented outcome holds: each file states, in its `# outcome` lines,
// what `mmlab explore --strategy dfs --preemptions 2` finds first under each pin policy
// (and, where given, under `--syscall-lock held`); this test runs exactly that, bounded.

import Foundation
import MMExplore
import MMScenario
import MMSpace
import MMSync
import Testing

private let examplesDir: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)   // Tests/MMExploreTests/ExampleOutcomeTests.swift
    return parts.joined(separator: "/") + "/examples"
}()

/// One documented expectation: a policy setting and the violation kinds (empty: clean).
/// One kind: the first failing schedule shows it; several (`a+b`, with `--keep-going`):
/// exactly these distinct kinds over the whole bounded space.
struct DocumentedOutcome: Sendable, CustomStringConvertible {
    let file: String
    let pin: AnonVmaPinPolicy
    let syscallLock: ScenarioSyscallLock?
    let keepGoing: Bool
    let kinds: Set<String>
    var description: String {
        "\(file) pin=\(pin.rawValue)\(syscallLock.map { " --syscall-lock \($0.rawValue)" } ?? "")\(keepGoing ? " --keep-going" : ""): "
            + (kinds.isEmpty ? "clean" : kinds.sorted().joined(separator: "+"))
    }
}

/// The `# outcome` lines of every example: `#   none=KIND seed-v2=KIND refcount=KIND`
/// after `# outcome (…)` or `# outcome with --syscall-lock held:`.
private func documentedOutcomes() -> [DocumentedOutcome] {
    let files = ((try? FileManager.default.contentsOfDirectory(atPath: examplesDir)) ?? []).filter { $0.hasSuffix(".mm") }.sorted()
    var out: [DocumentedOutcome] = []
    for f in files {
        guard let text = try? String(contentsOfFile: examplesDir + "/" + f, encoding: .utf8) else { continue }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (i, l) in lines.enumerated() where l.hasPrefix("# outcome") && i + 1 < lines.count {
            let lock: ScenarioSyscallLock? = l.contains("--syscall-lock held") ? .held : nil
            let keepGoing = l.contains("--keep-going")
            guard let values = lines[(i + 1)...].first(where: { $0.hasPrefix("#   ") }) else { continue }
            for item in values.dropFirst().split(separator: " ") {
                let kv = item.split(separator: "=")
                guard kv.count == 2, let pin = AnonVmaPinPolicy(rawValue: String(kv[0])) else { continue }
                let kinds = kv[1] == "clean" ? [] : Set(kv[1].split(separator: "+").map(String.init))
                out.append(DocumentedOutcome(file: f, pin: pin, syscallLock: lock, keepGoing: keepGoing, kinds: kinds))
            }
        }
    }
    return out
}

extension ExploreTests.Scenarios {
    @Test func everyExampleDocumentsItsOutcomes() throws {
        let all = documentedOutcomes()
        let files = Set(all.map(\.file))
        let onDisk = ((try? FileManager.default.contentsOfDirectory(atPath: examplesDir)) ?? []).filter { $0.hasSuffix(".mm") }
        #expect(files == Set(onDisk), "examples without an outcome line: \(Set(onDisk).subtracting(files).sorted())")
        for f in files {
            let plain = all.filter { $0.file == f && $0.syscallLock == nil && !$0.keepGoing }
            #expect(Set(plain.map(\.pin)) == Set(AnonVmaPinPolicy.allCases), "\(f)")
        }
    }

    @Test(arguments: documentedOutcomes())
    func exampleHasItsDocumentedOutcome(_ o: DocumentedOutcome) throws {
        let scenario = try ScenarioParser.parse(path: examplesDir + "/" + o.file)
        var run = RunOptions()
        run.pinPolicy = o.pin
        run.syscallLock = o.syscallLock
        let opts = ExploreOptions(strategy: .dfs, schedules: 20_000, seed: 1, preemptionBound: 2, keepGoing: o.keepGoing)
        let r = try MMExplore.explore(options: opts, makeBody: { ScenarioRunner.explorationBody(scenario, options: run) })
        if o.kinds.isEmpty {
            #expect(r.coverageComplete && r.failingSchedules == 0, "\(o): \(r.summary)")
        } else if o.keepGoing {
            #expect(r.coverageComplete && Set(r.violations.map(\.violation.kind.rawValue)) == o.kinds, "\(o): \(r.summary)")
        } else {
            let first = Set(r.firstFailure?.violations.map(\.kind.rawValue) ?? [])
            #expect(first.isSuperset(of: o.kinds), "\(o): \(r.summary)")
        }
    }

    /// The replay command in an example's header (`#   mmlab replay FILE --schedule T  # the KIND`)
    /// reproduces that kind.
    @Test func exampleReplayCommandsReproduceTheirViolation() throws {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: examplesDir)) ?? []).filter { $0.hasSuffix(".mm") }
        var checked = 0
        for f in files {
            let text = try String(contentsOfFile: examplesDir + "/" + f, encoding: .utf8)
            for l in text.split(separator: "\n") where l.hasPrefix("#   mmlab replay ") {
                let parts = l.split(separator: " ").map(String.init)
                let token = try #require(parts.firstIndex(of: "--schedule").map { parts[$0 + 1] }, "\(f): \(l)")
                let kind = try #require(l.range(of: "# the ").map { String(l[$0.upperBound...]).replacingOccurrences(of: " ", with: "-") }, "\(f): \(l)")
                let scenario = try ScenarioParser.parse(path: examplesDir + "/" + f)
                let out = try replay(token: token, body: ScenarioRunner.explorationBody(scenario, options: RunOptions()))
                #expect(out.error == nil, "\(f)")
                #expect(out.violations.contains { $0.kind.rawValue == kind }, "\(f): \(out.violations)")
                checked += 1
            }
        }
        #expect(checked >= 1)
    }
}
