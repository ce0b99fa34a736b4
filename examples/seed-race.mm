# The seed's race: kernel-context migration (compaction, hot-remove: no mmap_lock) of an
# anonymous page while its owner exits. Once try_to_unmap has dropped the mapcount to 0
# nothing keeps the owner's VMA on the anon_vma; the exit frees the anon_vma, and the
# migration's remap walks freed memory. With pin=none explore finds the use-after-free;
# change the policy to refcount and it finds nothing.
#
#   mmlab explore examples/seed-race.mm --strategy pct --depth 2 --schedules 2000
#   mmlab explore examples/seed-race.mm --strategy dfs --preemptions 2
#
# outcome (explore --strategy dfs --preemptions 2, per --pin-policy: a kind the first
# failing schedule shows, or clean; a+b: every distinct kind with --keep-going):
#   none=use-after-free seed-v2=rcu-imbalance refcount=clean
machine nodes=2 node_mem=8M block=4M
policy pin=none
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
