# The seed's race with a forked child: parent and child share the anon_vma (the child's
# VMA joins the parent's). Kernel-context migration of the shared page while both exit:
# the anon_vma dies with the last of them.
#
#   mmlab explore examples/seed-race-fork.mm --strategy pct --depth 2 --schedules 2000
#
# outcome (explore --strategy dfs --preemptions 2, per --pin-policy: a kind the first
# failing schedule shows, or clean; a+b: every distinct kind with --keep-going):
#   none=use-after-free seed-v2=rcu-imbalance refcount=clean
machine nodes=2 node_mem=8M block=4M
policy pin=none
process A
mmap A 0x10000000 4K
touch A 0x10000000 4K
fork A B
thread T1 {
  migrate_kernel A 0x10000000
}
thread T2 {
  exit A
}
thread T3 {
  exit B
}
verify
