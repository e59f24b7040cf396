import DSP
#if canImport(Glibc)
import Glibc
#endif
import ModelCore

/// One voice slot: a note's decoder state, its three frames of controls, its oscillators and noise.
///
/// The voice interpolates between frame `n` (slot `current`) and frame `n + 1` (slot `next`);
/// frame `n + 2` (slot `ahead`) is decoded before the voice reaches frame `n + 1`'s start, so
/// crossing a frame boundary never waits for the decoder. Everything is allocated in `init`.
final class Voice {
    // identity and MIDI state
    var isActive = false
    var note: UInt8 = 0
    /// The key's pitch in semitones as the channel's tuning plays it (MTS key table + scale/octave
    /// offsets, or a Scala tuning; `note` when equal-tempered), set at note-on and by real-time
    /// tuning changes. Bend, channel and master tuning and the glide are added per frame.
    var tunedKey: Double = 0
    /// MPE: the loudness offset from the note's own pressure (dB), gliding towards its target
    /// one smoothing step per decoded frame, as the timbre point does.
    var pressureDB: Double = 0
    /// The note's own pressure, 0…1: its MPE member channel's channel pressure, or polyphonic
    /// key pressure on its key while poly pressure is not mapped to a knob target.
    var pressure: Float = 0
    /// Scale of this note's release time from its note-off velocity (`setReleaseVelocity`; 1: as
    /// the channel's release scale alone).
    var releaseVelocityScale: Double = 1
    var channel: UInt8 = 0
    var velocity: Float = 0
    var isReleased = false
    var heldBySustain = false
    var heldBySostenuto = false
    var sostenutoLatched = false
    var ageSamples = 0
    /// Seconds after note-on at which the key (or the pedal holding it) was released.
    var releaseSeconds: Double? = nil
    /// Final fade (voice stealing, all-sound-off): gain and per-sample decrement; 0 = none.
    var fadeGain: Float = 1
    var fadeStep: Float = 0
    /// The envelope fell below the audible floor: the next decoded frame is silent and the voice
    /// frees itself when it reaches it.
    var isEnding = false
    var endsAtFrame = Int.max

    // frame bookkeeping
    /// Index of the current frame n (frame 0 starts at note-on).
    var frameIndex = 0
    /// Position within the current frame, 0..<hop.
    var positionInFrame = 0
    var hasAhead = false
    /// Struck, but frames 0 and 1 are not decoded yet (silent until they are).
    var isPendingStart = false
    /// When the note was struck, in the engine's strike count (deferred starts go in this order).
    var strikeOrder: UInt64 = 0
    var lastLoudnessDB: Float = -120
    /// The loudest the note's envelope has been so far (dB): it ends `endBelowPeakDB` under it.
    var peakLoudnessDB: Double = -120
    /// Portamento: the pitch starts `glideFromSemitones` away from `note` at `glideStartSeconds`
    /// after note-on and reaches it linearly over `glideSeconds`.
    var glideFromSemitones: Double = 0
    var glideStartSeconds: Double = 0
    var glideSeconds: Double = 0
    /// The vibrato's phase at note-on, radians (from the key and velocity, as the motion's seed).
    var vibratoPhase: Double = 0
    /// The vibrato's phase, cycles since note-on, at the start of the next frame to be gathered:
    /// each gathered frame adds its own rate over one frame, so a rate that moves with the timbre
    /// (a morph, a knob) bends the phase instead of jumping it.
    var vibratoCycles: Double = 0
    /// The vibrato's sine (−1…1) of frames n … n+2 at `frame % 4`, set where each frame's inputs
    /// are gathered: what the locked share of the partial motion follows when the frame starts.
    private var vibratoSines = FrameRing()
    private var vibratoCyclesBeforeAhead: Double = 0

    // controls: 3 slots of [K harmonics | B noise bands], plus each slot's f0
    let harmonicCount: Int
    let noiseBandCount: Int
    private let controls: UnsafeMutablePointer<Float>
    /// Frame n−1's controls as decoded, [K harmonics | B noise bands] (kept at each frame
    /// boundary), and the smoothed controls of frames n and n+1 (`smoothedHarmonics`,
    /// `smoothedNoiseBands`): docs/model-format.md, "Control smoothing".
    private let previousControls: UnsafeMutablePointer<Float>
    private let smoothed: UnsafeMutablePointer<Float>
    var f0Hz: (Double, Double, Double) = (0, 0, 0)
    /// Each slot's inharmonicity B (stretched partials; 0 = harmonic), set with its controls.
    var inharmonicities: (Double, Double, Double) = (0, 0, 0)
    var slots: (current: Int, next: Int, ahead: Int) = (0, 1, 2)
    /// The noise's high-pass ratio (× f0) of frames n … n+2, at `frame % 4`: set where each frame's
    /// inputs are gathered (the timbre point of that frame), read when the frame starts.
    private var noiseHighPassRatios = FrameRing()

