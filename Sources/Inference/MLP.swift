/// A stack of `LeakyReLU(LayerNorm(Dense(x)))` layers evaluated over a batch of rows.
///
/// Immutable after init; intermediate activations live in scratch memory the caller passes in
/// (a `Decoder` or `Encoder` workspace), so one MLP may serve several workspaces.
public final class MLP: @unchecked Sendable {
    /// Input width of the first layer.
    public let inputCount: Int
    /// Output width of the last layer.
    public let outputCount: Int
    /// Widest hidden (non-final) layer output: scratch needs `2 * batch * hiddenWidth` floats.
    public let hiddenWidth: Int
    let layers: [DenseLayer]
    let gammas: [FloatBuffer]
    let betas: [FloatBuffer]
    let slope: Float
    let epsilon: Float

    /// Packs `weights` (allocates; not real-time).
    public init(_ weights: MLPWeights) {
        inputCount = weights.inputCount
        outputCount = weights.outputCount
        layers = weights.layers.map { DenseLayer($0.dense) }
        gammas = weights.layers.map { FloatBuffer($0.norm.gamma) }
        betas = weights.layers.map { FloatBuffer($0.norm.beta) }
        hiddenWidth = weights.layers.dropLast().map(\.dense.outputCount).max() ?? 0
        slope = weights.leakyReLUSlope
        epsilon = weights.layerNormEpsilon
    }

    /// Scratch floats `forward` needs for `batch` rows.
    public func scratchCount(batch: Int) -> Int { 2 * batch * hiddenWidth }

    /// Runs the stack on `batch` rows. Real-time safe: no allocation.
    ///
    /// - Parameters:
    ///   - input: row `b` at `input + b * inputStride`, `inputCount` floats.
    ///   - output: row `b` at `output + b * outputStride`, `outputCount` floats written.
    ///   - scratch: at least `scratchCount(batch:)` floats, overwritten.
    public func forward(batch: Int, input: UnsafePointer<Float>, inputStride: Int,
                        output: UnsafeMutablePointer<Float>, outputStride: Int,
                        scratch: UnsafeMutablePointer<Float>) {
        var x = input, xStride = inputStride
        let half = batch * hiddenWidth
        for l in 0..<layers.count {
            let layer = layers[l]
            let last = l == layers.count - 1
            let y = last ? output : scratch + (l % 2) * half
            let yStride = last ? outputStride : layer.outputCount
            layer.forward(batch: batch, input: x, inputStride: xStride, output: y, outputStride: yStride)
            Kernels.layerNormLeakyReLU(batch: batch, rows: y, stride: yStride, count: layer.outputCount,
                                       gamma: gammas[l].pointer, beta: betas[l].pointer,
                                       epsilon: epsilon, slope: slope)
            x = UnsafePointer(y)
            xStride = yStride
        }
    }
}

/// Element-wise kernels over rows of preallocated memory.
public enum Kernels {
    /// In place on each of `batch` rows (row `b` at `rows + b * stride`, `count` floats):
    /// `x = LeakyReLU((x - mean) / sqrt(var + epsilon) * gamma + beta)`, biased variance.
    /// Real-time safe.
    ///
    /// The mean and the variance are each summed in eight interleaved partial sums, one SIMD8
    /// register (element `i` into lane `i mod 8`, the lanes combined pairwise at the end, then
    /// the last `count mod 8` elements in order); the order depends only on `count`, so a row's
    /// result does not depend on `batch` or on the other rows.
    public static func layerNormLeakyReLU(batch: Int, rows: UnsafeMutablePointer<Float>, stride: Int, count: Int,
                                          gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                          epsilon: Float, slope: Float) {
        let invCount = 1 / Float(count)
        for b in 0..<batch {
            let x = rows + b * stride
            var s = SIMD8<Float>(repeating: 0)
            var i = 0
            while i + 8 <= count {
                s += load8(x + i)
                i += 8
            }
            var sum = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
            while i < count {
                sum += x[i]
                i += 1
            }
            let mean = sum * invCount
            s = SIMD8<Float>(repeating: 0)
            i = 0
            while i + 8 <= count {
                let d = load8(x + i) - mean
                s += d * d
                i += 8
            }
            sum = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
            while i < count {
                let d = x[i] - mean
                sum += d * d
                i += 1
            }
            let variance = sum * invCount
            let inv = 1 / (variance + epsilon).squareRoot()
            for i in 0..<count {
                let v = (x[i] - mean) * inv * gamma[i] + beta[i]
                x[i] = Activation.leakyReLU(v, slope: slope)
            }
        }
    }
}
