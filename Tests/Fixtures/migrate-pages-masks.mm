# migrate_pages(2) takes node masks (Linux: do_migrate_pages, node_remap). `#>` lines are
# the expected results of the statement above (FixtureTests).
machine nodes=3 node_mem=8M block=4M
process A
process R privileged
mmap A 0x10000000 16K
touch A 0x10000000 16K
move_pages A nodes=1,1,2,2 0x10000000 0x10001000 0x10002000 0x10003000
#> move_pages → 0 status [1, 1, 2, 2]
# {0,1} → {1,0} is {0,1} → {0,1}: each node maps to itself, nothing moves
migrate_pages A from=1,0 to=0,1
#> migrate_pages → 0
query_pages A 0x10000000 0x10001000 0x10002000 0x10003000
#> query_pages → 0 status [1, 1, 2, 2]
# weights may differ: {1,2} → {0}: both go to 0
migrate_pages A from=2,1 to=0
#> migrate_pages → 0
query_pages A 0x10000000 0x10001000 0x10002000 0x10003000
#> query_pages → 0 status [0, 0, 0, 0]
# {0} → {2,1}: the 0th node of `from` goes to the 0th node of `to`, node 1
migrate_pages A from=0 to=2,1
#> migrate_pages → 0
query_pages A 0x10000000
#> query_pages → 0 status [1]
# nodes the machine lacks: EPERM for an unprivileged caller, EINVAL when none is left
migrate_pages A from=1 to=5
#> migrate_pages → -1 EPERM
migrate_pages A from=1 to=5 as=R
#> migrate_pages → -1 EINVAL
migrate_pages A from=1 to=-3
#> migrate_pages → -1 EINVAL
verify
#> verify ok
