import Atomics
import CRealtime
import DSP
#if canImport(Glibc)
import Glibc
#endif
import Inference
import MIDI
import ModelCore
import SoundParameters

/// Settings fixed when an engine is prepared (changing them means preparing a new engine).
public struct EngineSettings: Sendable, Equatable {
    /// Output rate R in Hz (44.1, 48, 88.2, 96 kHz…). R / frame_rate must be an integer.
    public var sampleRate: Double = 48000
    /// Largest block `render` is called with.
    public var maxBlockFrames: Int = 4096
    /// Notes that can sound at once (default 32).
    public var polyphony: Int = 32
    /// Partition size of the convolution reverb in samples (a power of two: its direct head's
    /// length and smallest partition; the reverb adds no latency).
    public var reverbPartition: Int = 64
    /// Largest partition of the reverb's non-uniformly partitioned tail, in samples (rounded down
    /// to `reverbPartition` · 4^k; `reverbPartition` itself gives uniform partitioning, the
    /// convolver before issue 17). See `PartitionedConvolver`.
    public var reverbLargestPartitionSamples: Int = 1024
    /// Time constant of the timbre glide when the target point moves (seconds).
    public var timbreSmoothingSeconds: Double = 0.03
    /// How much a sounding voice's decoder state forgets when its timbre point moves: the GRU
    /// state is scaled by `exp(-timbreForgetPerUnit · |Δz|)` for each decoded frame's move of
    /// `|Δz|` latent units (0: never). The state carries the timbre the note was played with:
    /// without forgetting, a flute note morphed to the trumpet stays 22 % darker than the
    /// trumpet played alone, even with the knob held at the trumpet for seconds (docs/architecture.md, "The morph knob").
    public var timbreForgetPerUnit: Double = 3
    /// Samples of the fade when a voice is stolen or sound is cut.
    public var fadeSeconds: Double = 0.003
    /// A voice ends when its envelope falls this far below the loudest it has been (dB), held or
    /// released: a soft note rings as long as a loud one, as a real string or bar does. (An
    /// absolute -90 dB ended a piano's middle C played at velocity 16 at 3.8 s, while the real
    /// note rings past 8 s, 45 dB under its peak.)
    public var endBelowPeakDB: Double = 80
    /// Loudness at or below which a voice ends whatever its peak (dB): the envelopes' floor is -120.
    public var endLoudnessDB: Double = -119
    /// Most notes started (two decoder frames each) per hop's worth of samples, at least 2 per
    /// block: the notes of a chord beyond a block's share start in the next blocks (at 48 kHz
    /// and 64-frame blocks, 2 a block, 1.3 ms apart). Bounds the work a chord puts into one
    /// callback, the spike that makes a short period late.
    public var noteStartsPerHop: Int = 12
    /// Decode frame n+2 of sounding voices on a worker thread (`DecodeWorker`) while the callback
    /// synthesises; when a frame is not ready in time the callback decodes it itself. The samples
    /// are the same either way. Off: the callback computes every decode.
    public var decoderThread = false
    /// The worker's SCHED_FIFO priority (0: normal scheduling); the daemon asks for JACK's process
    /// thread's priority minus one, and the worker falls back to normal scheduling when refused.
    public var decoderThreadPriority: Int32 = 0

    public init() {}
}

/// A MIDI event at a sample offset inside the block being rendered.
public struct TimedMIDIEvent: Sendable {
    public var offset: Int
    public var event: MIDIEvent
    public init(offset: Int, event: MIDIEvent) {
        self.offset = offset
        self.event = event
    }
}

/// The real-time synthesizer: voices (decoder → harmonic + noise), mix, reverb, output stage.
///
/// The control side builds an `Engine` (allocating everything), then only talks to it through
/// `commands`; the audio thread calls `render` and reads nothing else. Offline rendering calls
/// `render` from a plain loop, so both paths run the same code.
public final class Engine: @unchecked Sendable {
    public let settings: EngineSettings
    public let model: TimbreModel
    /// Control → audio thread.
    public let commands: SPSCRing<EngineCommand>
    /// Audio thread → control.
    public let status: SPSCRing<EngineStatus>

    let hop: Int
    let frameRate: Double
    /// Notes whose first frames one block decodes (see `EngineSettings.noteStartsPerHop`).
    public let noteStartsPerBlock: Int
    /// Note starts left in the block being rendered.
    private var noteStartsLeft = 0
    /// Counts struck notes, so deferred ones start in the order they were struck.
    private var strikeCount: UInt64 = 0
    /// Decoder frames computed since the engine was prepared, over every voice (benchmarks and
    /// tests read it between blocks).
    public private(set) var decodedFrameCount = 0
    /// Frame boundaries a voice crossed before its next frame was decoded (it then plays stale
    /// controls: an audible dip). Always 0; tests check it for every block size.
    public private(set) var undecodedFrameCount = 0
    let limitHz: Float
    let voices: VoiceSlots
    let decoder: Decoder
    let scaler: ControlScaler
    let envelopes: EnvelopeTables
    let reverb: PartitionedConvolver
    /// The reverb's largest partition in samples, as built (`settings.reverbLargestPartitionSamples`
    /// rounded down to the partition size · 4^k; the partition size itself when uniform).
    public var reverbLargestPartitionSamples: Int { reverb.maximumPartitionSamples }
    var output: OutputStage

    // frame n+2 of sounding voices, decoded in jobs (DecodeWorker.swift)
    /// Rows (voices) per decode job: a multiple of 4, the decoder kernel's group.
    static let decodeJobRows = 8
    let jobs: DecodeJobPool
    /// The worker thread computing the jobs (nil: `decoderThread` off, the callback computes them).
    let worker: DecodeWorker?
    /// Jobs handed out and not yet consumed (callback only).
    private let outstandingJobs: UnsafeMutablePointer<Int>
    private var outstandingJobCount = 0
    /// Per voice slot: the ticket of its frame n+2 waiting in a job (a row is the voice's own only
    /// while the voice still has this ticket and its frame n+2: a release or a new note voids it).
    private let pendingTicket: UnsafeMutablePointer<UInt64>
    private var ticketCount: UInt64 = 0
    /// The callback's own outputs for a job it needs while the worker is still computing it.
    private let ownStateOut: UnsafeMutablePointer<Float>
    private let ownRaw: UnsafeMutablePointer<Float>
    private let ownControls: UnsafeMutablePointer<Float>
    /// The callback's side of `DecodeWorkerStats`.
    private var jobCounters = DecodeWorkerStats()
    /// Jobs were queued in this block: wake the worker when the block is done.
    private var workerHasNewJobs = false

    // batch buffers for the decoder
    private let batchVoices: UnsafeMutablePointer<Int>
    /// Which frame of each batched voice is decoded: 0 and 1 at note start, 2 (n+2) after.
    private let batchFrameOffsets: UnsafeMutablePointer<Int>
    private let batchF0: UnsafeMutablePointer<Float>
    private let batchLoudness: UnsafeMutablePointer<Float>
    /// `[slots, Decoder.noteStride]`: velocity, seconds since note-on and since note-off per voice.
    private let batchNote: UnsafeMutablePointer<Float>
    private let batchZ: UnsafeMutablePointer<Float>
    private let batchState: UnsafeMutablePointer<Float>
    private let batchRaw: UnsafeMutablePointer<Float>
    private let weights: UnsafeMutablePointer<Float>
    /// The model's stretched partials (nil: none, every partial harmonic) and each batched voice's B.
    private let inharmonicity: InharmonicityTable?
    private let batchInharmonicity: UnsafeMutablePointer<Double>
    /// I doubles of blend weights for the per-instrument tables looked up on this thread (the
    /// stretched partials per decoded frame, the transients per note start).
    private let blendScratch: UnsafeMutablePointer<Double>
    /// The blend every table looked up per decoded frame shares (tone, stretched partials, noise
    /// high-pass, partial motion; nil when they differ): its weights are computed once per frame
    /// into `blendScratch` and read by each.
    private let sharedBlend: LatentBlend?
    /// The model's attack transients (nil: none) and their band noises at the output rate.
    private let transients: TransientTable?
    private let transientBands: TransientBands?
    /// The model's tone balance (nil: none), its application to controls, and each batched
    /// voice's gains (`ToneBalance.rowCount` dB per row: the bands, then the onset).
    private let tone: ToneTable?
    private let toneBalance: ToneBalance?
    /// The model's partial motion (nil: none), its group edges, and one voice's blended depths.
    private let motion: PartialMotionTable?
    private let motionEdges: UnsafeMutableBufferPointer<Int>
    private let motionDepthDB: UnsafeMutablePointer<Float>
    /// The motion's vibrato lock and its tilt per group at a voice's point (scratch, as
    /// `motionDepthDB`).
    private let motionVibratoLock: UnsafeMutablePointer<Float>
    private let motionVibratoTilt: UnsafeMutablePointer<Float>
    /// The model's high-pass of the noise below the fundamental (nil: none).
    private let noiseHighPass: NoiseHighPassTable?
    /// The first frame whose controls a voice averages with the frame before (nil: none;
    /// docs/model-format.md, "Control smoothing").
    private let controlSmoothingFromFrame: Int?
    private let batchTone: UnsafeMutablePointer<Float>
    private let summaries: UnsafeMutablePointer<VoiceSummary>
    private let mix: UnsafeMutablePointer<Float>
    /// The block's reverb (wet) signal, and the gain and reverb mix in force at each of its
    /// samples: a change (a knob, a program change) acts from its event's sample, whatever the
    /// block size.
    private let wet: UnsafeMutablePointer<Float>
    private let gainAt: UnsafeMutablePointer<Float>
    private let reverbMixAt: UnsafeMutablePointer<Float>
    private let voiceScratch: UnsafeMutablePointer<Float>

    // control state (audio thread only)
    /// The shared timbre target: what every channel without a preset of its own plays (the
    /// control side's preset, latent, morph and pad, and knobs on such channels move it).
    private let timbreTarget: UnsafeMutablePointer<Float>
    /// `[16, zDim]`: each channel's own timbre target, set by a program change on it (and moved
    /// by knobs arriving on it) while its bit in `channelOwnsTimbre` is set.
    private let channelTimbre: UnsafeMutablePointer<Float>
    /// Bit c: channel c plays its own timbre target (`channelTimbre`), not the shared one.
    private var channelOwnsTimbre: UInt16 = 0
    private let initialTimbre: [Float]
    private var timbreAlpha: Float
    /// `settings.timbreForgetPerUnit`.
    private let timbreForget: Double
    /// The morph knob's line from A to B, along which every table blends A's and B's instruments
    /// (`MorphLine`; `.none` until both are set).
    private var morphLine = MorphLine.none
    /// [I, G]: each instrument's decoder state in the middle of a held note (`SettledState`),
    /// what a moving voice's state is drawn towards.
    private let settledStates: UnsafeMutablePointer<Float>
    private var reverbMix: Float = 1
    private var gain: Float
    private var attackScale: Double = 1
    private var releaseScale: Double = 1
    private let channels: UnsafeMutablePointer<ChannelState>
    private var fadeStep: Float
    /// Knobs → timbre (ControllerMap.swift); audio thread only.
    var controllerMap: ControllerMap
    /// What program changes play (set by `.setProgramTable`; nil: they change nothing). The
    /// control side keeps it alive (see `EngineCommand.setProgramTable`).
    private var programs: Unmanaged<ProgramTable>?
    /// Bank selects per channel and which channels play drums (their program changes pick nothing).
    private var drums = MIDIDrumFilter(drumChannel: nil)
    /// MIDI Tuning Standard key tables, scale/octave offsets and master tuning (preallocated;
    /// SysEx and `setKeyPitches` change them; audio thread only once the engine plays).
    public let tuning = TuningTables()
    /// MPE zones (RP-053), set by the MPE Configuration Message.
    private var mpe = MPEZones()
    /// `setMPESlide`'s direction (nil: the morph axis).
    private var mpeSlide: LatentPoint?
    /// `setMPEPressure`'s direction (nil: a note's pressure is its loudness).
    private var mpePressureDirection: LatentPoint?
    /// `setMPESlideLoudness`: an MPE note's slide is its loudness, not a timbre direction.
    private var mpeSlideIsLoudness = false
    /// `setReleaseVelocity`'s mapping (target `releaseScale`, else none).
    private var releaseVelocityMapping = ControllerMapping.unmapped
    /// What this engine carries on from the one it replaces: the state `captureLiveState(of:)`
    /// copied at the swap, applied when `.carryOverLiveState` comes through the ring (after the
    /// control side's `stateCommands`, so the live state wins over the settings').
    private let carriedTuning = TuningTables()
    private let carriedChannels: UnsafeMutablePointer<ChannelState>
    private let carriedChannelTimbre: UnsafeMutablePointer<Float>
    private var carriedOwnsTimbre: UInt16 = 0
    private var carriedMPE = MPEZones()
    private var carriedDrums = MIDIDrumFilter(drumChannel: nil)
    /// True once `captureLiveState(of:)` copied an engine's state (of the same timbre dimension).
    private var hasCarriedState = false
    /// True once the engine rendered a block after its warm-up (a swap before that carries
    /// what it had carried itself).
    private var hasPlayed = false
    /// The SysEx payload store of the block being rendered (`render`'s `sysEx`).
    private var sysExStore = UnsafeBufferPointer<UInt8>(start: nil, count: 0)

