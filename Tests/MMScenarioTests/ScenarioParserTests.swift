// Tests of the scenario parser (docs/SCENARIOS.md) and the JSON writer.

import Foundation
import Testing
import MMScenario

// MARK: Helpers

/// Parses `text` and returns the error, or nil (and records a failure) if it parsed.
private func parseError(_ text: String, file: String = "t.scn",
                        sourceLocation: SourceLocation = #_sourceLocation) -> ScenarioError? {
    do {
        let s = try ScenarioParser.parse(text: text, file: file)
        Issue.record("expected an error, parsed \(s.statements.count) statements", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// Expects `text` to fail at `line` with a message containing `fragment`.
private func expectError(_ text: String, line: Int, _ fragment: String,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    guard let e = parseError(text, sourceLocation: sourceLocation) else { return }
    #expect(e.line == line, "message: \(e.message)", sourceLocation: sourceLocation)
    #expect(e.message.contains(fragment), "message: \(e.message)", sourceLocation: sourceLocation)
    #expect(e.description == "t.scn:\(line): \(e.message)", sourceLocation: sourceLocation)
}

/// Parses `text` (with a two-node machine prepended) and returns the ops after it.
private func ops(_ body: String, machine: String = "machine nodes=2 node_mem=64M\nprocess A\n",
                 sourceLocation: SourceLocation = #_sourceLocation) -> [Op] {
    do {
        let s = try ScenarioParser.parse(text: machine + body, file: "t.scn")
        return s.statements.dropFirst(2).map(\.op)
    } catch {
        Issue.record("unexpected error: \(error)", sourceLocation: sourceLocation)
        return []
    }
}

private let head = "machine nodes=2 node_mem=64M block=16M\nprocess A\n"  // lines 1-2

// MARK: A full scenario

@Test func fullScenarioCoversEveryStatement() throws {
    let text = """
    # a scenario with every statement
    machine nodes=2 node_mem=64M block=16M content=full     # first line
    process A
    process C node=1 uid=1000 privileged
    mmap A 0x10000000 4M           # anonymous
    touch A 0x10000000 4M
    write A 0x10000000 8K
    read A 0x10000000 0x2000
    fork A B
    pin A 0x10000000
    unpin A 0x10000000
    mremap A 0x10000000 4M 0x20000000
    munmap A 0x20000000 1M
    unmovable node=0 pages=100
    move_pages A node=1 0x20100000 0x20101000 flags=move|move_all as=C
    move_pages B 0x10 nodes=0,1,0 0x20 0x30
    query_pages A 0x20100000 0x20101000
    query_pages B 4096 as=A
    migrate_pages A from=0 to=1
    migrate_pages A from=0,1 to=1,0 as=C
    compact
    compact node=1 order=9 mode=async
    offline node=0 block=2
    online block=2 node=0
    migrate_kernel A 0x20100000
    migrate_kernel A 0x20100000 node=0
    policy pin=seed-v2

    thread T1 {                    # statements run by one model thread
      migrate_kernel A 0x20100000
      touch B 0x10000000 4K
    }
    # comment between blocks
    thread T2 {
      exit A
    }
    verify
    exit B
    """
    let s = try ScenarioParser.parse(text: text, file: "full.scn")
    #expect(s.file == "full.scn")
    let m = MachineSpec(nodes: 2, nodeMemBytes: 64 << 20, blockBytes: 16 << 20, content: .full)
    #expect(s.machine == m)
    #expect(m.blocksPerNode == 4 && m.pagesPerNode == 16384 && m.pagesPerBlock == 4096)
    let expected: [Statement] = [
        .init(line: 2, op: .machine(m)),
        .init(line: 3, op: .process(name: "A", node: nil, uid: 0, privileged: false)),
        .init(line: 4, op: .process(name: "C", node: 1, uid: 1000, privileged: true)),
        .init(line: 5, op: .mmap(proc: "A", addr: 0x1000_0000, length: 4 << 20)),
        .init(line: 6, op: .touch(proc: "A", addr: 0x1000_0000, length: 4 << 20)),
        .init(line: 7, op: .write(proc: "A", addr: 0x1000_0000, length: 8192)),
        .init(line: 8, op: .read(proc: "A", addr: 0x1000_0000, length: 8192)),
        .init(line: 9, op: .fork(parent: "A", child: "B")),
        .init(line: 10, op: .pin(proc: "A", addr: 0x1000_0000)),
        .init(line: 11, op: .unpin(proc: "A", addr: 0x1000_0000)),
        .init(line: 12, op: .mremap(proc: "A", oldAddr: 0x1000_0000, length: 4 << 20, newAddr: 0x2000_0000)),
        .init(line: 13, op: .munmap(proc: "A", addr: 0x2000_0000, length: 1 << 20)),
        .init(line: 14, op: .unmovable(node: 0, pages: 100)),
        .init(line: 15, op: .movePages(proc: "A", nodes: [1, 1], addrs: [0x2010_0000, 0x2010_1000],
                                       flags: [.move, .moveAll], caller: "C")),
        .init(line: 16, op: .movePages(proc: "B", nodes: [0, 1, 0], addrs: [0x10, 0x20, 0x30],
                                       flags: .move, caller: nil)),
        .init(line: 17, op: .queryPages(proc: "A", addrs: [0x2010_0000, 0x2010_1000], caller: nil)),
        .init(line: 18, op: .queryPages(proc: "B", addrs: [4096], caller: "A")),
        .init(line: 19, op: .migratePages(proc: "A", from: [0], to: [1], caller: nil)),
        .init(line: 20, op: .migratePages(proc: "A", from: [0, 1], to: [1, 0], caller: "C")),
        .init(line: 21, op: .compact(node: nil, order: nil, mode: nil)),
        .init(line: 22, op: .compact(node: 1, order: 9, mode: "async")),
        .init(line: 23, op: .offline(node: 0, block: 2)),
        .init(line: 24, op: .online(node: 0, block: 2)),
        .init(line: 25, op: .migrateKernel(proc: "A", addr: 0x2010_0000, length: 4096, node: nil, mode: "sync", batch: 1)),
        .init(line: 26, op: .migrateKernel(proc: "A", addr: 0x2010_0000, length: 4096, node: 0, mode: "sync", batch: 1)),
        .init(line: 27, op: .policy(.pin(.seedV2))),
        .init(line: 29, op: .threads([
            ThreadBlock(name: "T1", line: 29, statements: [
                .init(line: 30, op: .migrateKernel(proc: "A", addr: 0x2010_0000, length: 4096, node: nil, mode: "sync", batch: 1)),
                .init(line: 31, op: .touch(proc: "B", addr: 0x1000_0000, length: 4096)),
            ]),
            ThreadBlock(name: "T2", line: 34, statements: [
                .init(line: 35, op: .exit(proc: "A")),
            ]),
        ])),
        .init(line: 37, op: .verify),
        .init(line: 38, op: .exit(proc: "B")),
    ]
    #expect(s.statements.count == expected.count)
    for (got, want) in zip(s.statements, expected) {
        #expect(got == want)
    }
    #expect(s.statements.map(\.op.name) == [
        "machine", "process", "process", "mmap", "touch", "write", "read", "fork", "pin", "unpin",
        "mremap", "munmap", "unmovable", "move_pages", "move_pages", "query_pages", "query_pages",
        "migrate_pages", "migrate_pages", "compact", "compact", "offline", "online",
        "migrate_kernel", "migrate_kernel", "policy", "threads", "verify", "exit",
    ])
}

@Test func machineDefaultsAndForms() throws {
    let s = try ScenarioParser.parse(text: "machine node_mem=8M", file: "m")
    #expect(s.machine == MachineSpec(nodes: 1, nodeMemBytes: 8 << 20, blockBytes: 8 << 20, content: .full))
    #expect(s.statements.count == 1)
    // 20M: 16M does not divide it; the default falls back to 4M.
    let s20 = try ScenarioParser.parse(text: "machine node_mem=20M content=stamp nodes=64", file: "m")
    #expect(s20.machine == MachineSpec(nodes: 64, nodeMemBytes: 20 << 20, blockBytes: 4 << 20, content: .stamp))
    let s24 = try ScenarioParser.parse(text: "machine node_mem=24M", file: "m")
    #expect(s24.machine?.blockBytes == 8 << 20)
    let s1g = try ScenarioParser.parse(text: "\n\n  machine\tnode_mem=1G block=2M  \r\n", file: "m")
    #expect(s1g.machine?.blockBytes == 2 << 20)
    #expect(s1g.machine?.blocksPerNode == 512)
    #expect(s1g.statements.first?.line == 3)
}

@Test func policiesAndFlags() {
    #expect(ops("policy pin=none\npolicy pin=refcount\npolicy pin=seed-v2") == [
        .policy(.pin(ScenarioPinPolicy.none)), .policy(.pin(.refcount)), .policy(.pin(.seedV2)),
    ])
    #expect(ScenarioPinPolicy.allCases.map(\.rawValue) == ["none", "seed-v2", "refcount"])
    #expect(ops("move_pages A node=0 0x1000 flags=strict") ==
            [.movePages(proc: "A", nodes: [0], addrs: [0x1000], flags: .strict, caller: nil)])
    #expect(ops("move_pages A node=0 0x1000 flags=8") ==
            [.movePages(proc: "A", nodes: [0], addrs: [0x1000], flags: MovePagesFlags(rawValue: 8), caller: nil)])
    #expect(ops("move_pages A node=0 0x1000 flags=0x6") ==
            [.movePages(proc: "A", nodes: [0], addrs: [0x1000], flags: [.move, .moveAll], caller: nil)])
    #expect(ops("move_pages A node=0 0x1000 flags=strict|move|16") ==
            [.movePages(proc: "A", nodes: [0], addrs: [0x1000], flags: MovePagesFlags(rawValue: 19), caller: nil)])
    #expect(MovePagesFlags.strict.rawValue == 1 && MovePagesFlags.move.rawValue == 2 && MovePagesFlags.moveAll.rawValue == 4)
}

