# munmap racing a kernel-context migration of a page in the unmapped range.
#
#   mmlab explore examples/munmap-race.mm --strategy dfs --preemptions 2
#
# outcome (explore --strategy dfs --preemptions 2, per --pin-policy: a kind the first
# failing schedule shows, or clean; a+b: every distinct kind with --keep-going):
#   none=clean seed-v2=rcu-imbalance refcount=clean
machine nodes=2 node_mem=8M block=4M
policy pin=refcount
process A
mmap A 0x10000000 12K
touch A 0x10000000 12K
thread T1 {
  migrate_kernel A 0x10001000
}
thread T2 {
  munmap A 0x10001000 4K
}
read A 0x10000000 4K
read A 0x10002000 4K
verify
