# Hot-remove racing the owner's exit. Offlining block 1 of node 0 migrates the page in
# kernel context (no mmap_lock): after the unmap only the anon_vma pin keeps the page's
# anon_vma alive while A exits. With pin=refcount every schedule is clean; with
# pin=none (before the seed) the remap walks a freed anon_vma: a use-after-free.
#
#   mmlab explore examples/offline-exit-race.mm --strategy dfs --preemptions 2
#   mmlab explore examples/offline-exit-race.mm --strategy dfs --preemptions 2 --pin-policy none
#
# outcome (explore --strategy dfs --preemptions 2, per --pin-policy: a kind the first
# failing schedule shows, or clean; a+b: every distinct kind with --keep-going):
#   none=use-after-free seed-v2=rcu-imbalance refcount=clean
machine nodes=2 node_mem=8M block=4M
policy pin=refcount
process A
mmap A 0x10000000 4K
touch A 0x10000000 4K
blocks
thread T1 {
  offline node=0 block=1
}
thread T2 {
  exit A
}
blocks
verify
