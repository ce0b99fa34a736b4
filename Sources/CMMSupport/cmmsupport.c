#define _GNU_SOURCE
#include "cmmsupport.h"
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

__thread void *mm_sched_ctx;
__thread int mm_plain_depth;

void mm_sched_set(void *ctx) { mm_sched_ctx = ctx; }

int mm_pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int mm_unpin(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = 0; c < CPU_SETSIZE; c++) CPU_SET(c, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

void *mm_map_anon(size_t bytes, int populate) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (populate) {
        // Huge pages first, then the pre-fault, so the faults allocate 2 MiB pages. Both
        // are hints: with THP off the mapping stays 4 KiB; before Linux 5.14 (no
        // MADV_POPULATE_WRITE) one write per page faults it in.
        (void)madvise(p, bytes, MADV_HUGEPAGE);
        int populated = 0;
#ifdef MADV_POPULATE_WRITE
        populated = madvise(p, bytes, MADV_POPULATE_WRITE) == 0;
#endif
        if (!populated) {
            for (size_t o = 0; o < bytes; o += 4096) ((volatile char *)p)[o] = 0;
        }
    }
    return p;
}

void mm_unmap(void *p, size_t bytes) { if (p) munmap(p, bytes); }

size_t mm_resident_pages(void *p, size_t bytes) {
    size_t pages = (bytes + 4095) / 4096, n = 0;
    unsigned char vec[256];
    for (size_t i = 0; i < pages; i += sizeof vec) {
        size_t k = pages - i < sizeof vec ? pages - i : sizeof vec;
        if (mincore((char *)p + i * 4096, k * 4096, vec) != 0) return 0;
        for (size_t j = 0; j < k; j++) n += vec[j] & 1;
    }
    return n;
}

uint64_t mm_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (n != 2) return 0;
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

uint64_t mm_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MM_TSAN 1
#endif
#endif

void mm_copy_page_unfenced(void *dst, const void *src) {
#if defined(__x86_64__) && !defined(MM_TSAN)
    __m128i *d = (__m128i *)dst;
    const __m128i *s = (const __m128i *)src;
    for (int i = 0; i < 4096 / 16; i += 4) {
        __m128i a = _mm_load_si128(s + i), b = _mm_load_si128(s + i + 1);
        __m128i c = _mm_load_si128(s + i + 2), e = _mm_load_si128(s + i + 3);
        _mm_stream_si128(d + i, a);
        _mm_stream_si128(d + i + 1, b);
        _mm_stream_si128(d + i + 2, c);
        _mm_stream_si128(d + i + 3, e);
    }
#else
    memcpy(dst, src, 4096);
#endif
}

void mm_store_fence(void) {
#if defined(__x86_64__) && !defined(MM_TSAN)
    _mm_sfence();
#endif
}

void mm_copy_page(void *dst, const void *src) {
    mm_copy_page_unfenced(dst, src);
    mm_store_fence();
}
