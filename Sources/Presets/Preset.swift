import Foundation
import SoundParameters

/// A preset: a named point in a model's timbre space, with optional sound settings.
///
/// File format (TOML, see presets/*.toml):
/// ```
/// name = "Flute"
/// model = "default"
/// instrument = "flute"          # latent point = that instrument's component mean ...
/// latent = [0.1, -0.4, ...]     # ... or an explicit point (takes precedence)
/// program = 7                   # program-change number within the bank (optional)
/// bank = 0                      # bank (CC 0 · 128 + CC 32) the program number is in (optional, 0)
/// reverb = 0.3                  # reverb mix (optional; this and the next three within
/// gain_db = -3.0                # output gain (optional)    `ParameterLimits`, as the settings)
/// attack_scale = 1.0            # envelope time scaling (optional)
/// release_scale = 1.0
///
/// [cc]                          # knobs while this preset plays (optional; see timbred.toml)
/// 74 = "latent 2"
/// ```
public struct Preset: Equatable, Sendable {
    public var name: String
    public var model: String
    public var instrument: String?
    public var latent: [Float]?
    public var program: Int?
    public var reverbMix: Float?
    public var gainDB: Float?
    public var attackScale: Float?
    public var releaseScale: Float?
    /// Bank the program number belongs to (CC 0 · 128 + CC 32); nil means bank 0.
    public var bank: Int?
    /// Controller map entries of the `[cc]` table: source ("74", "pressure") → target text, as
    /// written (the daemon's control side parses and checks them against the model).
    public var controllerMap: [String: String] = [:]
    /// The file it came from, if any.
    public var path: String?

    public init(name: String, model: String, instrument: String? = nil, latent: [Float]? = nil, program: Int? = nil) {
        self.name = name
        self.model = model
        self.instrument = instrument
        self.latent = latent
        self.program = program
    }

    /// Resolves the latent point against a model's instruments and component means.
    /// - Throws: `PresetError` when neither a usable latent nor a known instrument is given.
    public func latentPoint(instruments: [String], means: [[Float]]) throws -> [Float] {
        let zDim = means.first?.count ?? 0
        if let latent {
            guard latent.count == zDim else {
                throw PresetError(path: path ?? name, message: "latent has \(latent.count) values, the model's timbre space has \(zDim)")
            }
            return latent
        }
        if let instrument {
            guard let k = instruments.firstIndex(of: instrument) else {
                throw PresetError(path: path ?? name,
                                  message: "instrument \"\(instrument)\" is not in the model (it has \(instruments.joined(separator: ", ")))")
            }
            return means[k]
        }
        throw PresetError(path: path ?? name, message: "needs a latent point or an instrument name")
    }
}

/// A preset that could not be read, naming the file and the problem.
public struct PresetError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}

extension Preset {
    /// Parses preset text. - Throws: `PresetError` naming `path` and the problem.
    public static func parse(_ text: String, path: String) throws -> Preset {
        let values: [String: TOMLValue]
        do {
            values = try TOMLSubset.parse(text)
        } catch let e as TOMLError {
            throw PresetError(path: path, message: e.description)
        }
        func string(_ k: String) throws -> String? {
            guard let v = values[k] else { return nil }
            guard case .string(let s) = v else { throw PresetError(path: path, message: "\(k) must be a string") }
            return s
        }
        func number(_ k: String, _ range: ClosedRange<Double>) throws -> Float? {
            guard let v = values[k] else { return nil }
            guard let d = v.number else { throw PresetError(path: path, message: "\(k) must be a number") }
            guard range.contains(d) else { throw PresetError(path: path, message: "\(k) = \(d) is outside \(range.lowerBound)...\(range.upperBound)") }
            return Float(d)
        }
        guard let name = try string("name"), !name.isEmpty else { throw PresetError(path: path, message: "missing name") }
        var p = Preset(name: name, model: try string("model") ?? "default")
        p.path = path
        p.instrument = try string("instrument")
        if let v = values["latent"] {
            guard case .array(let items) = v else { throw PresetError(path: path, message: "latent must be an array of numbers") }
            var latent: [Float] = []
            for item in items {
                guard let d = item.number, abs(d) < 1e3 else {
                    throw PresetError(path: path, message: "latent must be an array of finite numbers")
                }
                latent.append(Float(d))
            }
            guard !latent.isEmpty, latent.count <= 64 else { throw PresetError(path: path, message: "latent has \(latent.count) values") }
            p.latent = latent
        }
        if p.latent == nil && p.instrument == nil {
            throw PresetError(path: path, message: "needs a latent point or an instrument name")
        }
        if let prog = try number("program", 0...127) { p.program = Int(prog) }
        p.reverbMix = try number("reverb", ParameterLimits.reverbMix)
        p.gainDB = try number("gain_db", ParameterLimits.gainDB)
        p.attackScale = try number("attack_scale", ParameterLimits.attackScale)
        p.releaseScale = try number("release_scale", ParameterLimits.releaseScale)
        if let bank = try number("bank", 0...16383) { p.bank = Int(bank) }
        for (key, value) in values where key.hasPrefix("cc.") {
            guard case .string(let target) = value else {
                throw PresetError(path: path, message: "\(key) must be a string such as \"latent 2\"")
            }
            p.controllerMap[String(key.dropFirst(3))] = target
        }
        return p
    }