    /// Per-stage time accumulators (nanoseconds), read by `bench`; only counted when
    /// `profileStages` is true.
    public var profileStages = false
    public private(set) var stageNanoseconds = StageTimes()

    /// Prepares an engine: allocates every buffer and warms every code path once.
    public init(model: TimbreModel, settings: EngineSettings, timbre: [Float]? = nil, gainDB: Float = -6,
                reverbIR: [Float]? = nil) {
        precondition(model.config.zDim <= LatentPoint.capacity, "timbre space larger than \(LatentPoint.capacity)")
        self.settings = settings
        self.model = model
        frameRate = Double(model.config.frameRate)
        hop = Int((settings.sampleRate / frameRate).rounded())
        precondition(abs(Double(hop) * frameRate - settings.sampleRate) < 1e-6,
                     "sample rate \(settings.sampleRate) is not a multiple of the frame rate \(frameRate)")
        noteStartsPerBlock = max(2, (settings.noteStartsPerHop * min(settings.maxBlockFrames, hop) + hop - 1) / hop)
        scaler = model.controlScaler
        limitHz = scaler.limitHz(outputSampleRateHz: Float(settings.sampleRate))
        let slots = settings.polyphony + 4  // spare slots so stolen voices can fade out
        decoder = model.makeDecoder(maxBatch: slots)
        envelopes = model.envelopes
        let noiseSynth = NoiseSynth(sampleRate: settings.sampleRate, hop: hop, bandCount: model.config.noiseBandCount,
                                    bandLimitHz: model.config.bandLimitHz)
        let hopSamples = hop
        voices = VoiceSlots((0..<slots).map { i in
            Voice(harmonicCount: model.config.harmonicCount, noiseBandCount: model.config.noiseBandCount,
                  stateCount: model.config.gruUnits, zDim: model.config.zDim,
                  oscillators: HarmonicOscillatorBank(sampleRate: settings.sampleRate, hop: hopSamples,
                                                      maxHarmonics: model.config.harmonicCount),
                  noise: NoiseVoice(synth: noiseSynth, seed: UInt64(0x7153_0000 + i)),
                  transientCount: model.transients == nil ? 0 : TransientTable.envelopeCount,
                  hasMotion: model.motion != nil)
        })
        motion = model.motion
        noiseHighPass = model.noiseHighPass
        controlSmoothingFromFrame = model.controlSmoothingFromFrame
        motionEdges = .allocate(capacity: max(2, model.motion?.harmonicEdges.count ?? 2))
        _ = motionEdges.initialize(from: model.motion?.harmonicEdges ?? [1, 1])
        motionDepthDB = .allocate(capacity: max(1, model.motion?.groupCount ?? 1))
        motionDepthDB.initialize(repeating: 0, count: max(1, model.motion?.groupCount ?? 1))
        motionVibratoLock = .allocate(capacity: max(1, model.motion?.groupCount ?? 1))
        motionVibratoLock.initialize(repeating: 0, count: max(1, model.motion?.groupCount ?? 1))
        motionVibratoTilt = .allocate(capacity: max(1, model.motion?.groupCount ?? 1))
        motionVibratoTilt.initialize(repeating: 0, count: max(1, model.motion?.groupCount ?? 1))
        transients = model.transients
        transientBands = model.transients.map { _ in
            TransientBands(frameCount: TransientTable.frameCount, bandEdgesHz: TransientTable.bandEdgesHz,
                           frameRateHz: TransientTable.frameRateHz, sampleRate: settings.sampleRate)
        }
        commands = SPSCRing(capacity: 1024, placeholder: .panic)
        status = SPSCRing(capacity: 1024, placeholder: .commandRejected)
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
        batchVoices = .allocate(capacity: slots)
        batchVoices.initialize(repeating: 0, count: slots)
        batchFrameOffsets = .allocate(capacity: slots)
        batchFrameOffsets.initialize(repeating: 0, count: slots)
        batchF0 = buffer(slots)
        batchLoudness = buffer(slots)
        batchNote = buffer(slots * Decoder.noteStride)
        batchZ = buffer(slots * model.config.zDim)
        batchState = buffer(slots * model.config.gruUnits)
        batchRaw = buffer(slots * scaler.rawCount)
        weights = buffer(model.envelopes.instrumentCount)
        inharmonicity = model.inharmonicity.flatMap { $0.isStretched || $0.isTuned ? $0 : nil }
        batchInharmonicity = .allocate(capacity: slots)
        batchInharmonicity.initialize(repeating: 0, count: slots)
        blendScratch = .allocate(capacity: max(1, model.config.instrumentCount))
        blendScratch.initialize(repeating: 0, count: max(1, model.config.instrumentCount))
        let frameBlends = [model.tone?.blend, model.inharmonicity?.blend, model.noiseHighPass?.blend, model.motion?.blend]
            .compactMap { $0 }
        sharedBlend = frameBlends.allSatisfy { $0 == frameBlends.first } ? frameBlends.first : nil
        precondition(ToneTable.rowCount == ToneBalance.rowCount)
        tone = model.tone
        toneBalance = model.tone.map { _ in
            ToneBalance(harmonicCount: model.config.harmonicCount, noiseBandCount: model.config.noiseBandCount,
                        bandLimitHz: model.config.bandLimitHz)
        }
        batchTone = buffer(slots * ToneBalance.rowCount)
        summaries = .allocate(capacity: slots)
        summaries.initialize(repeating: VoiceSummary(isActive: false), count: slots)
        mix = buffer(settings.maxBlockFrames)
        wet = buffer(settings.maxBlockFrames)
        gainAt = buffer(settings.maxBlockFrames)
        reverbMixAt = buffer(settings.maxBlockFrames)
        voiceScratch = buffer(hop)
        timbreTarget = buffer(model.config.zDim)
        channelTimbre = buffer(16 * model.config.zDim)
        if let timbre { timbreTarget.update(from: timbre, count: min(timbre.count, model.config.zDim)) }
        var start = [Float](repeating: 0, count: model.config.zDim)
        if let timbre { for d in 0..<min(timbre.count, start.count) { start[d] = timbre[d] } }
        initialTimbre = start
        timbreAlpha = Float(1 - exp(-1 / (settings.timbreSmoothingSeconds * frameRate)))
        let settled = SettledState.states(model: model)
        settledStates = buffer(settled.count)
        settledStates.update(from: settled, count: settled.count)
        timbreForget = max(settings.timbreForgetPerUnit, 0)
        gain = dbToAmplitude(gainDB)
        channels = .allocate(capacity: 16)
        channels.initialize(repeating: ChannelState(), count: 16)
        carriedChannels = .allocate(capacity: 16)
        carriedChannels.initialize(repeating: ChannelState(), count: 16)
        carriedChannelTimbre = buffer(16 * model.config.zDim)
        fadeStep = Float(1 / max(1, settings.fadeSeconds * settings.sampleRate))
        let ir = reverbIR ?? resample(ir: model.reverbIR, from: Double(model.config.sampleRate), to: settings.sampleRate)
        reverb = PartitionedConvolver(impulseResponse: ir, partitionSize: settings.reverbPartition,
                                      maximumPartitionSamples: settings.reverbLargestPartitionSamples)
        output = OutputStage(sampleRate: settings.sampleRate)
        controllerMap = ControllerMap(dimension: model.config.zDim)
        // at most one job per voice slot holds a row the voices wait for, plus the one the worker
        // may still compute after the callback took it over
        let jobRows = Engine.decodeJobRows
        jobs = DecodeJobPool(jobCount: slots + 4, rowCapacity: jobRows, zDim: model.config.zDim,
                             stateCount: model.config.gruUnits, rawCount: scaler.rawCount,
                             harmonicCount: model.config.harmonicCount, noiseBandCount: model.config.noiseBandCount,
                             tone: toneBalance)
        outstandingJobs = .allocate(capacity: jobs.jobCount)
        outstandingJobs.initialize(repeating: -1, count: jobs.jobCount)
        pendingTicket = .allocate(capacity: slots)
        pendingTicket.initialize(repeating: 0, count: slots)
        ownStateOut = buffer(jobRows * model.config.gruUnits)
        ownRaw = buffer(jobRows * scaler.rawCount)
        ownControls = buffer(jobRows * jobs.controlCount)
        if settings.decoderThread {
            let w = DecodeWorker(pool: jobs, decoder: model.makeDecoder(maxBatch: jobRows), scaler: scaler,
                                 limitHz: limitHz)
            worker = w.start(priority: settings.decoderThreadPriority) ? w : nil
        } else {
            worker = nil
        }
        warmUp()
    }

    deinit {
        worker?.stop()
        outstandingJobs.deallocate()
        pendingTicket.deallocate()
        for p in [ownStateOut, ownRaw, ownControls] { p.deallocate() }
        batchVoices.deallocate()
        batchFrameOffsets.deallocate()
        batchInharmonicity.deallocate()
        blendScratch.deallocate()
        motionEdges.deallocate()
        motionDepthDB.deallocate()
        motionVibratoLock.deallocate()
        motionVibratoTilt.deallocate()
        for p in [batchF0, batchLoudness, batchNote, batchZ, batchState, batchRaw, batchTone, weights, settledStates, mix, wet, gainAt, reverbMixAt, voiceScratch, timbreTarget, channelTimbre, carriedChannelTimbre] {
            p.deallocate()
        }
        summaries.deallocate()
        channels.deinitialize(count: 16)
        channels.deallocate()
        carriedChannels.deinitialize(count: 16)
        carriedChannels.deallocate()
        voices.release()
    }

    /// Runs every path once (note-on, frames, release, reverb) so that first-use costs (generic
    /// metadata, lazy tables) are paid before the audio thread starts, then returns the engine to
    /// its power-on state, so what it plays does not depend on the warm-up (nor on the block size,
    /// which sets the warm-up's length).
    private func warmUp() {
        let left = UnsafeMutablePointer<Float>.allocate(capacity: settings.maxBlockFrames)
        let right = UnsafeMutablePointer<Float>.allocate(capacity: settings.maxBlockFrames)
        defer { left.deallocate(); right.deallocate() }
        // every kind of event the engine handles, so first-use costs are paid here
        let on = Engine.exerciseEvents.enumerated().map { TimedMIDIEvent(offset: 3 + $0.offset, event: $0.element) }
        let off = [TimedMIDIEvent(offset: 0, event: .noteOff(channel: 0, note: 60, velocity: 0)),
                   TimedMIDIEvent(offset: 1, event: .controlChange(channel: 0, controller: 64, value: 0))]
        let block = min(256, settings.maxBlockFrames)
        // a program change through a scratch table (the sound and map it sets are undone below)
        let scratch = ProgramTable(generation: -1, sounds: [.init(timbre: initialTimbre, reverbMix: 1, gainDB: -6, attackScale: 1,
                                                                  releaseScale: 1, mappings: [(.controller(75), .unmapped)])],
                                   generalMIDI: .init(repeating: (0, true), count: 128), banks: [1: [0]], keepAll: false, keepChannels: [], drumChannel: -1)
        let (gainBefore, attackBefore, releaseBefore) = (gain, attackScale, releaseScale)
        // a morph line from the first instrument's mean, where the exercise's notes start, so every
        // table's lookup along a line runs once (undone below)
        updateMorphLine()
        if envelopes.instrumentCount > 1 {
            var a = SIMD16<Float>(), b = SIMD16<Float>()
            for d in 0..<min(model.config.zDim, MorphLine.capacity) {
                a[d] = initialTimbre[d]
                b[d] = envelopes.latentMeans[(1 % envelopes.instrumentCount) * model.config.zDim + d]
            }
            morphLine = envelopes.latentMeans.withUnsafeBufferPointer {
                MorphLine(from: a, to: b, zDim: model.config.zDim, means: $0, instrumentCount: envelopes.instrumentCount)
            }
        }
        _ = commands.push(.setProgramTable(Unmanaged.passUnretained(scratch)))
        // per-note pressure on the timbre and release velocity on the release time (undone below)
        apply(.setMPEPressure(LatentPoint(initialTimbre)))
        apply(.setReleaseVelocity(ControllerMapping(target: .releaseScale, minimum: 2, maximum: 0.5, isLogarithmic: true)))
        on.withUnsafeBufferPointer { render(frameCount: block, events: $0, left: left, right: right) }
        let tunings = Engine.exerciseSysEx.events.enumerated().map { TimedMIDIEvent(offset: $0.offset, event: $0.element) }
        Engine.exerciseSysEx.bytes.withUnsafeBufferPointer { bytes in
            tunings.withUnsafeBufferPointer { render(frameCount: block, events: $0, sysEx: bytes, left: left, right: right) }
        }
        apply(.setKeyPitches(first: 120, pitches: SIMD8(repeating: 121)))
        apply(.setMPESlide(LatentPoint(initialTimbre)))
        programs = nil
        for _ in 0..<4 { render(frameCount: block, events: .init(start: nil, count: 0), left: left, right: right) }
        off.withUnsafeBufferPointer { render(frameCount: block, events: $0, left: left, right: right) }
        _ = commands.push(.panic)
        for _ in 0..<4 { render(frameCount: block, events: .init(start: nil, count: 0), left: left, right: right) }
        // the worker computes what the warm-up queued (its first-use costs paid here), then every
        // job is forgotten
        worker?.waitUntilIdle()
        forgetDecodeJobs()
        updateMorphLine()
        // the warm-up leaves nothing behind: every voice's noise generator back at its seed (the
        // warm-up's length depends on the block size, and a note's noise must not), counters at 0
        for i in 0..<voices.count {
            voices[i].stop()
            voices[i].noise.restart()
        }
        strikeCount = 0
        decodedFrameCount = 0
        undecodedFrameCount = 0
        // the warm-up events moved controllers: start from power-on state and the given timbre
        channels.update(repeating: ChannelState(), count: 16)
        timbreTarget.update(from: initialTimbre, count: model.config.zDim)
        channelTimbre.update(repeating: 0, count: 16 * model.config.zDim)
        channelOwnsTimbre = 0
        reverbMix = 1
        (gain, attackScale, releaseScale) = (gainBefore, attackBefore, releaseBefore)
        _ = controllerMap.apply(.mapController(source: .controller(75), mapping: .unmapped))
        drums = MIDIDrumFilter(drumChannel: nil)
        tuning.reset()
        mpe = MPEZones()
        mpeSlide = nil
        mpePressureDirection = nil
        mpeSlideIsLoudness = false
        releaseVelocityMapping = .unmapped
        withExtendedLifetime(scratch) {}
        hasPlayed = false
        reverb.reset()
        output.reset()
        while status.pop() != nil {}
        stageNanoseconds = StageTimes()
        jobCounters = DecodeWorkerStats()
        if let worker {
            worker.jobsComputed.store(0, ordering: .relaxed)
            worker.busyNanoseconds.store(0, ordering: .relaxed)
            worker.cpuNanoseconds.store(0, ordering: .relaxed)
            worker.allocations.store(0, ordering: .relaxed)
        }
    }

