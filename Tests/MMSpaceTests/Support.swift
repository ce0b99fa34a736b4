// Shared helpers for the address-space tests: a seeded PRNG, machine builders and
// whole-machine accounting used by several suites.

import Testing
import MMPhysical
import MMSpace
import MMCheck
import MMSync


let page: UInt64 = 4096
let base: UInt64 = 0x1000_0000

func smallMachine(nodes: Int = 1, mem: Int = 16 << 20, content: ContentMode = .full) -> Machine {
    Machine(MachineConfig(nodes: nodes, nodeMemBytes: mem, blockBytes: 4 << 20, content: content))
}

/// How many PTEs (of every live process) map each frame.
func ptesPerFrame(_ m: Machine) -> [PFN: Int] {
    var out: [PFN: Int] = [:]
    for p in m.allProcesses {
        for v in p.mm.vmaList {
            var a = v.start
            while a < v.end {
                let pte = m.pte(p.mm, a)
                if pte.isPresent { out[pte.pfn, default: 0] += 1 }
                a += page
            }
        }
    }
    return out
}

/// The VMA ranges of an address space, as (start, end) pairs.
func ranges(_ mm: MM) -> [(UInt64, UInt64)] { mm.vmaList.map { ($0.start, $0.end) } }

func rangesEqual(_ a: [(UInt64, UInt64)], _ b: [(UInt64, UInt64)]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
}

/// Exits every process and asserts the machine is back to its boot state: all frames
/// free and merged, no anon_vma allocated, nothing for the checker to report.
func tearDownAndExpectPristine(_ m: Machine, _ context: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    for p in m.allProcesses { try? m.exit(p.name) }
    let v = Checker.check(m)
    #expect(v.isEmpty, "\(context) \(v)", sourceLocation: sourceLocation)
    #expect(m.phys.freePages() == m.config.totalPages, "\(context)", sourceLocation: sourceLocation)
    #expect(m.slab.allSlots().allSatisfy { !$0.isAllocated }, "\(context) anon_vma leaked", sourceLocation: sourceLocation)
    for z in m.phys.zones {
        let c = z.freeBlockCounts()
        #expect(c[maxOrder] == z.pages / 1024 && c[0..<maxOrder].allSatisfy { $0 == 0 },
                "\(context) node \(z.node) buddyinfo \(c)", sourceLocation: sourceLocation)
    }
}
