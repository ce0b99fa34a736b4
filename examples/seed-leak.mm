# The seed as posted (pin=seed-v2), one migrator racing the owner's exit. Two outcomes:
#  - leak: anon_vma_release's test is inverted, so the last release of an anon_vma
#    whose owner exited during migration never frees it;
#  - use-after-free: in other interleavings the exit frees the anon_vma while the
#    migration still holds it, and the remap walks a freed anon_vma.
# Which is found first depends on the strategy (seed 1, measured):
#   mmlab explore examples/seed-leak.mm --strategy dfs      # leak first (schedule 16);
#        --keep-going covers all 181 schedules ≤ 2 preemptions: 20 leak, 12 use-after-free
#   mmlab explore examples/seed-leak.mm --strategy pct      # leak first (schedule 6)
#   mmlab explore examples/seed-leak.mm --strategy random   # use-after-free first (schedule 1);
#        over 2000 schedules: 315 use-after-free, 74 leak
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