    /// Drops every decode job (the worker idle): the warm-up's. Not real-time.
    private func forgetDecodeJobs() {
        for j in 0..<jobs.jobCount { jobs.states[j].store(DecodeJobState.free, ordering: .releasing) }
        outstandingJobCount = 0
        pendingTicket.update(repeating: 0, count: voices.count)
    }

    /// What the decode worker and the callback did with the decode jobs since the engine was
    /// prepared (read between blocks: the callback's counters are plain values).
    public var decodeWorkerStats: DecodeWorkerStats {
        var s = jobCounters
        guard let worker else { return s }
        s.isRunning = true
        s.isRealtime = worker.isRealtime
        s.priority = worker.priority
        s.cpu = worker.cpu
        s.jobsByWorker = worker.jobsComputed.load(ordering: .relaxed)
        s.workerBusyNanoseconds = worker.busyNanoseconds.load(ordering: .relaxed)
        s.workerCPUNanoseconds = worker.cpuNanoseconds.load(ordering: .relaxed)
        s.workerAllocations = worker.allocations.load(ordering: .relaxed)
        return s
    }

    /// The decode worker's own counters (atomics: safe to read from any thread while the engine
    /// plays, unlike ``decodeWorkerStats``, whose callback counters are plain values). Zero and
    /// not running when the worker is off.
    public var decodeWorkerCounters: DecodeWorkerCounters {
        guard let worker else { return DecodeWorkerCounters() }
        return DecodeWorkerCounters(isRunning: true, busyNanoseconds: worker.busyNanoseconds.load(ordering: .relaxed),
                                    cpuNanoseconds: worker.cpuNanoseconds.load(ordering: .relaxed),
                                    jobsComputed: worker.jobsComputed.load(ordering: .relaxed))
    }

    /// Test hook: the decode worker busy-waits `nanoseconds` before each job (> 0: a slow or
    /// preempted worker), or leaves every job to the callback (< 0: a stalled worker); 0: normal.
    public func setDecodeWorkerStall(nanoseconds: Int) {
        worker?.stallNanoseconds.store(nanoseconds, ordering: .relaxed)
    }

    /// Test hook: a function returning the calling thread's allocation count (CAllocCounter's
    /// `timbred_alloc_count_thread`), which the worker calls around each job
    /// (`DecodeWorkerStats.workerAllocations`); nil stops counting.
    public func setDecodeWorkerAllocationProbe(_ probe: (@convention(c) () -> Int64)?) {
        worker?.allocationProbe.store(probe.map { unsafeBitCast($0, to: UnsafeRawPointer.self) }, ordering: .relaxed)
    }

    /// Waits until the worker has taken every job queued so far (tests and benchmarks; not real-time).
    public func waitForDecodeWorker() {
        worker?.waitUntilIdle()
    }

    /// Notes struck but not started yet: a chord beyond the block's note starts waits for the
    /// next blocks (audio-thread view; approximate from elsewhere).
    public var waitingNoteStarts: Int {
        var n = 0
        for i in 0..<voices.count where voices[i].isActive && voices[i].isPendingStart { n += 1 }
        return n
    }

    /// Number of sounding voices (audio-thread view; approximate from elsewhere).
    public var activeVoiceCount: Int {
        var n = 0
        for i in 0..<voices.count where voices[i].isActive { n += 1 }
        return n
    }

    // MARK: - carrying on from the engine replaced

    /// Copies what the performance set live on `old` (the engine this one replaces): tuning
    /// tables, scale/octave offsets and master tuning, every channel's controller state (RPN
    /// tunings, bend range, tuning program and bank, bank select), MPE zones, and each channel's
    /// own timbre target (from program changes and knobs on it). Applied when
    /// `EngineCommand.carryOverLiveState` arrives. Call at the swap, on the thread that plays
    /// the engines, between `old`'s last block and this one's first (the JACK process thread
    /// when it takes this engine from its inbox, or the control thread while no callback runs):
    /// never while `old` renders elsewhere. An `old` that never played passes on what it carried
    /// itself. Real-time safe: copies into preallocated memory.
    public func captureLiveState(of old: Engine) {
        guard old !== self, old.model.config.zDim == model.config.zDim else { return }
        let zDim = model.config.zDim
        if !old.hasPlayed {
            guard old.hasCarriedState else { return }
            carriedTuning.copy(from: old.carriedTuning)
            carriedChannels.update(from: old.carriedChannels, count: 16)
            carriedChannelTimbre.update(from: old.carriedChannelTimbre, count: 16 * zDim)
            (carriedOwnsTimbre, carriedMPE, carriedDrums) = (old.carriedOwnsTimbre, old.carriedMPE, old.carriedDrums)
        } else {
            carriedTuning.copy(from: old.tuning)
            carriedChannels.update(from: old.channels, count: 16)
            carriedChannelTimbre.update(from: old.channelTimbre, count: 16 * zDim)
            (carriedOwnsTimbre, carriedMPE, carriedDrums) = (old.channelOwnsTimbre, old.mpe, old.drums)
        }
        hasCarriedState = true
    }

    /// Applies what `captureLiveState(of:)` copied (nothing when it copied nothing): the
    /// channels start as after a panic (pedals up, bend centred, no keys held; sounding notes do
    /// not carry over); `channelTimbres` false keeps the channel timbres the ring set (a new
    /// model's presets: the old points belong to another timbre space). Real-time safe.
    private func carryOverLiveState(channelTimbres: Bool) {
        guard hasCarriedState else { return }
        tuning.copy(from: carriedTuning)
        for c in 0..<16 {
            var state = carriedChannels[c]
            state.resetPedals()
            state.mpeSlide = 0
            state.mpePressure = 0
            state.portamentoControlNote = -1
            state.heldKeyCount = 0
            channels[c] = state
        }
        mpe = carriedMPE
        let drumChannel = drums.drumChannel
        drums = carriedDrums
        drums.drumChannel = drumChannel
        if channelTimbres {
            channelTimbre.update(from: carriedChannelTimbre, count: 16 * model.config.zDim)
            channelOwnsTimbre = carriedOwnsTimbre
        }
    }

    // MARK: - render

    /// Renders one block. The one real-time entry point: never allocates, locks, logs or blocks.
    ///
    /// Drains the command ring, splits the block at each event's sample offset (sample-accurate
    /// note-on), runs the voices (decoder → harmonic + noise), mixes, adds the reverb and applies
    /// the output stage (DC block, NaN guard, soft limit below 0 dBFS).
    /// - Parameters:
    ///   - frameCount: samples to render, at most `settings.maxBlockFrames`.
    ///   - events: MIDI events sorted by offset (offsets outside the block are clamped).
    ///   - sysEx: the store the events' `.systemExclusive` spans point into (tuning messages and
    ///     GM / GS / XG resets act at their sample; a span outside it is ignored).
    ///   - left, right: receive the output (the mono signal on both).
    public func render(frameCount: Int, events: UnsafeBufferPointer<TimedMIDIEvent>,
                       sysEx: UnsafeBufferPointer<UInt8> = .init(start: nil, count: 0),
                       left: UnsafeMutablePointer<Float>, right: UnsafeMutablePointer<Float>) {
        sysExStore = sysEx
        defer { sysExStore = .init(start: nil, count: 0) }
        // Blocks larger than prepared are rendered in prepared-size pieces.
        var done = 0
        var first = 0
        while done < frameCount {
            let n = min(frameCount - done, settings.maxBlockFrames)
            var last = first
            while last < events.count, events[last].offset < done + n { last += 1 }
            let piece = UnsafeBufferPointer(rebasing: events[first..<last])
            renderBlock(frameCount: n, events: piece, eventOffset: done, left: left + done, right: right + done)
            first = last
            done += n
        }
    }

    /// Renders at most `settings.maxBlockFrames` samples (see `render`). Real-time safe.
    private func renderBlock(frameCount n: Int, events: UnsafeBufferPointer<TimedMIDIEvent>, eventOffset: Int,
                             left: UnsafeMutablePointer<Float>, right: UnsafeMutablePointer<Float>) {
        noteStartsLeft = noteStartsPerBlock
        hasPlayed = true
        while let command = commands.pop() { apply(command) }
        mix.update(repeating: 0, count: n)
        var position = 0
        var eventIndex = 0
        while position < n {
            while eventIndex < events.count, min(max(events[eventIndex].offset - eventOffset, 0), n - 1) <= position {
                handle(events[eventIndex].event, at: position)
                eventIndex += 1
            }
            var end = n
            if eventIndex < events.count { end = min(n, max(position + 1, events[eventIndex].offset - eventOffset)) }
            (gainAt + position).update(repeating: gain, count: end - position)
            (reverbMixAt + position).update(repeating: reverbMix, count: end - position)
            renderVoices(from: position, to: end)
            position = end
        }
        // reverb and output
        let t0 = profileStages ? monotonicNanoseconds() : 0
        // the reverb always runs, so its tail stays consistent when the mix comes back up
        reverb.process(mix, output: wet, count: n)
        if profileStages { stageNanoseconds.reverb += monotonicNanoseconds() - t0 }
        for i in 0..<n { mix[i] = (mix[i] + reverbMixAt[i] * wet[i]) * gainAt[i] }
        _ = output.process(mix, count: n)
        var peak: Float = 0
        for i in 0..<n { peak = max(peak, abs(mix[i])) }
        left.update(from: mix, count: n)
        right.update(from: mix, count: n)
        _ = status.push(.block(voices: activeVoiceCount, peak: peak))
        // once per block, after the block's work (the worker has at least half a hop to do it):
        // a system call only when the worker has parked
        if workerHasNewJobs, let worker {
            workerHasNewJobs = false
            worker.wakeIfParked()
        }
    }

    /// Renders every active voice over block samples `start..<end`, in windows of at most one
    /// hop, so each voice crosses at most one frame boundary per window. Real-time safe.
    private func renderVoices(from start: Int, to end: Int) {
        var position = start
        while position < end {
            let windowEnd = min(end, position + hop)
            let count = windowEnd - position
            decodeFrames(within: count)
            for i in 0..<voices.count {
                let voice = voices[i]
                guard voice.isActive && !voice.isPendingStart else { continue }
                renderVoice(voice, count: count, into: mix + position)
            }
            position = windowEnd
        }
    }

