// Scenario fixtures (Tests/Fixtures/*.mm): each `#> RESULT` line is what the statement
// above it must give, in `mmlab run`'s text form without the `line N: ` prefix. The
// fixtures cover the scenario language itself on Linux-version behaviour.

import Foundation
import MMScenario
import MMSync
import Testing

private let fixturesDir: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(2)   // MMScenarioTests/FixtureTests.swift
    return parts.joined(separator: "/") + "/Fixtures"
}()

private final class Results: @unchecked Sendable {
    let lock = PlainLock()
    var byLine: [Int: String] = [:]
    func add(_ r: StatementResult) { lock.withLock { byLine[r.line] = r.text } }
}

private func fixtureNames() -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: fixturesDir)) ?? []).filter { $0.hasSuffix(".mm") }.sorted()
}

@Suite struct FixtureTests {
    @Test func thereAreFixtures() { #expect(fixtureNames().count >= 2) }

    @Test(arguments: fixtureNames())
    func fixtureGivesItsExpectedResults(_ name: String) throws {
        let path = fixturesDir + "/" + name
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let scenario = try ScenarioParser.parse(path: path)
        let results = Results()
        var opts = RunOptions()
        opts.onResult = { results.add($0) }
        let report = try ScenarioRunner(scenario, options: opts).run()
        #expect(report.ok, "\(name): \(report.violations)")
        var statementLine = 0, checked = 0
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let l = raw.trimmingCharacters(in: .whitespaces)
            if l.hasPrefix("#> ") {
                let want = "line \(statementLine): " + l.dropFirst(3)
                #expect(results.byLine[statementLine] == want, "\(name):\(i + 1)")
                checked += 1
            } else if !l.isEmpty && !l.hasPrefix("#") {
                statementLine = i + 1
            }
        }
        #expect(checked > 0, "\(name) has no `#>` expectations")
    }
}
