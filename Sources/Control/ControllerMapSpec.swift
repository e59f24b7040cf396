import Engine
import Foundation

/// A controller-map target as written in a config or preset file, before it is resolved
/// against a model: `latent 3`, `latent 3 -1.5 2`, `morph`, `pad_x`, `pad_y`, `reverb 0 2`,
/// `gain -40 0`, `attack`, `release`, `loudness -30 0`, `none`. Numbers after the name override
/// the target's default range (value at controller 0, value at full scale).
public struct TargetSpec: Sendable, Equatable, CustomStringConvertible {
    public var target: ControllerTarget
    /// Explicit range, or nil for the target's default.
    public var range: (Float, Float)?

    public init(target: ControllerTarget, range: (Float, Float)? = nil) {
        self.target = target
        self.range = range
    }

    public static func == (a: TargetSpec, b: TargetSpec) -> Bool {
        a.target == b.target && a.range?.0 == b.range?.0 && a.range?.1 == b.range?.1
    }

    /// Parses target text. - Throws: `ControllerMapError` saying what is wrong.
    public init(parsing text: String) throws(ControllerMapError) {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map { String($0).lowercased() }
        guard let name = words.first else { throw ControllerMapError("empty target") }
        var rest = Array(words.dropFirst())
        switch name {
        case "none", "off": target = .none
        case "latent", "dim", "dimension":
            guard let first = rest.first, let d = Int(first), d >= 0, d < LatentPoint.capacity else {
                throw ControllerMapError("\"\(text)\": latent needs a dimension number 0...\(LatentPoint.capacity - 1)")
            }
            target = .latent(dimension: d)
            rest.removeFirst()
        case "morph": target = .morph
        case "pad_x", "pad-x", "padx": target = .padX
        case "pad_y", "pad-y", "pady": target = .padY
        case "reverb", "reverb_mix": target = .reverbMix
        case "gain", "gain_db", "volume": target = .gainDB
        case "attack", "attack_scale": target = .attackScale
        case "release", "release_scale": target = .releaseScale
        case "loudness", "expression": target = .loudnessDB
        default:
            throw ControllerMapError("unknown target \"\(name)\" (use latent N, morph, pad_x, pad_y, reverb, gain, attack, release, loudness or none)")
        }
        switch rest.count {
        case 0: range = nil
        case 2:
            guard let a = Float(rest[0]), let b = Float(rest[1]), a.isFinite, b.isFinite else {
                throw ControllerMapError("\"\(text)\": the range must be two numbers")
            }
            if target == .attackScale || target == .releaseScale, a <= 0 || b <= 0 {
                throw ControllerMapError("\"\(text)\": time scales must be above 0")
            }
            range = (a, b)
        default:
            throw ControllerMapError("\"\(text)\": expected a target name, then optionally two numbers (the range)")
        }
    }

    public var description: String {
        var s: String
        switch target {
        case .none: return "none"
        case .latent(let d): s = "latent \(d)"
        case .morph: s = "morph"
        case .padX: s = "pad_x"
        case .padY: s = "pad_y"
        case .reverbMix: s = "reverb"
        case .gainDB: s = "gain"
        case .attackScale: s = "attack"
        case .releaseScale: s = "release"
        case .loudnessDB: s = "loudness"
        }
        if let (a, b) = range { s += " \(Self.format(a)) \(Self.format(b))" }
        return s
    }

    private static func format(_ x: Float) -> String {
        x == x.rounded() ? String(Int(x)) : String(format: "%.4g", Double(x))
    }

    /// The real-time mapping for a model whose instruments sit at `latentMeans`.
    ///
    /// A latent dimension's default range spans the instruments' component means on it
    /// (min…max), widened by a quarter of that span on each side (at least ±0.25), so a knob
    /// sweeps from a little beyond one instrument to a little beyond the other.
    /// - Throws: `ControllerMapError` when the dimension is beyond the model's timbre space.
    public func mapping(latentMeans: [[Float]]) throws(ControllerMapError) -> ControllerMapping {
        switch target {
        case .none:
            return .unmapped
        case .latent(let d):
            let zDim = latentMeans.first?.count ?? 0
            guard d < zDim else { throw ControllerMapError("latent \(d): the model's timbre space has \(zDim) dimensions (0...\(zDim - 1))") }
            if let (a, b) = range { return ControllerMapping(target: target, minimum: a, maximum: b) }
            let (lo, hi) = Self.latentRange(latentMeans, dimension: d)
            return ControllerMapping(target: target, minimum: lo, maximum: hi)
        case .morph, .padX, .padY:
            let (a, b) = range ?? (0, 1)
            return ControllerMapping(target: target, minimum: a, maximum: b)
        case .reverbMix:
            let (a, b) = range ?? (0, 2)
            return ControllerMapping(target: target, minimum: a, maximum: b)
        case .gainDB:
            let (a, b) = range ?? (-40, 0)
            return ControllerMapping(target: target, minimum: a, maximum: b)
        case .attackScale, .releaseScale:
            let (a, b) = range ?? (0.25, 4)
            return ControllerMapping(target: target, minimum: a, maximum: b, isLogarithmic: true)
        case .loudnessDB:
            let (a, b) = range ?? (-30, 0)
            return ControllerMapping(target: target, minimum: a, maximum: b)
        }
    }

