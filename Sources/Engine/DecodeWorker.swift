import Atomics
import CRealtime
#if canImport(Glibc)
import Glibc
#endif
import Inference

/// The states of a decode job (`DecodeJobPool.states`). Only the callback moves a job out of
/// `free` and `done`; only the worker moves it to `running` and out of `running`.
enum DecodeJobState {
    /// Unused: the callback may fill it.
    static let free = 0
    /// Filled and handed to the worker.
    static let queued = 1
    /// The worker computes it into the job's outputs.
    static let running = 2
    /// The worker finished: the outputs are valid for the callback.
    static let done = 3
    /// The callback took it before the worker started it, and computes it itself.
    static let taken = 4
    /// The callback needed it while the worker was computing it, computed it itself into its own
    /// buffers and left it to the worker, which frees it when it finishes.
    static let abandoned = 5
}

/// A fixed pool of decode jobs: batches of frame-n+2 decodes whose inputs the process callback
/// gathered (pitch, loudness, note times, timbre, GRU state, stretch, whether the frame is
/// silent), to be computed by the decode worker or, when the worker is late, by the callback.
///
/// A job is computed as one `Decoder.step` over exactly its rows, in their order, by whichever
/// thread computes it, so who computes it never changes the numbers (the decoder's kernels give
/// a voice results that depend on its batch's size and its place in it: the batch is the unit).
/// Inputs are written only while the job is `free` (by the callback) and read-only afterwards;
/// the job's outputs are written only by the thread that owns the job's state. Everything is
/// allocated in `init`.
final class DecodeJobPool: @unchecked Sendable {
    /// Jobs in the pool and rows (voices) per job.
    let jobCount: Int
    let rowCapacity: Int
    let zDim: Int
    let stateCount: Int
    let rawCount: Int
    let harmonicCount: Int
    /// Floats of controls per row: K harmonic amplitudes then B noise band magnitudes.
    let controlCount: Int

    // inputs, `rowCapacity` rows per job
    let f0Hz: UnsafeMutablePointer<Float>
    let loudnessDB: UnsafeMutablePointer<Float>
    let note: UnsafeMutablePointer<Float>
    let z: UnsafeMutablePointer<Float>
    let stateIn: UnsafeMutablePointer<Float>
    let inharmonicity: UnsafeMutablePointer<Double>
    /// Each row's tone balance: `ToneBalance.rowCount` gains in dB (unused without `tone`).
    let toneDB: UnsafeMutablePointer<Float>
    let silent: UnsafeMutablePointer<Bool>
    /// Rows of each job.
    let rows: UnsafeMutablePointer<Int>
    /// Whether the submitting thread flushed denormals (the computing thread matches it).
    let flushDenormals: UnsafeMutablePointer<Int32>

    // outputs (the worker's; the callback computes a running job into its own buffers)
    let stateOut: UnsafeMutablePointer<Float>
    let raw: UnsafeMutablePointer<Float>
    let controls: UnsafeMutablePointer<Float>

    /// The model's tone balance, applied to every row's controls (nil: the model has none).
    let tone: ToneBalance?

    /// Each job's `DecodeJobState`.
    let states: UnsafeMutablePointer<UnsafeAtomic<Int>>

    // the callback's bookkeeping (never read by the worker)
    /// The voice slot of each row, and the ticket it was gathered under (see `Engine`).
    let rowVoice: UnsafeMutablePointer<Int>
    let rowTicket: UnsafeMutablePointer<UInt64>

