// Knobs → timbre: the real-time controller map (CC / pressure → latent, morph, pad, sound settings).
import MIDI

/// What a knob drives.
///
/// Trivially copyable, so mappings cross the command ring without allocation.
public enum ControllerTarget: Sendable, Equatable, BitwiseCopyable {
    /// Not mapped.
    case none
    /// One dimension of the timbre target (the mapping's range is in latent units).
    case latent(dimension: Int)
    /// The A/B morph position, 0 = preset A … 1 = preset B (a straight line in the latent space).
    case morph
    /// The 2-D pad's horizontal position, 0 … 1 (bilinear over the four corner presets).
    case padX
    /// The 2-D pad's vertical position, 0 … 1.
    case padY
    /// Reverb mix (0 = dry, 1 = as trained).
    case reverbMix
    /// Output gain in dB.
    case gainDB
    /// Scale of the envelope's time axis after note-on (1 = as learned; 2 = twice as slow).
    case attackScale
    /// Scale of the envelope's time axis after note-off.
    case releaseScale
    /// Offset in dB added to every voice's loudness input (expression: louder also sounds brighter).
    case loudnessDB
}

/// Where a controller value comes from.
public enum ControllerSource: Sendable, Equatable, Hashable, BitwiseCopyable {
    /// A control change number (0…127). Numbers 0…31 also take their LSB (32…63) as a 14-bit pair.
    case controller(UInt8)
    /// Channel pressure (aftertouch).
    case channelPressure
    /// Polyphonic key pressure (the latest value of any key).
    case polyPressure

    /// Index of the source's slot in the map (0…129).
    @inlinable
    public var slot: Int {
        switch self {
        case .controller(let n): return Int(n & 0x7F)
        case .channelPressure: return 128
        case .polyPressure: return 129
        }
    }

    /// Controllers whose meaning MIDI fixes and the engine implements (bank select, data entry,
    /// LSBs of 14-bit pairs, pedals, RPN/NRPN, channel mode): never mappable.
    @inlinable
    public var isReserved: Bool {
        guard case .controller(let n) = self else { return false }
        // plain comparisons: a range pattern would instantiate ClosedRange<UInt8> metadata on
        // first use, which allocates (on the audio thread, in a debug build)
        return n == 0 || n == 6 || (n >= 32 && n <= 64) || n == 66 || (n >= 96 && n <= 101) || n >= 120
    }
}

/// One entry of the map: a target and the range the controller's 0…1 sweeps over.
public struct ControllerMapping: Sendable, Equatable, BitwiseCopyable {
    public var target: ControllerTarget
    /// Target value at controller value 0.
    public var minimum: Float
    /// Target value at the controller's full scale.
    public var maximum: Float
    /// Sweep geometrically (for time scales) instead of linearly. Needs minimum and maximum > 0.
    public var isLogarithmic: Bool

    /// Creates a mapping; `minimum` and `maximum` are in the target's unit.
    public init(target: ControllerTarget, minimum: Float, maximum: Float, isLogarithmic: Bool = false) {
        self.target = target
        self.minimum = minimum
        self.maximum = maximum
        self.isLogarithmic = isLogarithmic && minimum > 0 && maximum > 0
    }

    /// The unmapped entry.
    public static let unmapped = ControllerMapping(target: .none, minimum: 0, maximum: 1)

    /// Target value for a controller position `x` in 0…1. Real-time safe.
    @inlinable
    public func value(at x: Float) -> Float {
        let t = min(max(x, 0), 1)
        if isLogarithmic { return minimum * _pow(maximum / minimum, t) }
        return minimum + (maximum - minimum) * t
    }
}

@usableFromInline
func _pow(_ base: Float, _ exponent: Float) -> Float {
    Float(exp(Double(exponent) * log(Double(base))))
}

#if canImport(Glibc)
import Glibc
#endif

extension LatentPoint {
    /// A point from its lanes and the number of them in use. Real-time safe (no array).
    public init(values: SIMD16<Float>, count: Int) {
        self.init([])
        self.values = values
        self.count = min(max(count, 0), LatentPoint.capacity)
    }
}

