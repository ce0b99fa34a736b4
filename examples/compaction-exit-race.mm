# Compaction racing the owner's exit: the seed's race reached through its real user.
# Kernel allocations (never on the LRU: they never move) lay memory out so that A's two
# pages sit in pageblock 1 and the free scanner's only targets are in pageblock 3 (it
# never scans the block after the one the migrate scanner is in). The compaction
# migrates A's pages in kernel context (no mmap_lock) while A exits: with pin=none the
# remap walks A's freed anon_vma; with pin=refcount nothing breaks.
#
#   mmlab explore examples/compaction-exit-race.mm --strategy dfs --preemptions 2 --pin-policy none
#   mmlab explore examples/compaction-exit-race.mm --strategy dfs --preemptions 2 --pin-policy refcount
machine nodes=1 node_mem=8M
policy pin=none
alloc node=0 order=10 movable
alloc node=0 order=9 movable
process A
mmap A 0x10000000 8K
touch A 0x10000000 8K
alloc node=0 order=1 movable
alloc node=0 order=2 movable
alloc node=0 order=3 movable
alloc node=0 order=4 movable
alloc node=0 order=5 movable
alloc node=0 order=6 movable
alloc node=0 order=7 movable
free_alloc node=0 order=10
alloc node=0 order=9 movable
alloc node=0 order=8 movable
alloc node=0 order=0 movable
thread T1 {
  compact
}
thread T2 {
  exit A
}
verify
