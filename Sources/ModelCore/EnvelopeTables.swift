#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The loudness envelopes of a model (docs/model-format.md, "Envelopes"): per instrument, pitch
/// anchor and velocity anchor, the loudness after note-on (`hold`) and its change after note-off
/// (`release`), blended over instruments by the latent point's weights.
///
/// Immutable; `blendWeights` and `loudnessDB` are real-time safe.
public struct EnvelopeTables: Sendable, Equatable {
    /// Lowest loudness an envelope returns (dB).
    public static let floorDB: Double = -120
    /// Highest loudness an envelope returns (dB).
    public static let ceilingDB: Double = 0

    /// I, instruments (latent components).
    public let instrumentCount: Int
    /// Z, latent dimensions.
    public let zDim: Int
    /// P pitch anchors (MIDI note numbers), increasing.
    public let pitchAnchors: [Double]
    /// V velocity anchors, increasing.
    public let velocityAnchors: [Double]
    /// Table frames per second.
    public let frameRateHz: Double
    /// Th, frames of the hold table.
    public let holdFrameCount: Int
    /// Tr, frames of the release table.
    public let releaseFrameCount: Int
    /// `envelope.hold_db` `[I, P, V, Th]`: loudness at frame t after note-on.
    public let holdDB: [Float]
    /// `envelope.hold_slope_db_per_s` `[I, P, V]`: slope continuing the hold table.
    public let holdSlopeDBPerSecond: [Float]
    /// `envelope.release_db` `[I, P, V, Tr]`: change since note-off at frame t after note-off.
    public let releaseDB: [Float]
    /// `envelope.release_slope_db_per_s` `[I, P, V]`: slope continuing the release table.
    public let releaseSlopeDBPerSecond: [Float]
    /// `latent.means` `[I, Z]`, row-major: the components the weights are computed from.
    public let latentMeans: [Float]
    /// `s` of the blend weights (metadata `envelope_blend_scale`).
    public let blendScale: Double
    /// The blend rule (metadata `envelope_blend`; gaussian when absent).
    public let blendRule: LatentBlendRule

    /// Wraps tables of the documented shapes (the counts must match; checked).
    public init(instrumentCount: Int, zDim: Int, pitchAnchors: [Double], velocityAnchors: [Double],
                frameRateHz: Double, holdFrameCount: Int, releaseFrameCount: Int,
                holdDB: [Float], holdSlopeDBPerSecond: [Float], releaseDB: [Float],
                releaseSlopeDBPerSecond: [Float], latentMeans: [Float], blendScale: Double,
                blendRule: LatentBlendRule = .gaussian) {
        let cells = instrumentCount * pitchAnchors.count * velocityAnchors.count
        precondition(instrumentCount >= 1 && pitchAnchors.count >= 2 && velocityAnchors.count >= 2,
                     "EnvelopeTables: needs an instrument and two anchors per axis")
        precondition(holdFrameCount >= 2 && releaseFrameCount >= 2, "EnvelopeTables: tables need two frames")
        precondition(holdDB.count == cells * holdFrameCount && releaseDB.count == cells * releaseFrameCount
                     && holdSlopeDBPerSecond.count == cells && releaseSlopeDBPerSecond.count == cells,
                     "EnvelopeTables: table sizes do not match the anchors")
        precondition(latentMeans.count == instrumentCount * zDim, "EnvelopeTables: latent means are not [I, Z]")
        precondition(blendScale > 0 && frameRateHz > 0, "EnvelopeTables: scale and frame rate must be positive")
        self.instrumentCount = instrumentCount
        self.zDim = zDim
        self.pitchAnchors = pitchAnchors
        self.velocityAnchors = velocityAnchors
        self.frameRateHz = frameRateHz
        self.holdFrameCount = holdFrameCount
        self.releaseFrameCount = releaseFrameCount
        self.holdDB = holdDB
        self.holdSlopeDBPerSecond = holdSlopeDBPerSecond
        self.releaseDB = releaseDB
        self.releaseSlopeDBPerSecond = releaseSlopeDBPerSecond
        self.latentMeans = latentMeans
        self.blendScale = blendScale
        self.blendRule = blendRule
    }

    // MARK: Blend weights

    /// Writes the instrument weights of latent point `z` (Z floats) into `weights` (I floats), by
    /// the model's rule (`LatentBlendRule`). Real-time safe: no allocation.
    public func blendWeights(z: UnsafePointer<Float>, line: MorphLine = .none, into weights: UnsafeMutablePointer<Float>) {
        latentMeans.withUnsafeBufferPointer { means in
            blendRule.weights(z: z, means: means, instrumentCount: instrumentCount, zDim: zDim, scale: blendScale,
                              line: line, into: weights)
        }
    }