    init(jobCount: Int, rowCapacity: Int, zDim: Int, stateCount: Int, rawCount: Int, harmonicCount: Int, noiseBandCount: Int,
         tone: ToneBalance? = nil) {
        self.jobCount = jobCount
        self.rowCapacity = rowCapacity
        self.zDim = zDim
        self.stateCount = stateCount
        self.rawCount = rawCount
        self.harmonicCount = harmonicCount
        controlCount = harmonicCount + noiseBandCount
        self.tone = tone
        let n = jobCount * rowCapacity
        func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            p.initialize(repeating: 0, count: max(count, 1))
            return p
        }
        f0Hz = floats(n)
        loudnessDB = floats(n)
        note = floats(n * Decoder.noteStride)
        z = floats(n * zDim)
        stateIn = floats(n * stateCount)
        stateOut = floats(n * stateCount)
        raw = floats(n * rawCount)
        controls = floats(n * controlCount)
        toneDB = floats(n * ToneBalance.rowCount)
        inharmonicity = .allocate(capacity: n)
        inharmonicity.initialize(repeating: 0, count: n)
        silent = .allocate(capacity: n)
        silent.initialize(repeating: false, count: n)
        rows = .allocate(capacity: jobCount)
        rows.initialize(repeating: 0, count: jobCount)
        flushDenormals = .allocate(capacity: jobCount)
        flushDenormals.initialize(repeating: 0, count: jobCount)
        states = .allocate(capacity: jobCount)
        for j in 0..<jobCount { (states + j).initialize(to: UnsafeAtomic<Int>.create(DecodeJobState.free)) }
        rowVoice = .allocate(capacity: n)
        rowVoice.initialize(repeating: -1, count: n)
        rowTicket = .allocate(capacity: n)
        rowTicket.initialize(repeating: 0, count: n)
    }

    deinit {
        for p in [f0Hz, loudnessDB, note, z, stateIn, stateOut, raw, controls, toneDB] { p.deallocate() }
        inharmonicity.deallocate()
        silent.deallocate()
        rows.deallocate()
        flushDenormals.deallocate()
        for j in 0..<jobCount { states[j].destroy() }
        states.deallocate()
        rowVoice.deallocate()
        rowTicket.deallocate()
    }

    /// First row of job `j` in the row-indexed buffers.
    @inline(__always)
    func base(_ j: Int) -> Int { j * rowCapacity }

    /// Computes job `j`: one `Decoder.step` over its rows (the GRU state copied to `stateOut`
    /// first, then advanced there), then each row's controls (zeros for a silent frame), into
    /// `stateOut`, `raw` and `controls` (`rows[j]` rows of their widths), tone-balanced. Real-time safe: no
    /// allocation, lock or system call.
    func compute(job j: Int, decoder: Decoder, scaler: ControlScaler, limitHz: Float,
                 stateOut: UnsafeMutablePointer<Float>, raw: UnsafeMutablePointer<Float>,
                 controls: UnsafeMutablePointer<Float>) {
        let n = rows[j], b = base(j), g = stateCount
        guard n > 0 else { return }
        stateOut.update(from: stateIn + b * g, count: n * g)
        decoder.step(batch: n, f0Hz: f0Hz + b, loudnessDB: loudnessDB + b, note: note + b * Decoder.noteStride,
                     z: z + b * zDim, state: stateOut, raw: raw)
        for r in 0..<n {
            let h = controls + r * controlCount
            if silent[b + r] {
                h.update(repeating: 0, count: controlCount)
            } else {
                scaler.scale(raw: raw + r * rawCount, f0Hz: f0Hz[b + r], limitHz: limitHz,
                             harmonics: h, noise: h + harmonicCount, inharmonicity: inharmonicity[b + r])
                tone?.apply(gainsDB: toneDB + (b + r) * ToneBalance.rowCount, f0Hz: f0Hz[b + r],
                            inharmonicity: inharmonicity[b + r], harmonics: h, noise: h + harmonicCount)
            }
        }
    }

    /// Job `j`'s own output buffers (the worker's).
    @inline(__always)
    func outputs(_ j: Int) -> (state: UnsafeMutablePointer<Float>, raw: UnsafeMutablePointer<Float>, controls: UnsafeMutablePointer<Float>) {
        let b = base(j)
        return (stateOut + b * stateCount, raw + b * rawCount, controls + b * controlCount)
    }
}

