// What `timbred encode`, `timbred map` and `timbred presets` do beyond parsing their arguments:
// where a new preset goes, the markers of a map, the presets' table.
import Foundation
import Model
import Presets

/// A preset file that could not be written, as one line.
public struct PresetFileError: Error, CustomStringConvertible {
    public let description: String
}

extension TimbreEncoder {
    /// The user's preset folder, where the daemon looks (and reloads on change):
    /// $XDG_CONFIG_HOME/timbred/presets/<name as a file stem>.toml.
    public static func userPresetPath(name: String) -> String {
        let env = ProcessInfo.processInfo.environment
        let configHome = env["XDG_CONFIG_HOME"] ?? (env["HOME"].map { $0 + "/.config" } ?? ".")
        let slug = name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }
        return configHome + "/timbred/presets/" + String(slug) + ".toml"
    }

    /// Writes a preset's text to `path` (its folder created), refusing to replace a file unless `force`.
    public static func writePreset(_ text: String, to path: String, force: Bool) throws(PresetFileError) {
        if FileManager.default.fileExists(atPath: path) && !force {
            throw PresetFileError(description: "\(path) exists (use --force to overwrite, or -o another file)")
        }
        do {
            try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                    withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw PresetFileError(description: "\(path): cannot write the preset (\(error.localizedDescription))")
        }
    }
}

extension TimbreMap {
    /// Adds a marker for every preset made for this model (`modelName`) whose point resolves.
    public mutating func addPresets(_ presets: [Preset], model: TimbreModel, modelName: String) {
        for p in presets where p.model == modelName {
            if let z = try? p.latentPoint(instruments: model.instrumentNames, means: model.latentMeans) {
                self.presets.append(.init(label: p.name, latent: z))
            }
        }
    }
}

extension TimbreSpace {
    /// `timbred presets`' table: a header, then per preset its program, name, three nearest
    /// instruments with their latent distances (or why not) and file.
    public func presetTable(_ presets: [Preset], model: TimbreModel, modelName: String) -> [String] {
        var lines = ["program  name                  nearest instruments (latent distance)                  file"]
        for p in presets {
            let prog = p.program.map { String(format: "%7d", $0) } ?? "      -"
            let namePadded = p.name.padding(toLength: 20, withPad: " ", startingAt: 0)
            var near = "(model \"\(p.model)\", not this one)"
            if p.model == modelName {
                do {
                    let z = try p.latentPoint(instruments: model.instrumentNames, means: model.latentMeans)
                    near = neighbours(of: z).prefix(3).map { String(format: "%@ %.2f", $0.instrument as NSString, $0.distance) }
                        .joined(separator: ", ")
                } catch {
                    near = "unusable: \(error)"
                }
            }
            lines.append("\(prog)  \(namePadded)  \(near.padding(toLength: 52, withPad: " ", startingAt: 0))  \(p.path ?? "")")
        }
        return lines
    }
}