/// One reference pitch's brightness tilt along the morph line: dB per octave above the
/// fundamental, and the level in dB that keeps the reference note's power, at 32 path parameters
/// 0, 1/31, …, 1 (linear between them; 0 at both ends, so A and B sound as themselves).
public struct MorphTilt: Sendable, Equatable, BitwiseCopyable {
    /// Number of path parameters the table holds.
    public static let count = 32
    /// Largest tilt, dB per octave either way.
    public static let maximumDBPerOctave: Float = 12
    public var dBPerOctave = SIMD32<Float>()
    public var levelDB = SIMD32<Float>()

    /// No tilt.
    public init() {}

    /// A tilt from its tables, or nil unless they are finite, within `maximumDBPerOctave` and
    /// 24 dB, and 0 at both ends.
    public init?(dBPerOctave: SIMD32<Float>, levelDB: SIMD32<Float>) {
        let last = Self.count - 1
        guard dBPerOctave[0] == 0, dBPerOctave[last] == 0, levelDB[0] == 0, levelDB[last] == 0 else { return nil }
        for j in 0..<Self.count {
            guard dBPerOctave[j].isFinite, abs(dBPerOctave[j]) <= Self.maximumDBPerOctave, levelDB[j].isFinite,
                  abs(levelDB[j]) <= 24 else { return nil }
        }
        self.dBPerOctave = dBPerOctave
        self.levelDB = levelDB
    }

    /// The tilt and level at path parameter `s` (clamped to 0…1). Real-time safe.
    @inlinable
    public func at(_ s: Double) -> (dBPerOctave: Float, levelDB: Float) {
        let x = Float(min(max(s.isFinite ? s : 0, 0), 1)) * Float(Self.count - 1)
        let j = min(Int(x), Self.count - 2)
        let f = x - Float(j)
        return (dBPerOctave[j] + (dBPerOctave[j + 1] - dBPerOctave[j]) * f, levelDB[j] + (levelDB[j + 1] - levelDB[j]) * f)
    }
}

/// How the morph knob's position maps to the point on the line A → B: the path parameter `s`
/// (0 = A, 1 = B) at 16 knob positions 0, 1/15, …, 1, linear between them; and the brightness
/// tilt the line's points get, at three reference pitches (A3, A4, A5: MIDI 57, 69, 81; linear
/// in pitch between them, the nearest beyond). The control side computes both when the corners
/// change (`MorphProfile` in Control) so that the decoded timbre's brightness moves evenly from
/// A's to B's as the knob turns; `identity` is the plain straight line at the knob's speed,
/// untilted.
///
/// Trivially copyable, so it crosses the command ring without allocation.
public struct MorphWarp: Sendable, Equatable, BitwiseCopyable {
    /// Number of knob positions the table holds.
    public static let count = 16
    /// MIDI pitches of the three tilts.
    public static var tiltPitches: (low: Double, middle: Double, high: Double) { (57, 69, 81) }
    /// `s` at knob position `j / 15`: nondecreasing from 0 to 1.
    public var positions: SIMD16<Float>
    /// The tilts at `tiltPitches`.
    public var tilts: (low: MorphTilt, middle: MorphTilt, high: MorphTilt) { (low, middle, high) }
    private var low = MorphTilt(), middle = MorphTilt(), high = MorphTilt()
    /// Whether any point of the line is tilted (set with the tilts, so that the engine's frame
    /// skips the tilt without comparing the tables).
    public private(set) var isTilted = false

    /// A warp from its 16 path parameters, or nil unless they are finite, nondecreasing and go
    /// from 0 to 1; tilted by `tilts` when given.
    public init?(positions: SIMD16<Float>, tilts: (low: MorphTilt, middle: MorphTilt, high: MorphTilt)? = nil) {
        guard positions[0] == 0, positions[MorphWarp.count - 1] == 1 else { return nil }
        for j in 0..<MorphWarp.count {
            guard positions[j].isFinite else { return nil }
            if j > 0 && positions[j] < positions[j - 1] { return nil }
        }
        self.positions = positions
        if let tilts {
            (low, middle, high) = tilts
            isTilted = tilts.low != MorphTilt() || tilts.middle != MorphTilt() || tilts.high != MorphTilt()
        }
    }