    let gruState: UnsafeMutablePointer<Float>
    let stateCount: Int
    let z: UnsafeMutablePointer<Float>
    let zDim: Int
    /// The decoder state, timbre, end frame, peak and vibrato phase from before frame n+2 was decoded, so that a
    /// release arriving after that early decode can have the frame decoded again (see `undoAhead`).
    private let stateBeforeAhead: UnsafeMutablePointer<Float>
    private let zBeforeAhead: UnsafeMutablePointer<Float>
    private var endsAtFrameBeforeAhead = Int.max
    private var peakLoudnessDBBeforeAhead: Double = -120
    let oscillators: HarmonicOscillatorBank
    let noise: NoiseVoice
    /// The note's attack transient: its band amplitudes [T, B] (docs/model-format.md,
    /// "Transients"), the loudness controller's gain included; all zero when the model has none.
    /// Played from the note's first synthesised sample (`ageSamples`).
    let transientAmplitudes: UnsafeMutablePointer<Float>
    let transientCount: Int
    /// The partial motion's gains (nil when the model has no motion table).
    let motion: PartialMotion?

    init(harmonicCount: Int, noiseBandCount: Int, stateCount: Int, zDim: Int, oscillators: HarmonicOscillatorBank,
         noise: NoiseVoice, transientCount: Int = 0, hasMotion: Bool = false) {
        self.harmonicCount = harmonicCount
        self.noiseBandCount = noiseBandCount
        self.stateCount = stateCount
        self.zDim = zDim
        controls = .allocate(capacity: 3 * (harmonicCount + noiseBandCount))
        controls.initialize(repeating: 0, count: 3 * (harmonicCount + noiseBandCount))
        previousControls = .allocate(capacity: harmonicCount + noiseBandCount)
        previousControls.initialize(repeating: 0, count: harmonicCount + noiseBandCount)
        smoothed = .allocate(capacity: 2 * harmonicCount + noiseBandCount)
        smoothed.initialize(repeating: 0, count: 2 * harmonicCount + noiseBandCount)
        gruState = .allocate(capacity: stateCount)
        gruState.initialize(repeating: 0, count: stateCount)
        z = .allocate(capacity: zDim)
        z.initialize(repeating: 0, count: zDim)
        stateBeforeAhead = .allocate(capacity: stateCount)
        stateBeforeAhead.initialize(repeating: 0, count: stateCount)
        zBeforeAhead = .allocate(capacity: zDim)
        zBeforeAhead.initialize(repeating: 0, count: zDim)
        self.oscillators = oscillators
        self.noise = noise
        self.transientCount = transientCount
        transientAmplitudes = .allocate(capacity: max(1, transientCount))
        transientAmplitudes.initialize(repeating: 0, count: max(1, transientCount))
        motion = hasMotion ? PartialMotion(harmonicCount: harmonicCount) : nil
    }

    deinit {
        controls.deallocate()
        previousControls.deallocate()
        smoothed.deallocate()
        gruState.deallocate()
        z.deallocate()
        stateBeforeAhead.deallocate()
        zBeforeAhead.deallocate()
        transientAmplitudes.deallocate()
    }

