#ifndef TIMBRED_CREALTIME_H
#define TIMBRED_CREALTIME_H

#ifdef __cplusplus
extern "C" {
#endif

/// Marks the start of a real-time region for RealtimeSanitizer (clang -fsanitize=realtime).
/// Without the sanitizer runtime this is a no-op. Call it at the top of the audio callback.
void timbred_rt_enter(void);

/// Marks the end of the region opened by timbred_rt_enter.
void timbred_rt_exit(void);

/// Nonzero when timbred_rt_enter/exit really reach the RealtimeSanitizer runtime.
int timbred_rt_sanitizer_active(void);

/// CLOCK_MONOTONIC in nanoseconds. Real-time safe (clock_gettime through the vDSO: no lock, no
/// allocation); the process callback times itself with it.
long long timbred_rt_clock_ns(void);

/// CPU time the calling thread has run, in nanoseconds (CLOCK_THREAD_CPUTIME_ID): excludes the
/// time it was preempted or the virtual machine was not running it (steal). Real-time safe (one
/// non-blocking system call, no lock, no allocation); the process callback measures its own work
/// with it, apart from the stalls the machine adds.
long long timbred_rt_thread_cpu_ns(void);

/// Sets flush-to-zero and denormals-are-zero for the calling thread's floating point unit
/// (x86-64: MXCSR FTZ|DAZ; aarch64: FPCR.FZ). Call once on the audio thread (JACK thread-init).
void timbred_flush_denormals(void);

/// Nonzero when the calling thread flushes denormal results to zero.
int timbred_denormals_flushed(void);

/// Sets (nonzero) or clears (zero) flush-to-zero and denormals-are-zero for the calling thread,
/// so that a helper thread computes exactly as the thread whose work it takes. Real-time safe.
void timbred_set_flush_denormals(int on);

/// Pins the calling thread to CPU `cpu` (sched_setaffinity). Returns 0 on success, -1 when
/// refused or where unsupported. Not real-time (call once when a thread starts).
int timbred_pin_current_thread(int cpu);

/// Calls `counter`, a `long long (*)(void)` (a test's allocation counter), or returns 0 when it is
/// null: a C call, so a Swift thread calling it needs no function-type metadata. Real-time safe
/// when `counter` is.
long long timbred_call_counter(const void *counter);

#ifdef __cplusplus
}
#endif

#endif
