/// A dense layer `y = W x + b` packed for batched SIMD evaluation.
///
/// The weights are stored as panels of 16 outputs: panel `p` holds, for every input `i`, the 16
/// weights `W[16p ..< 16p+16, i]` as one `SIMD16<Float>` (outputs past `outputCount` are 0). A
/// panel is streamed once per block of four voices and every weight load feeds four fused
/// multiply-adds, so a batch of voices costs little more memory traffic than one voice.
///
/// The packed memory is owned by the layer and never changes after `init`, so a layer may be
/// shared between threads; `forward` writes only to the caller's output.
public final class DenseLayer: @unchecked Sendable {
    /// Input width.
    public let inputCount: Int
    /// Output width.
    public let outputCount: Int
    /// Number of 16-wide output panels.
    let panelCount: Int
    /// `panelCount * inputCount` vectors, 64-byte aligned.
    let panels: UnsafeMutablePointer<SIMD16<Float>>
    /// `panelCount` bias vectors (zero-padded).
    let bias: UnsafeMutablePointer<SIMD16<Float>>

    /// Packs `weights` (allocates; call off the real-time thread).
    public init(_ weights: DenseWeights) {
        let n = weights.inputCount, m = weights.outputCount
        inputCount = n
        outputCount = m
        panelCount = (m + 15) / 16
        panels = allocateVectors(panelCount * n)
        bias = allocateVectors(panelCount)
        for p in 0..<panelCount {
            var b = SIMD16<Float>(repeating: 0)
            for lane in 0..<16 where 16 * p + lane < m { b[lane] = weights.bias[16 * p + lane] }
            bias[p] = b
            for i in 0..<n {
                var v = SIMD16<Float>(repeating: 0)
                for lane in 0..<16 where 16 * p + lane < m { v[lane] = weights.weight[(16 * p + lane) * n + i] }
                panels[p * n + i] = v
            }
        }
    }

    deinit {
        panels.deinitialize(count: panelCount * inputCount)
        panels.deallocate()
        bias.deinitialize(count: panelCount)
        bias.deallocate()
    }

    /// Computes `Y[b, :] = W X[b, :] + bias` for `batch` rows. Real-time safe: no allocation.
    ///
    /// - Parameters:
    ///   - batch: number of rows (voices), ≥ 0.
    ///   - input: row `b` starts at `input + b * inputStride` and holds `inputCount` floats.
    ///   - inputStride: floats between consecutive input rows (≥ `inputCount`).
    ///   - output: row `b` starts at `output + b * outputStride`; `outputCount` floats are written.
    ///   - outputStride: floats between consecutive output rows (≥ `outputCount`).
    ///
    /// Input and output must not overlap.
    public func forward(batch: Int, input: UnsafePointer<Float>, inputStride: Int,
                        output: UnsafeMutablePointer<Float>, outputStride: Int) {
        var row = 0
        while batch - row >= 3 {
            let r1 = row + 1, r2 = row + 2, r3 = batch - row >= 4 ? row + 3 : row + 2
            kernel4(input + row * inputStride, input + r1 * inputStride, input + r2 * inputStride,
                    input + r3 * inputStride,
                    output + row * outputStride, output + r1 * outputStride, output + r2 * outputStride,
                    batch - row >= 4 ? output + r3 * outputStride : nil)
            row += 4
        }
        if batch - row == 2 {
            kernel2(input + row * inputStride, input + (row + 1) * inputStride,
                    output + row * outputStride, output + (row + 1) * outputStride)
        } else if batch - row == 1 {
            kernel1(input + row * inputStride, output + row * outputStride)
        }
    }

    /// Writes the first `outputCount - 16p` lanes (at most 16) of panel `p`'s result.
    @inline(__always)
    private func store(_ v: SIMD16<Float>, panel p: Int, to y: UnsafeMutablePointer<Float>) {
        let base = 16 * p
        if base + 16 <= outputCount {
            UnsafeMutableRawPointer(y + base).storeBytes(of: v, as: SIMD16<Float>.self)
        } else {
            for lane in 0..<(outputCount - base) { y[base + lane] = v[lane] }
        }
    }