    /// Harmonic amplitudes of a control slot. Real-time safe.
    @inline(__always)
    func harmonics(_ slot: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: controls + slot * (harmonicCount + noiseBandCount), count: harmonicCount)
    }

    /// Noise band magnitudes of a control slot. Real-time safe.
    @inline(__always)
    func noiseBands(_ slot: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: controls + slot * (harmonicCount + noiseBandCount) + harmonicCount,
                                   count: noiseBandCount)
    }

    /// The harmonic amplitudes the oscillators ramp between over frame n: frames n and n+1 as
    /// decoded, or, from frame `fromFrame` on, each the mean of its frame and the one before (the
    /// decoder's frame-to-frame zigzag, a limit cycle of its recurrence, averaged away; nil: none).
    /// A voice's last frame still ramps to its silent end frame, so it stops at zero. Real-time safe.
    @inline(__always)
    func smoothedHarmonics(fromFrame: Int?) -> (current: UnsafeBufferPointer<Float>, next: UnsafeBufferPointer<Float>) {
        let cur = harmonics(slots.current), nxt = harmonics(slots.next)
        guard let from = fromFrame else { return (UnsafeBufferPointer(cur), UnsafeBufferPointer(nxt)) }
        var current = UnsafeBufferPointer(cur), next = UnsafeBufferPointer(nxt)
        if frameIndex >= from {
            Self.mean(previousControls, cur.baseAddress!, into: smoothed, count: harmonicCount)
            current = UnsafeBufferPointer(start: smoothed, count: harmonicCount)
        }
        if frameIndex + 1 >= from && frameIndex + 1 < endsAtFrame {
            Self.mean(cur.baseAddress!, nxt.baseAddress!, into: smoothed + harmonicCount, count: harmonicCount)
            next = UnsafeBufferPointer(start: smoothed + harmonicCount, count: harmonicCount)
        }
        return (current, next)
    }

    /// The noise band magnitudes of frame n: as decoded, or from frame `fromFrame` on the mean of
    /// frames n−1 and n (nil: none). Real-time safe.
    @inline(__always)
    func smoothedNoiseBands(fromFrame: Int?) -> UnsafeBufferPointer<Float> {
        let cur = noiseBands(slots.current)
        guard let from = fromFrame, frameIndex >= from else { return UnsafeBufferPointer(cur) }
        let out = smoothed + 2 * harmonicCount
        Self.mean(previousControls + harmonicCount, cur.baseAddress!, into: out, count: noiseBandCount)
        return UnsafeBufferPointer(start: out, count: noiseBandCount)
    }

    @inline(__always)
    private static func mean(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                             count: Int) {
        for i in 0..<count { out[i] = 0.5 * (a[i] + b[i]) }
    }

    @inline(__always)
    func setF0(_ slot: Int, _ hz: Double) {
        switch slot {
        case 0: f0Hz.0 = hz
        case 1: f0Hz.1 = hz
        default: f0Hz.2 = hz
        }
    }

    @inline(__always)
    func setNoiseHighPassRatio(frame: Int, _ ratio: Double) { noiseHighPassRatios[frame] = ratio }

    @inline(__always)
    func setVibratoSine(frame: Int, _ sine: Double) { vibratoSines[frame] = sine }

    @inline(__always)
    func vibratoSine(frame: Int) -> Double { vibratoSines[frame] }

    @inline(__always)
    func noiseHighPassRatio(frame: Int) -> Double { noiseHighPassRatios[frame] }

    @inline(__always)
    func f0(_ slot: Int) -> Double {
        switch slot {
        case 0: return f0Hz.0
        case 1: return f0Hz.1
        default: return f0Hz.2
        }
    }

    @inline(__always)
    func setInharmonicity(_ slot: Int, _ b: Double) {
        switch slot {
        case 0: inharmonicities.0 = b
        case 1: inharmonicities.1 = b
        default: inharmonicities.2 = b
        }
    }

    @inline(__always)
    func inharmonicity(_ slot: Int) -> Double {
        switch slot {
        case 0: return inharmonicities.0
        case 1: return inharmonicities.1
        default: return inharmonicities.2
        }
    }

    /// The inharmonicity B of a frame of this voice whose fundamental is `f0Hz`: the model's table
    /// at the voice's timbre point (on the morph knob's `line`) and the pitch of `f0Hz`
    /// (docs/model-format.md, "Inharmonicity");
    /// 0 without a table. Real-time safe: `scratch` holds the table's instrument count of doubles.
    @inline(__always)
    func inharmonicity(table: InharmonicityTable?, f0Hz: Double, line: MorphLine,
                       scratch: UnsafeMutablePointer<Double>) -> Double {
        guard let table, f0Hz > 0 else { return 0 }
        let pitch = 69 + 12 * log2(f0Hz / 440)
        return table.coefficient(z: z, pitch: pitch, line: line, scratch: scratch)
    }

    /// ``inharmonicity(table:f0Hz:line:scratch:)`` from the voice point's blend `weights` already
    /// computed for the table. Real-time safe.
    @inline(__always)
    func inharmonicity(table: InharmonicityTable?, f0Hz: Double, weights: UnsafePointer<Double>) -> Double {
        guard let table, f0Hz > 0 else { return 0 }
        return table.coefficient(pitch: 69 + 12 * log2(f0Hz / 440), weights: weights)
    }

    /// The glide's distance from `note`, in semitones, `seconds` after note-on. Real-time safe.
    @inline(__always)
    func glideOffsetSemitones(atSeconds seconds: Double) -> Double {
        guard glideFromSemitones != 0 else { return 0 }
        guard glideSeconds > 0 else { return seconds < glideStartSeconds ? glideFromSemitones : 0 }
        let left = 1 - (seconds - glideStartSeconds) / glideSeconds
        return glideFromSemitones * min(max(left, 0), 1)
    }

    /// Starts a glide to `note` from `fromSemitones` away, over `seconds`, at `atSeconds` after
    /// note-on (portamento, or a legato note of a mono channel). Real-time safe.
    func glide(to note: UInt8, fromSemitones: Double, seconds: Double, atSeconds: Double) {
        self.note = note
        glideFromSemitones = fromSemitones
        glideStartSeconds = atSeconds
        glideSeconds = seconds
    }

    /// Clears the voice for a new note. Real-time safe.
    func start(note: UInt8, channel: UInt8, velocity: UInt8, z target: UnsafePointer<Float>) {
        isActive = true
        self.note = note
        tunedKey = Double(note)
        pressureDB = 0
        pressure = 0
        releaseVelocityScale = 1
        self.channel = channel
        self.velocity = Float(velocity)
        isReleased = false
        heldBySustain = false
        heldBySostenuto = false
        sostenutoLatched = false
        ageSamples = 0
        releaseSeconds = nil
        fadeGain = 1
        fadeStep = 0
        isEnding = false
        endsAtFrame = .max
        peakLoudnessDB = -120
        frameIndex = 0
        positionInFrame = 0
        hasAhead = false
        isPendingStart = false
        glideFromSemitones = 0
        glideStartSeconds = 0
        glideSeconds = 0
        slots = (0, 1, 2)
        inharmonicities = (0, 0, 0)
        noiseHighPassRatios = FrameRing()
        vibratoCycles = 0
        vibratoSines = FrameRing()
        gruState.update(repeating: 0, count: stateCount)
        z.update(from: target, count: zDim)
        transientAmplitudes.update(repeating: 0, count: max(1, transientCount))
        oscillators.reset()
        noise.reset()
    }

    /// Frees the slot. Real-time safe.
    func stop() {
        isActive = false
        isPendingStart = false
        fadeStep = 0
        fadeGain = 1
    }

    /// Keeps what decoding frame n+2 is about to change (call just before it). Real-time safe.
    @inline(__always)
    func keepStateBeforeAhead() {
        stateBeforeAhead.update(from: gruState, count: stateCount)
        zBeforeAhead.update(from: z, count: zDim)
        endsAtFrameBeforeAhead = endsAtFrame
        peakLoudnessDBBeforeAhead = peakLoudnessDB
        vibratoCyclesBeforeAhead = vibratoCycles
    }

    /// Forgets a decoded frame n+2, returning the decoder state, timbre and end frame to what they
    /// were before it, so it is decoded again with what has changed since (a release). Real-time safe.
    func undoAhead() {
        guard hasAhead else { return }
        gruState.update(from: stateBeforeAhead, count: stateCount)
        z.update(from: zBeforeAhead, count: zDim)
        endsAtFrame = endsAtFrameBeforeAhead
        peakLoudnessDB = peakLoudnessDBBeforeAhead
        vibratoCycles = vibratoCyclesBeforeAhead
        hasAhead = false
    }

    /// Moves to the next frame: next becomes current, ahead becomes next (the current frame's
    /// controls are kept as the previous frame's). Real-time safe.
    @inline(__always)
    func advanceFrame() {
        previousControls.update(from: controls + slots.current * (harmonicCount + noiseBandCount),
                                count: harmonicCount + noiseBandCount)
        slots = (slots.next, slots.ahead, slots.current)
        hasAhead = false
        frameIndex += 1
        positionInFrame = 0
    }

    /// Seconds since note-on of frame `index`.
    @inline(__always)
    func frameSeconds(_ index: Int, frameRate: Double) -> Double { Double(index) / frameRate }

    var summary: VoiceSummary {
        // a voice waiting to start counts as loud and new: it is the last one to steal
        VoiceSummary(isActive: isActive, isReleased: isReleased, isHeldByPedal: heldBySustain || heldBySostenuto,
                     ageSamples: ageSamples, loudnessDB: isPendingStart ? 0 : lastLoudnessDB)
    }
}

/// One value for each of four consecutive frames, at `frame % 4` (a voice's frames n … n+2 are
/// gathered ahead of playing): set where a frame's inputs are gathered, read when it starts.
/// Inline storage, nothing to allocate; real-time safe.
struct FrameRing {
    private var values = SIMD4<Double>()

    @inline(__always)
    subscript(frame: Int) -> Double {
        get { values[frame & 3] }
        set { values[frame & 3] = newValue }
    }
}