@Test func movePagesAddressesAreRawValues() {
    // move_pages / query_pages take any 64-bit address: Linux reports -EFAULT per page.
    #expect(ops("query_pages A 0xffffffffffffffff 1") ==
            [.queryPages(proc: "A", addrs: [.max, 1], caller: nil)])
}

// MARK: Thread blocks

@Test func threadGrouping() throws {
    let text = head + """
    thread T1 {
    }

    # between
    thread T2 {
      fork A B
      exit B
    }
    verify
    thread T3 {
      exit A
    }
    thread T1 {
      touch B 0 4K
    }
    """
    let s = try ScenarioParser.parse(text: text, file: "g")
    #expect(s.statements.count == 5)  // machine, process, threads(T1,T2), verify, threads(T3,T1)
    guard s.statements.count == 5 else { return }
    #expect(s.statements[2] == Statement(line: 3, op: .threads([
        ThreadBlock(name: "T1", line: 3, statements: []),
        ThreadBlock(name: "T2", line: 7, statements: [
            Statement(line: 8, op: .fork(parent: "A", child: "B")),
            Statement(line: 9, op: .exit(proc: "B")),
        ]),
    ])))
    #expect(s.statements[3] == Statement(line: 11, op: .verify))
    guard case .threads(let g2) = s.statements[4].op else {
        Issue.record("not a thread group: \(s.statements[4])")
        return
    }
    #expect(s.statements[4].line == 12)
    #expect(g2.map(\.name) == ["T3", "T1"])  // names are unique per group only
    #expect(g2.map(\.line) == [12, 15])
    #expect(g2[1].statements == [Statement(line: 16, op: .touch(proc: "B", addr: 0, length: 4096))])
}

