# Two kernel migrators of two pages that share one anon_vma, while the owner exits.
# With the seed as posted (pin=seed-v2) the first anon_vma_release frees the anon_vma
# while the second migrator still holds it (its test is inverted) — a use-after-free —
# or, with one migrator done before the exit, the last release never frees: a leak.
#
#   mmlab explore examples/two-migrators.mm --strategy pct --depth 3 --schedules 2000
#
# outcome (explore --strategy dfs --preemptions 2, per --pin-policy: a kind the first
# failing schedule shows, or clean; a+b: every distinct kind with --keep-going):
#   none=use-after-free seed-v2=rcu-imbalance refcount=clean
machine nodes=2 node_mem=8M block=4M
policy pin=seed-v2
process A
mmap A 0x10000000 8K
touch A 0x10000000 8K
thread T1 {
  migrate_kernel A 0x10000000
}
thread T2 {
  migrate_kernel A 0x10001000
}
thread T3 {
  exit A
}
verify
