# The seed as posted, bugs and all (pin=seed-v2): kernel-context migration of a page
# while its owner exits. anon_vma_hold uses the 2.6.22 page_lock_anon_vma — test
# page_mapped, then lock page->mapping's anon_vma with no re-check — so it can lock an
# anon_vma the exit has just freed. Its list is empty, so no ref++; the migration's
# anon_vma_release then drives ref to -1 and frees it a second time: double-free. The
# hold also never calls rcu_read_unlock (rcu-imbalance), and other schedules show the
# inverted release test's leak and the remap walking freed memory.
#
#   mmlab explore examples/seed-double-free.mm --strategy dfs --preemptions 2 --keep-going
#   mmlab replay examples/seed-double-free.mm --schedule AQIBTAACoI0GEZEBYmWNHN4     # the double free
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