/// What the decode worker did (counters since the engine was prepared).
public struct DecodeWorkerStats: Sendable, Equatable {
    /// The worker thread runs (false: `decoderThread` off, or the thread could not be created).
    public var isRunning = false
    /// It runs under SCHED_FIFO (false: normal scheduling, real-time priority not permitted).
    public var isRealtime = false
    /// Its SCHED_FIFO priority (0 when not real-time).
    public var priority: Int32 = 0
    /// The CPU it is pinned to (-1: not pinned).
    public var cpu = -1
    /// Jobs (batches of frame n+2 of sounding voices) the callback handed out, and their rows.
    public var jobsSubmitted = 0
    public var rowsSubmitted = 0
    /// Jobs the worker computed in time (its results used), the callback took before the worker
    /// started them, and the callback computed itself while the worker was still on them (a late
    /// worker; its time is in the worker's busy time all the same).
    public var jobsByWorker = 0
    public var jobsTakenByCallback = 0
    public var jobsAbandonedByCallback = 0
    /// Jobs whose rows were all cancelled (released notes decode again) before anyone needed them.
    public var jobsCancelled = 0
    /// Times the job pool had no free job (the decode then ran in the callback; always 0).
    public var poolExhausted = 0
    /// The worker's wall time and thread CPU time inside jobs, nanoseconds.
    public var workerBusyNanoseconds = 0
    public var workerCPUNanoseconds = 0
    /// Heap allocations the worker made inside jobs (counted only with `allocationProbe`).
    public var workerAllocations = 0
    public init() {}
}

/// The decode worker's running totals, read from its atomics (``Engine/decodeWorkerCounters``):
/// what the daemon's load report needs, readable from the control thread while the engine plays.
public struct DecodeWorkerCounters: Sendable, Equatable {
    /// The worker thread runs.
    public var isRunning = false
    /// Its wall time and thread CPU time inside jobs since the engine was prepared, nanoseconds.
    public var busyNanoseconds = 0
    public var cpuNanoseconds = 0
    /// Jobs it computed (those the callback took or finished itself not counted).
    public var jobsComputed = 0

    public init(isRunning: Bool = false, busyNanoseconds: Int = 0, cpuNanoseconds: Int = 0, jobsComputed: Int = 0) {
        self.isRunning = isRunning
        self.busyNanoseconds = busyNanoseconds
        self.cpuNanoseconds = cpuNanoseconds
        self.jobsComputed = jobsComputed
    }
}

/// The decode worker: a thread that computes queued decode jobs (frame n+2 of sounding voices)
/// while the process callback synthesises. Created and warmed with the engine, before it plays;
/// SCHED_FIFO just below the audio thread where permitted, else normal scheduling; pinned to the
/// last CPU when there is more than one. While jobs keep coming it looks at its queue every
/// `pollMicroseconds`; after `parkMilliseconds` without one it parks on a semaphore, and the callback
/// wakes it with `sem_post` (it never blocks the caller). Waking a sleeping thread is a futex
/// system call whose cost is the caller's: 18.7 µs on average and 2.6 ms at worst on this
/// project's 2-vCPU VM (a C loop posting every 1.33 ms), so the callback posts only to a parked
/// worker, not every cycle.
final class DecodeWorker: @unchecked Sendable {
    let pool: DecodeJobPool
    let decoder: Decoder
    let scaler: ControlScaler
    let limitHz: Float
    /// Jobs handed to the worker, in order (callback → worker). A stale index (a job the callback
    /// took back and perhaps refilled) is harmless: the worker only starts jobs that are `queued`.
    let queue: SPSCRing<Int>
    private let semaphore: UnsafeMutablePointer<sem_t>
    private let quit = ManagedAtomic<Bool>(false)
    private let idle = ManagedAtomic<Bool>(true)
    /// The worker waits on the semaphore (the callback must post to wake it).
    private let parked = ManagedAtomic<Bool>(false)
    /// How often the worker looks at its queue while jobs keep coming, and how long it does so
    /// without one before it parks.
    static let pollMicroseconds = 250
    static let parkMilliseconds = 50
    /// Test hook: > 0, the worker busy-waits this many nanoseconds before each job (a slow or
    /// preempted worker); < 0, it leaves every job to the callback (a stalled worker).
    let stallNanoseconds = ManagedAtomic<Int>(0)
    let jobsComputed = ManagedAtomic<Int>(0)
    let busyNanoseconds = ManagedAtomic<Int>(0)
    let cpuNanoseconds = ManagedAtomic<Int>(0)
    let allocations = ManagedAtomic<Int>(0)
    /// Test hook: counts the worker thread's heap allocations (CAllocCounter's per-thread count).
    let allocationProbe = ManagedAtomic<UnsafeRawPointer?>(nil)
    private(set) var isRealtime = false
    private(set) var priority: Int32 = 0
    /// The CPU the thread pinned itself to (-1: not pinned).
    let pinnedCPU = ManagedAtomic<Int>(-1)
    var cpu: Int { pinnedCPU.load(ordering: .relaxed) }
    private var thread: pthread_t?

