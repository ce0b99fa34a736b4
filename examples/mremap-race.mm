# mremap racing a kernel-context migration. mremap moves the PTEs with the anon_vma lock
# held, so the migration's rmap walk sees either the old layout or the new one. The
# test-only switch --test-skip-mremap-rmap-lock moves them outside the lock (Linux's
# 2.6.34-era bug): the walk can miss the moved migration entry, which is left behind.
#
#   mmlab explore examples/mremap-race.mm --strategy dfs --preemptions 2
#   mmlab explore examples/mremap-race.mm --strategy pct --schedules 2000 --test-skip-mremap-rmap-lock
# (or add `policy mremap_rmap_lock=off` to the file: the same old behaviour as a statement)
#
# outcome (explore --strategy dfs --preemptions 2, per --pin-policy: a kind the first
# failing schedule shows, or clean; a+b: every distinct kind with --keep-going):
#   none=clean seed-v2=rcu-imbalance refcount=clean
machine nodes=2 node_mem=8M block=4M
policy pin=refcount
process A
mmap A 0x10000000 4K
touch A 0x10000000 4K
thread T1 {
  migrate_kernel A 0x10000000
}
thread T2 {
  mremap A 0x10000000 4K 0x20000000
}
read A 0x20000000 4K
verify
