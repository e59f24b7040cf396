/// What the allocator needs to know about a voice slot.
public struct VoiceSummary: Equatable, Sendable {
    /// The slot is playing (or fading out) a note.
    public var isActive: Bool
    /// The key was released (the note is in its release phase).
    public var isReleased: Bool
    /// The key was released but a sustain or sostenuto pedal holds the note.
    public var isHeldByPedal: Bool
    /// Samples since note-on.
    public var ageSamples: Int
    /// Current loudness input of the voice in dB.
    public var loudnessDB: Float

    public init(isActive: Bool, isReleased: Bool = false, isHeldByPedal: Bool = false, ageSamples: Int = 0,
                loudnessDB: Float = -120) {
        self.isActive = isActive
        self.isReleased = isReleased
        self.isHeldByPedal = isHeldByPedal
        self.ageSamples = ageSamples
        self.loudnessDB = loudnessDB
    }
}

/// Voice allocation and stealing as a pure function (FluidSynth-style scoring).
public enum VoiceAllocation {
    /// Score of a voice as a candidate to be stolen; the highest score is stolen first.
    ///
    /// Released voices come first (they are fading anyway), then voices held only by a pedal,
    /// then held notes. Within a class, quieter and older voices go first: every 6 dB quieter
    /// counts as much as one second older.
    @inline(__always)
    public static func stealScore(_ v: VoiceSummary, sampleRate: Double) -> Double {
        let classScore: Double = v.isReleased && !v.isHeldByPedal ? 2_000 : (v.isHeldByPedal ? 1_000 : 0)
        let ageSeconds = Double(v.ageSamples) / sampleRate
        let quietness = Double(-v.loudnessDB) / 6.0
        return classScore + min(ageSeconds, 500) + min(max(quietness, 0), 400)
    }

    /// Picks the slot for a new note: a free slot if any (the lowest index), else the voice with
    /// the highest steal score. Real-time safe (no allocation).
    /// - Returns: the slot index and whether an active voice has to be stolen.
    @inline(__always)
    public static func choose(_ voices: UnsafeBufferPointer<VoiceSummary>, sampleRate: Double) -> (index: Int, steals: Bool) {
        var best = -1
        var bestScore = -Double.infinity
        for i in 0..<voices.count {
            let v = voices[i]
            if !v.isActive { return (i, false) }
            let s = stealScore(v, sampleRate: sampleRate)
            if s > bestScore {
                bestScore = s
                best = i
            }
        }
        return (max(best, 0), true)
    }

    /// Convenience over an array (tests and control-side code).
    public static func choose(_ voices: [VoiceSummary], sampleRate: Double) -> (index: Int, steals: Bool) {
        voices.withUnsafeBufferPointer { choose($0, sampleRate: sampleRate) }
    }
}
