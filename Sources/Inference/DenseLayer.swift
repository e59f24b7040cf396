import CKernels

/// A dense layer `y = W x + b` packed for batched SIMD evaluation.
///
/// The weights are packed once, at init, into output tiles of 3 panels of 8 outputs (the last
/// one or two tiles may be narrower, see `tileWidth(at:)`): tile `t` holds, for every input `i` in order, its
/// panels' weights `W[o, i]` as consecutive `SIMD8<Float>`s, so the kernel reads each tile as
/// one stream. `forward` runs tile by tile and, inside a tile, through the batch in blocks of up
/// to `tileVoices` voices: a register block of `tileVoices × 8·tilePanels` accumulators that
/// takes one broadcast input per voice and one weight vector per panel for each input (on
/// x86-64 with AVX2: `vbroadcastss` and `vfmadd231ps` on ymm). A tile's weights are read from
/// memory once per `forward` and then served from cache to every block of voices.
///
/// **Every output is the same sum whatever the batch.** Output `o` of a voice is always
/// `bias[o]` followed by one fused multiply-add per input in input order, in one accumulator:
/// the blocks differ only in how many voices and outputs run side by side, never in the order
/// of a voice's own sum. So a voice's result is bit-identical at any batch size and at any
/// position in the batch.
///
/// **AVX-512.** Where the CPU has AVX-512F (checked at run time), the layer also packs its
/// weights in 32-output tiles for a C kernel (`timbred_dense_avx512`, target CKernels: 8 voices ×
/// 2 zmm accumulators per register block) and uses it for batches of at least
/// ``avx512MinimumBatch``. It computes the same sums in the same order (bias, then one FMA per
/// input in order), so its results are bit-identical to the AVX2 kernel's.
///
/// The packed memory is owned by the layer and never changes after `init`, so a layer may be
/// shared between threads; `forward` writes only to the caller's output.
public final class DenseLayer: @unchecked Sendable {
    /// Which kernel computes a `forward`.
    public enum Kernel: Sendable {
        /// AVX-512 where available and the batch is at least ``avx512MinimumBatch``, else AVX2.
        case automatic
        /// The Swift SIMD8 (AVX2) kernel.
        case avx2
        /// The AVX-512 C kernel (only where ``hasAVX512`` is true; otherwise AVX2).
        case avx512
    }
    /// Whether this CPU runs AVX-512F (and the layer packed its weights for it).
    public let hasAVX512: Bool
    /// Smallest batch that `.automatic` gives to the AVX-512 kernel: 8, or the environment's
    /// `TIMBRED_AVX512_MIN_BATCH` (read once, at the first layer built; 0: never), for measuring.
    public static let avx512MinimumBatch: Int = {
        let value = timbred_avx512_min_batch(8)
        return value < 0 ? Int.max : value
    }()
    /// 32-output tiles for the AVX-512 kernel (nil without AVX-512): tile t's 32 weights per input,
    /// inputs in order, 64-byte aligned; and the bias zero-padded to a whole tile.
    let packed512: UnsafeMutablePointer<Float>?
    let bias512: UnsafeMutablePointer<Float>?
    /// Input width.
    public let inputCount: Int
    /// Output width.
    public let outputCount: Int
    /// Panels of 8 outputs per tile (the last tile may hold fewer).
    static let tilePanels = 3
    /// The most voices in one register block.
    static let tileVoices = 4
    /// Inputs per chunk when several blocks of voices share a tile: 256 inputs of a 3-panel
    /// tile are 24 KB of weights, which stay in L1 (32-48 KB) while the blocks take their turns
    /// (128 and unchunked measured slower at batch 8-64).
    static let inputChunk = 256
    /// Number of 8-wide output panels, `ceil(outputCount / 8)`.
    let panelCount: Int
    /// `panelCount * inputCount` vectors, 64-byte aligned: the tile that starts at panel `p0`
    /// starts at vector `p0 * inputCount` and holds `[inputCount][tileWidth(at: p0)]`.
    let packed: UnsafeMutablePointer<SIMD8<Float>>
    /// `panelCount` bias vectors (zero-padded).
    let bias: UnsafeMutablePointer<SIMD8<Float>>