@Test func threadGroupAtEndOfFile() throws {
    let s = try ScenarioParser.parse(text: head + "thread X {\nexit A\n}  # done\n\n", file: "g")
    #expect(s.statements.last == Statement(line: 3, op: .threads([
        ThreadBlock(name: "X", line: 3, statements: [Statement(line: 4, op: .exit(proc: "A"))]),
    ])))
}

@Test func threadBlockErrors() {
    expectError(head + "thread T1 {\nexit A\n", line: 3, "unclosed '{'")
    expectError(head + "thread T1 {\nexit A\n}\nthread T2 {\n", line: 6, "thread T2")
    expectError(head + "}\n", line: 3, "stray '}'")
    expectError(head + "thread T1 {\n}\n}\n", line: 5, "stray '}'")
    expectError(head + "thread T1 {\nthread T2 {\n}\n}\n", line: 4, "nested thread")
    expectError(head + "thread T1 {\nmachine node_mem=4M\n}\n", line: 4, "not allowed inside a thread block")
    expectError(head + "thread T1 {\npolicy pin=none\n}\n", line: 4, "'policy' is not allowed")
    expectError(head + "thread T1 {\nverify\n}\n", line: 4, "'verify' is not allowed")
    expectError(head + "thread T1 {\n}\nthread T1 {\n}\n", line: 5, "duplicate thread name 'T1'")
    expectError(head + "thread T1 {\n}\n# c\n\nthread T1 {\n}\n", line: 7, "first at line 3")
    expectError(head + "thread {\n}\n", line: 3, "missing argument: thread name")
    expectError(head + "thread T1\n", line: 3, "expected '{'")
    expectError(head + "thread T1{\n", line: 3, "blank between")
    expectError(head + "thread 1T {\n", line: 3, "bad thread name")
    expectError(head + "thread T1 { exit A }\n", line: 3, "following lines")
    expectError(head + "thread T1 {\n} exit A\n", line: 4, "after '}'")
    expectError(head + "{\n", line: 3, "thread NAME {")
}

