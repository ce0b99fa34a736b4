# A tour of move_pages(2) and migrate_pages(2) status codes and errors.
#
#   mmlab run examples/numa-calls.mm
machine nodes=2 node_mem=16M block=4M
process A uid=1000
process B uid=1000
process C uid=2000
process R privileged
mmap A 0x10000000 64K
touch A 0x10000000 16K
pin A 0x10001000
# moved → 1; pinned → -EBUSY; never touched → -ENOENT; no VMA → -EFAULT
move_pages A node=1 0x10000000 0x10001000 0x10008000 0x40000000
query_pages A 0x10000000 0x10001000 0x10008000 0x40000000
# same uid may act on another process; another uid may not
move_pages A node=1 0x10003000 as=B
move_pages A node=1 0x10003000 as=C
fork A A2
# shared with the child: -EACCES without move_all; move_all needs privilege (EPERM)
move_pages A node=1 0x10002000
move_pages A node=1 0x10002000 flags=move_all
move_pages A node=1 0x10002000 flags=move_all as=R
move_pages A node=1 0x10003000 flags=strict
unpin A 0x10001000
migrate_pages A from=0 to=1
verify
