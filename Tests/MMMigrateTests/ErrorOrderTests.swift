// When several things are wrong with a call, the error is the one Linux checks first.

import Testing
import MMMigrate
import MMPhysical

@Test func movePagesChecksFlagsThenPrivilegeThenTarget() throws {
    let m = makeMachine()
    try makeProcess(m, "A", pages: 1)
    let mig = Migrator(m)
    // Unknown flag bits beat everything.
    #expect(mig.movePages(target: "nobody", addresses: [page(0)], nodes: [1], flags: MPolFlags(rawValue: 8)).errno == .EINVAL)
    // MOVE_ALL without privilege is refused before the target is looked up.
    #expect(mig.movePages(target: "nobody", caller: "A", addresses: [page(0)], nodes: [1], flags: [.moveAll]).errno == .EPERM)
    #expect(mig.movePages(target: "nobody", caller: "A", addresses: [page(0)], nodes: [1], flags: [.move]).errno == .ESRCH)
}

@Test func migratePagesChecksTargetThenAccessThenNodes() throws {
    let m = makeMachine()
    try makeProcess(m, "A", pages: 1, uid: 1)
    try makeProcess(m, "C", pages: 1, uid: 2)
    let mig = Migrator(m)
    #expect(mig.migratePagesSyscall(target: "nobody", from: [0], to: [7]).errno == .ESRCH)
    #expect(mig.migratePagesSyscall(target: "A", caller: "C", from: [0], to: [7]).errno == .EPERM)
    #expect(mig.migratePagesSyscall(target: "A", from: [0], to: [7]).errno == .EPERM, "unprivileged: EPERM")
    #expect(mig.migratePagesSyscall(target: "A", from: [0], to: [maxNumNodes]).errno == .EINVAL)
    #expect(mig.migratePagesSyscall(target: "A", from: [0], to: [1]).errno == nil)
}
