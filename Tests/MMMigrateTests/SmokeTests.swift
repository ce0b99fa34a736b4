import Testing
import MMPhysical
import MMSpace
import MMMigrate
import MMCheck
import MMSync

@Test func smokeFaultForkMigrateExit() throws {
    let m = Machine(MachineConfig(nodes: 2, nodeMemBytes: 16 << 20, blockBytes: 4 << 20))
    let a = try m.createProcess("A")
    try m.mmap(a.mm, 0x1000_0000, 64 * 4096)
    try m.touch(a.mm, 0x1000_0000, 64 * 4096)
    #expect(Checker.check(m).isEmpty)
    let b = try m.fork(a, child: "B")
    try m.userWrite(b.mm, 0x1000_0000)
    #expect(Checker.check(m) == [])
    let mig = Migrator(m)
    let r = mig.movePages(target: "A", addresses: [0x1000_0000, 0x1000_1000], nodes: [1, 1], flags: [.move])
    print(r)
    #expect(r.status == [1, -13])
    let r2 = mig.migrateKernel(target: "A", address: 0x1000_2000, node: 1)
    print(r2)
    #expect(Checker.check(m) == [])
    try m.mremap(a.mm, 0x1000_0000, 16 * 4096, 0x2000_0000)
    try m.userRead(a.mm, 0x2000_0000)
    try m.munmap(a.mm, 0x1000_8000, 4096)
    #expect(Checker.check(m) == [])
    try m.exit("A")
    try m.exit("B")
    let v = Checker.check(m)
    #expect(v == [])
    #expect(m.phys.freePages() == m.config.totalPages)
    print(m.phys.zones.map { $0.freeBlockCounts() })
}
