#ifndef TIMBRED_CALLOCCOUNTER_H
#define TIMBRED_CALLOCCOUNTER_H

#ifdef __cplusplus
extern "C" {
#endif

// Test-only heap allocation counter. Linking this target into an executable replaces malloc,
// calloc, realloc, free, posix_memalign, aligned_alloc, memalign, valloc and pvalloc with
// wrappers that count and forward to glibc's __libc_* allocator.

/// Allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc,
/// pvalloc) made by all threads since the process started, while counting was on.
long long timbred_alloc_count(void);

/// Allocations made by the calling thread since it started, while counting was on.
long long timbred_alloc_count_thread(void);

/// Calls to free with a non-null pointer, all threads.
long long timbred_free_count(void);

/// Turns counting on (nonzero, the default) or off for all threads.
void timbred_alloc_counting(int on);

#ifdef __cplusplus
}
#endif

#endif