// MARK: Errors, one by one

@Test func machineErrors() {
    expectError("", line: 1, "missing 'machine'")
    expectError("# only a comment\n\n", line: 1, "missing 'machine'")
    expectError("# c\nprocess A\n", line: 2, "first statement must be 'machine")
    expectError("thread T {\n}\n", line: 1, "first statement must be 'machine")
    expectError(head + "machine node_mem=4M\n", line: 3, "machine repeated")
    expectError("machine nodes=2\n", line: 1, "missing argument: node_mem")
    expectError("machine node_mem=6M\n", line: 1, "not a multiple of 4M")
    expectError("machine node_mem=2M\n", line: 1, "too small")
    expectError("machine node_mem=2048G\n", line: 1, "too large")
    expectError("machine node_mem=64M nodes=0\n", line: 1, "nodes=0 out of range (1…64)")
    expectError("machine node_mem=64M nodes=65\n", line: 1, "out of range")
    expectError("machine node_mem=64M block=3M\n", line: 1, "multiple of 2M")
    expectError("machine node_mem=64M block=0\n", line: 1, "multiple of 2M")
    expectError("machine node_mem=64M block=128M\n", line: 1, "does not divide")
    expectError("machine node_mem=20M block=8M\n", line: 1, "does not divide")
    expectError("machine node_mem=64M content=bytes\n", line: 1, "expected full or stamp")
    expectError("machine node_mem=64M node_mem=64M\n", line: 1, "duplicate key 'node_mem='")
    expectError("machine node_mem=64M size=2\n", line: 1, "unknown key 'size'")
    expectError("machine node_mem=64M big\n", line: 1, "unexpected argument 'big'")
    expectError("machine node_mem=\n", line: 1, "missing value for 'node_mem='")
    expectError("machine =5\n", line: 1, "missing key")
    expectError("Machine node_mem=4M\n", line: 1, "lower-case")
}

