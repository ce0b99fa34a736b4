// The replay's picture (MMScenario/SnapshotPicture.swift): well-formed SVG with one row
// per zone and two panels (before | mmlab after), or three with the kernel's after.

import Testing
import MMPhysical
import MMScenario
@testable import MMSnapshot

@Suite(.serialized) struct PictureTests {
    @Test func pictureIsWellFormedWithTwoOrThreePanelsPerZone() throws {
        let before = try ReplayTests.crop()
        let after = try KernelSnapshot.load(directory: ReplayTests.dir + "/after").cropped(toEnd: ReplayTests.cropEnd)
        let p = try SnapshotReplay.predict(before)
        for kernel in [nil, after] {
            let pic = SnapshotPicture.picture(before: before, prediction: p, kernelAfter: kernel, title: "test & <check>")
            #expect(pic.panelRows.count == before.zones.count)
            #expect(pic.panelRows.allSatisfy { $0.count == (kernel == nil ? 2 : 3) })
            let svg = pic.svg
            #expect(svg.hasPrefix("<?xml") && svg.hasSuffix("</svg>\n"))
            #expect(svg.contains("test &amp; &lt;check&gt;"))
            #expect(svg.components("— before (") == before.zones.count)
            #expect(svg.components("— mmlab after (") == before.zones.count)
            #expect(svg.components("— kernel after (") == (kernel == nil ? 0 : before.zones.count))
            #expect(XMLCheck.wellFormed(svg), "SVG is not well-formed XML")
        }
        // Cells: a crop of 0x180000 PFNs has 0x180000 / 512 pageblocks over its zones.
        let normal = try #require(before.zones.last)
        let cells = SnapshotPicture.classes(cells: before.cells, from: normal.startPFN, to: normal.endPFN)
        #expect(cells.count == (normal.endPFN - normal.startPFN) / 512)
        #expect(cells.filter { $0 == .free }.count == before.whollyFreePageblocks(zone: normal, countZeroFree: true))
    }
}

extension String {
    func components(_ s: String) -> Int {
        var n = 0, rest = self[...]
        while let r = rest.firstRange(of: s) { n += 1; rest = rest[r.upperBound...] }
        return n
    }
}

/// A small XML well-formedness check (no Foundation XMLParser on every platform): tags
/// nest and close, attribute values are quoted, entities are the five XML ones.
enum XMLCheck {
    static func wellFormed(_ doc: String) -> Bool {
        var stack: [Substring] = []
        var s = doc[...]
        if s.hasPrefix("<?xml"), let e = s.firstRange(of: "?>") { s = s[e.upperBound...] }
        var sawRoot = false
        while let lt = s.firstIndex(of: "<") {
            if !entitiesOK(s[..<lt]) { return false }
            guard let gt = s[lt...].firstIndex(of: ">") else { return false }
            let tag = s[s.index(after: lt)..<gt]
            s = s[s.index(after: gt)...]
            if tag.hasPrefix("/") {
                guard stack.popLast() == tag.dropFirst() else { return false }
                continue
            }
            let selfClosing = tag.hasSuffix("/")
            let body = selfClosing ? tag.dropLast() : tag
            let name = body.prefix { $0 != " " && $0 != "\n" }
            guard !name.isEmpty, body.filter({ $0 == "\"" }).count % 2 == 0 else { return false }
            if stack.isEmpty { if sawRoot { return false }; sawRoot = true }
            if !selfClosing { stack.append(name) }
        }
        return sawRoot && stack.isEmpty && s.allSatisfy { $0.isWhitespace }
    }

    static func entitiesOK(_ text: Substring) -> Bool {
        var t = text
        while let amp = t.firstIndex(of: "&") {
            let rest = t[amp...]
            guard ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(where: { rest.hasPrefix($0) }) else { return false }
            t = t[t.index(after: amp)...]
        }
        return true
    }
}
