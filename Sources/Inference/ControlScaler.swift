import DSP

/// Turns a frame of raw decoder outputs into synthesiser controls (docs/model-format.md, "Controls").
///
/// ```
/// amplitude    = exp_sigmoid(raw[0])
/// distribution = exp_sigmoid(raw[1 ..< 1+K])
/// noise        = exp_sigmoid(raw[1+K ..< 1+K+B] + noise_bias)
/// mask_k       = 1 if r_k · f0_hz < limit_hz else 0      (k = 1..K; r_k = k · sqrt(1 + B k²), k when B = 0)
/// A_k          = amplitude · distribution_k · mask_k / (Σ_j distribution_j · mask_j + 1e-7)
/// ```
public struct ControlScaler: Sendable, Equatable {
    /// K, harmonics of the oscillator bank.
    public let harmonicCount: Int
    /// B, noise filter bands.
    public let noiseBandCount: Int
    /// Added to the noise logits before `exp_sigmoid`.
    public let noiseBias: Float
    /// The model's band limit (its sample rate / 2), Hz.
    public let bandLimitHz: Float

    /// Raw outputs per frame, 1 + K + B.
    public var rawCount: Int { 1 + harmonicCount + noiseBandCount }

    /// A scaler for a model with K harmonics and B noise bands.
    public init(harmonicCount: Int, noiseBandCount: Int, noiseBias: Float, bandLimitHz: Float) {
        self.harmonicCount = harmonicCount
        self.noiseBandCount = noiseBandCount
        self.noiseBias = noiseBias
        self.bandLimitHz = bandLimitHz
    }

    /// The harmonic limit for an engine running at `outputSampleRateHz`: `min(R / 2, bandLimitHz)`.
    /// Real-time safe.
    public func limitHz(outputSampleRateHz: Float) -> Float {
        min(outputSampleRateHz / 2, bandLimitHz)
    }

    /// Scales one frame. Real-time safe: no allocation.
    ///
    /// - Parameters:
    ///   - raw: `rawCount` raw outputs of one voice.
    ///   - f0Hz: the frame's fundamental (Hz), for the harmonic mask.
    ///   - limitHz: harmonics at or above this frequency are muted (see `limitHz(outputSampleRateHz:)`).
    ///   - harmonics: receives K amplitudes `A_k` (masked and normalised).
    ///   - noise: receives B noise band magnitudes.
    ///   - distribution: if not nil, receives the K unmasked distribution values.
    ///   - inharmonicity: the frame's B (docs/model-format.md, "Inharmonicity"): partial k sits at
    ///     `k sqrt(1 + B k²) f0` for the mask (compared in double precision); 0 = harmonic.
    /// - Returns: the overall amplitude.
    @discardableResult
    public func scale(raw: UnsafePointer<Float>, f0Hz: Float, limitHz: Float,
                      harmonics: UnsafeMutablePointer<Float>, noise: UnsafeMutablePointer<Float>,
                      distribution: UnsafeMutablePointer<Float>? = nil, inharmonicity: Double = 0) -> Float {
        let k = harmonicCount
        let amplitude = Activation.expSigmoid(raw[0])
        // branch-free exp_sigmoid in loops of their own (no sum in them), which the compiler runs
        // eight values at a time (AVX2 / NEON); the mask and the sum follow in a scalar loop, in
        // order, so the result is the same as one loop doing both
        for j in 0..<k { harmonics[j] = VectorActivation.expSigmoid(raw[1 + j]) }
        if let distribution {
            for j in 0..<k { distribution[j] = harmonics[j] }
        }
        var sum: Float = 0
        if inharmonicity == 0 {
            for j in 0..<k {
                let masked: Float = Float(j + 1) * f0Hz < limitHz ? harmonics[j] : 0
                harmonics[j] = masked
                sum += masked
            }
        } else {
            for j in 0..<k {
                let below = Double(f0Hz) * HarmonicControls.stretchRatio(partial: j + 1, inharmonicity: inharmonicity)
                    < Double(limitHz)
                let masked: Float = below ? harmonics[j] : 0
                harmonics[j] = masked
                sum += masked
            }
        }
        let scale = amplitude / (sum + 1e-7)
        for j in 0..<k { harmonics[j] = harmonics[j] * scale }
        for b in 0..<noiseBandCount { noise[b] = VectorActivation.expSigmoid(raw[1 + k + b] + noiseBias) }
        return amplitude
    }
}