    /// Array form of `blendWeights(z:into:)`: `z` holds Z floats, `weights` at least I.
    /// Real-time safe when `weights` is uniquely referenced.
    public func blendWeights(z: [Float], line: MorphLine = .none, into weights: inout [Float]) {
        precondition(z.count >= zDim && weights.count >= instrumentCount, "EnvelopeTables.blendWeights: buffers too small")
        z.withUnsafeBufferPointer { zb in
            weights.withUnsafeMutableBufferPointer { wb in blendWeights(z: zb.baseAddress!, line: line, into: wb.baseAddress!) }
        }
    }

    /// The instrument weights of latent point `z` (allocates; not real-time).
    public func blendWeights(z: [Float], line: MorphLine = .none) -> [Float] {
        var w = [Float](repeating: 0, count: instrumentCount)
        blendWeights(z: z, line: line, into: &w)
        return w
    }

    /// The morph line from `a` to `b` among this model's instrument means (`MorphLine`; allocates
    /// nothing, but takes arrays: not for the audio thread).
    public func morphLine(from a: [Float], to b: [Float]) -> MorphLine {
        guard a.count >= zDim, b.count >= zDim else { return .none }
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                latentMeans.withUnsafeBufferPointer {
                    MorphLine(from: pa.baseAddress!, to: pb.baseAddress!, zDim: zDim, means: $0, instrumentCount: instrumentCount)
                }
            }
        }
    }

    // MARK: Lookup

    /// Loudness (dB, the decoder's loudness input) of a note. Real-time safe: no allocation.
    ///
    /// - Parameters:
    ///   - pitch: MIDI note number (fractional allowed); clamped to the anchor range.
    ///   - velocity: MIDI velocity; interpolated between anchors, extrapolated linearly outside.
    ///   - secondsSinceNoteOn: time since note-on (negative values read as 0).
    ///   - noteOffAtSeconds: time of the note-off after note-on, or nil while held.
    ///   - weights: I instrument weights (see `blendWeights`).
    /// - Returns: `hold(t_on)` while held, `hold(t_off) + release(t_on - t_off)` after note-off,
    ///   blended over instruments and clamped to [-120, 0] dB (-120 if the weights hold NaN).
    public func loudnessDB(pitch: Double, velocity: Double, secondsSinceNoteOn: Double,
                           noteOffAtSeconds: Double?, weights: UnsafePointer<Float>) -> Double {
        let (jp, fpRaw) = anchorAxis(pitchAnchors, pitch)
        let fp = min(max(fpRaw, 0), 1)
        let (jv, fv) = anchorAxis(velocityAnchors, velocity)
        let tOn = max(secondsSinceNoteOn, 0)
        var released = false
        var tOff = 0.0
        if let off = noteOffAtSeconds, tOn >= off {
            released = true
            tOff = max(off, 0)
        }
        let cell = Cell(pitchCount: pitchAnchors.count, velocityCount: velocityAnchors.count,
                        jp: jp, fp: fp, jv: jv, fv: fv)
        // Plain array reads (no closures): nothing here may allocate, even in a debug build.
        var total: Double = 0
        for i in 0..<instrumentCount {
            let w = Double(weights[i])
            if w == 0 { continue }
            var value: Double
            if released {
                value = curve(holdDB, holdSlopeDBPerSecond, frames: holdFrameCount, instrument: i, cell: cell, seconds: tOff)
                value += curve(releaseDB, releaseSlopeDBPerSecond, frames: releaseFrameCount, instrument: i,
                               cell: cell, seconds: tOn - tOff)
            } else {
                value = curve(holdDB, holdSlopeDBPerSecond, frames: holdFrameCount, instrument: i, cell: cell, seconds: tOn)
            }
            total += w * value
        }
        if total.isNaN { return Self.floorDB }  // NaN weights (a NaN latent point): silence, not NaN
        return min(max(total, Self.floorDB), Self.ceilingDB)
    }

    /// Array form of `loudnessDB(…weights:)`; `weights` holds I floats. Real-time safe.
    public func loudnessDB(pitch: Double, velocity: Double, secondsSinceNoteOn: Double,
                           noteOffAtSeconds: Double?, weights: [Float]) -> Double {
        precondition(weights.count >= instrumentCount, "EnvelopeTables.loudnessDB: too few weights")
        return weights.withUnsafeBufferPointer { w in
            loudnessDB(pitch: pitch, velocity: velocity, secondsSinceNoteOn: secondsSinceNoteOn,
                       noteOffAtSeconds: noteOffAtSeconds, weights: w.baseAddress!)
        }
    }

    /// Where a query falls on the pitch/velocity grid.
    private struct Cell {
        let pitchCount: Int, velocityCount: Int
        let jp: Int, fp: Double, jv: Int, fv: Double
    }


    /// Bilinear value at frame `t` of instrument `i`'s table (`frames` per cell; 1 for slopes).
    @inline(__always)
    private func gridValue(_ table: [Float], frames: Int, instrument i: Int, cell c: Cell, frame t: Int) -> Double {
        let stride = c.velocityCount * frames  // one pitch step
        let base = ((i * c.pitchCount + c.jp) * c.velocityCount + c.jv) * frames + t
        let p0v0 = Double(table[base]), p1v0 = Double(table[base + stride])
        let p0v1 = Double(table[base + frames]), p1v1 = Double(table[base + stride + frames])
        let lowV = p0v0 * (1 - c.fp) + p1v0 * c.fp
        let highV = p0v1 * (1 - c.fp) + p1v1 * c.fp
        return lowV * (1 - c.fv) + highV * c.fv
    }

    /// A table read at `seconds`: linear between frames, the tail slope past the end.
    @inline(__always)
    private func curve(_ table: [Float], _ slopes: [Float], frames n: Int,
                       instrument i: Int, cell: Cell, seconds: Double) -> Double {
        let pos = seconds * frameRateHz
        if pos >= Double(n - 1) {
            let last = gridValue(table, frames: n, instrument: i, cell: cell, frame: n - 1)
            let slope = gridValue(slopes, frames: 1, instrument: i, cell: cell, frame: 0)
            return last + slope * (seconds - Double(n - 1) / frameRateHz)
        }
        let k = Int(pos)  // pos ≥ 0
        let f = pos - Double(k)
        return gridValue(table, frames: n, instrument: i, cell: cell, frame: k) * (1 - f)
            + gridValue(table, frames: n, instrument: i, cell: cell, frame: k + 1) * f
    }
}