    /// min…max of the instruments' means on dimension `d`, with the margin described above.
    public static func latentRange(_ means: [[Float]], dimension d: Int) -> (Float, Float) {
        let values = means.compactMap { d < $0.count ? $0[d] : nil }
        guard let lo = values.min(), let hi = values.max() else { return (-1, 1) }
        let margin = max((hi - lo) * 0.25, 0.25)
        return (lo - margin, hi + margin)
    }
}

/// A map entry that could not be used. Prints as one line.
public struct ControllerMapError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Parsing of map sources (`"74"`, `"pressure"`, `"poly_pressure"`) and the default map.
public enum ControllerMapSpec {
    /// The source a config key names. - Throws: `ControllerMapError` for unknown or reserved ones.
    public static func source(_ key: String) throws(ControllerMapError) -> ControllerSource {
        let k = key.lowercased()
        let source: ControllerSource
        switch k {
        case "pressure", "channel_pressure", "aftertouch": source = .channelPressure
        case "poly_pressure", "poly-pressure", "polyphonic_pressure": source = .polyPressure
        default:
            let digits = k.hasPrefix("cc") ? String(k.dropFirst(2)) : k
            guard let n = Int(digits), (0...127).contains(n) else {
                throw ControllerMapError("unknown controller \"\(key)\" (use a CC number 1...119, pressure or poly_pressure)")
            }
            source = .controller(UInt8(n))
        }
        if source.isReserved {
            throw ControllerMapError("CC \(key) is reserved (bank select, data entry, 14-bit LSBs 32-63, pedals 64/66, RPN/NRPN, channel mode 120-127)")
        }
        return source
    }

    /// The config key for a source (inverse of `source(_:)`).
    public static func key(_ source: ControllerSource) -> String {
        switch source {
        case .controller(let n): return String(n)
        case .channelPressure: return "pressure"
        case .polyPressure: return "poly_pressure"
        }
    }

    /// A map that works on a generic controller keyboard: the eight knobs most send (CC 70-77)
    /// on latent dimensions 0-7, the mod wheel (CC 1) on the A/B morph, volume (7) on the output
    /// gain, expression (11) and channel pressure on loudness, reverb send (91) on the reverb.
    public static let defaults: [String: String] = {
        var map: [String: String] = ["1": "morph", "7": "gain -40 0", "11": "loudness -30 0",
                                     "91": "reverb 0 2", "pressure": "loudness 0 9"]
        for d in 0..<8 { map[String(70 + d)] = "latent \(d)" }
        return map
    }()

    /// Resolves a map (source text → target text) against a model. Entries for latent dimensions
    /// the model does not have are skipped silently when `skipMissingDimensions` (the defaults
    /// name eight); every other problem is returned as a line naming the entry.
    public static func resolve(_ entries: [String: String], latentMeans: [[Float]], skipMissingDimensions: Bool = false)
        -> (mappings: [ControllerSource: ControllerMapping], targets: [ControllerSource: TargetSpec], errors: [String]) {
        var mappings: [ControllerSource: ControllerMapping] = [:]
        var targets: [ControllerSource: TargetSpec] = [:]
        var errors: [String] = []
        let zDim = latentMeans.first?.count ?? 0
        for (key, text) in entries.sorted(by: { $0.key < $1.key }) {
            do {
                let source = try source(key)
                let spec = try TargetSpec(parsing: text)
                if skipMissingDimensions, case .latent(let d) = spec.target, d >= zDim { continue }
                mappings[source] = try spec.mapping(latentMeans: latentMeans)
                targets[source] = spec
            } catch {
                errors.append("cc \(key) = \"\(text)\": \(error)")
            }
        }
        return (mappings, targets, errors)
    }
}