    /// Runs the decoder for the next `count` samples of every voice, in batched steps. The first
    /// decodes frame 0 of the notes struck and not yet started (the earliest
    /// struck first, as many as the block's note starts left allow; the others wait, silent, for
    /// the next block) together with frame n+2 of the sounding voices that will reach frame n+1
    /// within `count` samples (needed then) and of as many others as an even share of the hop
    /// asks (`voices × count / hop` decodes in all, the started notes' included; the ones furthest
    /// into their frame first). The second decodes frame 1 of the started notes; in a window of a
    /// whole hop (blocks longer than a hop) a third decodes their frame 2, needed before the
    /// window ends. Voices fading out (stolen or cut) hold their last controls instead of
    /// decoding. Frame n+2 can be decoded any time during frame n; spreading those decodes, and
    /// bounding note starts per block, keeps voices struck together (whose frame grids coincide)
    /// from all decoding in one short period. Real-time safe.
    private func decodeFrames(within count: Int) {
        if outstandingJobCount > 0 { settleDecodeJobs(within: count) }
        var batch = 0
        while batch < noteStartsLeft {
            var pick = -1
            for i in 0..<voices.count {
                let v = voices[i]
                guard v.isActive && v.isPendingStart && !isInBatch(i, batch) else { continue }
                if pick < 0 || v.strikeOrder < voices[pick].strikeOrder { pick = i }
            }
            if pick < 0 { break }
            batchVoices[batch] = pick
            batchFrameOffsets[batch] = 0
            batch += 1
        }
        let starts = batch
        noteStartsLeft -= starts
        for i in 0..<voices.count where voices[i].isActive && !voices[i].isPendingStart {
            let voice = voices[i]
            if voice.fadeStep > 0 {
                // fading out within a few ms: it keeps its last controls instead of decoding
                if !voice.hasAhead && hop - voice.positionInFrame <= count { holdAhead(voice) }
                continue
            }
            if !voice.hasAhead && hop - voice.positionInFrame <= count {
                batchVoices[batch] = i
                batchFrameOffsets[batch] = 2
                batch += 1
            }
        }
        if batch > 0 { decode(batch: batch) }
        if starts > 0 {
            // the started notes are batchVoices[0..<starts]
            for b in 0..<starts { batchFrameOffsets[b] = 1 }
            decode(batch: starts)
            for b in 0..<starts {
                let v = voices[batchVoices[b]]
                v.isPendingStart = false
                setNoiseHighPass(of: v)
                v.noise.beginFrame(bandMagnitudes: v.smoothedNoiseBands(fromFrame: controlSmoothingFromFrame))
            }
            // a window of a whole hop (blocks longer than a hop) takes them to frame 1's start:
            // frame 2 is needed in it too
            if count >= hop {
                for b in 0..<starts { batchFrameOffsets[b] = 2 }
                decode(batch: starts)
            }
        }
        submitEarlyDecodes(within: count, decodedHere: batch + starts * (count >= hop ? 2 : 1))
    }

    /// Samples before a voice reaches frame n+1 within which its frame n+2 is handed out even
    /// if that leaves a decode job short of a multiple of 4 voices (half a hop: 5 ms).
    private var urgentDecodeSamples: Int { hop / 2 }

    /// Hands out frame n+2 of the sounding voices that do not need it in this window, in decode
    /// jobs of up to `decodeJobRows` voices (furthest into their frame first): as many as fill
    /// groups of 4 (the decoder kernel streams its weights once per group of 4), plus, rounded up
    /// to a group of 4 where enough voices wait, those that will need it within
    /// `urgentDecodeSamples`; at most the even share of the window rounded up to a group of 4
    /// (or the urgent ones). Each voice's inputs are gathered now, exactly as a decode in the
    /// callback gathers them; the worker (or, without one, the callback at once) computes the job;
    /// `settleDecodeJobs` puts the results into the voices before they need them. The rule depends
    /// only on the voices, never on the worker's progress, so the samples do not either.
    /// Real-time safe.
    private func submitEarlyDecodes(within count: Int, decodedHere: Int) {
        var eligible = 0, urgent = 0, sounding = 0
        for i in 0..<voices.count {
            let v = voices[i]
            guard v.isActive && !v.isPendingStart && v.fadeStep == 0 else { continue }
            sounding += 1
            guard !v.hasAhead && hop - v.positionInFrame > count else { continue }
            eligible += 1
            if hop - v.positionInFrame <= count + urgentDecodeSamples { urgent += 1 }
        }
        var take = eligible / 4 * 4
        if urgent > 0 { take = max(take, min(eligible, (urgent + 3) / 4 * 4)) }
        // with the window's other decodes (`decodedHere`), at most an even share of the hop's
        // decodes (`voices × window / hop`) rounded up to a group of 4, or the urgent ones: many
        // voices waiting at once (a release of many notes decodes their frame n+2 again) spread
        // over the next windows instead of landing in one
        let share = (sounding * count + hop - 1) / hop
        take = min(take, max((share - decodedHere + 3) / 4 * 4, (urgent + 3) / 4 * 4))
        guard take > 0 else { return }
        let t0 = profileStages ? monotonicNanoseconds() : 0
        defer { if profileStages { stageNanoseconds.decoder += monotonicNanoseconds() - t0 } }
        var posted = false
        while take > 0 {
            let rows = min(take, Engine.decodeJobRows)
            take -= rows
            var job = -1
            for j in 0..<jobs.jobCount where jobs.states[j].load(ordering: .acquiring) == DecodeJobState.free && !isOutstanding(j) {
                job = j
                break
            }
            // pick the voices: furthest into their frame first
            for r in 0..<rows {
                var pick = -1
                for i in 0..<voices.count {
                    let v = voices[i]
                    guard v.isActive && !v.isPendingStart && v.fadeStep == 0 && !v.hasAhead
                            && hop - v.positionInFrame > count, !isInBatch(i, r) else { continue }
                    if pick < 0 || v.positionInFrame > voices[pick].positionInFrame { pick = i }
                }
                batchVoices[r] = pick
                batchFrameOffsets[r] = 2
            }
            guard job >= 0 else {
                // no free job (never expected: see the pool's size): decode here
                jobCounters.poolExhausted += 1
                decode(batch: rows)
                continue
            }
            let b = jobs.base(job), g = jobs.stateCount, zDim = jobs.zDim
            for r in 0..<rows {
                let i = batchVoices[r], voice = voices[i]
                jobs.silent[b + r] = gatherInputs(of: voice, frameOffset: 2, f0: jobs.f0Hz + b + r,
                                                  inharmonicity: jobs.inharmonicity + b + r,
                                                  tone: jobs.toneDB + (b + r) * ToneBalance.rowCount,
                                                  loudness: jobs.loudnessDB + b + r,
                                                  note: jobs.note + (b + r) * Decoder.noteStride,
                                                  z: jobs.z + (b + r) * zDim, state: jobs.stateIn + (b + r) * g)
                ticketCount &+= 1
                pendingTicket[i] = ticketCount
                jobs.rowVoice[b + r] = i
                jobs.rowTicket[b + r] = ticketCount
                voice.hasAhead = true
            }
            jobs.rows[job] = rows
            jobs.flushDenormals[job] = timbred_denormals_flushed()
            decodedFrameCount &+= rows
            jobCounters.jobsSubmitted += 1
            jobCounters.rowsSubmitted += rows
            outstandingJobs[outstandingJobCount] = job
            outstandingJobCount += 1
            if let worker {
                jobs.states[job].store(DecodeJobState.queued, ordering: .releasing)
                _ = worker.queue.push(job)  // a full queue leaves it to the callback
                posted = true
            } else {
                let out = jobs.outputs(job)
                jobs.compute(job: job, decoder: decoder, scaler: scaler, limitHz: limitHz,
                             stateOut: out.state, raw: out.raw, controls: out.controls)
                jobs.states[job].store(DecodeJobState.done, ordering: .releasing)
            }
        }
        if posted { workerHasNewJobs = true }
    }

    @inline(__always)
    private func isOutstanding(_ job: Int) -> Bool {
        for k in 0..<outstandingJobCount where outstandingJobs[k] == job { return true }
        return false
    }

    /// Whether row `r` of job `j` is still its voice's frame n+2 (not voided by a release, a
    /// legato move or a new note in the slot). Real-time safe.
    @inline(__always)
    private func rowIsLive(job j: Int, row r: Int) -> Bool {
        let i = jobs.rowVoice[jobs.base(j) + r]
        guard i >= 0 else { return false }
        let v = voices[i]
        return v.isActive && v.hasAhead && pendingTicket[i] == jobs.rowTicket[jobs.base(j) + r]
    }

    /// Before a window of `count` samples: puts every finished job's results into its voices, and
    /// decodes here every job a voice needs within the window that the worker has not finished
    /// (the whole job, the same batch: the same numbers as the worker's); jobs no voice wants any
    /// more are dropped. Real-time safe: never waits for the worker.
    private func settleDecodeJobs(within count: Int) {
        let t0 = profileStages ? monotonicNanoseconds() : 0
        defer { if profileStages { stageNanoseconds.decoder += monotonicNanoseconds() - t0 } }
        var k = 0
        while k < outstandingJobCount {
            let j = outstandingJobs[k]
            var live = 0, needed = false
            for r in 0..<jobs.rows[j] where rowIsLive(job: j, row: r) {
                live += 1
                if hop - voices[jobs.rowVoice[jobs.base(j) + r]].positionInFrame <= count { needed = true }
            }
            let state = jobs.states[j].load(ordering: .acquiring)
            if state == DecodeJobState.done {
                let out = jobs.outputs(j)
                consume(job: j, state: out.state, controls: out.controls)
                jobs.states[j].store(DecodeJobState.free, ordering: .releasing)
            } else if live == 0 {
                // nobody waits for it: free it, or leave it to the worker to free
                if !jobs.states[j].compareExchange(expected: DecodeJobState.queued, desired: DecodeJobState.free,
                                                   ordering: .acquiringAndReleasing).exchanged
                    && !jobs.states[j].compareExchange(expected: DecodeJobState.running, desired: DecodeJobState.abandoned,
                                                       ordering: .acquiringAndReleasing).exchanged {
                    jobs.states[j].store(DecodeJobState.free, ordering: .releasing)  // done meanwhile
                }
                jobCounters.jobsCancelled += 1
            } else if needed {
                takeOver(job: j)
            } else {
                k += 1
                continue
            }
            outstandingJobCount -= 1
            outstandingJobs[k] = outstandingJobs[outstandingJobCount]
        }
    }

    /// The callback needs job `j` now: it computes it itself, before the worker starts it (into
    /// the job's outputs) or while the worker is on it (into its own buffers, leaving the job to
    /// the worker to free), unless the worker has just finished. Real-time safe.
    private func takeOver(job j: Int) {
        if jobs.states[j].compareExchange(expected: DecodeJobState.queued, desired: DecodeJobState.taken,
                                          ordering: .acquiringAndReleasing).exchanged {
            let out = jobs.outputs(j)
            jobs.compute(job: j, decoder: decoder, scaler: scaler, limitHz: limitHz,
                         stateOut: out.state, raw: out.raw, controls: out.controls)
            consume(job: j, state: out.state, controls: out.controls)
            jobs.states[j].store(DecodeJobState.free, ordering: .releasing)
            jobCounters.jobsTakenByCallback += 1
        } else if jobs.states[j].compareExchange(expected: DecodeJobState.running, desired: DecodeJobState.abandoned,
                                                 ordering: .acquiringAndReleasing).exchanged {
            jobs.compute(job: j, decoder: decoder, scaler: scaler, limitHz: limitHz,
                         stateOut: ownStateOut, raw: ownRaw, controls: ownControls)
            consume(job: j, state: ownStateOut, controls: ownControls)
            jobCounters.jobsAbandonedByCallback += 1
        } else {
            // done between the two looks
            let out = jobs.outputs(j)
            consume(job: j, state: out.state, controls: out.controls)
            jobs.states[j].store(DecodeJobState.free, ordering: .releasing)
        }
    }

    /// Puts a computed job's rows into their voices (those still waiting for them): the new GRU
    /// state, and frame n+2's controls, f0 and stretch in the voice's `ahead` slot. Real-time safe.
    private func consume(job j: Int, state: UnsafePointer<Float>, controls: UnsafePointer<Float>) {
        let b = jobs.base(j), g = jobs.stateCount, k = jobs.harmonicCount, width = jobs.controlCount
        for r in 0..<jobs.rows[j] where rowIsLive(job: j, row: r) {
            let i = jobs.rowVoice[b + r], voice = voices[i]
            voice.gruState.update(from: state + r * g, count: g)
            let slot = voice.slots.ahead
            voice.harmonics(slot).baseAddress!.update(from: controls + r * width, count: k)
            voice.noiseBands(slot).baseAddress!.update(from: controls + r * width + k, count: width - k)
            voice.setF0(slot, Double(jobs.f0Hz[b + r]))
            voice.setInharmonicity(slot, jobs.inharmonicity[b + r])
            pendingTicket[i] = 0
        }
    }

    /// Gives a voice's frame n+2 the controls of frame n+1 without decoding (a voice fading out
    /// after a steal or a cut). Real-time safe.
    private func holdAhead(_ voice: Voice) {
        let next = voice.slots.next, ahead = voice.slots.ahead
        voice.harmonics(ahead).baseAddress!.update(from: voice.harmonics(next).baseAddress!, count: voice.harmonicCount)
        voice.noiseBands(ahead).baseAddress!.update(from: voice.noiseBands(next).baseAddress!, count: voice.noiseBandCount)
        voice.setF0(ahead, voice.f0(next))
        voice.setInharmonicity(ahead, voice.inharmonicity(next))
        voice.hasAhead = true
    }

