# move_pages(2) as Linux 6.x's do_pages_move answers it. Each `#>` line is the result
# the statement above it must give (`mmlab run` text form); FixtureTests checks them.
machine nodes=3 node_mem=8M block=4M
process A
mmap A 0x10000000 32K
touch A 0x10000000 16K
# the same page twice for two nodes: the first node's batch is flushed before the
# second entry is looked at, so the page moves to 1, then to 2
move_pages A nodes=1,2 0x10000000 0x10000008
#> move_pages → 0 status [1, 2]
# the same page twice for one node: the second isolation fails
move_pages A nodes=0,0 0x10000000 0x10000008
#> move_pages → 0 status [0, -16]
# a migration of a pinned page fails its batch: ret = 1 failed + 1 never looked at,
# and no status is written for the batch or after it
pin A 0x10001000
move_pages A nodes=1,1,2 0x10001000 0x10002000 0x10003000
#> move_pages → 2 status [null, null, null]
unpin A 0x10001000
query_pages A 0x10001000 0x10002000 0x10003000 0x10006000
#> query_pages → 0 status [0, 1, 0, -2]
# any integer is a node to the parser; the call answers ENODEV when its batch is reached
move_pages A nodes=2,9 0x10003000 0x10000000
#> move_pages → -1 ENODEV status [2, null]
move_pages A node=-1 0x10000000
#> move_pages → -1 ENODEV status [null]
# a full target node: migrate_pages' -ENOMEM fails the whole call
unmovable node=1 pages=2047
#> unmovable → 0
move_pages A nodes=2,1 0x10000000 0x10001000
#> move_pages → -1 ENOMEM status [2, null]
verify
#> verify ok
