// Nodes, zones, holes, watermarks and memory blocks (MachineConfig.swift, Topology.swift).

import MMPhysical
import Testing

@Suite struct TopologyTests {
    @Test func movableZoneSitsAtTheTopOfEachNode() {
        let c = MachineConfig(nodes: 2, nodeMemBytes: 64 << 20, blockBytes: 16 << 20, content: .stamp, movableBytes: 16 << 20)
        #expect(c.problem == nil)
        let phys = PhysicalMemory(c)
        #expect(phys.zones.map(\.name) == ["Normal", "Movable", "Normal", "Movable"])
        for n in phys.nodes {
            let normal = n.zone(.normal)!, movable = n.zone(.movable)!
            #expect(normal.startPFN == n.startPFN && normal.spannedPages == 12288)
            #expect(movable.startPFN == normal.endPFN && movable.endPFN == n.endPFN)
            #expect(n.zonelist(.movable).map(\.kind) == [.movable, .normal])
            #expect(n.zonelist(.unmovable).map(\.kind) == [.normal], "kernel allocations never land in Movable")
        }
        // Unmovable allocations fill Normal and then fail rather than use Movable.
        var got = 0
        while let p = phys.allocPage(node: 0, .unmovable, fallback: false) {
            #expect(phys.zoneOf(p).kind == .normal)
            got += 1
        }
        #expect(got == 12288)
        #expect(phys.allocPage(node: 0, .movable, fallback: false).map { phys.zoneOf($0).kind } == .movable)
    }

    @Test func dma32EndsAtFourGiB() {
        let c = MachineConfig(nodes: 2, nodeMemBytes: 3 << 30, content: .stamp, zones: [.dma32, .normal])
        #expect(c.zoneSpans(node: 0).map(\.kind) == [.dma32])
        let spans1 = c.zoneSpans(node: 1)
        #expect(spans1.map(\.kind) == [.dma32, .normal])
        #expect(spans1[0].startPFN + spans1[0].pages == MachineConfig.dma32EndPFN)
        #expect(MachineConfig(nodes: 2, nodeMemBytes: 3 << 30, zones: [.dma32]).problem?.contains("above 4G") == true)
    }

    @Test func holesAreNeverFreeNorAllocated() {
        let hole = 1000..<1600   // crosses a pageblock and a max-order boundary
        let c = MachineConfig(nodes: 1, nodeMemBytes: 8 << 20, content: .stamp, holes: [hole])
        #expect(c.problem == nil)
        let phys = PhysicalMemory(c)
        let z = phys.zones[0]
        #expect(z.spannedPages == 2048 && z.presentPages == 2048 - 600)
        #expect(phys.freePages() == 2048 - 600)
        #expect(z.isHole(1000) && z.isHole(1599) && !z.isHole(999) && !z.isHole(1600))
        var all: [PFN] = []
        while let p = phys.allocPage(node: 0) { all.append(p) }
        #expect(all.count == 2048 - 600)
        #expect(all.allSatisfy { !hole.contains(Int($0)) })
        #expect(phys.pages.test(1200, PageFlag.reserved))
        #expect(MachineConfig(nodeMemBytes: 8 << 20, holes: [5..<3000, 2000..<2100]).problem != nil)
    }

    @Test func watermarksFollowLinuxDefaults() {
        // 1 GiB of lowmem: min_free_kbytes = sqrt(1048576·16) = 4096 KiB = 1024 pages.
        #expect(Watermarks.minFreeKbytes(lowmemPages: 262_144) == 4096)
        #expect(Watermarks.minFreeKbytes(lowmemPages: 16) == 128, "clamped below")
        #expect(Watermarks.minFreeKbytes(lowmemPages: 1 << 32) == 262_144, "clamped above")
        let phys = PhysicalMemory(MachineConfig(nodeMemBytes: 1 << 30, content: .stamp))
        // low/high step: max(min/4 = 256, 262144·10/10000 = 262).
        #expect(phys.zones[0].watermarks == Watermarks(min: 1024, low: 1286, high: 1548))
        let two = PhysicalMemory(MachineConfig(nodes: 2, nodeMemBytes: 512 << 20, content: .stamp, movableBytes: 256 << 20))
        let normal = two.nodes[0].zone(.normal)!, movable = two.nodes[0].zone(.movable)!
        // lowmem = the two Normal zones (131072 pages): min_free_kbytes = sqrt(524288·16) = 2896.
        #expect(normal.watermarks.min == (2896 >> 2) * 65536 / 131072)
        #expect(movable.watermarks.min == 64, "Movable: present/1024 clamped to 32…128")
    }

    @Test func pfnLookupsAndMemoryBlocks() {
        let c = MachineConfig(nodes: 2, nodeMemBytes: 32 << 20, blockBytes: 8 << 20, content: .stamp, movableBytes: 8 << 20)
        let phys = PhysicalMemory(c)
        #expect(phys.blocks.count == 8)
        for pfn in stride(from: PFN(0), to: PFN(c.totalPages), by: 97) {
            let b = phys.blockOf(pfn), z = phys.zoneOf(pfn)
            #expect(phys.nodeOf(pfn) == Int(pfn) / c.pagesPerNode)
            #expect(b.startPFN <= pfn && pfn < b.endPFN && b.node == phys.nodeOf(pfn))
            #expect(z.contains(pfn) && b.zone === z)
        }
        let top = phys.block(node: 1, index: 3)!
        #expect(top.zone?.kind == .movable && top.state == .online)
        #expect(top.transition(from: .online, to: .goingOffline))
        #expect(!top.transition(from: .online, to: .offline))
        top.setState(.offline)
        #expect(top.state == .offline && phys.block(node: 1, index: 4) == nil)
    }

    @Test func oneRuleForEveryCaller() {
        // 40M over 2 nodes is 20M per node: blocks of 4M by the default rule — the same
        // the scenario parser gives `machine nodes=2 node_mem=20M`.
        #expect(MachineConfig.problemSplitting(totalBytes: 40 << 20, nodes: 2) == nil)
        #expect(MachineConfig.splitting(totalBytes: 40 << 20, nodes: 2)?.blockBytes == 4 << 20)
        #expect(MachineConfig.problemSplitting(totalBytes: 42 << 20, nodes: 2)?.contains("not a multiple of 4M") == true)
        #expect(MachineConfig(nodeMemBytes: 64 << 20, movableBytes: 64 << 20).problem?.contains("leaves no memory") == true)
        #expect(MachineConfig(nodeMemBytes: 64 << 20, blockBytes: 16 << 20, movableBytes: 8 << 20).problem?.contains("multiple of 4M and of block") == true)
        #expect(MachineConfig(nodeMemBytes: 64 << 20, zones: [.normal, .movable]).problem?.contains("needs movable=SIZE") == true)
    }

    @Test func pageblockFlagsKeepTypeAndSkipApart() {
        let phys = PhysicalMemory(MachineConfig(nodeMemBytes: 4 << 20, content: .stamp))
        let z = phys.zones[0]
        z.setPageblockSkip(600, true)
        z.lock.withLock { z.setPageblockTypeLocked(600, .unmovable) }
        #expect(z.isPageblockSkip(512) && z.pageblockType(of: 1023) == .unmovable)
        #expect(z.pageblockFlags(index: 1) == UInt8(MigrateType.unmovable.rawValue) | PageblockFlag.skip)
        #expect(!z.isPageblockSkip(0))
        z.clearAllPageblockSkip()
        #expect(!z.isPageblockSkip(600) && z.pageblockType(of: 600) == .unmovable)
    }
}