    @inline(__always)
    private func isInBatch(_ index: Int, _ batch: Int) -> Bool {
        for b in 0..<batch where batchVoices[b] == index { return true }
        return false
    }

    /// Runs the decoder for the voices in `batchVoices[0..<batch]`, each for its frame
    /// `frameIndex + batchFrameOffsets[b]` (0, 1 or 2), and stores the controls in the matching
    /// slot. Real-time safe.
    private func decode(batch: Int) {
        let t0 = profileStages ? monotonicNanoseconds() : 0
        decodedFrameCount &+= batch
        let zDim = model.config.zDim
        let g = model.config.gruUnits
        for b in 0..<batch {
            _ = gatherInputs(of: voices[batchVoices[b]], frameOffset: batchFrameOffsets[b], f0: batchF0 + b,
                             inharmonicity: batchInharmonicity + b, tone: batchTone + b * ToneBalance.rowCount,
                             loudness: batchLoudness + b,
                             note: batchNote + b * Decoder.noteStride, z: batchZ + b * zDim, state: batchState + b * g)
        }
        let tg = profileStages ? monotonicNanoseconds() : 0
        if profileStages { stageNanoseconds.gather += tg - t0 }
        decoder.step(batch: batch, f0Hz: batchF0, loudnessDB: batchLoudness, note: batchNote, z: batchZ,
                     state: batchState, raw: batchRaw)
        let ts = profileStages ? monotonicNanoseconds() : 0
        if profileStages { stageNanoseconds.step += ts - tg }
        scatter(batch: batch)
        if profileStages { stageNanoseconds.scatter += monotonicNanoseconds() - ts }
        if profileStages { stageNanoseconds.decoder += monotonicNanoseconds() - t0 }
    }

    /// Gathers a voice's decoder inputs for its frame `frameIndex + frameOffset` (0, 1 or 2) into
    /// one row each of f0, stretch, loudness, note, timbre and GRU state, moving what a decoded
    /// frame moves (the timbre and pressure glides, the loudness kept for stealing, the end
    /// frame; frame n+2 keeps what it changes first, for `Voice.undoAhead`). The same for a decode
    /// here and a decode job. Returns whether the frame is silent (at or past the voice's end).
    /// Real-time safe.
    @inline(__always)
    private func gatherInputs(of voice: Voice, frameOffset: Int, f0 f0Row: UnsafeMutablePointer<Float>,
                              inharmonicity inharmonicityRow: UnsafeMutablePointer<Double>,
                              tone toneRow: UnsafeMutablePointer<Float>,
                              loudness loudnessRow: UnsafeMutablePointer<Float>, note: UnsafeMutablePointer<Float>,
                              z zRow: UnsafeMutablePointer<Float>, state stateRow: UnsafeMutablePointer<Float>) -> Bool {
        let zDim = model.config.zDim
        let g = model.config.gruUnits
        do {
            let frame = voice.frameIndex + frameOffset
            if frameOffset == 2 { voice.keepStateBeforeAhead() }
            // timbre glide: one smoothing step per decoded frame, towards the timbre target, moved
            // for an MPE note by its own slide (CC 74) along the morph axis
            let c = Int(voice.channel)
            let target = timbreTarget(channel: c)
            let memberSlide = mpe.isMember(c) ? channels[c].mpeSlide : 0
            let slide = mpeSlideIsLoudness ? 0 : memberSlide
            var before = SIMD16<Float>()
            for d in 0..<min(zDim, 16) { before[d] = voice.z[d] }
            if voice.pressure != 0, let pressureDirection = mpePressureDirection {
                // the note's pressure moves its own timbre (`setMPEPressure`), with its slide
                var slideDirection = SIMD16<Float>()
                if slide != 0, let direction = mpeSlideDirection { slideDirection = direction.values }
                for d in 0..<zDim {
                    voice.z[d] += timbreAlpha * (target[d] + slide * slideDirection[d]
                                                 + voice.pressure * pressureDirection.values[d] - voice.z[d])
                }
            } else if slide != 0, let direction = mpeSlideDirection {
                for d in 0..<zDim {
                    voice.z[d] += timbreAlpha * (target[d] + slide * direction.values[d] - voice.z[d])
                }
            } else {
                for d in 0..<zDim { voice.z[d] += timbreAlpha * (target[d] - voice.z[d]) }
            }
            // the decoder state forgets the timbre it was played with as far as the point moved
            // (EngineSettings.timbreForgetPerUnit), so a morph arrives where the new point
            // played alone would be
            var keep: Float = 1
            if timbreForget > 0 {
                var moved2: Double = 0
                for d in 0..<min(zDim, 16) {
                    let dz = Double(voice.z[d] - before[d])
                    moved2 += dz * dz
                }
                if moved2 > 0 { keep = Float(exp(-timbreForget * moved2.squareRoot())) }
            }
            // an MPE note's own pressure (and slide, when routed there): its loudness, gliding the same way
            let pressureTarget = (mpePressureDirection == nil ? Double(voice.pressure) * Engine.mpePressureRangeDB : 0)
                + (mpeSlideIsLoudness ? Double(memberSlide) * Engine.mpeSlideRangeDB : 0)
            voice.pressureDB += Double(timbreAlpha) * (pressureTarget - voice.pressureDB)
            // the point's blend weights, once for every table that shares them
            var shared: UnsafePointer<Double>? = nil
            if let sharedBlend {
                sharedBlend.weights(z: voice.z, line: morphLine, into: blendScratch)
                shared = UnsafePointer(blendScratch)
            }
            let f0 = frequencyHz(of: voice, atFrame: frame, weights: shared)
            let times = noteTimes(of: voice, atFrame: frame)
            let loudness = loudnessDB(of: voice, times: times) + voice.pressureDB
            if keep < 1 {
                // towards the settled state of the point's instruments (`weights`: the point's, as
                // `loudnessDB(of:)` left them), not towards zero, which the decoder only knows at a
                // note-on: a piano turned to a violin struck again, its brightness up 49 % in 0.3 s
                for i in 0..<g { voice.gruState[i] *= keep }
                for k in 0..<envelopes.instrumentCount where weights[k] > 1e-4 {
                    let share = (1 - keep) * weights[k], row = settledStates + k * g
                    for i in 0..<g { voice.gruState[i] += share * row[i] }
                }
            }
            voice.lastLoudnessDB = Float(loudness)
            f0Row.pointee = Float(f0)
            if let shared {
                inharmonicityRow.pointee = voice.inharmonicity(table: inharmonicity, f0Hz: Double(f0Row.pointee), weights: shared)
            } else {
                inharmonicityRow.pointee = voice.inharmonicity(table: inharmonicity, f0Hz: Double(f0Row.pointee), line: morphLine,
                                                               scratch: blendScratch)
            }
            if let noiseHighPass {
                if let shared {
                    voice.setNoiseHighPassRatio(frame: frame, noiseHighPass.ratio(weights: shared))
                } else {
                    voice.setNoiseHighPassRatio(frame: frame, noiseHighPass.ratio(z: voice.z, line: morphLine, scratch: blendScratch))
                }
            }
            if let tone {
                // the tone balance at the frame's pitch (bend and glide included), timbre and time
                let pitch = 69 + 12 * log2(max(Double(f0Row.pointee), 1) / 440)
                if let shared {
                    tone.gains(weights: shared, pitch: pitch, velocity: Double(voice.velocity),
                               secondsSinceNoteOn: times.sinceOn, into: toneRow)
                } else {
                    tone.gains(z: voice.z, pitch: pitch, velocity: Double(voice.velocity),
                               secondsSinceNoteOn: times.sinceOn, line: morphLine, scratch: blendScratch, into: toneRow)
                }
                if controllerMap.morphWarp.isTilted { addMorphTilt(z: voice.z, f0Hz: f0Row.pointee, pitch: pitch, into: toneRow) }
            }
            loudnessRow.pointee = Float(loudness)
            note[0] = voice.velocity
            note[1] = Float(times.sinceOn)
            note[2] = Float(times.sinceOff ?? -1)
            zRow.update(from: voice.z, count: zDim)
            stateRow.update(from: voice.gruState, count: g)
            voice.peakLoudnessDB = max(voice.peakLoudnessDB, loudness)
            if (loudness <= settings.endLoudnessDB || loudness <= voice.peakLoudnessDB - settings.endBelowPeakDB)
                && voice.endsAtFrame == .max {
                voice.endsAtFrame = frame
            }
            return frame >= voice.endsAtFrame
        }
    }

    /// Adds the morph line's brightness tilt at the point's place on the line (`MorphWarp.tilt`,
    /// in proportion to how near the line the point lies) to a frame's tone balance gains.
    /// Real-time safe.
    @inline(__always)
    private func addMorphTilt(z: UnsafePointer<Float>, f0Hz: Float, pitch: Double, into gainsDB: UnsafeMutablePointer<Float>) {
        let place = morphLine.place(z: z, zDim: model.config.zDim)
        guard place.share > 0 else { return }
        let tilt = controllerMap.morphWarp.tilt(at: place.s, pitch: pitch), share = Float(place.share)
        ToneBalance.addTilt(dBPerOctave: share * tilt.dBPerOctave, levelDB: share * tilt.levelDB, f0Hz: f0Hz, to: gainsDB)
    }

    /// Stores a decoded batch's results in its voices (`decode`). Real-time safe.
    @inline(__always)
    private func scatter(batch: Int) {
        let g = model.config.gruUnits
        for b in 0..<batch {
            let voice = voices[batchVoices[b]]
            (voice.gruState).update(from: batchState + b * g, count: g)
            let frameOffset = batchFrameOffsets[b], frame = voice.frameIndex + frameOffset
            let slot = frameOffset == 0 ? voice.slots.current : (frameOffset == 1 ? voice.slots.next : voice.slots.ahead)
            let harm = voice.harmonics(slot), noise = voice.noiseBands(slot)
            if frame >= voice.endsAtFrame {
                harm.update(repeating: 0)
                noise.update(repeating: 0)
            } else {
                scaler.scale(raw: batchRaw + b * scaler.rawCount, f0Hz: batchF0[b], limitHz: limitHz,
                             harmonics: harm.baseAddress!, noise: noise.baseAddress!,
                             inharmonicity: batchInharmonicity[b])
                toneBalance?.apply(gainsDB: batchTone + b * ToneBalance.rowCount, f0Hz: batchF0[b],
                                   inharmonicity: batchInharmonicity[b], harmonics: harm.baseAddress!,
                                   noise: noise.baseAddress!)
            }
            voice.setF0(slot, Double(batchF0[b]))
            voice.setInharmonicity(slot, batchInharmonicity[b])
            if frameOffset == 2 { voice.hasAhead = true }
        }
    }

    /// Sets the high-pass of a voice's noise for the frame it is starting: the model's ratio at the
    /// frame's timbre point (kept when its inputs were gathered) times the frame's f0 (none without
    /// the table). Real-time safe.
    @inline(__always)
    private func setNoiseHighPass(of voice: Voice) {
        guard noiseHighPass != nil else { return }
        voice.noise.setHighPass(cutoffHz: voice.noiseHighPassRatio(frame: voice.frameIndex) * voice.f0(voice.slots.current))
    }