    init(pool: DecodeJobPool, decoder: Decoder, scaler: ControlScaler, limitHz: Float) {
        self.pool = pool
        self.decoder = decoder
        self.scaler = scaler
        self.limitHz = limitHz
        queue = SPSCRing(capacity: 4 * pool.jobCount, placeholder: -1)
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, 0)
    }

    deinit {
        stop()
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    /// Starts the thread: SCHED_FIFO at `priority` when > 0 and permitted, else normal
    /// scheduling; pinned to the last online CPU when there are two or more. Not real-time.
    /// - Returns: false when no thread could be created (the callback then decodes everything).
    func start(priority requested: Int32) -> Bool {
        let context = Unmanaged.passUnretained(self).toOpaque()
        var attr = pthread_attr_t()
        var created = false
        if requested > 0 {
            pthread_attr_init(&attr)
            pthread_attr_setinheritsched(&attr, Int32(PTHREAD_EXPLICIT_SCHED))
            pthread_attr_setschedpolicy(&attr, Int32(SCHED_FIFO))
            var param = sched_param()
            param.sched_priority = requested
            pthread_attr_setschedparam(&attr, &param)
            var t = pthread_t()
            if pthread_create(&t, &attr, decodeWorkerEntry, context) == 0 {
                thread = t
                created = true
                isRealtime = true
                priority = requested
            }
            pthread_attr_destroy(&attr)
        }
        if !created {
            var t = pthread_t()
            guard pthread_create(&t, nil, decodeWorkerEntry, context) == 0 else { return false }
            thread = t
        }
        return true
    }

    /// Stops and joins the thread (not real-time; the engine's deinit).
    func stop() {
        guard let t = thread else { return }
        quit.store(true, ordering: .releasing)
        sem_post(semaphore)
        pthread_join(t, nil)
        thread = nil
    }

    /// Wakes the worker. Real-time safe: `sem_post` never blocks (a futex wake when it waits).
    @inline(__always)
    func wake() { sem_post(semaphore) }

    /// After queueing jobs: wakes the worker if it is parked. Real-time safe; a system call only
    /// when the worker has had nothing to do for `parkMilliseconds`.
    @inline(__always)
    func wakeIfParked() {
        // the queue's store before the look at `parked` (the worker looks at the queue after
        // raising it): one of the two sees the other
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if parked.load(ordering: .sequentiallyConsistent) { sem_post(semaphore) }
    }

    /// Waits until the worker has taken every queued job and is idle (not real-time: the
    /// engine's warm-up and tests).
    func waitUntilIdle() {
        wake()
        while queue.count > 0 || !idle.load(ordering: .acquiring) {
            var ts = timespec(tv_sec: 0, tv_nsec: 200_000)
            nanosleep(&ts, nil)
        }
    }

    /// The thread's loop: wait for a wake, then compute every queued job, each inside a
    /// RealtimeSanitizer real-time region.
    fileprivate func run() {
        // the last CPU, where there is more than one: the audio thread (not pinned, higher
        // priority) then has the other core to itself while the worker runs
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        if cpus >= 2 && timbred_pin_current_thread(Int32(cpus - 1)) == 0 { pinnedCPU.store(cpus - 1, ordering: .relaxed) }
        let pollsBeforePark = DecodeWorker.parkMilliseconds * 1000 / DecodeWorker.pollMicroseconds
        var polls = 0
        while !quit.load(ordering: .acquiring) {
            idle.store(false, ordering: .sequentiallyConsistent)
            if let j = queue.pop() {
                timbred_rt_enter()
                process(job: j)
                timbred_rt_exit()
                polls = 0
                continue
            }
            idle.store(true, ordering: .releasing)
            if polls < pollsBeforePark {
                polls += 1
                var ts = timespec(tv_sec: 0, tv_nsec: DecodeWorker.pollMicroseconds * 1000)
                nanosleep(&ts, nil)
                continue
            }
            // nothing for a while: park until the callback (or stop) posts
            parked.store(true, ordering: .sequentiallyConsistent)
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            if queue.count == 0 && !quit.load(ordering: .acquiring) {
                while sem_wait(semaphore) != 0 {}
            }
            parked.store(false, ordering: .sequentiallyConsistent)
            polls = 0
        }
    }

    /// Computes job `j` if it is still queued. Real-time safe.
    private func process(job j: Int) {
        let stall = stallNanoseconds.load(ordering: .relaxed)
        if stall < 0 { return }  // test hook: a stalled worker leaves the job to the callback
        guard pool.states[j].compareExchange(expected: DecodeJobState.queued, desired: DecodeJobState.running,
                                             ordering: .acquiring).exchanged else { return }
        let probe = allocationProbe.load(ordering: .relaxed)
        let allocationsBefore = probe != nil ? timbred_call_counter(probe) : 0
        let started = timbred_rt_clock_ns(), startedCPU = timbred_rt_thread_cpu_ns()
        if stall > 0 {
            while timbred_rt_clock_ns() - started < stall && !quit.load(ordering: .relaxed) {}
        }
        let flush = pool.flushDenormals[j]
        if timbred_denormals_flushed() != flush { timbred_set_flush_denormals(flush) }
        let out = pool.outputs(j)
        pool.compute(job: j, decoder: decoder, scaler: scaler, limitHz: limitHz,
                     stateOut: out.state, raw: out.raw, controls: out.controls)
        busyNanoseconds.wrappingIncrement(by: Int(timbred_rt_clock_ns() - started), ordering: .relaxed)
        cpuNanoseconds.wrappingIncrement(by: Int(timbred_rt_thread_cpu_ns() - startedCPU), ordering: .relaxed)
        if probe != nil {
            allocations.wrappingIncrement(by: Int(timbred_call_counter(probe) - allocationsBefore), ordering: .relaxed)
        }
        if pool.states[j].compareExchange(expected: DecodeJobState.running, desired: DecodeJobState.done,
                                          ordering: .releasing).exchanged {
            jobsComputed.wrappingIncrement(ordering: .relaxed)
        } else {
            // the callback needed it meanwhile and decoded it itself: the job is free again
            pool.states[j].store(DecodeJobState.free, ordering: .releasing)
        }
    }
}

/// The decode worker thread's entry point (a C function: the context is the unretained worker).
private func decodeWorkerEntry(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let context else { return nil }
    Unmanaged<DecodeWorker>.fromOpaque(context).takeUnretainedValue().run()
    return nil
}