    /// Four rows at once (the fourth output may be nil: three rows, the fourth input repeated).
    @inline(__always)
    private func kernel4(_ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>, _ x2: UnsafePointer<Float>,
                         _ x3: UnsafePointer<Float>,
                         _ y0: UnsafeMutablePointer<Float>, _ y1: UnsafeMutablePointer<Float>,
                         _ y2: UnsafeMutablePointer<Float>, _ y3: UnsafeMutablePointer<Float>?) {
        let n = inputCount
        for p in 0..<panelCount {
            let w = UnsafePointer(panels + p * n)
            var a0 = bias[p], a1 = a0, a2 = a0, a3 = a0
            for i in 0..<n {
                let wi = w[i]
                a0 = a0.addingProduct(SIMD16(repeating: x0[i]), wi)
                a1 = a1.addingProduct(SIMD16(repeating: x1[i]), wi)
                a2 = a2.addingProduct(SIMD16(repeating: x2[i]), wi)
                a3 = a3.addingProduct(SIMD16(repeating: x3[i]), wi)
            }
            store(a0, panel: p, to: y0)
            store(a1, panel: p, to: y1)
            store(a2, panel: p, to: y2)
            if let y3 { store(a3, panel: p, to: y3) }
        }
    }

    /// Two rows, inputs unrolled by two (four independent accumulator chains).
    @inline(__always)
    private func kernel2(_ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>,
                         _ y0: UnsafeMutablePointer<Float>, _ y1: UnsafeMutablePointer<Float>) {
        let n = inputCount
        for p in 0..<panelCount {
            let w = UnsafePointer(panels + p * n)
            var a0 = bias[p], a1 = a0
            var b0 = SIMD16<Float>(repeating: 0), b1 = b0
            var i = 0
            while i + 2 <= n {
                let w0 = w[i], w1 = w[i + 1]
                a0 = a0.addingProduct(SIMD16(repeating: x0[i]), w0)
                a1 = a1.addingProduct(SIMD16(repeating: x1[i]), w0)
                b0 = b0.addingProduct(SIMD16(repeating: x0[i + 1]), w1)
                b1 = b1.addingProduct(SIMD16(repeating: x1[i + 1]), w1)
                i += 2
            }
            if i < n {
                a0 = a0.addingProduct(SIMD16(repeating: x0[i]), w[i])
                a1 = a1.addingProduct(SIMD16(repeating: x1[i]), w[i])
            }
            store(a0 + b0, panel: p, to: y0)
            store(a1 + b1, panel: p, to: y1)
        }
    }

    /// One row, inputs unrolled by four (four independent accumulator chains).
    @inline(__always)
    private func kernel1(_ x0: UnsafePointer<Float>, _ y0: UnsafeMutablePointer<Float>) {
        let n = inputCount
        for p in 0..<panelCount {
            let w = UnsafePointer(panels + p * n)
            var a = bias[p]
            var b = SIMD16<Float>(repeating: 0), c = b, d = b
            var i = 0
            while i + 4 <= n {
                a = a.addingProduct(SIMD16(repeating: x0[i]), w[i])
                b = b.addingProduct(SIMD16(repeating: x0[i + 1]), w[i + 1])
                c = c.addingProduct(SIMD16(repeating: x0[i + 2]), w[i + 2])
                d = d.addingProduct(SIMD16(repeating: x0[i + 3]), w[i + 3])
                i += 4
            }
            while i < n {
                a = a.addingProduct(SIMD16(repeating: x0[i]), w[i])
                i += 1
            }
            store((a + b) + (c + d), panel: p, to: y0)
        }
    }
}

/// Allocates `count` zeroed, 64-byte aligned SIMD16 vectors.
func allocateVectors(_ count: Int) -> UnsafeMutablePointer<SIMD16<Float>> {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<SIMD16<Float>>.stride,
                                               alignment: 64)
    let p = raw.bindMemory(to: SIMD16<Float>.self, capacity: max(1, count))
    p.initialize(repeating: SIMD16(repeating: 0), count: max(1, count))
    return p
}
