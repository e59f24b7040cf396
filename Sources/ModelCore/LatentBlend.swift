#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a latent point weighs the instruments of a model: the one rule behind every
/// per-instrument table the engine blends (the loudness envelopes, the inharmonicity), named by
/// the model file's metadata `envelope_blend` (docs/model-format.md, "Blend weights").
public enum LatentBlendRule: String, Sendable, Equatable {
    /// `w_i = softmax_i(-0.5 · |z - mean_i|² / s²)` (files without `envelope_blend`). A preset at
    /// an instrument's mean gets only 50-85 % of that instrument; the rest comes from its
    /// neighbours.
    case gaussian
    /// `w_i ∝ (|z - mean_i|² / s² + 1e-6)^-2`: exactly the instrument at its mean (what the
    /// decoder was trained with), a smooth mixture between means, and the nearest means dominate
    /// far from all of them.
    case inverseDistance = "inverse_distance"

    /// Writes the normalised weights of latent point `z` (Z floats) over the I instruments whose
    /// means are `means` ([I, Z] row-major) into `weights` (I doubles). Real-time safe: no
    /// allocation (and no generics, whose first use may allocate their metadata).
    public func weights(z: UnsafePointer<Float>, means: UnsafeBufferPointer<Float>, instrumentCount: Int, zDim: Int,
                        scale: Double, line: MorphLine = .none, into weights: UnsafeMutablePointer<Double>) {
        let inverseScale2 = 1 / (scale * scale)
        var best = -Double.infinity
        for i in 0..<instrumentCount {
            weights[i] = score(squaredDistance(z, means, i, zDim), inverseScale2)
            best = max(best, weights[i])
        }
        var sum: Double = 0
        for i in 0..<instrumentCount {
            if self == .gaussian { weights[i] = exp(weights[i] - best) }
            sum += weights[i]
        }
        // NaN in z gives NaN weights; the tables' lookups map NaN to their floor
        let inverse = 1 / sum
        for i in 0..<instrumentCount { weights[i] *= inverse }
        let blend = LineBlend(rule: self, z: z, line: line, means: means, instrumentCount: instrumentCount, zDim: zDim,
                              inverseScale2: inverseScale2)
        guard blend.share > 0 else { return }
        for i in 0..<instrumentCount { weights[i] += blend.share * (blend.weight(i) - weights[i]) }
    }

    /// The same weights into I floats (each computed in double precision). Real-time safe.
    public func weights(z: UnsafePointer<Float>, means: UnsafeBufferPointer<Float>, instrumentCount: Int, zDim: Int,
                        scale: Double, line: MorphLine = .none, into weights: UnsafeMutablePointer<Float>) {
        let inverseScale2 = 1 / (scale * scale)
        var best = -Double.infinity
        for i in 0..<instrumentCount {
            let s = score(squaredDistance(z, means, i, zDim), inverseScale2)
            weights[i] = Float(s)
            best = max(best, s)
        }
        var sum: Double = 0
        for i in 0..<instrumentCount {
            if self == .gaussian { weights[i] = Float(exp(Double(weights[i]) - best)) }
            sum += Double(weights[i])
        }
        let inverse = 1 / sum
        for i in 0..<instrumentCount { weights[i] = Float(Double(weights[i]) * inverse) }
        let blend = LineBlend(rule: self, z: z, line: line, means: means, instrumentCount: instrumentCount, zDim: zDim,
                              inverseScale2: inverseScale2)
        guard blend.share > 0 else { return }
        for i in 0..<instrumentCount {
            let w = Double(weights[i])
            weights[i] = Float(w + blend.share * (blend.weight(i) - w))
        }
    }

    /// The line's weights at `z`: `(1 − s) w(A) + s w(B)`, and the share they take there (0 off the
    /// line's tube or without a line: then nothing else is computed). Real-time safe.
    private struct LineBlend {
        let share: Double
        let s: Double
        let a: PointWeights
        let b: PointWeights

        init(rule: LatentBlendRule, z: UnsafePointer<Float>, line: MorphLine, means: UnsafeBufferPointer<Float>,
             instrumentCount: Int, zDim: Int, inverseScale2: Double) {
            (s, share) = line.place(z: z, zDim: zDim)
            // the ends' weights only where they count (none read: no instrument to go over)
            let count = share > 0 ? instrumentCount : 0
            a = PointWeights(rule: rule, point: line.a, means: means, instrumentCount: count, zDim: zDim,
                             inverseScale2: inverseScale2)
            b = PointWeights(rule: rule, point: line.b, means: means, instrumentCount: count, zDim: zDim,
                             inverseScale2: inverseScale2)
        }

