// Test-only malloc interposer. The definitions below take precedence over glibc's (the
// executable comes first in symbol lookup, and glibc supports replacing malloc); each one
// counts and forwards to glibc's own allocator through its exported __libc_* entry points, so
// no dlsym is needed and it works before main, during dynamic loading and in every thread.
//
// Sanitizer runtimes (RealtimeSanitizer, AddressSanitizer, ...) define malloc & co. as weak
// aliases of their __interceptor_* functions, which our strong definitions would silently
// replace. When such a runtime is linked, forward to its interceptor instead, so RTSan still
// reports allocations in real-time regions and ASan still owns every heap block.
#include "CAllocCounter.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

extern void *__interceptor_malloc(size_t size) __attribute__((weak));
extern void *__interceptor_calloc(size_t count, size_t size) __attribute__((weak));
extern void *__interceptor_realloc(void *ptr, size_t size) __attribute__((weak));
extern void __interceptor_free(void *ptr) __attribute__((weak));
extern void *__interceptor_memalign(size_t alignment, size_t size) __attribute__((weak));
extern int __interceptor_posix_memalign(void **out, size_t alignment, size_t size) __attribute__((weak));
extern void *__interceptor_aligned_alloc(size_t alignment, size_t size) __attribute__((weak));
extern void *__interceptor_valloc(size_t size) __attribute__((weak));
extern void *__interceptor_pvalloc(size_t size) __attribute__((weak));

// Static storage, zero-initialised at load: valid before any constructor runs.
static _Atomic long long allocations;
static _Atomic long long frees;
static _Atomic int counting_off;
// Initial-exec TLS in the executable: no allocation, usable from the first malloc of a thread.
static _Thread_local long long thread_allocations;

static inline void count_allocation(void) {
    if (atomic_load_explicit(&counting_off, memory_order_relaxed)) return;
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    thread_allocations += 1;
}

long long timbred_alloc_count(void) {
    return atomic_load_explicit(&allocations, memory_order_relaxed);
}

long long timbred_alloc_count_thread(void) {
    return thread_allocations;
}

long long timbred_free_count(void) {
    return atomic_load_explicit(&frees, memory_order_relaxed);
}

void timbred_alloc_counting(int on) {
    atomic_store_explicit(&counting_off, on ? 0 : 1, memory_order_relaxed);
}

void *malloc(size_t size) {
    count_allocation();
    if (__interceptor_malloc) return __interceptor_malloc(size);
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    count_allocation();
    if (__interceptor_calloc) return __interceptor_calloc(count, size);
    return __libc_calloc(count, size);
}

void *realloc(void *ptr, size_t size) {
    count_allocation();
    if (__interceptor_realloc) return __interceptor_realloc(ptr, size);
    return __libc_realloc(ptr, size);
}

void free(void *ptr) {
    if (ptr != NULL) atomic_fetch_add_explicit(&frees, 1, memory_order_relaxed);
    if (__interceptor_free) {
        __interceptor_free(ptr);
        return;
    }
    __libc_free(ptr);
}

void *memalign(size_t alignment, size_t size) {
    count_allocation();
    if (__interceptor_memalign) return __interceptor_memalign(alignment, size);
    return __libc_memalign(alignment, size);
}

static int is_power_of_two(size_t x) {
    return x != 0 && (x & (x - 1)) == 0;
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (__interceptor_posix_memalign) {
        count_allocation();
        return __interceptor_posix_memalign(out, alignment, size);
    }
    if (!is_power_of_two(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
    count_allocation();
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size) {
    if (__interceptor_aligned_alloc) {
        count_allocation();
        return __interceptor_aligned_alloc(alignment, size);
    }
    if (!is_power_of_two(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    count_allocation();
    return __libc_memalign(alignment, size);
}

void *valloc(size_t size) {
    count_allocation();
    if (__interceptor_valloc) return __interceptor_valloc(size);
    return __libc_valloc(size);
}

void *pvalloc(size_t size) {
    count_allocation();
    if (__interceptor_pvalloc) return __interceptor_pvalloc(size);
    return __libc_pvalloc(size);
}
