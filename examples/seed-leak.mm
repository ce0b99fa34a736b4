# The seed's own bug with a single migrator: anon_vma_release's test is inverted, so the
# last release of an anon_vma whose owner exited during migration never frees it.
#
#   mmlab explore examples/seed-leak.mm --strategy dfs --preemptions 2
#
# outcome (explore --strategy dfs --preemptions 2, first violation per --pin-policy):
#   none=use-after-free seed-v2=leak refcount=clean
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
