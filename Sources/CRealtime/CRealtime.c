// Real-time helpers: RealtimeSanitizer region markers and denormal flushing.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "CRealtime.h"

#ifdef __linux__
#include <sched.h>
#endif

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

void timbred_set_flush_denormals(int on) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned int csr = _mm_getcsr() & ~(TIMBRED_MXCSR_FTZ | TIMBRED_MXCSR_DAZ);
    _mm_setcsr(on ? (csr | TIMBRED_MXCSR_FTZ | TIMBRED_MXCSR_DAZ) : csr);
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = on ? (fpcr | (UINT64_C(1) << 24)) : (fpcr & ~(UINT64_C(1) << 24));
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr));
#else
    (void)on;
#endif
}

int timbred_pin_current_thread(int cpu) {
#ifdef __linux__
    if (cpu < 0 || cpu >= CPU_SETSIZE) return -1;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -1;
#else
    (void)cpu;
    return -1;
#endif
}

long long timbred_call_counter(const void *counter) {
    if (counter == 0) return 0;
    long long (*fn)(void) = (long long (*)(void))counter;
    return fn();
}