        @inline(__always)
        func weight(_ i: Int) -> Double { (1 - s) * a.weight(i) + s * b.weight(i) }
    }

    /// The normalised weights at one point (a line's end), computed one instrument at a time (no
    /// storage, no closure). Real-time safe.
    private struct PointWeights {
        let rule: LatentBlendRule
        let point: SIMD16<Float>
        let means: UnsafeBufferPointer<Float>
        let zDim: Int
        let inverseScale2: Double
        var best = -Double.infinity
        var sum: Double = 0

        init(rule: LatentBlendRule, point: SIMD16<Float>, means: UnsafeBufferPointer<Float>, instrumentCount: Int,
             zDim: Int, inverseScale2: Double) {
            self.rule = rule
            self.point = point
            self.means = means
            self.zDim = min(zDim, MorphLine.capacity)
            self.inverseScale2 = inverseScale2
            for i in 0..<instrumentCount { best = max(best, raw(i)) }
            for i in 0..<instrumentCount { sum += rule == .gaussian ? exp(raw(i) - best) : raw(i) }
        }

        @inline(__always)
        func raw(_ i: Int) -> Double {
            var d2: Double = 0
            for j in 0..<zDim {
                let d = Double(point[j]) - Double(means[i * zDim + j])
                d2 += d * d
            }
            return rule.score(d2, inverseScale2)
        }

        @inline(__always)
        func weight(_ i: Int) -> Double { (rule == .gaussian ? exp(raw(i) - best) : raw(i)) / sum }
    }

    /// `|z - mean_i|²` in double precision.
    @inline(__always)
    private func squaredDistance(_ z: UnsafePointer<Float>, _ means: UnsafeBufferPointer<Float>, _ i: Int,
                                 _ zDim: Int) -> Double {
        var d2: Double = 0
        for j in 0..<zDim {
            let d = Double(z[j]) - Double(means[i * zDim + j])
            d2 += d * d
        }
        return d2
    }

    /// The rule's unnormalised weight: the gaussian's logit, or `(d²/s² + 1e-6)^-2`.
    @inline(__always)
    fileprivate func score(_ d2: Double, _ inverseScale2: Double) -> Double {
        switch self {
        case .gaussian:
            return -0.5 * d2 * inverseScale2
        case .inverseDistance:
            let a = d2 * inverseScale2 + 1e-6
            return 1 / (a * a)
        }
    }
}

/// The morph knob's line from preset A to preset B, as the instrument tables see it: on the line
/// every table blends A's and B's instruments linearly along it (`(1 − s) w(A) + s w(B)`), as the
/// knob's path moves, instead of by the instruments nearest each point of it (the straight line
/// from the flute to the trumpet passes closer to the alto sax than to either, and its tables
/// took the sax's tone at the middle). Away from the line the rule's own weights take over within
/// `radius` (`share = 1 − distance / radius`), so the weights are continuous in z, and no other
/// instrument's mean lies within the radius: a preset there plays its own tables.
/// `docs/architecture.md`, "The morph knob". Fixed size; real-time safe to copy.
public struct MorphLine: Sendable, Equatable, BitwiseCopyable {
    /// Most timbre dimensions a line holds.
    public static let capacity = 16
    /// Largest radius of the tube around the line, latent units.
    public static let maximumRadius: Float = 0.5
    public var a = SIMD16<Float>()
    public var b = SIMD16<Float>()
    /// 0: no line (every table blends by the rule alone).
    public private(set) var radius: Float = 0

    /// No line.
    public static let none = MorphLine()

    private init() {}

    /// The line from `a` to `b` (Z values each) among instrument `means` ([I, Z]): see
    /// `init(from:to:zDim:means:instrumentCount:)` for SIMD16 ends. Real-time safe.
    public init(from a: UnsafePointer<Float>, to b: UnsafePointer<Float>, zDim: Int, means: UnsafeBufferPointer<Float>,
                instrumentCount: Int) {
        var pa = SIMD16<Float>(), pb = SIMD16<Float>()
        for d in 0..<min(max(zDim, 0), Self.capacity) {
            pa[d] = a[d]
            pb[d] = b[d]
        }
        self.init(from: pa, to: pb, zDim: zDim, means: means, instrumentCount: instrumentCount)
    }

