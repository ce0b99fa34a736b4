# The seed's own bug with a single migrator: anon_vma_release's test is inverted, so the
# last release of an anon_vma whose owner exited during migration never frees it. (The
# seed's other bugs show too: rcu-imbalance in every schedule that pins, and the
# double free of examples/seed-double-free.mm; --keep-going lists each.)
#
#   mmlab explore examples/seed-leak.mm --strategy dfs --preemptions 2 --keep-going
#
# outcome (explore --strategy dfs --preemptions 2, per --pin-policy: a kind the first
# failing schedule shows, or clean; a+b: every distinct kind with --keep-going):
#   none=use-after-free seed-v2=rcu-imbalance refcount=clean
# outcome with --keep-going:
#   seed-v2=rcu-imbalance+leak+use-after-free+double-free
machine nodes=2 node_mem=8M block=4M
policy pin=seed-v2
process A
mmap A 0x10000000 4K
touch A 0x10000000 4K
thread T1 {
  migrate_kernel A 0x10000000
}
thread T2 {
  exit A
}
verify
