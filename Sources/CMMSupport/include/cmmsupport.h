// C helpers the Swift side cannot express directly: a thread-local slot for the
// exploration scheduler (one TLS load on every hook, no lock), CPU pinning, and mmap.
#ifndef CMMSUPPORT_H
#define CMMSUPPORT_H
#include <stddef.h>
#include <stdint.h>

/// The scheduler context of the calling model thread, or NULL in normal (real-thread)
/// runs. Inline so that every hook costs one thread-local load and a branch.
extern __thread void *mm_sched_ctx;
static inline void *mm_sched_get(void) { return mm_sched_ctx; }
void mm_sched_set(void *ctx);

/// PlainLocks the calling thread holds (tracked in debug builds and under exploration):
/// a scheduling point reached with one held is a model bug (PlainLock.assertNoneHeld).
extern __thread int mm_plain_depth;
static inline void mm_plain_enter(void) { mm_plain_depth++; }
static inline void mm_plain_exit(void) { mm_plain_depth--; }
static inline int mm_plain_held(void) { return mm_plain_depth; }

/// Pins the calling thread to one CPU; returns 0 or an errno.
int mm_pin_to_cpu(int cpu);
/// Lets the calling thread run on every CPU again.
int mm_unpin(void);

/// Anonymous private mapping of `bytes`, zero-filled. `populate` pre-faults it, backed
/// by transparent huge pages where the host allows (MADV_HUGEPAGE): a timed machine's
/// frames and descriptors then cost the host one TLB entry per 2 MiB, as the kernel's
/// direct map does for the memory it migrates (BENCHMARKS.md, "Huge host pages").
/// Returns NULL on failure.
void *mm_map_anon(size_t bytes, int populate);
void mm_unmap(void *p, size_t bytes);
/// How many 4 KiB pages of the mapping [p, p + bytes) are resident (mincore); 0 on error.
size_t mm_resident_pages(void *p, size_t bytes);

/// Resident set size of this process in bytes (from /proc/self/statm), or 0.
uint64_t mm_rss_bytes(void);
/// Monotonic clock in nanoseconds.
uint64_t mm_now_ns(void);

/// Copies one 4 KiB page between 16-byte-aligned frames. On x86-64 with streaming
/// (non-temporal) stores and a closing sfence, so the copy is complete and visible before
/// the caller releases the lock it holds: the destination is not read into the cache
/// first, which costs a plain memcpy about a fifth of its time on frames that are not
/// cached (BENCHMARKS.md: ~0.78 against ~0.95–1.1 µs per page). Elsewhere, and under
/// ThreadSanitizer (which sees memcpy), a memcpy.
void mm_copy_page(void *dst, const void *src);
/// mm_copy_page without its closing fence: a batch of copies (Migrator.copyBatch) is
/// followed by one mm_store_fence before any copied frame is published.
void mm_copy_page_unfenced(void *dst, const void *src);
/// Orders every earlier streaming store before any later store (sfence; nothing where
/// mm_copy_page is a memcpy).
void mm_store_fence(void);
#endif
