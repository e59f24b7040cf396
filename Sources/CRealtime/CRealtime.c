// Real-time helpers: RealtimeSanitizer region markers and denormal flushing.
#include "CRealtime.h"

#include <stdint.h>
#include <time.h>

// RealtimeSanitizer. When this file itself is compiled with -fsanitize=realtime (or with
// -DTIMBRED_RTSAN) the runtime is certainly linked and we call it directly. Otherwise the two
// entry points are weak references: a Swift build that links the runtime only at the final link
// (-Xswiftc -Xclang-linker -Xswiftc -fsanitize=realtime) still gets real markers, and a normal
// build resolves them to null and does nothing.
#if defined(__has_feature)
#  if __has_feature(realtime_sanitizer) && !defined(TIMBRED_RTSAN)
#    define TIMBRED_RTSAN 1
#  endif
#endif

#ifdef TIMBRED_RTSAN
void __rtsan_realtime_enter(void);
void __rtsan_realtime_exit(void);
#  define TIMBRED_RTSAN_PRESENT() 1
#else
extern void __rtsan_realtime_enter(void) __attribute__((weak));
extern void __rtsan_realtime_exit(void) __attribute__((weak));
#  define TIMBRED_RTSAN_PRESENT() (__rtsan_realtime_enter != 0 && __rtsan_realtime_exit != 0)
#endif

void timbred_rt_enter(void) {
    if (TIMBRED_RTSAN_PRESENT()) __rtsan_realtime_enter();
}

void timbred_rt_exit(void) {
    if (TIMBRED_RTSAN_PRESENT()) __rtsan_realtime_exit();
}

int timbred_rt_sanitizer_active(void) {
    return TIMBRED_RTSAN_PRESENT() ? 1 : 0;
}

long long timbred_rt_clock_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + (long long)t.tv_nsec;
}

long long timbred_rt_thread_cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (long long)t.tv_sec * 1000000000LL + (long long)t.tv_nsec;
}

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define TIMBRED_MXCSR_FTZ 0x8000u
#define TIMBRED_MXCSR_DAZ 0x0040u
#endif

void timbred_flush_denormals(void) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(_mm_getcsr() | TIMBRED_MXCSR_FTZ | TIMBRED_MXCSR_DAZ);
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    fpcr |= (UINT64_C(1) << 24); // FZ
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr));
#endif
}

int timbred_denormals_flushed(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned int csr = _mm_getcsr();
    return (csr & (TIMBRED_MXCSR_FTZ | TIMBRED_MXCSR_DAZ)) == (TIMBRED_MXCSR_FTZ | TIMBRED_MXCSR_DAZ);
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    return (fpcr >> 24) & 1;
#else
    return 0;
#endif
}