    private init(unchecked positions: SIMD16<Float>) { self.positions = positions }

    /// The straight line at the knob's own speed.
    public static let identity: MorphWarp = {
        var p = SIMD16<Float>()
        for j in 0..<MorphWarp.count { p[j] = Float(j) / Float(MorphWarp.count - 1) }
        return MorphWarp(unchecked: p)
    }()

    /// The path parameter at knob position `u` (clamped to 0…1). Real-time safe.
    @inlinable
    public func parameter(at u: Float) -> Float {
        let x = min(max(u, 0), 1) * Float(MorphWarp.count - 1)
        let j = min(Int(x), MorphWarp.count - 2)
        let f = x - Float(j)
        return positions[j] + (positions[j + 1] - positions[j]) * f
    }

    /// The tilt (dB per octave above the fundamental) and level (dB) at path parameter `s` for
    /// a note at MIDI `pitch`. Real-time safe.
    public func tilt(at s: Double, pitch: Double) -> (dBPerOctave: Float, levelDB: Float) {
        let (p0, p1, p2) = Self.tiltPitches
        let q = pitch.isFinite ? pitch : p1
        let (a, b, f): (MorphTilt, MorphTilt, Float) = q <= p1
            ? (low, middle, Float(min(max((q - p0) / (p1 - p0), 0), 1)))
            : (middle, high, Float(min(max((q - p1) / (p2 - p1), 0), 1)))
        let x = a.at(s), y = b.at(s)
        return (x.dBPerOctave + (y.dBPerOctave - x.dBPerOctave) * f, x.levelDB + (y.levelDB - x.levelDB) * f)
    }

    public static func == (l: MorphWarp, r: MorphWarp) -> Bool {
        l.positions == r.positions && l.low == r.low && l.middle == r.middle && l.high == r.high
    }
}

/// Which morph point a `.setMorphPoint` command sets.
public enum MorphCorner: Int, Sendable, BitwiseCopyable, CaseIterable {
    /// A/B crossfade end points.
    case a = 0, b
    /// 2-D pad corners: (x 0, y 0), (x 1, y 0), (x 0, y 1), (x 1, y 1).
    case padBottomLeft, padBottomRight, padTopLeft, padTopRight
}

/// The real-time controller map: a fixed table of 130 sources (128 CCs, channel and poly
/// pressure) to targets, the morph and pad corner points, and the positions they are at.
///
/// Lives inside `Engine` and is touched only by the audio thread; the control side configures it
/// with `EngineCommand.mapController`, `.setMorphPoint`, `.setMorphWarp`, `.setMorph` and `.setPad`. It turns a
/// controller value into the `EngineCommand` that carries its effect (a latent dimension, a whole
/// timbre point for morph and pad, reverb, gain, envelope scales), which the engine applies as if
/// it had come through the ring. No heap: every table is inline.
public struct ControllerMap: Sendable {
    /// Number of sources: 128 controllers, channel pressure, poly pressure.
    public static let sourceCount = 130

    private var mappings = InlineArray<130, ControllerMapping>(repeating: .unmapped)
    private var corners = InlineArray<6, LatentPoint>(repeating: LatentPoint(values: SIMD16(), count: 0))
    /// Per channel: bit n set when the LSB (CC 32 + n) of the pair n has been received, so the
    /// pair is read as 14 bits (controllers that never send an LSB keep their full 7-bit range).
    private var lsbSeen = InlineArray<16, UInt32>(repeating: 0)
    /// Knob position → path parameter on the line A → B (identity until the control side sends
    /// one; back to identity when A or B changes).
    public private(set) var morphWarp = MorphWarp.identity
    /// Timbre-space dimension (the length of every point produced).
    public let dimension: Int
    /// A/B morph position, 0…1.
    public private(set) var morph: Float = 0
    /// Pad position, 0…1 each.
    public private(set) var padX: Float = 0
    public private(set) var padY: Float = 0
    /// Offset in dB the `loudnessDB` target adds to every voice's loudness input.
    public private(set) var loudnessOffsetDB: Float = 0

