// The machine line's topology keys: zones=, movable=, kcompactd= (MachineConfig decides).

import MMScenario
import Testing

@Suite struct MachineLineTests {
    @Test func zonesMovableAndKcompactd() throws {
        let s = try ScenarioParser.parse(text: "machine nodes=2 node_mem=64M movable=16M kcompactd=on", file: "m")
        #expect(s.machine == MachineSpec(nodes: 2, nodeMemBytes: 64 << 20, blockBytes: 16 << 20, content: .full,
                                         zones: ["Normal", "Movable"], movableBytes: 16 << 20, kcompactd: true))
        let d = try ScenarioParser.parse(text: "machine node_mem=64M zones=dma32,Normal", file: "m")
        #expect(d.machine?.zones == ["DMA32", "Normal"] && d.machine?.kcompactd == false)
    }

    @Test func badTopologyNamesTheLine() {
        let cases: [(String, String)] = [
            ("machine node_mem=64M zones=High", "bad zone 'High'"),
            ("machine node_mem=64M zones=Normal,Normal", "named twice"),
            ("machine node_mem=64M zones=Movable", "must name DMA32 or Normal"),
            ("machine node_mem=64M zones=Normal,Movable", "needs movable=SIZE"),
            ("machine node_mem=64M movable=64M", "leaves no memory"),
            ("machine node_mem=64M movable=6M", "multiple of 4M"),
            ("machine node_mem=64M kcompactd=maybe", "expected on or off"),
        ]
        for (text, fragment) in cases {
            do {
                _ = try ScenarioParser.parse(text: text + "\n", file: "t.scn")
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.line == 1 && error.message.contains(fragment), "\(text): \(error)")
            }
        }
    }
}