    /// Packs `weights` (allocates; call off the real-time thread).
    public init(_ weights: DenseWeights) {
        let n = weights.inputCount, m = weights.outputCount
        inputCount = n
        outputCount = m
        panelCount = (m + 7) / 8
        packed = allocateVectors8(panelCount * n)
        bias = allocateVectors8(panelCount)
        hasAVX512 = timbred_avx512_available() != 0
        _ = Self.avx512MinimumBatch  // read the environment here, off the real-time thread
        if hasAVX512 {
            let tiles = (m + 31) / 32
            let w = UnsafeMutableRawPointer.allocate(byteCount: max(1, tiles * 32 * n) * 4, alignment: 64)
                .bindMemory(to: Float.self, capacity: max(1, tiles * 32 * n))
            w.initialize(repeating: 0, count: max(1, tiles * 32 * n))
            let b = UnsafeMutableRawPointer.allocate(byteCount: max(1, tiles * 32) * 4, alignment: 64)
                .bindMemory(to: Float.self, capacity: max(1, tiles * 32))
            b.initialize(repeating: 0, count: max(1, tiles * 32))
            for o in 0..<m {
                b[o] = weights.bias[o]
                let t = o / 32, lane = o % 32
                for i in 0..<n { w[t * 32 * n + i * 32 + lane] = weights.weight[o * n + i] }
            }
            packed512 = w
            bias512 = b
        } else {
            packed512 = nil
            bias512 = nil
        }
        for p in 0..<panelCount {
            var b = SIMD8<Float>(repeating: 0)
            for lane in 0..<8 where 8 * p + lane < m { b[lane] = weights.bias[8 * p + lane] }
            bias[p] = b
        }
        var p0 = 0
        while p0 < panelCount {
            let panels = tileWidth(at: p0)
            for i in 0..<n {
                for j in 0..<panels {
                    var v = SIMD8<Float>(repeating: 0)
                    for lane in 0..<8 where 8 * (p0 + j) + lane < m {
                        v[lane] = weights.weight[(8 * (p0 + j) + lane) * n + i]
                    }
                    packed[p0 * n + i * panels + j] = v
                }
            }
            p0 += panels
        }
    }

