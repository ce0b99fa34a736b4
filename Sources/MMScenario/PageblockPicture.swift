// Pictures of pageblocks (`mmlab compact --svg`): one cell per pageblock coloured by
// what it holds, panels side by side (before | after, or before | predicted | after),
// one row of panels per node and zone, a legend, and monospace tables (buddyinfo,
// counters) under them. Plain SVG built as a string: no dependency.
//
// Legibility from 64 MiB (32 pageblocks) to 16 GiB (32,768): the cell size and the cells
// per line are chosen from the panel's count so that every panel fits a fixed box; below
// 5 px cells the gaps go and runs of one class merge into one rectangle, which keeps a
// 16 GiB picture near a megabyte.

import MMPhysical

/// An SVG picture of pageblock grids.
public struct PageblockPicture: Sendable {
    /// A grid of pageblocks.
    public struct Panel: Sendable {
        public enum Direction: Sendable {
            /// Cells fill a line left to right, lines go down (PFN order, like a hexdump).
            case across
            /// Cells fill a column top to bottom, columns go right (hot-remove: one
            /// column per memory block, `lineLength` = pageblocks per block).
            case down
        }
        public var title: String
        public var cells: [PageblockClass]
        /// Cells per line (per row for `.across`, per column for `.down`); nil: chosen
        /// from the count to fit the panel box.
        public var lineLength: Int?
        public var direction: Direction
        /// Label of line i (PFN, address, memory block); shown on every few lines.
        public var lineLabels: [String]
        /// Without explicit labels: label each line with the address of its first cell,
        /// `start` MiB plus `step` MiB per cell (2 for pageblocks).
        public var addressLabels: (startMiB: Int, mibPerCell: Int)?
        /// Lines printed under the grid (e.g. the class counts).
        public var notes: [String]

        public init(title: String, cells: [PageblockClass], lineLength: Int? = nil, direction: Direction = .across,
                    lineLabels: [String] = [], addressLabels: (startMiB: Int, mibPerCell: Int)? = nil, notes: [String]? = nil) {
            self.addressLabels = addressLabels
            self.title = title
            self.cells = cells
            self.lineLength = lineLength
            self.direction = direction
            self.lineLabels = lineLabels
            self.notes = notes ?? [Self.countsLine(cells)]
        }

        /// "N pageblocks: free a · movable b · …" (classes with a zero count left out).
        public static func countsLine(_ cells: [PageblockClass]) -> String {
            var n = [Int](repeating: 0, count: PageblockClass.allCases.count)
            for c in cells { n[Int(c.rawValue)] += 1 }
            let parts = PageblockClass.allCases.filter { n[Int($0.rawValue)] > 0 }.map { "\($0.name) \(n[Int($0.rawValue)])" }
            return "\(cells.count) pageblocks: " + parts.joined(separator: " · ")
        }
    }

    /// A monospace table: a title line and pre-formatted lines.
    public struct Table: Sendable {
        public var title: String
        public var lines: [String]
        public init(title: String, lines: [String]) {
            self.title = title
            self.lines = lines
        }
    }

    public var title: String
    public var subtitle: [String]
    /// Each inner list is one row of panels drawn side by side.
    public var panelRows: [[Panel]]
    public var tables: [Table]

    public init(title: String, subtitle: [String] = [], panelRows: [[Panel]], tables: [Table] = []) {
        self.title = title
        self.subtitle = subtitle
        self.panelRows = panelRows
        self.tables = tables
    }

    /// Fill colour of each class (legend order = PageblockClass.allCases).
    public static func colour(_ c: PageblockClass) -> String {
        switch c {
        case .free: "#a6dba0"        // green: every page free
        case .movable: "#4f8fc6"     // blue: movable pages in use
        case .unmovable: "#d7301f"   // red: unmovable pages in use
        case .mixed: "#fdae61"       // orange: both
        case .isolated: "#8e5fb0"    // purple: MIGRATE_ISOLATE
        case .offline: "#c8c8c8"     // grey: hole or offline block
        }
    }

    // MARK: geometry

    /// Box each panel's grid must fit (pixels).
    static let boxWidth = 576, boxHeight = 576
    static let margin = 24, labelWidth = 64, panelGap = 32
    static let font = 12, lineHeight = 16

    /// Cell size and cells per line for a panel (Linux has no picture; this is ours).
    struct Grid {
        let pitch: Int, perLine: Int, lines: Int
        /// No gaps below 5 px: runs of one class then merge into one rectangle.
        var gap: Int { pitch >= 6 ? 1 : 0 }
        var cell: Int { pitch - gap }
        init(pitch: Int, perLine: Int, n: Int) {
            self.pitch = pitch
            self.perLine = perLine
            lines = (n + perLine - 1) / perLine
        }
    }