@Test func unknownStatementListsKnownOnes() {
    guard let e = parseError(head + "frobnicate A\n") else { return }
    #expect(e.line == 3)
    #expect(e.message.contains("unknown statement 'frobnicate'"))
    for k in ScenarioParser.keywords { #expect(e.message.contains(k)) }
    expectError(head + "sleep 10\n", line: 3, "known statements: machine, process")
}

@Test func argumentErrors() {
    expectError(head + "mmap A 0x1000\n", line: 3, "missing argument: length")
    expectError(head + "mmap\n", line: 3, "missing argument: process name")
    expectError(head + "mmap A 0x1000 4K 5\n", line: 3, "unexpected argument '5'")
    expectError(head + "mmap A 0x1000 4K node=1\n", line: 3, "mmap takes no key=value arguments")
    expectError(head + "fork A\n", line: 3, "missing argument: child process")
    expectError(head + "pin A\n", line: 3, "missing argument: address")
    expectError(head + "mremap A 0x1000 4K\n", line: 3, "missing argument: new address")
    expectError(head + "exit\n", line: 3, "missing argument: process name")
    expectError(head + "exit A B\n", line: 3, "unexpected argument 'B'")
    expectError(head + "verify now\n", line: 3, "unexpected argument 'now'")
    expectError(head + "process B superuser\n", line: 3, "unexpected argument 'superuser'")
    expectError(head + "process B privileged privileged\n", line: 3, "duplicate 'privileged'")
    expectError(head + "process B uid=4294967295\n", line: 3, "uid=4294967295 out of range")
    expectError(head + "process B uid=-1\n", line: 3, "bad number '-1'")
    expectError(head + "unmovable pages=3\n", line: 3, "missing argument: node=N")
    expectError(head + "unmovable node=0\n", line: 3, "missing argument: pages=N")
    expectError(head + "unmovable node=0 pages=0\n", line: 3, "pages=0 out of range")
    expectError(head + "unmovable node=0 pages=16385\n", line: 3, "out of range (1…16384)")
    expectError(head + "unmovable node=0 pages=1 pages=2\n", line: 3, "duplicate key 'pages='")
    expectError(head + "move_pages A 0x1000\n", line: 3, "missing argument: node=N or nodes=")
    expectError(head + "move_pages A node=1\n", line: 3, "missing argument: address")
    expectError(head + "move_pages A node=1 nodes=1 0x1000\n", line: 3, "exclude each other")
    expectError(head + "move_pages A nodes=1,0 0x1000\n", line: 3, "2 nodes for 1 address")
    expectError(head + "move_pages A nodes=1,,0 0x1000 0 0\n", line: 3, "empty element")
    expectError(head + "move_pages A node=1 0x1000 flags=fast\n", line: 3, "bad flag 'fast'")
    expectError(head + "move_pages A node=1 0x1000 flags=move|\n", line: 3, "empty element")
    expectError(head + "move_pages A node=1 0x1000 flags=0x100000000\n", line: 3, "out of range (32 bits)")
    expectError(head + "move_pages A node=1 0x1000 mode=x\n", line: 3, "known keys for move_pages: node, nodes, flags, as")
    expectError(head + "query_pages A\n", line: 3, "missing argument: address")
    expectError(head + "query_pages A node=1 0x1000\n", line: 3, "unknown key 'node'")
    expectError(head + "migrate_pages A to=1\n", line: 3, "missing argument: from=")
    expectError(head + "migrate_pages A from=0\n", line: 3, "missing argument: to=")
    expectError(head + "migrate_pages A from=0,0 to=1,1\n", line: 3, "node 0 appears twice in from=")
    expectError(head + "compact order=11\n", line: 3, "order=11 out of range (0…10)")
    expectError(head + "compact mode=fast\n", line: 3, "bad mode 'fast'")
    expectError(head + "compact all\n", line: 3, "unexpected argument 'all'")
    expectError(head + "offline node=0\n", line: 3, "missing argument: block=B")
    expectError(head + "online block=1\n", line: 3, "missing argument: node=N")
    expectError(head + "policy\n", line: 3, "missing argument: pin=")
    expectError(head + "policy pin=seed\n", line: 3, "bad pin policy 'seed'")
    expectError(head + "policy pin=None\n", line: 3, "expected none, seed-v2 or refcount")
}

@Test func nodeAndBlockRanges() {
    // head's machine: 2 nodes of 64M in 16M blocks → blocks 0…3. Nodes of system calls,
    // processes and unmovable allocations are any integers (NodeArgumentTests).
    expectError(head + "compact node=2\n", line: 3, "node=2 out of range")
    expectError(head + "offline node=2 block=0\n", line: 3, "node=2 out of range")
    expectError(head + "offline node=0 block=4\n", line: 3, "block=4 out of range: each node has 4 memory blocks (0…3)")
    expectError(head + "online node=1 block=99999999999999999999\n", line: 3, "too large")
}

@Test func processDeclarations() {
    expectError(head + "mmap B 0 4K\n", line: 3, "process 'B' is not declared")
    expectError(head + "fork B C\n", line: 3, "process 'B' is not declared")
    expectError(head + "process A\n", line: 3, "process 'A' already declared at line 2")
    expectError(head + "fork A A\n", line: 3, "already declared at line 2")
    expectError(head + "move_pages A node=0 0 as=Z\n", line: 3, "process 'Z' is not declared")
    expectError(head + "query_pages A 0 as=Z\n", line: 3, "process 'Z' is not declared")
    expectError(head + "migrate_pages A from=0 to=1 as=Z\n", line: 3, "process 'Z' is not declared")
    expectError(head + "process 9lives\n", line: 3, "bad process name '9lives'")
    expectError(head + "process a.b\n", line: 3, "bad process name")
    expectError(head + "exit A-\u{00E9}\n", line: 3, "bad process name")
    // fork declares the child; exit does not undeclare.
    #expect(ops("fork A B\nexit B\nexit B\nmmap B 0 4K\nprocess _x-1\nexit _x-1") == [
        .fork(parent: "A", child: "B"), .exit(proc: "B"), .exit(proc: "B"),
        .mmap(proc: "B", addr: 0, length: 4096),
        .process(name: "_x-1", node: nil, uid: 0, privileged: false), .exit(proc: "_x-1"),
    ])
    // A use before the declaration line is an error even if declared later.
    expectError(head + "exit B\nprocess B\n", line: 3, "not declared")
}

