/// One GRU cell (PyTorch layout, gates r, z, n) evaluated over a batch of rows.
///
/// ```
/// r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
/// u  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
/// n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
/// h' = (1 - u) * n + u * h
/// ```
/// Immutable after init; gate pre-activations live in caller-provided scratch.
public final class GRULayer: @unchecked Sendable {
    /// Input width.
    public let inputCount: Int
    /// State size G.
    public let units: Int
    let inputToHidden: DenseLayer
    let hiddenToHidden: DenseLayer

    /// Packs `weights` (allocates; not real-time).
    public init(_ weights: GRUWeights) {
        inputCount = weights.inputCount
        units = weights.units
        inputToHidden = DenseLayer(weights.inputToHidden)
        hiddenToHidden = DenseLayer(weights.hiddenToHidden)
        VectorActivation8.warmUp()
    }

    /// Scratch floats `step` needs for `batch` rows.
    public func scratchCount(batch: Int) -> Int { 6 * batch * units }

    /// Advances the state of `batch` rows by one step. Real-time safe: no allocation.
    ///
    /// - Parameters:
    ///   - input: row `b` at `input + b * inputStride`, `inputCount` floats.
    ///   - state: row `b` at `state + b * stateStride`, `units` floats: h in, h' out.
    ///   - copy: if not nil, h' is also written to row `b` at `copy + b * copyStride`.
    ///   - scratch: at least `scratchCount(batch:)` floats, overwritten.
    public func step(batch: Int, input: UnsafePointer<Float>, inputStride: Int,
                     state: UnsafeMutablePointer<Float>, stateStride: Int,
                     copy: UnsafeMutablePointer<Float>?, copyStride: Int,
                     scratch: UnsafeMutablePointer<Float>) {
        let g = units, g3 = 3 * units
        let gx = scratch, gh = scratch + batch * g3
        inputToHidden.forward(batch: batch, input: input, inputStride: inputStride, output: gx, outputStride: g3)
        hiddenToHidden.forward(batch: batch, input: state, inputStride: stateStride, output: gh, outputStride: g3)
        for b in 0..<batch {
            let xr = gx + b * g3, hr = gh + b * g3, h = state + b * stateStride
            // sixteen units at a time in two independent halves (more work in flight: the
            // activations are long dependency chains), then eight, then the scalar loop below;
            // every path bit-identical to the scalar one
            var j = 0
            while j + 16 <= g {
                let k = j + 8
                let r0 = VectorActivation8.sigmoid(load8(xr + j) + load8(hr + j))
                let r1 = VectorActivation8.sigmoid(load8(xr + k) + load8(hr + k))
                let u0 = VectorActivation8.sigmoid(load8(xr + g + j) + load8(hr + g + j))
                let u1 = VectorActivation8.sigmoid(load8(xr + g + k) + load8(hr + g + k))
                let n0 = VectorActivation8.tanh(load8(xr + 2 * g + j) + r0 * load8(hr + 2 * g + j))
                let n1 = VectorActivation8.tanh(load8(xr + 2 * g + k) + r1 * load8(hr + 2 * g + k))
                let h0 = n0 + u0 * (load8(h + j) - n0)
                let h1 = n1 + u1 * (load8(h + k) - n1)
                UnsafeMutableRawPointer(h + j).storeBytes(of: h0, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(h + k).storeBytes(of: h1, as: SIMD8<Float>.self)
                if let copy {
                    UnsafeMutableRawPointer(copy + b * copyStride + j).storeBytes(of: h0, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(copy + b * copyStride + k).storeBytes(of: h1, as: SIMD8<Float>.self)
                }
                j += 16
            }
            while j + 8 <= g {
                let r = VectorActivation8.sigmoid(load8(xr + j) + load8(hr + j))
                let u = VectorActivation8.sigmoid(load8(xr + g + j) + load8(hr + g + j))
                let n = VectorActivation8.tanh(load8(xr + 2 * g + j) + r * load8(hr + 2 * g + j))
                let hj = load8(h + j)
                let hNew = n + u * (hj - n)
                UnsafeMutableRawPointer(h + j).storeBytes(of: hNew, as: SIMD8<Float>.self)
                if let copy { UnsafeMutableRawPointer(copy + b * copyStride + j).storeBytes(of: hNew, as: SIMD8<Float>.self) }
                j += 8
            }
            while j < g {
                let r = VectorActivation.sigmoid(xr[j] + hr[j])
                let u = VectorActivation.sigmoid(xr[g + j] + hr[g + j])
                let n = VectorActivation.tanh(xr[2 * g + j] + r * hr[2 * g + j])
                h[j] = n + u * (h[j] - n)
                copy?[b * copyStride + j] = h[j]
                j += 1
            }
        }
    }
}

/// Eight floats from `p` (any alignment). Real-time safe.
@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}
