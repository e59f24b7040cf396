// LD_PRELOAD library for scripts/soak: counts the heap calls timbred makes inside its real-time
// region, in the live daemon, for a whole run.
//
// timbred's process callback brackets its work with timbred_rt_enter/exit (Sources/CRealtime),
// which call __rtsan_realtime_enter/exit through weak references meant for clang's
// RealtimeSanitizer. The executable is position-independent and imports both symbols (GLOB_DAT
// and JUMP_SLOT relocations), so the strong definitions below, preloaded, are the ones it
// binds: the callback's thread raises a thread-local flag on entry and lowers it on exit. The
// malloc family is replaced as glibc allows (forwarding to its __libc_* entry points, no dlsym)
// and every call made while the flag is up is counted.
//
// At exit (timbred stops on SIGTERM and returns from main) the counts go to the file named by
// $TIMBRED_RT_ALLOC_REPORT (else stderr) as one line:
//   regions=N allocations=N frees=N first_size=N
// regions counts real-time regions entered (every process cycle, and every job of the engine's
// decode worker, whose thread brackets each job the same way): zero means the hooks did not
// bind, and the allocation count would prove nothing.
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

static __thread int rt_depth __attribute__((tls_model("initial-exec")));
static _Atomic long long regions;
static _Atomic long long rt_allocations;
static _Atomic long long rt_frees;
static _Atomic long long first_size = -1;

void __rtsan_realtime_enter(void) {
    rt_depth += 1;
    atomic_fetch_add_explicit(&regions, 1, memory_order_relaxed);
}

void __rtsan_realtime_exit(void) {
    if (rt_depth > 0) rt_depth -= 1;
}

static inline void count_allocation(size_t size) {
    if (!rt_depth) return;
    if (atomic_fetch_add_explicit(&rt_allocations, 1, memory_order_relaxed) == 0)
        atomic_store_explicit(&first_size, (long long)size, memory_order_relaxed);
}

void *malloc(size_t size) {
    count_allocation(size);
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    count_allocation(count * size);
    return __libc_calloc(count, size);
}

void *realloc(void *ptr, size_t size) {
    count_allocation(size);
    return __libc_realloc(ptr, size);
}

void free(void *ptr) {
    if (rt_depth && ptr != NULL) atomic_fetch_add_explicit(&rt_frees, 1, memory_order_relaxed);
    __libc_free(ptr);
}

void *memalign(size_t alignment, size_t size) {
    count_allocation(size);
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment % sizeof(void *) != 0) return EINVAL;
    count_allocation(size);
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    count_allocation(size);
    return __libc_memalign(alignment, size);
}

void *valloc(size_t size) {
    count_allocation(size);
    return __libc_valloc(size);
}

void *pvalloc(size_t size) {
    count_allocation(size);
    return __libc_pvalloc(size);
}

__attribute__((destructor)) static void report(void) {
    char line[160];
    int n = snprintf(line, sizeof line, "regions=%lld allocations=%lld frees=%lld first_size=%lld\n",
                     (long long)atomic_load(&regions), (long long)atomic_load(&rt_allocations),
                     (long long)atomic_load(&rt_frees), (long long)atomic_load(&first_size));
    if (n <= 0) return;
    const char *path = getenv("TIMBRED_RT_ALLOC_REPORT");
    int fd = path && *path ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : 2;
    if (fd < 0) return;
    ssize_t written = write(fd, line, (size_t)n);
    (void)written;
    if (fd != 2) close(fd);
}