    /// An empty map for a timbre space of `dimension` values (at most `LatentPoint.capacity`).
    /// Runs every path once on a scratch map first, so that first-use costs (generic metadata,
    /// which allocates) are paid here, on the control side, never on the audio thread.
    public init(dimension: Int) {
        self.init(dimension: dimension, warm: false)
        var scratch = ControllerMap(dimension: dimension, warm: false)
        scratch.exerciseEveryPath()
    }

    private init(dimension: Int, warm: Bool) {
        self.dimension = min(max(dimension, 0), LatentPoint.capacity)
    }

    private mutating func exerciseEveryPath() {
        let state = ControllerState()
        var point = LatentPoint(values: SIMD16(), count: dimension)
        point.values[0] = 0
        let targets: [ControllerTarget] = [.latent(dimension: 0), .morph, .padX, .padY, .reverbMix, .gainDB,
                                           .attackScale, .releaseScale, .loudnessDB, .none]
        for corner in MorphCorner.allCases { _ = apply(.setMorphPoint(corner: corner, point: point)) }
        for (i, target) in targets.enumerated() {
            let mapping = ControllerMapping(target: target, minimum: 0.5, maximum: 2, isLogarithmic: i % 2 == 0)
            _ = apply(.mapController(source: .controller(UInt8(1 + i)), mapping: mapping))
            _ = controlChange(channel: 0, controller: UInt8(1 + i), value: 64, state: state)
            _ = controlChange(channel: 0, controller: UInt8(33 + i), value: 64, state: state)
            _ = apply(.mapController(source: .channelPressure, mapping: mapping))
            _ = pressure(.channelPressure, value: 10)
            _ = pressure(.polyPressure, value: 10)
            _ = resetControllers(channel: 0)
        }
        _ = apply(.setMorphWarp(.identity))
        _ = apply(.setMorph(0.5))
        _ = apply(.setPad(x: 0.5, y: 0.5))
        _ = apply(.panic)
        _ = ControllerSource.controller(40).isReserved
        _ = mapping(for: .polyPressure).value(at: 0.5)
    }

    /// The mapping of a source.
    public func mapping(for source: ControllerSource) -> ControllerMapping { mappings[source.slot] }

    /// A corner point (count 0 until set).
    public func point(_ corner: MorphCorner) -> LatentPoint { corners[corner.rawValue] }

    // MARK: - real-time entry points

    /// Applies a map-configuration command and returns what it does to the sound, if anything.
    /// Real-time safe. Commands that are not map commands return nil and change nothing.
    public mutating func apply(_ command: EngineCommand) -> EngineCommand? {
        switch command {
        case let .mapController(source, mapping):
            if !source.isReserved { mappings[source.slot] = mapping }
            return nil
        case let .setMorphPoint(corner, point):
            guard point.count == dimension else { return nil }
            corners[corner.rawValue] = point
            if corner == .a || corner == .b { morphWarp = .identity }
            return nil
        case .setMorphWarp(let warp):
            morphWarp = warp
            return nil
        case .setMorph(let position):
            guard position.isFinite else { return nil }
            morph = min(max(position, 0), 1)
            return morphPoint()
        case let .setPad(x, y):
            guard x.isFinite, y.isFinite else { return nil }
            padX = min(max(x, 0), 1)
            padY = min(max(y, 0), 1)
            return padPoint()
        default:
            return nil
        }
    }

    /// A control change arrived on `channel` (already applied to `state`, the channel's
    /// controller state): the command carrying its mapped effect, if it is mapped. Real-time safe.
    public mutating func controlChange(channel: Int, controller: UInt8, value: UInt8,
                                       state: borrowing ControllerState) -> EngineCommand? {
        let number = controller & 0x7F
        let c = channel & 0x0F
        if number >= 32 && number < 64 {
            // the LSB of a pair: refines a mapped MSB
            let msb = number - 32
            guard mappings[Int(msb)].target != .none else { return nil }
            lsbSeen[c] |= 1 << UInt32(msb)
            let v = Float(state.controllerValue14Bit(msbNumber: msb)) / 16383
            return drive(mappings[Int(msb)], at: v)
        }
        let mapping = mappings[Int(number)]
        guard mapping.target != .none, !ControllerSource.controller(number).isReserved else { return nil }
        let x: Float
        if number < 32 && lsbSeen[c] & (1 << UInt32(number)) != 0 {
            x = Float(state.controllerValue14Bit(msbNumber: number)) / 16383
        } else {
            x = Float(value & 0x7F) / 127
        }
        return drive(mapping, at: x)
    }