@Test func addressAndRangeChecks() {
    expectError(head + "mmap A 0x1001 4K\n", line: 3, "address 0x1001 is not page aligned")
    expectError(head + "touch A 0x1000 100\n", line: 3, "length 0x64 is not a multiple of the page size")
    expectError(head + "munmap A 0x1000 0\n", line: 3, "length must be greater than 0")
    expectError(head + "write A 0x100000000000 4K\n", line: 3, "beyond the user address space")
    expectError(head + "read A 0xffffffff000 8K\n", line: 3, "beyond the user address space")
    expectError(head + "mmap A 0xfffffffffffff000 0x2000\n", line: 3, "beyond the user address space")
    expectError(head + "mremap A 0x1000 4K 0x1800\n", line: 3, "new address 0x1800 is not page aligned")
    expectError(head + "mremap A 0x1001 4K 0x2000\n", line: 3, "old address 0x1001")
    expectError(head + "mremap A 0x1000 8K 0xffffffff000\n", line: 3, "ends beyond")
    expectError(head + "pin A 0x100000000000\n", line: 3, "beyond the user address space")
    expectError(head + "migrate_kernel A 0x100000000000\n", line: 3, "beyond the user address space")
    expectError(head + "mmap A 0x1000 4Q\n", line: 3, "bad size '4Q'")
    expectError(head + "mmap A 0x1000 16E\n", line: 3, "bad size")
    expectError(head + "mmap A 0x1000 99999999999999999999M\n", line: 3, "too large")
    expectError(head + "mmap A 0x1000 17179869184G\n", line: 3, "too large")
    expectError(head + "mmap A 4K 4K\n", line: 3, "bad number '4K' for address")
    expectError(head + "mmap A 0x 4K\n", line: 3, "bad number '0x'")
    expectError(head + "mmap A 0x1g000 4K\n", line: 3, "bad number")
    // The largest range that fits (the model's address space ends at 2^44: page
    // indices are 32 bits).
    #expect(ops("mmap A 0xfffffffe000 4K") == [.mmap(proc: "A", addr: 0xfff_ffff_e000, length: 4096)])
    expectError(head + "mmap A 0xfffffffe000 12K\n", line: 3, "ends beyond")
    // pin takes any (unaligned) address inside the page.
    #expect(ops("pin A 0x1234") == [.pin(proc: "A", addr: 0x1234)])
}

@Test func sizesAndNumbers() {
    func length(_ token: String) -> UInt64? {
        guard case .mmap(_, _, let l)? = ops("mmap A 0 \(token)").first else { return nil }
        return l
    }
    #expect(length("4096") == 4096)
    #expect(length("0x1000") == 4096)
    #expect(length("0X1000") == 4096)
    #expect(length("4k") == 4096)
    #expect(length("4K") == 4096)
    #expect(length("4KiB") == 4096)
    #expect(length("4kib") == 4096)
    #expect(length("2M") == 2 << 20)
    #expect(length("2MiB") == 2 << 20)
    #expect(length("1G") == 1 << 30)
    #expect(length("1gib") == 1 << 30)
    #expect(length("0x10M") == 16 << 20)
    expectError(head + "mmap A 0 0x1K\n", line: 3, "length 0x400 is not a multiple of the page size")
    #expect(length("16384G") == 16384 << 30)
    #expect(length("000004096") == 4096)
    expectError(head + "mmap A 0 4KB\n", line: 3, "bad size '4KB'")
    expectError(head + "mmap A 0 4 K\n", line: 3, "unexpected argument 'K'")
    expectError(head + "mmap A 0 K\n", line: 3, "bad size 'K'")
    expectError(head + "mmap A 0 +4K\n", line: 3, "bad size")
    expectError(head + "mmap A 0 4Ki\n", line: 3, "bad size")
    expectError(head + "mmap A 0 4KiBs\n", line: 3, "bad size")
    expectError(head + "mmap A 0 1_000\n", line: 3, "bad size")
    // 2^64 exactly overflows; 2^64 - 4096 would be page aligned but out of the address space.
    expectError(head + "mmap A 18446744073709551616 4K\n", line: 3, "too large")
    expectError(head + "mmap A 0x10000000000000000 4K\n", line: 3, "too large")
    expectError(head + "mmap A 18446744073709547520 4K\n", line: 3, "beyond the user address space")
    expectError(head + "mmap A 0 16777216T\n", line: 3, "bad size")
}