    /// Renders `count` samples of one voice into `out`, crossing at most one frame boundary.
    /// Real-time safe.
    private func renderVoice(_ voice: Voice, count: Int, into out: UnsafeMutablePointer<Float>) {
        let scratch = voiceScratch
        scratch.update(repeating: 0, count: count)
        var done = 0
        while done < count {
            let m = voice.positionInFrame
            let take = min(count - done, hop - m)
            let cur = voice.slots.current, nxt = voice.slots.next
            let t0 = profileStages ? monotonicNanoseconds() : 0
            var (amplitudes, nextAmplitudes) = voice.smoothedHarmonics(fromFrame: controlSmoothingFromFrame)
            if let motion = voice.motion, motion.isMoving {
                // the controls as decoded, times the partials' motion (the slots stay as decoded)
                motion.move(current: amplitudes.baseAddress!, next: nextAmplitudes.baseAddress!)
                amplitudes = UnsafeBufferPointer(start: motion.movedCurrent, count: voice.harmonicCount)
                nextAmplitudes = UnsafeBufferPointer(start: motion.movedNext, count: voice.harmonicCount)
            }
            voice.oscillators.render(f0Hz: voice.f0(cur), nextF0Hz: voice.f0(nxt),
                                     amplitudes: amplitudes,
                                     nextAmplitudes: nextAmplitudes,
                                     inharmonicity: voice.inharmonicity(cur),
                                     samples: m..<(m + take), addingInto: scratch + done)
            let t1 = profileStages ? monotonicNanoseconds() : 0
            voice.noise.render(addingInto: scratch + done, count: take)
            if let transientBands, voice.ageSamples + done < transientBands.length {
                transientBands.add(amplitudes: voice.transientAmplitudes, from: voice.ageSamples + done, count: take,
                                   into: scratch + done)
            }
            if profileStages {
                let t2 = monotonicNanoseconds()
                stageNanoseconds.oscillators += t1 - t0
                stageNanoseconds.noise += t2 - t1
            }
            voice.positionInFrame += take
            done += take
            if voice.positionInFrame == hop {
                if voice.frameIndex + 1 >= voice.endsAtFrame {
                    voice.stop()
                    break
                }
                if !voice.hasAhead { undecodedFrameCount &+= 1 }
                voice.advanceFrame()
                if let table = motion, let voiceMotion = voice.motion {
                    let (rho, beta) = table.parameters(z: voice.z, line: morphLine, scratch: blendScratch, depthDB: motionDepthDB,
                                                       vibratoLock: motionVibratoLock, vibratoTilt: motionVibratoTilt)
                    // the vibrato's sine the frame's pitch swung by (0 without a vibrato; a group
                    // without a lock does not follow it)
                    let swing = voice.vibratoSine(frame: voice.frameIndex + 1)
                    // (from the weights `parameters` left in the scratch)
                    let driftCutHz = table.driftCutHz(weights: blendScratch)
                    voiceMotion.advance(nextFrame: voice.frameIndex + 1, frameRate: frameRate,
                                        edges: UnsafeBufferPointer(motionEdges), depthDB: motionDepthDB, rho: rho,
                                        beta: beta, vibratoLock: motionVibratoLock, vibratoTilt: motionVibratoTilt,
                                        swing: Float(swing), driftCutHz: driftCutHz)
                }
                let t3 = profileStages ? monotonicNanoseconds() : 0
                setNoiseHighPass(of: voice)
                voice.noise.beginFrame(bandMagnitudes: voice.smoothedNoiseBands(fromFrame: controlSmoothingFromFrame))
                if profileStages { stageNanoseconds.noise += monotonicNanoseconds() - t3 }
            }
        }
        if voice.fadeStep > 0 {
            var gainNow = voice.fadeGain
            for i in 0..<count {
                out[i] += scratch[i] * gainNow
                gainNow = max(0, gainNow - voice.fadeStep)
            }
            voice.fadeGain = gainNow
            if gainNow <= 0 { voice.stop() }
        } else {
            for i in 0..<count { out[i] += scratch[i] }
        }
        voice.ageSamples += count
    }

    // MARK: - voice inputs

    /// A voice's f0 at `frame`: its key, the instrument's stretch tuning, the channel's bend and
    /// tuning, a portamento glide and the held note's vibrato; the tables read `weights`, the
    /// voice point's shared blend weights, when given. Called once per gathered frame, in order:
    /// it moves the vibrato's phase on by the frame. Real-time safe.
    @inline(__always)
    private func frequencyHz(of voice: Voice, atFrame frame: Int, weights: UnsafePointer<Double>?) -> Double {
        let channel = channels[Int(voice.channel)]
        let seconds = voice.frameSeconds(frame, frameRate: frameRate)
        let glide = voice.glideOffsetSemitones(atSeconds: seconds)
        // an MPE member channel's bend is its note's own; the zone's manager channel bends them all
        let managerBend = mpe.manager(of: Int(voice.channel)).map { Double(channels[$0].pitchBendSemitones) } ?? 0
        return midiToHz(voice.tunedKey + glide + Double(channel.pitchBendSemitones) + managerBend
                        + Double(channel.tuningSemitones) + tuning.masterSemitones
                        + vibratoSemitones(of: voice, atFrame: frame, weights: weights)
                        + stretchSemitones(of: voice, weights: weights))
    }

    /// The instrument's stretch tuning of a voice's key, in semitones (0 without one). Real-time safe.
    @inline(__always)
    private func stretchSemitones(of voice: Voice, weights: UnsafePointer<Double>?) -> Double {
        guard let inharmonicity else { return 0 }
        if let weights { return inharmonicity.tuningSemitones(key: voice.tunedKey, weights: weights) }
        return inharmonicity.tuningSemitones(z: voice.z, key: voice.tunedKey, line: morphLine, scratch: blendScratch)
    }

    /// The held note's vibrato (docs/model-format.md, "Partial motion") at a gathered `frame`, in
    /// semitones: the table's depth and rate at the voice's timbre point and key, a sine from the
    /// voice's phase, faded in as the partial motion is (100-300 ms after note-on). The phase is
    /// the rate integrated frame by frame (`Voice.vibratoCycles`), so a rate that moves with the
    /// timbre (a morph from a piano's none to a violin's 5.7 Hz) bends it smoothly instead of
    /// scaling the time since note-on; the frame's sine is kept for the partial motion's lock
    /// (`Voice.vibratoSine`). Real-time safe.
    @inline(__always)
    private func vibratoSemitones(of voice: Voice, atFrame frame: Int, weights: UnsafePointer<Double>?) -> Double {
        guard let motion, motion.hasVibrato else { return 0 }
        // (no `Optional.map` returning a tuple: a debug build looks its metadata up under a lock)
        var cents = 0.0, hz = 0.0
        if let weights {
            (cents, hz) = motion.vibrato(pitch: voice.tunedKey, weights: weights)
        } else {
            (cents, hz) = motion.vibrato(z: voice.z, pitch: voice.tunedKey, line: morphLine, scratch: blendScratch)
        }
        let sine = sin(2 * Double.pi * voice.vibratoCycles + voice.vibratoPhase)
        voice.setVibratoSine(frame: frame, cents > 0 ? sine : 0)
        voice.vibratoCycles += hz / frameRate
        let seconds = voice.frameSeconds(frame, frameRate: frameRate)
        let (start, end) = PartialMotion.fadeInSeconds
        guard seconds > start else { return 0 }
        let fade = min((seconds - start) / (end - start), 1)
        return cents / 100 * fade * sine
    }

    /// The direction a full MPE slide (CC 74 = 127) moves a note's timbre point: the one
    /// `setMPESlide` gave, else the morph axis (B − A) while both ends are set; nil: none.
    /// Real-time safe.
    private var mpeSlideDirection: LatentPoint? {
        if let mpeSlide { return mpeSlide }
        let a = controllerMap.point(.a), b = controllerMap.point(.b)
        guard a.count == model.config.zDim, b.count == model.config.zDim else { return nil }
        return LatentPoint(values: b.values - a.values, count: a.count)
    }

    /// Loudness an MPE note's full pressure adds (dB; 0 at no pressure).
    static let mpePressureRangeDB = 9.0
    /// Loudness a full MPE slide adds (CC 74 = 127; minus it at 0) when routed to loudness (dB).
    static let mpeSlideRangeDB = 9.0

    /// The MPE Configuration Message (RPN 0,6) on channel `c`: on channel 1 it sets the lower
    /// zone's member channels (2…n+1), on channel 16 the upper zone's (15 down to 16−n); 0 turns
    /// the zone off. A zone that overlaps the other shrinks the other (RP-053). Member channels
    /// start with a 48-semitone bend range, centred bend, no pressure and slide. Real-time safe.
    private func configureMPE(channel c: Int, members: Int) {
        let n = min(max(members, 0), 15)
        if c == 0 {
            mpe.lower = n
            if mpe.lower > 0 && mpe.upper > 0 && mpe.lower + mpe.upper > 14 { mpe.upper = max(0, 14 - mpe.lower) }
        } else if c == 15 {
            mpe.upper = n
            if mpe.lower > 0 && mpe.upper > 0 && mpe.lower + mpe.upper > 14 { mpe.lower = max(0, 14 - mpe.upper) }
        } else {
            return
        }
        for m in 0..<16 where mpe.isMember(m) {
            channels[m].bendRangeSemitones = 48
            channels[m].pitchBend = MIDIEvent.pitchBendCentre
            channels[m].mpeSlide = 0
            channels[m].mpePressure = 0
        }
    }

    /// The key table channel `c` plays: the tuning program (RPN 0,3's data MSB) of the tuning
    /// bank (RPN 0,4's data MSB) it selected, bank 0 program 0 until it selects another; −1
    /// (equal temperament) for a program no message wrote. Real-time safe.
    @inline(__always)
    private func tuningTable(channel c: Int) -> Int {
        let program = Int((channels[c].controllers.registeredParameterValue(.tuningProgramSelect) ?? 0) >> 7)
        let bank = Int((channels[c].controllers.registeredParameterValue(.tuningBankSelect) ?? 0) >> 7)
        return tuning.table(bank: bank, program: program)
    }

    /// Key `key`'s pitch on channel `c` in the channel's tuning (semitones). Real-time safe.
    @inline(__always)
    private func tunedPitch(key: Int, channel c: Int) -> Double {
        tuning.pitch(key: key, channel: c, table: tuningTable(channel: c))
    }

    /// A real-time tuning change: every sounding voice takes its key's new pitch from the next
    /// frame decoded. Real-time safe.
    private func retuneSoundingVoices() {
        for i in 0..<voices.count where voices[i].isActive {
            let v = voices[i]
            v.tunedKey = tunedPitch(key: Int(v.note), channel: Int(v.channel))
        }
    }

    /// A System Exclusive message at its sample: MIDI Tuning Standard and master tuning change
    /// the tables (`TuningTables.apply`); a GM / GS / XG reset clears scale/octave offsets and
    /// master tuning (the inputs also turn it into all-sound-off and reset-all-controllers on
    /// every channel). Real-time safe.
    private func systemExclusive(_ span: MIDISysExSpan) {
        guard span.byteCount > 0, let base = sysExStore.baseAddress, span.range.upperBound <= sysExStore.count else { return }
        let payload = UnsafeBufferPointer(start: base + Int(span.byteOffset), count: Int(span.byteCount))
        if MIDIEvent.isSystemReset(sysExPayload: payload) {
            channelOwnsTimbre = 0  // every channel back to the shared sound, as at power-on
            tuning.resetScaleAndMaster()
            retuneSoundingVoices()
            return
        }
        let change = tuning.apply(sysExPayload: payload)
        if change.retunesSoundingNotes { retuneSoundingVoices() }
    }

    /// A voice's note times at `frame`, on the scaled time axes the model reads: seconds since
    /// note-on (÷ attack scale until the release, then ÷ release scale), the note-off on that
    /// axis, and seconds since note-off (÷ release scale; nil while held). Real-time safe.
    @inline(__always)
    private func noteTimes(of voice: Voice, atFrame frame: Int) -> (sinceOn: Double, offAt: Double?, sinceOff: Double?) {
        let t = voice.frameSeconds(frame, frameRate: frameRate)
        guard let off = voice.releaseSeconds else { return (t / attackScale, nil, nil) }
        let offScaled = off / attackScale
        if t < off { return (t / attackScale, offScaled, nil) }
        let scale = releaseScale * voice.releaseVelocityScale
        return (offScaled + (t - off) / scale, offScaled, (t - off) / scale)
    }

    /// The loudness prior of a voice (the learned envelope blended by its timbre point, plus the
    /// loudness controller's offset). Real-time safe.
    @inline(__always)
    private func loudnessDB(of voice: Voice, times: (sinceOn: Double, offAt: Double?, sinceOff: Double?)) -> Double {
        envelopes.blendWeights(z: voice.z, line: morphLine, into: weights)
        return envelopes.loudnessDB(pitch: Double(voice.note), velocity: Double(voice.velocity),
                                    secondsSinceNoteOn: times.sinceOn, noteOffAtSeconds: times.offAt, weights: weights)
            + Double(controllerMap.loudnessOffsetDB)
    }

    // MARK: - per-channel timbre

    /// Rebuilds `morphLine` from the controller map's A and B. Real-time safe.
    private func updateMorphLine() {
        let a = controllerMap.point(.a), b = controllerMap.point(.b), zDim = model.config.zDim
        guard a.count == zDim, b.count == zDim else { morphLine = .none; return }
        morphLine = envelopes.latentMeans.withUnsafeBufferPointer {
            MorphLine(from: a.values, to: b.values, zDim: zDim, means: $0, instrumentCount: envelopes.instrumentCount)
        }
    }

    /// The channel whose timbre channel `c` plays: an MPE member channel its zone's manager
    /// channel, any other channel itself. Real-time safe.
    @inline(__always)
    private func timbreChannel(_ c: Int) -> Int { mpe.manager(of: c) ?? c }

    /// The timbre target channel `c`'s notes start at and glide to: the channel's own (after a
    /// program change on it, or on its MPE zone's manager channel), else the shared one.
    /// Real-time safe.
    @inline(__always)
    private func timbreTarget(channel c: Int) -> UnsafeMutablePointer<Float> {
        let owner = timbreChannel(c)
        return channelOwnsTimbre & (1 << UInt16(owner)) != 0 ? channelTimbre + owner * model.config.zDim : timbreTarget
    }

    /// A program change's timbre on channel `c` (its MPE zone's, on a member channel): from now
    /// on the channel plays its own target, `point`. Real-time safe.
    private func setChannelTimbre(channel c: Int, to point: LatentPoint) {
        let owner = timbreChannel(c), zDim = model.config.zDim
        for d in 0..<zDim { channelTimbre[owner * zDim + d] = point.values[d] }
        channelOwnsTimbre |= 1 << UInt16(owner)
    }

