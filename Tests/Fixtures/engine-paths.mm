# Engine paths reachable from a scenario (Linux: migrate_folio_unmap's writeback and
# trylock cases, migrate_pages_batch). `#>` lines are expected results (FixtureTests).
machine nodes=2 node_mem=8M block=4M
process A
mmap A 0x10000000 32K
touch A 0x10000000 32K
# under writeback: async and sync-light give up at once (-EBUSY, a permanent failure)
writeback A 0x10000000
#> writeback → 0
migrate_kernel A 0x10000000 mode=async
#> migrate_kernel → -1 EBUSY
migrate_kernel A 0x10000000 mode=sync-light
#> migrate_kernel → -1 EBUSY
# a second writeback of the same page is refused; ending it twice is EINVAL
writeback A 0x10000000
#> writeback → -1 EBUSY
writeback_end A 0x10000000
#> writeback_end → 0
writeback_end A 0x10000000
#> writeback_end → -1 EINVAL
# sync retries, then waits for the writeback; at top level nothing else runs, so the
# I/O completes while it waits (inside threads: examples/writeback-race.mm)
writeback A 0x10001000
#> writeback → 0
migrate_kernel A 0x10001000 node=1 mode=sync
#> migrate_kernel → 0
writeback_end A 0x10001000
#> writeback_end → -1 EINVAL
migrate_kernel A 0x10001000 node=0
#> migrate_kernel → 0
# a batch of 8 pages, unmapped together, then copied, then remapped
migrate_kernel A 0x10000000 32K node=1 batch=8
#> migrate_kernel → 0
query_pages A 0x10000000 0x10004000 0x10007000
#> query_pages → 0 status [1, 1, 1]
migrate_kernel A 0x10000000 32K mode=async batch=3
#> migrate_kernel → 0
query_pages A 0x10000000 0x10004000 0x10007000
#> query_pages → 0 status [0, 0, 0]
# any node is legal to the parser: the call answers ENODEV
migrate_kernel A 0x10000000 node=2
#> migrate_kernel → -1 ENODEV
verify
#> verify ok