/// Index `j` (0...n-2) and fraction of `x` between anchors j and j+1 of an increasing grid
/// (outside: extrapolation; clamp the fraction to [0, 1] to clamp `x`). `j` is one less than the
/// number of anchors below `x`, clamped (numpy `searchsorted` left). Real-time safe. The
/// envelopes' and the transients' pitch and velocity axes.
@inline(__always)
func anchorAxis(_ anchors: [Double], _ x: Double) -> (Int, Double) {
    var below = 0
    for k in 0..<anchors.count where anchors[k] < x { below += 1 }  // (an index loop: no iterator)
    let j = min(max(below - 1, 0), anchors.count - 2)
    return (j, (x - anchors[j]) / (anchors[j + 1] - anchors[j]))
}

/// The four cells of an [I, P, V, …] table around a pitch and a velocity, each clamped to its
/// anchors (a NaN reads as the lowest anchor), and their bilinear weights: the transients' and the
/// tone balance's lookup. Real-time safe.
struct AnchorCorners {
    /// Cell (pitch anchor j, velocity anchor m) of instrument 0; the others are `+ 1` (next
    /// velocity), `+ V` (next pitch), `+ V + 1`.
    let firstCell: Int
    let velocityCount: Int
    let cellsPerInstrument: Int
    let pitchFraction: Double
    let velocityFraction: Double

    @inline(__always)
    init(pitchAnchors: [Double], velocityAnchors: [Double], pitch: Double, velocity: Double) {
        let (j, fp) = anchorAxis(pitchAnchors, pitch.isFinite ? pitch : pitchAnchors[0])
        let (m, fv) = anchorAxis(velocityAnchors, velocity.isFinite ? velocity : velocityAnchors[0])
        velocityCount = velocityAnchors.count
        cellsPerInstrument = pitchAnchors.count * velocityAnchors.count
        firstCell = j * velocityCount + m
        pitchFraction = min(max(fp, 0), 1)
        velocityFraction = min(max(fv, 0), 1)
    }

    /// Instrument i's four cells: (j, m), (j, m + 1), (j + 1, m), (j + 1, m + 1).
    @inline(__always)
    func cells(instrument i: Int) -> (Int, Int, Int, Int) {
        let c = i * cellsPerInstrument + firstCell
        return (c, c + 1, c + velocityCount, c + velocityCount + 1)
    }

    /// The four cells' weights for an instrument of blend weight w, in the order of `cells`.
    @inline(__always)
    func weights(_ w: Double) -> (Float, Float, Float, Float) {
        let fp = pitchFraction, fv = velocityFraction
        return (Float(w * (1 - fp) * (1 - fv)), Float(w * (1 - fp) * fv), Float(w * fp * (1 - fv)), Float(w * fp * fv))
    }
}

/// `e^x` from the C library (real-time safe).
@inline(__always)
private func expDouble(_ x: Double) -> Double { exp(x) }