    /// What a knob (a mapped controller or pressure) arriving on channel `c` does: a timbre
    /// effect (a latent dimension, the morph or pad's point) moves the timbre the channel plays
    /// (its own after a program change, else the shared one, as `setTimbre` would); any other
    /// effect acts as the command. Real-time safe.
    private func applyKnob(_ effect: EngineCommand, channel c: Int) {
        let owner = timbreChannel(c)
        guard channelOwnsTimbre & (1 << UInt16(owner)) != 0 else { apply(effect); return }
        let zDim = model.config.zDim, target = channelTimbre + owner * zDim
        switch effect {
        case .setTimbre(let point):
            guard point.count == zDim else { _ = status.push(.commandRejected); return }
            for d in 0..<zDim { target[d] = point.values[d] }
        case let .setLatentDimension(index, value):
            guard index >= 0, index < zDim, value.isFinite else { _ = status.push(.commandRejected); return }
            target[index] = value
        default:
            apply(effect)
        }
    }

    // MARK: - events

    /// Applies a control-side command. Real-time safe.
    private func apply(_ command: EngineCommand) {
        switch command {
        case .midi(let event):
            handle(event, at: 0)
        case .setTimbre(let point):
            guard point.count == model.config.zDim else { _ = status.push(.commandRejected); return }
            for d in 0..<model.config.zDim { timbreTarget[d] = point.values[d] }
        case .setLatentDimension(let index, let value):
            guard index >= 0, index < model.config.zDim, value.isFinite else { _ = status.push(.commandRejected); return }
            timbreTarget[index] = value
        case .setReverbMix(let m):
            reverbMix = m.isFinite ? ParameterLimits.clamp(m, to: ParameterLimits.reverbMix) : reverbMix
        case .setGainDB(let db):
            if db.isFinite { gain = dbToAmplitude(ParameterLimits.clamp(db, to: ParameterLimits.gainDB)) }
        case .setEnvelopeScale(let attack, let release):
            if attack.isFinite, attack > 0 { attackScale = Double(ParameterLimits.clamp(attack, to: ParameterLimits.attackScale)) }
            if release.isFinite, release > 0 { releaseScale = Double(ParameterLimits.clamp(release, to: ParameterLimits.releaseScale)) }
        case .setPitchBendRange(let semitones):
            if semitones.isFinite { for c in 0..<16 { channels[c].bendRangeSemitones = ParameterLimits.clamp(semitones, to: ParameterLimits.pitchBendSemitones) } }
        case .panic:
            for c in 0..<16 { channels[c].resetPedals() }
            cutAllVoices()
        case .setAttackScale(let attack):
            if attack.isFinite, attack > 0 { attackScale = Double(ParameterLimits.clamp(attack, to: ParameterLimits.attackScale)) }
        case .setReleaseScale(let release):
            if release.isFinite, release > 0 { releaseScale = Double(ParameterLimits.clamp(release, to: ParameterLimits.releaseScale)) }
        case .mapController, .setMorphPoint, .setMorphWarp, .setMorph, .setPad:
            if let effect = controllerMap.apply(command) { apply(effect) }
            if case let .setMorphPoint(corner, _) = command, corner == .a || corner == .b { updateMorphLine() }
        case .setMPESlide(let direction):
            if let direction, direction.count != model.config.zDim { _ = status.push(.commandRejected); return }
            mpeSlide = direction
        case let .setKeyPitches(first, pitches):
            for i in 0..<8 where Int(first) + i < TuningTables.keyCount {
                tuning.setKeyPitch(program: 0, key: Int(first) + i, semitones: pitches[i])
            }
            retuneSoundingVoices()
        case .resetChannelTimbres:
            channelOwnsTimbre = 0
        case let .setChannelTimbre(channel, point):
            guard point.count == model.config.zDim else { _ = status.push(.commandRejected); return }
            setChannelTimbre(channel: Int(channel & 0x0F), to: point)
        case .carryOverLiveState(let channelTimbres):
            carryOverLiveState(channelTimbres: channelTimbres)
        case .setMPEPressure(let direction):
            if let direction, direction.count != model.config.zDim { _ = status.push(.commandRejected); return }
            mpePressureDirection = direction
        case .setReleaseVelocity(let mapping):
            releaseVelocityMapping = mapping
        case .setMPESlideLoudness(let on):
            mpeSlideIsLoudness = on
        case .setProgramTable(let table):
            programs = table
            drums.drumChannel = table._withUnsafeGuaranteedRef { $0.drumChannel }
            _ = status.push(.programTable(generation: table._withUnsafeGuaranteedRef { $0.generation }))
        }
        switch command {
        case .setTimbre, .setLatentDimension: reportTimbre()
        default: break
        }
    }

    /// Pushes the timbre target to the status ring. Real-time safe (fixed-size point).
    private func reportTimbre() {
        var point = LatentPoint(values: SIMD16(), count: model.config.zDim)
        for d in 0..<model.config.zDim { point.values[d] = timbreTarget[d] }
        _ = status.push(.timbre(point))
    }

    /// Handles one MIDI event at a sample position of the current block. Real-time safe.
    private func handle(_ event: MIDIEvent, at position: Int) {
        guard let ch = event.channel else {
            if case let .systemExclusive(span) = event { systemExclusive(span) }
            return
        }
        let c = Int(ch & 0x0F)
        _ = drums.accepts(event)  // follows bank selects and drum banks (the inputs drop drum notes)
        switch event {
        case let .noteOn(_, note, velocity) where velocity > 0:
            noteOn(note: note & 0x7F, velocity: velocity & 0x7F, channel: ch & 0x0F)
        case let .noteOn(_, note, _):
            noteOff(note: note & 0x7F, velocity: 64, channel: ch & 0x0F)
        case let .noteOff(_, note, velocity):
            noteOff(note: note & 0x7F, velocity: velocity & 0x7F, channel: ch & 0x0F)
        case let .controlChange(_, controller, value):
            controlChange(channel: c, controller: controller & 0x7F, value: value & 0x7F)
        case let .pitchBend(_, value):
            channels[c].pitchBend = value
        case let .channelPressure(_, pressure):
            if mpe.isMember(c) {
                // the note's own loudness
                channels[c].mpePressure = Float(pressure & 0x7F) / 127
                for i in 0..<voices.count where voices[i].isActive && Int(voices[i].channel) == c {
                    voices[i].pressure = channels[c].mpePressure
                }
            } else if let effect = controllerMap.pressure(.channelPressure, value: pressure) {
                applyKnob(effect, channel: c)
            }
        case let .polyPressure(_, note, pressure):
            if controllerMap.mapping(for: .polyPressure).target == ControllerTarget.none {
                // unmapped (the default): the pressed key's own loudness, as MPE pressure
                for i in 0..<voices.count where voices[i].isActive && Int(voices[i].channel) == c && voices[i].note == note & 0x7F {
                    voices[i].pressure = Float(pressure & 0x7F) / 127
                }
            } else if let effect = controllerMap.pressure(.polyPressure, value: pressure) {
                applyKnob(effect, channel: c)
            }
        case let .programChange(_, program):
            programChange(channel: ch & 0x0F, program: program & 0x7F)
        default:
            break
        }
    }

    /// A program change switches to the sound the program table picks (`ProgramTable.choose`,
    /// the rule the control side logs by): the channel's own timbre target (its MPE zone's on a
    /// member channel; other channels keep theirs), and, for the whole engine as before, reverb,
    /// gain, envelope scales and the controller-map entries that differ, in the order
    /// `SoundController.select` sends them. Real-time safe.
    private func programChange(channel: UInt8, program: UInt8) {
        guard let programs else { return }
        programs._withUnsafeGuaranteedRef { table in
            let choice = table.choose(channel: channel, bank: drums.bank(channel: channel), program: program,
                                      isDrum: drums.isDrum(channel: channel))
            guard let index = choice.sound else { return }
            let sound = table.values(index)
            if sound.timbre.count == model.config.zDim { setChannelTimbre(channel: Int(channel), to: sound.timbre) }
            apply(.setReverbMix(sound.reverbMix))
            apply(.setGainDB(sound.gainDB))
            apply(.setEnvelopeScale(attack: sound.attackScale, release: sound.releaseScale))
            var k = sound.mapStart
            while k < sound.mapStart + sound.mapCount {
                let (source, mapping) = table.mapEntry(k)
                if controllerMap.mapping(for: source) != mapping {
                    _ = controllerMap.apply(.mapController(source: source, mapping: mapping))
                }
                k += 1
            }
        }
    }

    private func controlChange(channel c: Int, controller: UInt8, value: UInt8) {
        let update = channels[c].controllers.applyControlChange(controller: controller, value: value)
        if case let .registeredParameter(parameter, data) = update, parameter.msb == 0, parameter.lsb == 6 {
            configureMPE(channel: c, members: Int(data >> 7))
        }
        if controller == 74 && mpe.isMember(c) {
            // an MPE note's slide: its own timbre, along the morph axis (64 = the target itself)
            channels[c].mpeSlide = min(max((Float(value) - 64) / 63, -1), 1)
            return
        }
        switch controller {
        case 64:  // sustain
            let down = value >= 64
            channels[c].sustain = down
            if !down {
                for i in 0..<voices.count {
                    let v = voices[i]
                    guard v.isActive && Int(v.channel) == c && v.heldBySustain else { continue }
                    v.heldBySustain = false
                    if !v.heldBySostenuto { release(v) }
                }
            }
        case 66:  // sostenuto: latch the notes held now
            let down = value >= 64
            if down && !channels[c].sostenuto {
                for i in 0..<voices.count where voices[i].isActive && Int(voices[i].channel) == c && !voices[i].isReleased {
                    voices[i].sostenutoLatched = true
                }
            } else if !down {
                for i in 0..<voices.count {
                    let v = voices[i]
                    guard v.isActive && Int(v.channel) == c else { continue }
                    v.sostenutoLatched = false
                    if v.heldBySostenuto {
                        v.heldBySostenuto = false
                        if !v.heldBySustain { release(v) }
                    }
                }
            }
            channels[c].sostenuto = down
        case 120:  // all sound off: silence now
            for i in 0..<voices.count where voices[i].isActive && Int(voices[i].channel) == c { fade(voices[i]) }
        case 121:  // reset all controllers (RP-015): pedals and portamento off, bend centred
            channels[c].pitchBend = MIDIEvent.pitchBendCentre
            channels[c].mpeSlide = 0
            channels[c].mpePressure = 0
            for i in 0..<voices.count where voices[i].isActive && Int(voices[i].channel) == c { voices[i].pressure = 0 }
            channels[c].portamento = false
            let effects = controllerMap.resetControllers(channel: c)
            if let e = effects.modulation { applyKnob(e, channel: c) }
            if let e = effects.expression { applyKnob(e, channel: c) }
            if let e = effects.channelPressure { applyKnob(e, channel: c) }
            if let e = effects.polyPressure { applyKnob(e, channel: c) }
            if channels[c].sustain || channels[c].sostenuto {
                channels[c].sustain = false
                channels[c].sostenuto = false
                for i in 0..<voices.count {
                    let v = voices[i]
                    guard v.isActive && Int(v.channel) == c && (v.heldBySustain || v.heldBySostenuto) else { continue }
                    v.heldBySustain = false
                    v.heldBySostenuto = false
                    release(v)
                }
            }
        case 123, 124, 125, 126, 127:  // all notes off (and mode messages): release, pedals still hold
            for i in 0..<voices.count where voices[i].isActive && Int(voices[i].channel) == c && !voices[i].isReleased {
                keyUp(voices[i], channel: c)
            }
            channels[c].heldKeyCount = 0
            if controller == 126 { channels[c].mono = true }  // mono mode on: one voice, legato
            if controller == 127 { channels[c].mono = false }  // poly mode on
        case 65:  // portamento on/off
            channels[c].portamento = value >= 64
        case 84:  // portamento control: the next note glides from this key
            channels[c].portamentoControlNote = Int(value)
        default:
            break
        }
        let (semis, cents) = channels[c].controllers.pitchBendSensitivity
        channels[c].bendRangeFromRPN = Float(semis) + Float(cents) / 100
        channels[c].tuningSemitones = Float(channels[c].controllers.coarseTuningSemitones)
            + Float(channels[c].controllers.fineTuningCents / 100)
        if let effect = controllerMap.controlChange(channel: c, controller: controller, value: value,
                                                    state: channels[c].controllers) {
            applyKnob(effect, channel: c)
        }
    }

    private func noteOn(note: UInt8, velocity: UInt8, channel: UInt8) {
        let c = Int(channel)
        let glideFrom = glideSource(channel: c)
        channels[c].lastNote = Int(note)
        channels[c].portamentoControlNote = -1
        if channels[c].mono {
            channels[c].pressKey(note)
            if let v = monoVoice(channel: channel) {
                legato(v, to: note, from: glideFrom, channel: c)
                return
            }
        }
        startNote(note: note, velocity: velocity, channel: channel)
        if let glideFrom, let v = newestVoice(channel: channel) {
            v.glide(to: note, fromSemitones: tunedPitch(key: glideFrom, channel: c) - v.tunedKey,
                    seconds: channels[c].portamentoSeconds, atSeconds: 0)
        }
    }

