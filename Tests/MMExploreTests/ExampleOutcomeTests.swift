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

/// One documented expectation: a policy setting and the first violation kind (nil: clean).
struct DocumentedOutcome: Sendable, CustomStringConvertible {
    let file: String
    let pin: AnonVmaPinPolicy
    let syscallLock: ScenarioSyscallLock?
    let kind: String?
    var description: String {
        "\(file) pin=\(pin.rawValue)\(syscallLock.map { " --syscall-lock \($0.rawValue)" } ?? ""): \(kind ?? "clean")"
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
            for item in lines[i + 1].dropFirst().split(separator: " ") {
                let kv = item.split(separator: "=")
                guard kv.count == 2, let pin = AnonVmaPinPolicy(rawValue: String(kv[0])) else { continue }
                out.append(DocumentedOutcome(file: f, pin: pin, syscallLock: lock, kind: kv[1] == "clean" ? nil : String(kv[1])))
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
        for f in files { #expect(Set(all.filter { $0.file == f && $0.syscallLock == nil }.map(\.pin)) == Set(AnonVmaPinPolicy.allCases), "\(f)") }
    }

    @Test(arguments: documentedOutcomes())
    func exampleHasItsDocumentedOutcome(_ o: DocumentedOutcome) throws {
        let scenario = try ScenarioParser.parse(path: examplesDir + "/" + o.file)
        var run = RunOptions()
        run.pinPolicy = o.pin
        run.syscallLock = o.syscallLock
        let opts = ExploreOptions(strategy: .dfs, schedules: 20_000, seed: 1, preemptionBound: 2)
        let r = try MMExplore.explore(options: opts, makeBody: { ScenarioRunner.explorationBody(scenario, options: run) })
        if let kind = o.kind {
            #expect(r.firstFailure?.violations.first?.kind.rawValue == kind, "\(o): \(r.summary)")
        } else {
            #expect(r.coverageComplete && r.failingSchedules == 0, "\(o): \(r.summary)")
        }
    }
}