    static func grid(_ p: Panel) -> Grid {
        let n = max(1, p.cells.count)
        if let l = p.lineLength, l > 0 {
            let lines = (n + l - 1) / l
            let (along, across) = p.direction == .across ? (l, lines) : (lines, l)
            return Grid(pitch: max(1, min(25, min(boxWidth / along, boxHeight / max(1, across)))), perLine: l, n: n)
        }
        // The largest cell (≤ 24 px) for which some line length fits the box; lines a
        // multiple of 8 pageblocks (16 MiB), a power of two when that costs under 30%.
        let any = bestPitch(n) { lo, hi in hi >= 16 ? (hi - hi % 8 >= lo ? hi - hi % 8 : nil) : (hi >= lo ? hi : nil) }
        let pow2 = bestPitch(n) { lo, hi in
            var q = 1
            while q * 2 <= hi { q *= 2 }
            return q >= lo ? q : nil
        }
        let pick = pow2.pitch * 10 >= any.pitch * 7 ? pow2 : any
        return Grid(pitch: pick.pitch, perLine: pick.perLine, n: n)
    }

    /// The largest pitch (cell + gap) for which `choose(minPerLine, maxPerLine)` finds a
    /// line length that fits the box, and that length.
    static func bestPitch(_ n: Int, _ choose: (Int, Int) -> Int?) -> (pitch: Int, perLine: Int) {
        var pitch = 25
        while pitch > 1 {
            let maxPerLine = boxWidth / pitch, maxLines = boxHeight / pitch
            let minPerLine = (n + maxLines - 1) / maxLines
            if let l = choose(minPerLine, min(maxPerLine, n)) { return (pitch, l) }
            pitch -= 1
        }
        return (1, max(1, boxWidth))
    }

    static func extent(_ p: Panel, _ g: Grid) -> (w: Int, h: Int) {
        let (along, across) = (g.perLine, g.lines)
        let gw = (p.direction == .across ? along : across) * g.pitch
        let gh = (p.direction == .across ? across : along) * g.pitch
        return (labelWidth + max(gw, 200), lineHeight * 2 + gh + lineHeight * (p.notes.count + 1) + (p.direction == .down ? 12 : 0))
    }
}

// MARK: SVG

extension PageblockPicture {
    /// The picture as an SVG document.
    public var svg: String {
        var body = ""
        var y = Self.margin
        var width = 0
        text(&body, x: Self.margin, y: y + 6, title, size: 18, bold: true)
        y += 26
        for line in subtitle {
            text(&body, x: Self.margin, y: y, line)
            y += Self.lineHeight
        }
        y += 4
        legend(&body, x: Self.margin, y: y)
        y += Self.lineHeight + 12
        for row in panelRows {
            var x = Self.margin, rowHeight = 0
            for p in row {
                let g = Self.grid(p)
                let e = Self.extent(p, g)
                panel(&body, p, g, x: x, y: y)
                x += e.w + Self.panelGap
                rowHeight = max(rowHeight, e.h)
            }
            width = max(width, x - Self.panelGap + Self.margin)
            y += rowHeight + 8
        }
        for t in tables {
            y += 6
            text(&body, x: Self.margin, y: y, t.title, bold: true)
            y += Self.lineHeight
            for line in t.lines {
                text(&body, x: Self.margin, y: y, line, mono: true)
                y += Self.lineHeight
            }
            let longest = t.lines.map(\.count).max() ?? 0
            width = max(width, Self.margin * 2 + longest * 7 + 8)
        }
        width = max(width, 640)
        let height = y + Self.margin
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"\(Self.font)\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
        out += body
        out += "</svg>\n"
        return out
    }

    private func legend(_ out: inout String, x: Int, y: Int) {
        var cx = x
        for c in PageblockClass.allCases {
            out += "<rect x=\"\(cx)\" y=\"\(y - 10)\" width=\"12\" height=\"12\" fill=\"\(Self.colour(c))\" stroke=\"#555\" stroke-width=\"0.5\"/>"
            let label = Self.legendText(c)
            text(&out, x: cx + 16, y: y, label)
            cx += 24 + label.count * 7
        }
        out += "\n"
    }

    static func legendText(_ c: PageblockClass) -> String {
        switch c {
        case .free: "free (every page free)"
        case .movable: "movable in use"
        case .unmovable: "unmovable"
        case .mixed: "mixed (movable + unmovable)"
        case .isolated: "isolated"
        case .offline: "hole / offline"
        }
    }

