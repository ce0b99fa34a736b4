# Process-context migration (move_pages) while the owner unmaps the page and its forked
# child exits. Which lock the call holds decides what is safe:
#   syscall_lock=isolate (Linux 6.x, the default): the mmap_lock only while the page is
#     found and isolated; the migration runs without it, so the owner's munmap can
#     unlink the last VMA and free the anon_vma under it. With pin=none the explorer
#     finds the use-after-free — the reason Linux pins the anon_vma for system calls
#     too (pin=refcount: clean). The owner's exit could not do this: the call holds a
#     reference on its mm (mm_users) until it returns.
#   syscall_lock=held (2.6.22, as the seed's first paragraph assumes): the mmap_lock is
#     held across the migration, munmap waits, and even pin=none is clean.
#
#   mmlab explore examples/process-context.mm --strategy dfs --preemptions 2                       # use-after-free
#   mmlab explore examples/process-context.mm --strategy dfs --preemptions 2 --syscall-lock held   # no violation
#   mmlab explore examples/process-context.mm --strategy dfs --preemptions 2 --pin-policy refcount # no violation
#
# outcome (explore --strategy dfs --preemptions 2, per --pin-policy: a kind the first
# failing schedule shows, or clean; a+b: every distinct kind with --keep-going):
#   none=use-after-free seed-v2=rcu-imbalance refcount=clean
# outcome with --syscall-lock held:
#   none=clean seed-v2=clean refcount=clean
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
  munmap A 0x10000000 4K
  exit B
}
verify
