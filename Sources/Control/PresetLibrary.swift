import Engine
import Foundation
import Model
import Presets

/// A preset checked against the loaded model: its latent point resolved, its map parsed.
public struct LoadedPreset: Sendable, Equatable {
    public var preset: Preset
    /// The timbre point (the model's dimension).
    public var point: [Float]
    /// Bank (CC 0 · 128 + CC 32).
    public var bank: Int
    /// The preset's own `[cc]` entries (source text → target text), checked.
    public var controllerMap: [String: String]
    /// True for the presets made from the model's instruments when no preset file is usable.
    public var isBuiltIn: Bool

    public var name: String { preset.name }
}

/// The presets the daemon can play: every `*.toml` in the preset folders (later folders win by
/// name), checked against the model; programs within banks; change detection by mtime.
///
/// An invalid preset is skipped and reported as one line naming the file and the problem. When
/// no preset file is usable, the model's instruments serve as presets (bank 0, program = index).
public final class PresetLibrary {
    public let folders: [String]
    public let model: TimbreModel
    /// Usable presets, by bank, then program number, then name.
    public private(set) var presets: [LoadedPreset] = []
    /// Signature of the folders' `*.toml` files (path → size and mtime) at the last load.
    private var signature: [String: String] = [:]

    public init(folders: [String], model: TimbreModel) {
        self.folders = folders
        self.model = model
    }

    /// Reloads every folder. - Returns: one line per preset skipped (file and problem).
    @discardableResult
    public func reload() -> [String] {
        signature = Self.scan(folders)
        let (parsed, parseErrors) = Preset.loadAll(folders: folders)
        var problems = parseErrors.map { "preset \($0.path) skipped: \($0.message)" }
        var usable: [LoadedPreset] = []
        for p in parsed {
            do {
                let point = try p.latentPoint(instruments: model.instrumentNames, means: model.latentMeans)
                let checked = ControllerMapSpec.resolve(p.controllerMap, latentMeans: model.latentMeans)
                if let first = checked.errors.first {
                    problems.append("preset \(p.path ?? p.name) skipped: \(first)")
                    continue
                }
                usable.append(LoadedPreset(preset: p, point: point, bank: p.bank ?? 0, controllerMap: p.controllerMap,
                                           isBuiltIn: false))
            } catch let e as PresetError {
                problems.append("preset \(e.path) skipped: \(e.message)")
            } catch {
                problems.append("preset \(p.path ?? p.name) skipped: \(error)")
            }
        }
        if usable.isEmpty {
            usable = model.instrumentNames.enumerated().map { i, name in
                var p = Preset(name: name, model: "default", instrument: name, program: i)
                p.bank = 0
                return LoadedPreset(preset: p, point: model.latentMeans[i], bank: 0, controllerMap: [:], isBuiltIn: true)
            }
        }
        usable.sort { ($0.bank, $0.preset.program ?? 1000, $0.name.lowercased()) < ($1.bank, $1.preset.program ?? 1000, $1.name.lowercased()) }
        presets = usable
        return problems
    }

    /// True when a `*.toml` file in the folders was added, removed or changed since the last load.
    public func hasChanged() -> Bool { Self.scan(folders) != signature }

    /// The preset program change `program` selects in `bank`: the one with that program number,
    /// else the program-th preset of the bank (in order), else nil.
    public func preset(bank: Int, program: Int) -> LoadedPreset? {
        let inBank = presets.filter { $0.bank == bank }
        if let exact = inBank.first(where: { $0.preset.program == program }) { return exact }
        return program >= 0 && program < inBank.count ? inBank[program] : nil
    }

    /// True when some preset sits in `bank` (a user's own bank: program N plays its preset N).
    public func holdsBank(_ bank: Int) -> Bool { presets.contains { $0.bank == bank } }

    /// The preset a General MIDI program change (0-based `program`) picks among the bank-0
    /// presets, by the GM program each stands for (`Preset.generalMIDIProgram`): one standing for
    /// that program (`exact`; one whose own `program` says so first), else the one of the same GM
    /// family (programs 8f…8f+7) closest by program number (the lower on a tie), else nil.
    public func generalMIDIPreset(program: Int) -> (preset: LoadedPreset, exact: Bool)? {
        let candidates = presets.filter { $0.bank == 0 }.compactMap { p in p.preset.generalMIDIProgram.map { (p, $0) } }
        let exact = candidates.filter { $0.1 == program }
        if let p = exact.first(where: { $0.0.preset.program == program }) ?? exact.first { return (p.0, true) }
        let family = candidates.filter { $0.1 / 8 == program / 8 }
        guard let near = family.min(by: { (abs($0.1 - program), $0.1) < (abs($1.1 - program), $1.1) }) else { return nil }
        return (near.0, false)
    }

    /// A preset by name, file stem or instrument (case-insensitive), or by index as a number
    /// (`Preset.find`'s rule).
    public func find(_ key: String) -> LoadedPreset? {
        Preset.find(key, in: presets) { $0.preset }
    }

    private static func scan(_ folders: [String]) -> [String: String] {
        var out: [String: String] = [:]
        let fm = FileManager.default
        for folder in folders {
            guard let files = try? fm.contentsOfDirectory(atPath: folder) else { continue }
            for file in files where file.hasSuffix(".toml") {
                let path = folder + "/" + file
                let attributes = try? fm.attributesOfItem(atPath: path)
                let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
                let mtime = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
                out[path] = "\(size)@\(mtime)"
            }
        }
        return out
    }
}