    deinit {
        if let w = packed512 { UnsafeMutableRawPointer(w).deallocate() }
        if let b = bias512 { UnsafeMutableRawPointer(b).deallocate() }
        packed.deinitialize(count: panelCount * inputCount)
        packed.deallocate()
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
    /// Input and output must not overlap. Each row's result is bit-identical whatever `batch`
    /// and the row's position (see the type's notes).
    public func forward(batch: Int, input: UnsafePointer<Float>, inputStride: Int,
                        output: UnsafeMutablePointer<Float>, outputStride: Int) {
        forward(batch: batch, input: input, inputStride: inputStride, output: output, outputStride: outputStride,
                kernel: .automatic)
    }

    /// ``forward(batch:input:inputStride:output:outputStride:)`` with the kernel chosen by the
    /// caller (the tests run both on the same layer). Real-time safe: no allocation.
    public func forward(batch: Int, input: UnsafePointer<Float>, inputStride: Int,
                        output: UnsafeMutablePointer<Float>, outputStride: Int, kernel: Kernel) {
        if let w = packed512, let b = bias512, batch > 0,
           kernel == .avx512 || (kernel == .automatic && batch >= Self.avx512MinimumBatch) {
            timbred_dense_avx512(w, b, inputCount, outputCount, batch, input, inputStride, output, outputStride)
            return
        }
        let n = inputCount
        var p0 = 0
        while p0 < panelCount {
            let panels = tileWidth(at: p0)
            let w = UnsafePointer(packed + p0 * n), b = UnsafePointer(bias + p0)
            let y = output + 8 * p0
            if batch == 1 && panels == 3 && p0 + 3 < panelCount && tileWidth(at: p0 + 3) == 3 {
                // one voice: two tiles side by side, for six independent sums
                block(Block1x2x3.self, w, b, input, inputStride, y, outputStride, p0, 0, n)
                p0 += 6
                continue
            }
            // with several blocks of voices, the inputs in chunks of `inputChunk`, so that the
            // tile's weights for a chunk stay in L1 while every block runs through them
            let chunk = batch > Self.tileVoices ? Self.inputChunk : n
            for k0 in stride(from: 0, to: n, by: chunk) {
                let k1 = min(n, k0 + chunk)
                // the batch in blocks of at most `tileVoices`, as even as they come (7 = 4 + 3)
                let blocks = (batch + Self.tileVoices - 1) / Self.tileVoices
                var row = 0
                for k in 0..<blocks {
                    let left = batch - row, voices = (left + (blocks - k) - 1) / (blocks - k)
                    let x = input + row * inputStride, yr = y + row * outputStride
                    switch (voices, panels) {
                    case (4, 3): block(Block4x1x3.self, w, b, x, inputStride, yr, outputStride, p0, k0, k1)
                    case (3, 3): block(Block3x1x3.self, w, b, x, inputStride, yr, outputStride, p0, k0, k1)
                    case (2, 3): block(Block2x1x3.self, w, b, x, inputStride, yr, outputStride, p0, k0, k1)
                    case (1, 3): block(Block1x1x3.self, w, b, x, inputStride, yr, outputStride, p0, k0, k1)
                    case (4, 2): block(Block4x1x2.self, w, b, x, inputStride, yr, outputStride, p0, k0, k1)
                    case (3, 2): block(Block3x1x2.self, w, b, x, inputStride, yr, outputStride, p0, k0, k1)
                    case (2, 2): block(Block2x1x2.self, w, b, x, inputStride, yr, outputStride, p0, k0, k1)
                    case (1, 2): block(Block1x1x2.self, w, b, x, inputStride, yr, outputStride, p0, k0, k1)
                    case (4, _): block(Block4x1x1.self, w, b, x, inputStride, yr, outputStride, p0, k0, k1)
                    case (3, _): block(Block3x1x1.self, w, b, x, inputStride, yr, outputStride, p0, k0, k1)
                    case (2, _): block(Block2x1x1.self, w, b, x, inputStride, yr, outputStride, p0, k0, k1)
                    default: block(Block1x1x1.self, w, b, x, inputStride, yr, outputStride, p0, k0, k1)
                    }
                    row += voices
                }
            }
            p0 += panels
        }
    }

    /// Panels in the tile that starts at panel `p0`: 3, except at the end, where 4 panels left
    /// make two tiles of 2 (not 3 + 1), and fewer than 3 make one tile.
    @inline(__always)
    func tileWidth(at p0: Int) -> Int {
        let left = panelCount - p0
        return left == 4 ? 2 : min(Self.tilePanels, left)
    }

    /// One register block: `Shape.voices` rows × `Shape.tiles` tiles of `Shape.panels` panels
    /// each, every accumulator `bias` then one FMA per input in input order (the loop takes
    /// two inputs per turn, each FMA still in order). Specialised per shape (the counts are
    /// compile-time constants there), so each shape is its own straight-line loop; the
    /// conditions below fold away.
    @inline(never)
    private func block<Shape: BlockShape>(_ shape: Shape.Type, _ w: UnsafePointer<SIMD8<Float>>,
                                          _ bias: UnsafePointer<SIMD8<Float>>, _ x: UnsafePointer<Float>,
                                          _ xStride: Int, _ y: UnsafeMutablePointer<Float>, _ yStride: Int,
                                          _ firstPanel: Int, _ k0: Int, _ k1: Int) {
        let voices = Shape.voices, tiles = Shape.tiles, panels = Shape.panels
        let n = inputCount
        // panel j = panels·t + p of the block: tile t's weights start panels·n vectors after tile t-1's
        let wa = w, wb = w + (tiles > 1 ? panels * n : 0)
        let zero = SIMD8<Float>(repeating: 0)
        let c0 = bias[0], c1 = panels > 1 ? bias[1] : zero, c2 = panels > 2 ? bias[2] : zero
        let c3 = tiles > 1 ? bias[panels] : zero, c4 = tiles > 1 && panels > 1 ? bias[panels + 1] : zero
        let c5 = tiles > 1 && panels > 2 ? bias[panels + 2] : zero
        let x0 = x
        let x1 = x + (voices > 1 ? 1 * xStride : 0)
        let x2 = x + (voices > 2 ? 2 * xStride : 0)
        let x3 = x + (voices > 3 ? 3 * xStride : 0)
        var a00 = c0, a01 = c1, a02 = c2, a03 = c3, a04 = c4, a05 = c5
        var a10 = c0, a11 = c1, a12 = c2, a13 = c3, a14 = c4, a15 = c5
        var a20 = c0, a21 = c1, a22 = c2, a23 = c3, a24 = c4, a25 = c5
        var a30 = c0, a31 = c1, a32 = c2, a33 = c3, a34 = c4, a35 = c5
        if k0 > 0 {  // a later chunk of the inputs: carry on from the sums stored so far
            let count = tiles * panels
            let yv = y + 0 * yStride
            a00 = loadPanel(firstPanel, from: yv)
            if count > 1 { a01 = loadPanel(firstPanel + 1, from: yv + 8) }
            if count > 2 { a02 = loadPanel(firstPanel + 2, from: yv + 16) }
            if count > 3 { a03 = loadPanel(firstPanel + 3, from: yv + 24) }
            if count > 4 { a04 = loadPanel(firstPanel + 4, from: yv + 32) }
            if count > 5 { a05 = loadPanel(firstPanel + 5, from: yv + 40) }
            if voices > 1 {
                let yv = y + 1 * yStride
                a10 = loadPanel(firstPanel, from: yv)
                if count > 1 { a11 = loadPanel(firstPanel + 1, from: yv + 8) }
                if count > 2 { a12 = loadPanel(firstPanel + 2, from: yv + 16) }
                if count > 3 { a13 = loadPanel(firstPanel + 3, from: yv + 24) }
                if count > 4 { a14 = loadPanel(firstPanel + 4, from: yv + 32) }
                if count > 5 { a15 = loadPanel(firstPanel + 5, from: yv + 40) }
            }
            if voices > 2 {
                let yv = y + 2 * yStride
                a20 = loadPanel(firstPanel, from: yv)
                if count > 1 { a21 = loadPanel(firstPanel + 1, from: yv + 8) }
                if count > 2 { a22 = loadPanel(firstPanel + 2, from: yv + 16) }
                if count > 3 { a23 = loadPanel(firstPanel + 3, from: yv + 24) }
                if count > 4 { a24 = loadPanel(firstPanel + 4, from: yv + 32) }
                if count > 5 { a25 = loadPanel(firstPanel + 5, from: yv + 40) }
            }
            if voices > 3 {
                let yv = y + 3 * yStride
                a30 = loadPanel(firstPanel, from: yv)
                if count > 1 { a31 = loadPanel(firstPanel + 1, from: yv + 8) }
                if count > 2 { a32 = loadPanel(firstPanel + 2, from: yv + 16) }
                if count > 3 { a33 = loadPanel(firstPanel + 3, from: yv + 24) }
                if count > 4 { a34 = loadPanel(firstPanel + 4, from: yv + 32) }
                if count > 5 { a35 = loadPanel(firstPanel + 5, from: yv + 40) }
            }
        }
        var i = k0
        while i + 2 <= k1 {
            do {
                let w0 = wa[i * panels]
                let w1 = panels > 1 ? wa[i * panels + 1] : zero
                let w2 = panels > 2 ? wa[i * panels + 2] : zero
                let w3 = tiles > 1 ? wb[i * panels] : zero
                let w4 = tiles > 1 && panels > 1 ? wb[i * panels + 1] : zero
                let w5 = tiles > 1 && panels > 2 ? wb[i * panels + 2] : zero
                let s0 = SIMD8<Float>(repeating: x0[i])
                a00 = a00.addingProduct(s0, w0)
                if panels > 1 { a01 = a01.addingProduct(s0, w1) }
                if panels > 2 { a02 = a02.addingProduct(s0, w2) }
                if tiles > 1 { a03 = a03.addingProduct(s0, w3) }
                if tiles > 1 && panels > 1 { a04 = a04.addingProduct(s0, w4) }
                if tiles > 1 && panels > 2 { a05 = a05.addingProduct(s0, w5) }
                if voices > 1 {
                    let s1 = SIMD8<Float>(repeating: x1[i])
                    a10 = a10.addingProduct(s1, w0)
                    if panels > 1 { a11 = a11.addingProduct(s1, w1) }
                    if panels > 2 { a12 = a12.addingProduct(s1, w2) }
                    if tiles > 1 { a13 = a13.addingProduct(s1, w3) }
                    if tiles > 1 && panels > 1 { a14 = a14.addingProduct(s1, w4) }
                    if tiles > 1 && panels > 2 { a15 = a15.addingProduct(s1, w5) }
                }
                if voices > 2 {
                    let s2 = SIMD8<Float>(repeating: x2[i])
                    a20 = a20.addingProduct(s2, w0)
                    if panels > 1 { a21 = a21.addingProduct(s2, w1) }
                    if panels > 2 { a22 = a22.addingProduct(s2, w2) }
                    if tiles > 1 { a23 = a23.addingProduct(s2, w3) }
                    if tiles > 1 && panels > 1 { a24 = a24.addingProduct(s2, w4) }
                    if tiles > 1 && panels > 2 { a25 = a25.addingProduct(s2, w5) }
                }
                if voices > 3 {
                    let s3 = SIMD8<Float>(repeating: x3[i])
                    a30 = a30.addingProduct(s3, w0)
                    if panels > 1 { a31 = a31.addingProduct(s3, w1) }
                    if panels > 2 { a32 = a32.addingProduct(s3, w2) }
                    if tiles > 1 { a33 = a33.addingProduct(s3, w3) }
                    if tiles > 1 && panels > 1 { a34 = a34.addingProduct(s3, w4) }
                    if tiles > 1 && panels > 2 { a35 = a35.addingProduct(s3, w5) }
                }
            }
            do {
                let w0 = wa[(i + 1) * panels]
                let w1 = panels > 1 ? wa[(i + 1) * panels + 1] : zero
                let w2 = panels > 2 ? wa[(i + 1) * panels + 2] : zero
                let w3 = tiles > 1 ? wb[(i + 1) * panels] : zero
                let w4 = tiles > 1 && panels > 1 ? wb[(i + 1) * panels + 1] : zero
                let w5 = tiles > 1 && panels > 2 ? wb[(i + 1) * panels + 2] : zero
                let s0 = SIMD8<Float>(repeating: x0[i + 1])
                a00 = a00.addingProduct(s0, w0)
                if panels > 1 { a01 = a01.addingProduct(s0, w1) }
                if panels > 2 { a02 = a02.addingProduct(s0, w2) }
                if tiles > 1 { a03 = a03.addingProduct(s0, w3) }
                if tiles > 1 && panels > 1 { a04 = a04.addingProduct(s0, w4) }
                if tiles > 1 && panels > 2 { a05 = a05.addingProduct(s0, w5) }
                if voices > 1 {
                    let s1 = SIMD8<Float>(repeating: x1[i + 1])
                    a10 = a10.addingProduct(s1, w0)
                    if panels > 1 { a11 = a11.addingProduct(s1, w1) }
                    if panels > 2 { a12 = a12.addingProduct(s1, w2) }
                    if tiles > 1 { a13 = a13.addingProduct(s1, w3) }
                    if tiles > 1 && panels > 1 { a14 = a14.addingProduct(s1, w4) }
                    if tiles > 1 && panels > 2 { a15 = a15.addingProduct(s1, w5) }
                }
                if voices > 2 {
                    let s2 = SIMD8<Float>(repeating: x2[i + 1])
                    a20 = a20.addingProduct(s2, w0)
                    if panels > 1 { a21 = a21.addingProduct(s2, w1) }
                    if panels > 2 { a22 = a22.addingProduct(s2, w2) }
                    if tiles > 1 { a23 = a23.addingProduct(s2, w3) }
                    if tiles > 1 && panels > 1 { a24 = a24.addingProduct(s2, w4) }
                    if tiles > 1 && panels > 2 { a25 = a25.addingProduct(s2, w5) }
                }
                if voices > 3 {
                    let s3 = SIMD8<Float>(repeating: x3[i + 1])
                    a30 = a30.addingProduct(s3, w0)
                    if panels > 1 { a31 = a31.addingProduct(s3, w1) }
                    if panels > 2 { a32 = a32.addingProduct(s3, w2) }
                    if tiles > 1 { a33 = a33.addingProduct(s3, w3) }
                    if tiles > 1 && panels > 1 { a34 = a34.addingProduct(s3, w4) }
                    if tiles > 1 && panels > 2 { a35 = a35.addingProduct(s3, w5) }
                }
            }
            i += 2
        }
        if i < k1 {
            let w0 = wa[i * panels]
            let w1 = panels > 1 ? wa[i * panels + 1] : zero
            let w2 = panels > 2 ? wa[i * panels + 2] : zero
            let w3 = tiles > 1 ? wb[i * panels] : zero
            let w4 = tiles > 1 && panels > 1 ? wb[i * panels + 1] : zero
            let w5 = tiles > 1 && panels > 2 ? wb[i * panels + 2] : zero
            let s0 = SIMD8<Float>(repeating: x0[i])
            a00 = a00.addingProduct(s0, w0)
            if panels > 1 { a01 = a01.addingProduct(s0, w1) }
            if panels > 2 { a02 = a02.addingProduct(s0, w2) }
            if tiles > 1 { a03 = a03.addingProduct(s0, w3) }
            if tiles > 1 && panels > 1 { a04 = a04.addingProduct(s0, w4) }
            if tiles > 1 && panels > 2 { a05 = a05.addingProduct(s0, w5) }
            if voices > 1 {
                let s1 = SIMD8<Float>(repeating: x1[i])
                a10 = a10.addingProduct(s1, w0)
                if panels > 1 { a11 = a11.addingProduct(s1, w1) }
                if panels > 2 { a12 = a12.addingProduct(s1, w2) }
                if tiles > 1 { a13 = a13.addingProduct(s1, w3) }
                if tiles > 1 && panels > 1 { a14 = a14.addingProduct(s1, w4) }
                if tiles > 1 && panels > 2 { a15 = a15.addingProduct(s1, w5) }
            }
            if voices > 2 {
                let s2 = SIMD8<Float>(repeating: x2[i])
                a20 = a20.addingProduct(s2, w0)
                if panels > 1 { a21 = a21.addingProduct(s2, w1) }
                if panels > 2 { a22 = a22.addingProduct(s2, w2) }
                if tiles > 1 { a23 = a23.addingProduct(s2, w3) }
                if tiles > 1 && panels > 1 { a24 = a24.addingProduct(s2, w4) }
                if tiles > 1 && panels > 2 { a25 = a25.addingProduct(s2, w5) }
            }
            if voices > 3 {
                let s3 = SIMD8<Float>(repeating: x3[i])
                a30 = a30.addingProduct(s3, w0)
                if panels > 1 { a31 = a31.addingProduct(s3, w1) }
                if panels > 2 { a32 = a32.addingProduct(s3, w2) }
                if tiles > 1 { a33 = a33.addingProduct(s3, w3) }
                if tiles > 1 && panels > 1 { a34 = a34.addingProduct(s3, w4) }
                if tiles > 1 && panels > 2 { a35 = a35.addingProduct(s3, w5) }
            }
        }
        storeRow(a00, a01, a02, a03, a04, a05, tiles * panels, firstPanel, to: y)
        if voices > 1 { storeRow(a10, a11, a12, a13, a14, a15, tiles * panels, firstPanel, to: y + 1 * yStride) }
        if voices > 2 { storeRow(a20, a21, a22, a23, a24, a25, tiles * panels, firstPanel, to: y + 2 * yStride) }
        if voices > 3 { storeRow(a30, a31, a32, a33, a34, a35, tiles * panels, firstPanel, to: y + 3 * yStride) }
    }

    /// Writes one row of a block: its panel `j` (of `count`) to `y + 8j`, all 8 lanes where the
    /// panel is full, else only the lanes below `outputCount`.
    @inline(__always)
    private func storeRow(_ v0: SIMD8<Float>, _ v1: SIMD8<Float>, _ v2: SIMD8<Float>, _ v3: SIMD8<Float>,
                          _ v4: SIMD8<Float>, _ v5: SIMD8<Float>, _ count: Int, _ firstPanel: Int,
                          to y: UnsafeMutablePointer<Float>) {
        storePanel(v0, firstPanel, to: y)
        if count > 1 { storePanel(v1, firstPanel + 1, to: y + 8) }
        if count > 2 { storePanel(v2, firstPanel + 2, to: y + 16) }
        if count > 3 { storePanel(v3, firstPanel + 3, to: y + 24) }
        if count > 4 { storePanel(v4, firstPanel + 4, to: y + 32) }
        if count > 5 { storePanel(v5, firstPanel + 5, to: y + 40) }
    }

    /// Reads back what `storePanel` wrote (the lanes past `outputCount` read as 0).
    @inline(__always)
    private func loadPanel(_ panel: Int, from y: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        let valid = outputCount - 8 * panel
        if valid >= 8 { return load8(y) }
        var v = SIMD8<Float>(repeating: 0)
        for lane in 0..<valid { v[lane] = y[lane] }
        return v
    }

    @inline(__always)
    private func storePanel(_ v: SIMD8<Float>, _ panel: Int, to y: UnsafeMutablePointer<Float>) {
        let valid = outputCount - 8 * panel
        if valid >= 8 {
            UnsafeMutableRawPointer(y).storeBytes(of: v, as: SIMD8<Float>.self)
        } else {
            for lane in 0..<valid { y[lane] = v[lane] }
        }
    }
}

/// The shape of a register block of `DenseLayer`: voices × tiles × 8-wide panels per tile.
protocol BlockShape {
    static var voices: Int { get }
    static var tiles: Int { get }
    static var panels: Int { get }
}
enum Block1x1x3: BlockShape { static var voices: Int { 1 }; static var tiles: Int { 1 }; static var panels: Int { 3 } }
enum Block1x1x2: BlockShape { static var voices: Int { 1 }; static var tiles: Int { 1 }; static var panels: Int { 2 } }
enum Block1x1x1: BlockShape { static var voices: Int { 1 }; static var tiles: Int { 1 }; static var panels: Int { 1 } }
enum Block2x1x3: BlockShape { static var voices: Int { 2 }; static var tiles: Int { 1 }; static var panels: Int { 3 } }
enum Block2x1x2: BlockShape { static var voices: Int { 2 }; static var tiles: Int { 1 }; static var panels: Int { 2 } }
enum Block2x1x1: BlockShape { static var voices: Int { 2 }; static var tiles: Int { 1 }; static var panels: Int { 1 } }
enum Block3x1x3: BlockShape { static var voices: Int { 3 }; static var tiles: Int { 1 }; static var panels: Int { 3 } }
enum Block3x1x2: BlockShape { static var voices: Int { 3 }; static var tiles: Int { 1 }; static var panels: Int { 2 } }
enum Block3x1x1: BlockShape { static var voices: Int { 3 }; static var tiles: Int { 1 }; static var panels: Int { 1 } }
enum Block4x1x3: BlockShape { static var voices: Int { 4 }; static var tiles: Int { 1 }; static var panels: Int { 3 } }
enum Block4x1x2: BlockShape { static var voices: Int { 4 }; static var tiles: Int { 1 }; static var panels: Int { 2 } }
enum Block4x1x1: BlockShape { static var voices: Int { 4 }; static var tiles: Int { 1 }; static var panels: Int { 1 } }
enum Block1x2x3: BlockShape { static var voices: Int { 1 }; static var tiles: Int { 2 }; static var panels: Int { 3 } }

/// Allocates `count` zeroed, 64-byte aligned SIMD8 vectors.
func allocateVectors8(_ count: Int) -> UnsafeMutablePointer<SIMD8<Float>> {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<SIMD8<Float>>.stride,
                                               alignment: 64)
    let p = raw.bindMemory(to: SIMD8<Float>.self, capacity: max(1, count))
    p.initialize(repeating: SIMD8(repeating: 0), count: max(1, count))
    return p
}