    private func panel(_ out: inout String, _ p: Panel, _ g: Grid, x: Int, y: Int) {
        text(&out, x: x, y: y, p.title, bold: true)
        let gx = x + Self.labelWidth, gy = y + Self.lineHeight - 6
        let across = p.direction == .across
        let gridW = (across ? g.perLine : g.lines) * g.pitch, gridH = (across ? g.lines : g.perLine) * g.pitch
        out += "<rect x=\"\(gx - 1)\" y=\"\(gy - 1)\" width=\"\(gridW + 2 - g.gap)\" height=\"\(gridH + 2 - g.gap)\" fill=\"#f0f0f0\" stroke=\"#888\" stroke-width=\"0.5\"/>\n"
        // One rectangle per run of equal cells on a line when there are no gaps.
        for line in 0..<g.lines {
            let first = line * g.perLine
            let last = min(p.cells.count, first + g.perLine)
            var i = first
            while i < last {
                var j = i + 1
                if g.gap == 0 { while j < last && p.cells[j] == p.cells[i] { j += 1 } }
                let k = i - first, run = j - i
                let (rx, ry, rw, rh) = across
                    ? (gx + k * g.pitch, gy + line * g.pitch, run * g.pitch - g.gap, g.cell)
                    : (gx + line * g.pitch, gy + k * g.pitch, g.cell, run * g.pitch - g.gap)
                out += "<rect x=\"\(rx)\" y=\"\(ry)\" width=\"\(rw)\" height=\"\(rh)\" fill=\"\(Self.colour(p.cells[i]))\"/>"
                i = j
            }
            out += "\n"
        }
        lineLabels(&out, p, g, gx: gx, gy: gy)
        var ny = gy + gridH + Self.lineHeight + (p.direction == .down && (!p.lineLabels.isEmpty || p.addressLabels != nil) ? 12 : 0)
        for n in p.notes {
            text(&out, x: x, y: ny, n)
            ny += Self.lineHeight
        }
    }

    /// Labels of every few lines, spaced so they never overlap.
    private func lineLabels(_ out: inout String, _ p: Panel, _ g: Grid, gx: Int, gy: Int) {
        var labels = p.lineLabels
        if labels.isEmpty, let a = p.addressLabels {
            labels = (0..<g.lines).map { Self.mibLabel(a.startMiB + $0 * g.perLine * a.mibPerCell) }
        }
        guard !labels.isEmpty else { return }
        let across = p.direction == .across
        let spacing = across ? Self.lineHeight : 70   // pixels one label needs
        var every = max(1, (spacing + g.pitch - 1) / g.pitch)
        if p.lineLabels.isEmpty, let a = p.addressLabels {
            // Address labels on round addresses: a power of two or a multiple of 512 MiB.
            let lineMiB = g.perLine * a.mibPerCell
            let nice = (every...(every * 16)).first { k in
                let step = k * lineMiB
                return step > 0 && (step & (step - 1) == 0 || step % 512 == 0)
            }
            every = nice ?? every
        }
        for line in stride(from: 0, to: min(g.lines, labels.count), by: every) {
            if across {
                text(&out, x: gx - 4, y: gy + line * g.pitch + min(g.pitch, Self.lineHeight) - 2, labels[line], size: 10, anchor: "end")
            } else {
                text(&out, x: gx + line * g.pitch, y: gy + g.perLine * g.pitch + 11, labels[line], size: 10)
            }
        }
    }

    /// "512M", "1G", "1.5G".
    static func mibLabel(_ mib: Int) -> String {
        if mib >= 1024 && mib % 1024 == 0 { return "\(mib / 1024)G" }
        if mib >= 1024 && mib % 512 == 0 { return "\(mib / 1024).5G" }
        return "\(mib)M"
    }

    private func text(_ out: inout String, x: Int, y: Int, _ s: String, size: Int? = nil, bold: Bool = false,
                      mono: Bool = false, anchor: String? = nil) {
        out += "<text x=\"\(x)\" y=\"\(y)\""
        if let size { out += " font-size=\"\(size)\"" }
        if bold { out += " font-weight=\"bold\"" }
        if mono { out += " font-family=\"DejaVu Sans Mono, Menlo, monospace\" xml:space=\"preserve\"" }
        if let anchor { out += " text-anchor=\"\(anchor)\"" }
        out += ">" + Self.escape(s) + "</text>\n"
    }

    /// XML text escaping.
    static func escape(_ s: String) -> String {
        var r = ""
        r.reserveCapacity(s.utf8.count)
        for ch in s {
            switch ch {
            case "&": r += "&amp;"
            case "<": r += "&lt;"
            case ">": r += "&gt;"
            case "\"": r += "&quot;"
            default: r.append(ch)
            }
        }
        return r
    }
}