    /// Channel or poly pressure arrived: the command carrying its mapped effect. Real-time safe.
    public mutating func pressure(_ source: ControllerSource, value: UInt8) -> EngineCommand? {
        let mapping = mappings[source.slot]
        guard mapping.target != .none else { return nil }
        return drive(mapping, at: Float(value & 0x7F) / 127)
    }

    /// Reset All Controllers (RP-015) on `channel`: the mapped controllers it resets (modulation
    /// to 0, expression to 127, pressures to 0) drive their targets to those values; returns those
    /// effects. Sound controllers (70…79), volume, pan and effect sends are left alone, as RP-015
    /// says. Real-time safe.
    public mutating func resetControllers(channel: Int) -> ResetEffects {
        lsbSeen[channel & 0x0F] = 0
        return ResetEffects(modulation: reset(slot: 1, to: 0), expression: reset(slot: 11, to: 1),
                            channelPressure: reset(slot: 128, to: 0), polyPressure: reset(slot: 129, to: 0))
    }

    /// What Reset All Controllers does through the map: up to four effects.
    public struct ResetEffects: Sendable {
        public var modulation: EngineCommand?
        public var expression: EngineCommand?
        public var channelPressure: EngineCommand?
        public var polyPressure: EngineCommand?
    }

    private mutating func reset(slot: Int, to x: Float) -> EngineCommand? {
        let mapping = mappings[slot]
        return mapping.target == .none ? nil : drive(mapping, at: x)
    }

    /// Turns a controller position into its effect. Real-time safe.
    private mutating func drive(_ mapping: ControllerMapping, at x: Float) -> EngineCommand? {
        let value = mapping.value(at: x)
        switch mapping.target {
        case .none:
            return nil
        case .latent(let d):
            guard d >= 0, d < dimension else { return nil }
            return .setLatentDimension(index: d, value: value)
        case .morph:
            morph = min(max(value, 0), 1)
            return morphPoint()
        case .padX:
            padX = min(max(value, 0), 1)
            return padPoint()
        case .padY:
            padY = min(max(value, 0), 1)
            return padPoint()
        case .reverbMix:
            return .setReverbMix(value)
        case .gainDB:
            return .setGainDB(value)
        case .attackScale:
            return .setAttackScale(value)
        case .releaseScale:
            return .setReleaseScale(value)
        case .loudnessDB:
            loudnessOffsetDB = min(max(value, -60), 24)
            return nil
        }
    }

    /// The point on the line A → B at the morph position (through the warp), or nil until both
    /// ends are set.
    private func morphPoint() -> EngineCommand? {
        let a = corners[MorphCorner.a.rawValue], b = corners[MorphCorner.b.rawValue]
        guard a.count == dimension, b.count == dimension, dimension > 0 else { return nil }
        var p = a
        p.values = a.values + (b.values - a.values) * morphWarp.parameter(at: morph)
        return .setTimbre(p)
    }

    /// The bilinear blend of the four pad corners at (padX, padY), or nil until all are set.
    private func padPoint() -> EngineCommand? {
        let bl = corners[MorphCorner.padBottomLeft.rawValue], br = corners[MorphCorner.padBottomRight.rawValue]
        let tl = corners[MorphCorner.padTopLeft.rawValue], tr = corners[MorphCorner.padTopRight.rawValue]
        guard dimension > 0, bl.count == dimension, br.count == dimension, tl.count == dimension,
              tr.count == dimension else { return nil }
        let bottom = bl.values + (br.values - bl.values) * padX
        let top = tl.values + (tr.values - tl.values) * padX
        var p = bl
        p.values = bottom + (top - bottom) * padY
        return .setTimbre(p)
    }
}
