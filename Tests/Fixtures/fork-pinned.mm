# fork of a pinned anonymous page (Linux ≥ 5.19: copy_present_pte → copy_present_page):
# the child gets its own copy at fork; the parent keeps its pinned page writable, and
# its later write goes to that page in place. `#>` lines: FixtureTests.
machine nodes=2 node_mem=8M block=4M
process A
mmap A 0x10000000 8K
touch A 0x10000000 8K
pin A 0x10000000
fork A B
#> fork → 0
write A 0x10000000 4K
#> write → 0
read B 0x10000000 8K
#> read → 0
read A 0x10000000 8K
#> read → 0
# the pin still sits on the frame A maps: the checker would report it otherwise
verify
#> verify ok
unpin A 0x10000000
#> unpin → 0
verify
#> verify ok