    /// Reads and parses a preset file. - Throws: `PresetError` naming the file and the problem.
    public static func load(path: String) throws -> Preset {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PresetError(path: path, message: "cannot read file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PresetError(path: path, message: "not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    /// Loads every `*.toml` preset in the folders (later folders override earlier ones by name),
    /// sorted by program number then name. Invalid files are reported, not fatal.
    public static func loadAll(folders: [String]) -> (presets: [Preset], errors: [PresetError]) {
        var byName: [String: Preset] = [:]
        var errors: [PresetError] = []
        for folder in folders {
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            for file in files.sorted() where file.hasSuffix(".toml") {
                do {
                    let p = try load(path: folder + "/" + file)
                    byName[p.name.lowercased()] = p
                } catch let e as PresetError {
                    errors.append(e)
                } catch {
                    errors.append(PresetError(path: folder + "/" + file, message: "\(error)"))
                }
            }
        }
        let presets = byName.values.sorted { ($0.program ?? 999, $0.name) < ($1.program ?? 999, $1.name) }
        return (presets, errors)
    }

    /// Finds a preset by name (case-insensitive) or by file stem; see `find(_:in:preset:)`.
    public static func find(_ key: String, in presets: [Preset]) -> Preset? {
        find(key, in: presets) { $0 }
    }

    /// The one rule for a preset named by a person (`--preset`, `morph_a`, `/timbred/preset`,
    /// `timbred render --preset`): the first item whose preset has that name, else that file
    /// stem (`flute` for `presets/flute.toml`), else that instrument (all case-insensitive),
    /// else, for a number, the item at that index; nil when none matches.
    /// - Parameter preset: the preset of an item (items may wrap presets with more).
    public static func find<Item>(_ key: String, in items: [Item], preset: (Item) -> Preset) -> Item? {
        let k = key.lowercased()
        if let item = items.first(where: { preset($0).name.lowercased() == k }) { return item }
        if let item = items.first(where: { preset($0).fileStem?.lowercased() == k }) { return item }
        if let item = items.first(where: { preset($0).instrument?.lowercased() == k }) { return item }
        if let i = Int(key), i >= 0, i < items.count { return items[i] }
        return nil
    }

    /// The General MIDI program (0-based) of the default model's instruments, as the trainer
    /// rendered them from FluidR3_GM (training/timbred_train/config.py, `DEFAULT_INSTRUMENTS`).
    public static let generalMIDIProgramOfInstrument: [String: Int] = [
        "piano": 0, "electric_piano": 4, "harpsichord": 6, "vibraphone": 11, "marimba": 12, "church_organ": 19,
        "nylon_guitar": 24, "acoustic_bass": 32, "violin": 40, "cello": 42, "choir_aahs": 52, "trumpet": 56,
        "trombone": 57, "french_horn": 60, "alto_sax": 65, "oboe": 68, "clarinet": 71, "flute": 73,
    ]

    /// The General MIDI program (0-based) this preset stands for: its instrument's when that is
    /// one of the table's (`generalMIDIProgramOfInstrument`; the shipped presets' `program` is
    /// their position in the list, not GM), else its own `program`, else nil.
    public var generalMIDIProgram: Int? {
        if let instrument, let gm = Self.generalMIDIProgramOfInstrument[instrument.lowercased()] { return gm }
        return program
    }

    /// The file name without folder and extension, if the preset came from a file.
    public var fileStem: String? { path.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent } }
}