    /// The key a new note on channel `c` glides from: CC 84's key if set, else the channel's
    /// last key while portamento is on; nil for no glide. Real-time safe.
    private func glideSource(channel c: Int) -> Int? {
        if channels[c].portamentoControlNote >= 0 { return channels[c].portamentoControlNote }
        if channels[c].portamento && channels[c].lastNote >= 0 { return channels[c].lastNote }
        return nil
    }

    /// The sounding, unreleased voice of a mono channel, if any. Real-time safe.
    private func monoVoice(channel: UInt8) -> Voice? {
        for i in 0..<voices.count {
            let v = voices[i]
            if v.isActive && v.channel == channel && !v.isReleased && v.fadeStep == 0 { return v }
        }
        return nil
    }

    /// The voice struck last on `channel`. Real-time safe.
    private func newestVoice(channel: UInt8) -> Voice? {
        var best: Voice? = nil
        for i in 0..<voices.count {
            let v = voices[i]
            if v.isActive && v.channel == channel && v.strikeOrder == strikeCount { best = v }
        }
        return best
    }

    /// A mono channel's running voice takes the new key without a new attack: it glides there
    /// from where it sounds now (over the portamento time when portamento is on, else at once).
    /// Real-time safe.
    private func legato(_ v: Voice, to note: UInt8, from glideFrom: Int?, channel c: Int) {
        let now = Double(v.ageSamples) / settings.sampleRate
        let sounding = v.tunedKey + v.glideOffsetSemitones(atSeconds: now)
        let seconds = glideFrom != nil ? channels[c].portamentoSeconds : 0
        v.tunedKey = tunedPitch(key: Int(note), channel: c)
        v.glide(to: note, fromSemitones: sounding - v.tunedKey, seconds: seconds, atSeconds: now)
        // frame n+2 may have been decoded at the old pitch: decode it again
        v.undoAhead()
    }

    private func startNote(note: UInt8, velocity: UInt8, channel: UInt8) {
        // a repeated key on the same channel re-triggers: release the old voice first
        for i in 0..<voices.count {
            let v = voices[i]
            guard v.isActive && v.note == note && v.channel == channel && !v.isReleased else { continue }
            v.heldBySustain = false
            v.heldBySostenuto = false
            release(v)
        }
        // candidates for stealing: sounding voices that are not already fading out
        var sounding = 0
        for i in 0..<voices.count where voices[i].isActive && voices[i].fadeStep == 0 {
            summaries[sounding] = voices[i].summary
            batchVoices[sounding] = i
            sounding += 1
        }
        if sounding >= settings.polyphony {
            let victim = VoiceAllocation.choose(UnsafeBufferPointer(start: summaries, count: sounding),
                                                sampleRate: settings.sampleRate)
            fade(voices[batchVoices[victim.index]])
            _ = status.push(.voiceStolen)
        }
        // a free slot (fading voices keep theirs until silent)
        var free = -1
        for i in 0..<voices.count where !voices[i].isActive {
            free = i
            break
        }
        guard free >= 0 else {
            // every slot is busy fading: cut the quietest fading voice
            var idx = 0
            for i in 1..<voices.count where voices[i].fadeGain < voices[idx].fadeGain { idx = i }
            voices[idx].stop()
            startVoice(voices[idx], note: note, velocity: velocity, channel: channel, index: idx)
            return
        }
        startVoice(voices[free], note: note, velocity: velocity, channel: channel, index: free)
    }

    private func startVoice(_ voice: Voice, note: UInt8, velocity: UInt8, channel: UInt8, index: Int) {
        voice.start(note: note, channel: channel, velocity: velocity, z: timbreTarget(channel: Int(channel)))
        voice.tunedKey = tunedPitch(key: Int(note), channel: Int(channel))
        startTransient(voice)
        if mpe.isMember(Int(channel)) { voice.pressure = channels[Int(channel)].mpePressure }  // sent before the note
        voice.isPendingStart = true
        strikeCount &+= 1
        voice.strikeOrder = strikeCount
        // the motion's seed follows the key and velocity alone: a note moves the same way whatever
        // was played before it or on other channels (as a sampler replays a key's recording), so
        // a part sounds as its preset does alone, and offline as live
        let key = UInt64(note) << 8 | UInt64(velocity)
        let hash = (key &+ 1) &* 0x9E37_79B9_7F4A_7C15
        voice.motion?.start(seed: UInt32(truncatingIfNeeded: hash >> 32))
        // and the noise's: a note's noise does not depend on which voice slot it got or how long
        // that slot played before (when a voice frees up is counted in blocks), so the samples
        // are the same at every block size
        voice.noise.noise = WhiteNoise(seed: hash)
        // the vibrato's phase from the same hash: the notes of a chord do not swing together
        voice.vibratoPhase = 2 * Double.pi * Double(hash >> 40) / Double(1 << 24)
    }

    /// Sets the voice's attack transient from its timbre point, tuned key and velocity, at the
    /// loudness controller's gain. Real-time safe.
    private func startTransient(_ voice: Voice) {
        guard let transients else { return }
        transients.amplitudes(z: voice.z, pitch: voice.tunedKey, velocity: Double(voice.velocity),
                              gain: Float(dbToAmplitude(Double(controllerMap.loudnessOffsetDB))), line: morphLine,
                              scratch: blendScratch, into: voice.transientAmplitudes)
        // the key's strike top lifts the transient's top bands as it lifts the balance's
        if let tone {
            ToneTable.liftTransient(voice.transientAmplitudes,
                                    topDB: tone.strikeTopDB(z: voice.z, pitch: voice.tunedKey,
                                                            velocity: Double(voice.velocity), line: morphLine, scratch: blendScratch))
        }
    }

    /// A key went up with release `velocity`: its voices release (a pedal may hold them), their
    /// release time scaled by the velocity when `setReleaseVelocity` maps it. Real-time safe.
    private func noteOff(note: UInt8, velocity: UInt8, channel: UInt8) {
        let c = Int(channel)
        if channels[c].mono {
            channels[c].releaseKey(note)
            // the key that sounds went up while others are still down: back to the latest of them
            if let back = channels[c].latestHeldKey, let v = monoVoice(channel: channel), v.note == note {
                legato(v, to: back, from: channels[c].portamento ? Int(note) : nil, channel: c)
                return
            }
        }
        for i in 0..<voices.count {
            let v = voices[i]
            guard v.isActive && v.note == note && v.channel == channel && !v.isReleased && !v.heldBySustain && !v.heldBySostenuto else { continue }
            if releaseVelocityMapping.target == .releaseScale {
                let scale = releaseVelocityMapping.value(at: Float(velocity) / 127)
                if scale.isFinite && scale > 0 { v.releaseVelocityScale = Double(ParameterLimits.clamp(scale, to: ParameterLimits.releaseScale)) }
            }
            keyUp(v, channel: Int(channel))
        }
    }

    /// The key went up: release now unless a pedal holds the note.
    private func keyUp(_ v: Voice, channel c: Int) {
        if channels[c].sustain { v.heldBySustain = true }
        if v.sostenutoLatched && channels[c].sostenuto { v.heldBySostenuto = true }
        if !v.heldBySustain && !v.heldBySostenuto { release(v) }
    }

    /// The note enters its release now. Frame n+1 is already playing towards; frame n+2, if the
    /// spreading of decodes (see `decodeFrames`) decoded it early, is decoded again, so the release
    /// shapes the same frames whatever the block size. Real-time safe.
    private func release(_ v: Voice) {
        guard !v.isReleased else { return }
        v.isReleased = true
        v.releaseSeconds = Double(v.ageSamples) / settings.sampleRate
        v.undoAhead()
    }

    private func fade(_ v: Voice) {
        if v.isPendingStart {
            // struck but not started yet (a chord beyond the block's note starts): nothing sounds
            v.stop()
            return
        }
        if v.fadeStep == 0 { v.fadeStep = fadeStep }
        v.isReleased = true
        v.heldBySustain = false
        v.heldBySostenuto = false
        if v.releaseSeconds == nil { v.releaseSeconds = Double(v.ageSamples) / settings.sampleRate }
    }

    private func cutAllVoices() {
        for i in 0..<voices.count where voices[i].isActive { fade(voices[i]) }
    }
}

/// Per-channel MIDI state the engine keeps (pedals, bend, tuning).
struct ChannelState {
    var controllers = ControllerState()
    var sustain = false
    var sostenuto = false
    var pitchBend: UInt16 = MIDIEvent.pitchBendCentre
    /// Set by `setPitchBendRange` (overrides the RPN until the next RPN change).
    var bendRangeSemitones: Float = 2
    var bendRangeFromRPN: Float = 2 {
        didSet { if bendRangeFromRPN != oldValue { bendRangeSemitones = bendRangeFromRPN } }
    }
    /// Channel coarse (RPN 0,2) plus fine (RPN 0,1) tuning in semitones.
    var tuningSemitones: Float = 0
    /// MPE member channel: the note's slide (CC 74 as −1…1, 0 at 64) and pressure (0…1).
    var mpeSlide: Float = 0
    var mpePressure: Float = 0
    /// Portamento (CC 65), its time (CC 5/37: milliseconds, as FluidSynth reads it) and CC 84's key.
    var portamento = false
    var portamentoControlNote = -1
    var portamentoSeconds: Double { Double(controllers.controllerValue14Bit(msbNumber: 5)) / 1000 }
    /// The last key struck on the channel (a glide's start), -1 before any.
    var lastNote = -1
    /// Mono mode (CC 126, until CC 127): one voice per channel, new keys play legato.
    var mono = false
    /// Mono mode: the keys down, oldest first (at most 16 remembered).
    var heldKeys = SIMD16<UInt8>()
    var heldKeyCount = 0

    var latestHeldKey: UInt8? { heldKeyCount > 0 ? heldKeys[heldKeyCount - 1] : nil }

    mutating func pressKey(_ key: UInt8) {
        releaseKey(key)
        if heldKeyCount == 16 {
            for i in 0..<15 { heldKeys[i] = heldKeys[i + 1] }
            heldKeyCount = 15
        }
        heldKeys[heldKeyCount] = key
        heldKeyCount += 1
    }

    mutating func releaseKey(_ key: UInt8) {
        var j = 0
        for i in 0..<heldKeyCount where heldKeys[i] != key {
            heldKeys[j] = heldKeys[i]
            j += 1
        }
        heldKeyCount = j
    }

    var pitchBendSemitones: Float {
        Float(Int(pitchBend) - Int(MIDIEvent.pitchBendCentre)) / 8192 * bendRangeSemitones
    }

    mutating func resetPedals() {
        sustain = false
        sostenuto = false
        pitchBend = MIDIEvent.pitchBendCentre
    }
}

/// The two MPE zones (RP-053): member channel counts of the lower zone (manager channel 1,
/// members 2…) and the upper zone (manager channel 16, members 15 down…); 0 = no zone.
struct MPEZones {
    var lower = 0
    var upper = 0

    /// True for a member channel (0-based) of either zone. Real-time safe.
    @inline(__always)
    func isMember(_ c: Int) -> Bool {
        (lower > 0 && c >= 1 && c <= lower) || (upper > 0 && c <= 14 && c >= 15 - upper)
    }

    /// The manager channel of member channel `c`, nil when `c` is not a member. Real-time safe.
    @inline(__always)
    func manager(of c: Int) -> Int? {
        if lower > 0 && c >= 1 && c <= lower { return 0 }
        if upper > 0 && c <= 14 && c >= 15 - upper { return 15 }
        return nil
    }
}

/// Accumulated time per stage, in nanoseconds.
public struct StageTimes: Sendable {
    public var decoder: UInt64 = 0
    public var oscillators: UInt64 = 0
    public var noise: UInt64 = 0
    public var reverb: UInt64 = 0
    /// Parts of the decodes computed in the callback itself (note starts, urgent frames), within
    /// `decoder`: gathering the inputs, the decoder step, storing the controls in the voices.
    public var gather: UInt64 = 0
    public var step: UInt64 = 0
    public var scatter: UInt64 = 0
    public init() {}
}

/// Monotonic clock in nanoseconds (vDSO clock_gettime: no system call, no allocation).
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}


/// The voice slots, in memory the audio thread indexes directly (no Array iterators, whose
/// unspecialised read accessors allocate in debug builds).
struct VoiceSlots {
    let base: UnsafeMutablePointer<Voice>
    let count: Int

    init(_ voices: [Voice]) {
        count = voices.count
        base = .allocate(capacity: count)
        base.initialize(from: voices, count: count)
    }

    @inline(__always)
    subscript(index: Int) -> Voice { base[index] }

    func release() {
        base.deinitialize(count: count)
        base.deallocate()
    }
}
