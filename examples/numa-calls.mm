# A tour of move_pages(2) and migrate_pages(2) as Linux 6.x answers them: statuses,
# return values and errors. A `null` status is one the call leaves unwritten.
#
#   mmlab run examples/numa-calls.mm
#
# outcome (explore --strategy dfs --preemptions 2, per --pin-policy: a kind the first
# failing schedule shows, or clean; a+b: every distinct kind with --keep-going):
#   none=clean seed-v2=rcu-imbalance refcount=clean
machine nodes=2 node_mem=16M block=4M
process A uid=1000
process B uid=1000
process C uid=2000
process R privileged
mmap A 0x10000000 64K
touch A 0x10000000 16K
pin A 0x10001000
# moved → 1; never touched → -ENOENT; no VMA → -EFAULT
move_pages A node=1 0x10000000 0x10008000 0x40000000
# the pinned page fails its batch: ret = its failure + the entry never looked at,
# and no status of the batch or after it is written (page 0x10002000 did move)
move_pages A nodes=1,1,0 0x10001000 0x10002000 0x10003000
query_pages A 0x10000000 0x10001000 0x10002000 0x10008000 0x40000000
# a node the machine lacks: the batch before it still moves, then the call fails ENODEV
move_pages A nodes=1,7 0x10003000 0x10000000
# same uid may act on another process; another uid may not
move_pages A node=0 0x10003000 as=B
move_pages A node=1 0x10003000 as=C
fork A A2
# shared with the child: -EACCES without move_all; move_all needs privilege (EPERM)
move_pages A node=1 0x10003000
move_pages A node=1 0x10003000 flags=move_all
move_pages A node=1 0x10003000 flags=move_all as=R
move_pages A node=1 0x10003000 flags=strict
unpin A 0x10001000
# migrate_pages takes node masks: {0,1} → {1,0} is {0,1} → {0,1}, nothing moves
migrate_pages A from=0,1 to=1,0
# node 1's pages (shared with A2: they move for a privileged caller only) go to 0
migrate_pages A from=1 to=0 as=R
query_pages A 0x10000000 0x10001000 0x10002000 0x10003000
verify