@Test func commentsAndWhitespace() throws {
    let text = "machine node_mem=4M#comment\r\n\t process\tA # x # y\r\n#\n   \n\u{0B}mmap A 0 4K#z\n"
    let s = try ScenarioParser.parse(text: text, file: "w")
    #expect(s.statements.map(\.line) == [1, 2, 5])
    #expect(s.statements.last?.op == .mmap(proc: "A", addr: 0, length: 4096))
    // `#` inside a token ends the line too.
    #expect(ops("exit A#B") == [.exit(proc: "A")])
}

@Test func garbageNeverCrashes() {
    // Binary bytes, NULs, invalid UTF-8 (decoded as U+FFFD), control characters.
    var bytes: [UInt8] = []
    var x: UInt32 = 12345
    for _ in 0..<20_000 {
        x = x &* 1_103_515_245 &+ 12345
        bytes.append(UInt8(truncatingIfNeeded: x >> 16))
    }
    let garbage = String(decoding: bytes, as: UTF8.self)
    _ = parseError(garbage)
    let e1 = parseError(head + "\u{0}\u{1}\u{FFFD}zz\n")
    #expect(e1?.line == 3)
    #expect(e1?.message.contains(#"unknown statement '\0\u{01}\u{FFFD}zz'"#) == true)

    // A very long line: one huge token, and many tokens.
    let long = String(repeating: "x", count: 1_000_000)
    let e2 = parseError(head + long + "\n")
    #expect(e2?.line == 3)
    #expect((e2?.message.count ?? .max) < 1000)  // the token is cut in the message
    let many = head + "query_pages A " + String(repeating: "0x1000 ", count: 100_000) + "\n"
    let s = try? ScenarioParser.parse(text: many, file: "m")
    if case .queryPages(_, let addrs, _)? = s?.statements.last?.op {
        #expect(addrs.count == 100_000)
    } else {
        Issue.record("long query_pages line did not parse")
    }
    expectError(head + "mmap A " + String(repeating: "9", count: 10_000) + " 4K\n", line: 3, "too large")
    expectError(head + "mmap A 0x" + String(repeating: "f", count: 10_000) + " 4K\n", line: 3, "too large")
    // Many lines, many blocks: up to the limit of 256 thread blocks, one group.
    var lines = head
    for i in 0..<ScenarioParser.maxThreadBlocks { lines += "thread T\(i) {\nexit A\n}\n" }
    let big = try? ScenarioParser.parse(text: lines, file: "b")
    if case .threads(let blocks)? = big?.statements.last?.op {
        #expect(blocks.count == ScenarioParser.maxThreadBlocks)
    } else {
        Issue.record("256 thread blocks did not parse as one group")
    }
    expectError(lines + "thread T257 {\nexit A\n}\n", line: 3 + 3 * ScenarioParser.maxThreadBlocks, "too many thread blocks")
    // Odd tokens in every statement position.
    for kw in ScenarioParser.keywords {
        for arg in ["", "=", "==", "A=", "=A", "0x", "-", "A", "A A A A", "\u{7F}", "é", "{", "}", "node=", "node=a"] {
            _ = try? ScenarioParser.parse(text: head + kw + " " + arg + "\n", file: "g")
        }
    }
}

