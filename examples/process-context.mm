# Process-context migration (move_pages: the caller holds the owner's mmap_lock and a
# reference on its mm) while a forked child exits. Even without any anon_vma pin the
# owner's VMA stays on the anon_vma, so this is safe — as the seed says.
#
#   mmlab explore examples/process-context.mm --strategy dfs --preemptions 2
machine nodes=2 node_mem=8M block=4M
policy pin=none
process A privileged
mmap A 0x10000000 4K
touch A 0x10000000 4K
fork A B
thread T1 {
  move_pages A node=1 0x10000000 flags=move_all
}
thread T2 {
  exit B
}
verify
