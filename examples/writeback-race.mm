# A batched kernel-context migration (compaction's engine, Linux 6.3+: unmap the whole
# batch, then copy, then remap) of two pages, one under writeback, racing the owner's
# exit and then the end of the writeback (the I/O outlives the process). Sync mode
# retries the page under writeback (-EAGAIN) for its first passes, then sleeps until
# writeback_end. With pin=none the exit frees the anon_vma while the batch holds
# migration entries: use-after-free; the seed as posted frees it at the batch's first
# release while its second page still holds it; pin=refcount is clean.
#
#   mmlab explore examples/writeback-race.mm --strategy dfs --preemptions 2
#   mmlab explore examples/writeback-race.mm --strategy dfs --preemptions 2 --pin-policy refcount
#
# outcome (explore --strategy dfs --preemptions 2, per --pin-policy: a kind the first
# failing schedule shows, or clean; a+b: every distinct kind with --keep-going):
#   none=use-after-free seed-v2=rcu-imbalance refcount=clean
machine nodes=2 node_mem=8M block=4M
policy pin=none
process A
mmap A 0x10000000 8K
touch A 0x10000000 8K
writeback A 0x10001000
thread T1 {
  migrate_kernel A 0x10000000 8K node=1 mode=sync batch=2
}
thread T2 {
  exit A
  writeback_end A 0x10001000
}
verify