@Test func unreadableFile() throws {
    do {
        _ = try ScenarioParser.parse(path: "/nonexistent/dir/x.scn")
        Issue.record("parsed a missing file")
    } catch {
        #expect(error.line == 0)
        #expect(error.description.hasPrefix("/nonexistent/dir/x.scn: cannot read: "))
        #expect(error.message.contains("No such file"))
    }
    do {
        _ = try ScenarioParser.parse(path: "/")
        Issue.record("parsed a directory")
    } catch {
        #expect(error.line == 0)
        #expect(error.message.hasPrefix("cannot read: "))
    }
}

@Test func readsAFile() throws {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("mmscenario-\(UInt64.random(in: 0 ... .max)).scn").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Data((head + "mmap A 0x1000 2M\nbogus\n").utf8).write(to: URL(fileURLWithPath: path))
    do {
        _ = try ScenarioParser.parse(path: path)
        Issue.record("parsed a bad file")
    } catch {
        #expect(error.file == path)
        #expect(error.line == 4)
        #expect(error.description.hasPrefix("\(path):4: unknown statement 'bogus'"))
    }
    try Data((head + "verify\n").utf8).write(to: URL(fileURLWithPath: path))
    let s = try ScenarioParser.parse(path: path)
    #expect(s.file == path)
    #expect(s.statements.last == Statement(line: 3, op: .verify))
    // An empty file lacks a machine.
    try Data().write(to: URL(fileURLWithPath: path))
    do {
        _ = try ScenarioParser.parse(path: path)
        Issue.record("parsed an empty file")
    } catch {
        #expect(error.description.hasPrefix("\(path):1: missing 'machine' statement"))
    }
    // A device is refused before reading: /dev/zero would never end.
    for dev in ["/dev/null", "/dev/zero"] {
        do {
            _ = try ScenarioParser.parse(path: dev)
            Issue.record("parsed \(dev)")
        } catch {
            #expect(error.description.hasPrefix("\(dev): cannot read: it is a device"), "\(error)")
        }
    }
}

// MARK: JSON

@Test func jsonRendering() {
    let v: JSONValue = [
        "line": 3, "op": "move_pages", "ret": 0, "errno": nil, "status": [1, -14],
    ]
    #expect(v.text == #"{"line":3,"op":"move_pages","ret":0,"errno":null,"status":[1,-14]}"#)
    let w: JSONValue = .object([("z", .bool(true)), ("a", .bool(false)), ("m", .array([])), ("o", .object([]))])
    #expect(w.text == #"{"z":true,"a":false,"m":[],"o":{}}"#)
    #expect(JSONValue.int(Int.min).text == "-9223372036854775808")
    #expect(JSONValue.double(1.5).text == "1.5")
    #expect(JSONValue.double(-2).text == "-2")
    #expect(JSONValue.double(.nan).text == "null")
    #expect(JSONValue.double(.infinity).text == "null")
    #expect(JSONValue.double(1e300).text == "1e+300")
    #expect(JSONValue.stringOrNull(nil) == .null)
    #expect(JSONValue.intOrNull(7) == .int(7))
    #expect(JSONValue.ints([UInt8(1), 2]).text == "[1,2]")
    #expect(JSONValue.object([("a", 1)]) != JSONValue.object([("b", 1)]))
    #expect(JSONValue.object([("a", 1), ("b", 2)]) != JSONValue.object([("b", 2), ("a", 1)]))
}

@Test func jsonStringEscaping() {
    #expect(JSONValue.string("a\"b\\c/d").text == #""a\"b\\c/d""#)
    #expect(JSONValue.string("\n\r\t\u{8}\u{C}").text == #""\n\r\t\b\f""#)
    #expect(JSONValue.string("\u{0}\u{1}\u{1F}\u{7F}").text == "\"\\u0000\\u0001\\u001f\u{7F}\"")
    #expect(JSONValue.string("é→😀").text == "\"é→😀\"")
    #expect(JSONValue.string("\u{2028}\u{2029}").text == #""\u2028\u2029""#)
    #expect(JSONValue.string("é→😀\u{7F}").asciiText == #""\u00e9\u2192\ud83d\ude00\u007f""#)
    #expect(JSONValue.string("").text == #""""#)
    // Keys are escaped like strings; a CR LF grapheme is two escapes.
    #expect(JSONValue.object([("k\"\r\n", .string("v"))]).text == #"{"k\"\r\n":"v"}"#)
    #expect("\(JSONValue.array([.null, "x"]))" == #"[null,"x"]"#)
}