    /// The line from `a` to `b` (their first Z values) among instrument `means` ([I, Z]): its
    /// radius is half the distance from the line to the nearest mean that is neither end's (at
    /// most `maximumRadius`); `.none` when the ends coincide, are not finite or Z exceeds
    /// `capacity`. Real-time safe.
    public init(from a: SIMD16<Float>, to b: SIMD16<Float>, zDim: Int, means: UnsafeBufferPointer<Float>,
                instrumentCount: Int) {
        guard zDim > 0, zDim <= Self.capacity, means.count >= instrumentCount * zDim else { return }
        var length2: Float = 0
        for d in 0..<zDim {
            guard a[d].isFinite, b[d].isFinite else { return }
            self.a[d] = a[d]
            self.b[d] = b[d]
            length2 += (b[d] - a[d]) * (b[d] - a[d])
        }
        guard length2 > 1e-6 else { return }
        var nearest = 2 * Self.maximumRadius
        for i in 0..<instrumentCount {
            let mean = means.baseAddress! + i * zDim
            var toA: Float = 0, toB: Float = 0
            for d in 0..<zDim {
                toA += (mean[d] - a[d]) * (mean[d] - a[d])
                toB += (mean[d] - b[d]) * (mean[d] - b[d])
            }
            if toA < 1e-6 || toB < 1e-6 { continue }
            nearest = min(nearest, Float(distance(mean, zDim: zDim)))
        }
        radius = nearest / 2
    }

    /// Where `z` lies: `s`, its projection on the segment (0 at A, 1 at B, clamped), and the share
    /// of the line's weights there (1 on the segment, 0 from `radius` away). Real-time safe.
    @inline(__always)
    public func place(z: UnsafePointer<Float>, zDim: Int) -> (s: Double, share: Double) {
        guard radius > 0 else { return (0, 0) }
        let s = projection(z, zDim: zDim)
        return (s, max(0, 1 - distance(z, zDim: zDim) / Double(radius)))
    }

    @inline(__always)
    private func projection(_ z: UnsafePointer<Float>, zDim: Int) -> Double {
        var along: Double = 0, length2: Double = 0
        for d in 0..<min(zDim, Self.capacity) {
            let ab = Double(b[d]) - Double(a[d])
            along += (Double(z[d]) - Double(a[d])) * ab
            length2 += ab * ab
        }
        return length2 > 0 ? min(max(along / length2, 0), 1) : 0
    }

    /// Distance from `z` to the segment. Real-time safe.
    @inline(__always)
    private func distance(_ z: UnsafePointer<Float>, zDim: Int) -> Double {
        let s = projection(z, zDim: zDim)
        var d2: Double = 0
        for d in 0..<min(zDim, Self.capacity) {
            let onLine = Double(a[d]) + s * (Double(b[d]) - Double(a[d]))
            d2 += (Double(z[d]) - onLine) * (Double(z[d]) - onLine)
        }
        return d2.squareRoot()
    }
}

/// The blend of one per-instrument table: its rule, scale and instrument means. Tables with equal
/// blends weigh a latent point the same, so the engine computes the weights once per decoded
/// frame for all of them.
public struct LatentBlend: Sendable, Equatable {
    public let rule: LatentBlendRule
    public let scale: Double
    /// [I, Z], row-major.
    public let means: [Float]
    public let instrumentCount: Int
    public let zDim: Int

    public init(rule: LatentBlendRule, scale: Double, means: [Float], instrumentCount: Int, zDim: Int) {
        self.rule = rule
        self.scale = scale
        self.means = means
        self.instrumentCount = instrumentCount
        self.zDim = zDim
    }

    /// Writes the weights of latent point `z` (on the morph knob's `line`) into `weights` (I
    /// doubles), as each table with this blend computes them. Real-time safe.
    public func weights(z: UnsafePointer<Float>, line: MorphLine, into weights: UnsafeMutablePointer<Double>) {
        means.withUnsafeBufferPointer { m in
            rule.weights(z: z, means: m, instrumentCount: instrumentCount, zDim: zDim, scale: scale, line: line,
                         into: weights)
        }
    }
}
