import Foundation
import Model
import Presets

/// Where timbred finds its model and presets when none is given on the command line.
public enum Resources {
    /// Folders searched for `models/` and `presets/`, in order: $TIMBRED_HOME, the current
    /// directory, the user's data directory, the installed share directory, then the source tree
    /// the binary was built from.
    public static var roots: [String] {
        var r: [String] = []
        let env = ProcessInfo.processInfo.environment
        if let home = env["TIMBRED_HOME"] { r.append(home) }
        r.append(FileManager.default.currentDirectoryPath)
        let dataHome = env["XDG_DATA_HOME"] ?? (env["HOME"].map { $0 + "/.local/share" } ?? "")
        if !dataHome.isEmpty { r.append(dataHome + "/timbred") }
        r.append("/usr/local/share/timbred")
        r.append("/usr/share/timbred")
        // the source tree the binary was built in: <root>/.build/<config>/timbred, where
        // <config> may resolve to <triple>/<config>: the nearest ancestor holding .build
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 where folder.path != "/" {
            if folder.lastPathComponent.hasPrefix(".build") {
                r.append(folder.deletingLastPathComponent().path)
                break
            }
            folder = folder.deletingLastPathComponent()
        }
        return r
    }

    public static func modelPath(_ given: String?) throws -> String {
        if let given { return given }
        for root in roots {
            let p = root + "/models/default.safetensors"
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        throw CLIError("no model found: give --model FILE (searched models/default.safetensors under \(roots.joined(separator: ", ")))")
    }

    /// Preset folders, lowest priority first (a later folder's preset replaces an earlier one of
    /// the same name): every root's presets/ in reverse search order, then the user's config.
    public static var presetFolders: [String] {
        let env = ProcessInfo.processInfo.environment
        let configHome = env["XDG_CONFIG_HOME"] ?? (env["HOME"].map { $0 + "/.config" } ?? "")
        var seen = Set<String>()
        var out: [String] = []
        for f in roots.reversed().map({ $0 + "/presets" }) + [configHome + "/timbred/presets"] where seen.insert(f).inserted {
            out.append(f)
        }
        return out
    }
}

/// An error the CLI prints as one line before exiting non-zero.
public struct CLIError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Loads a model, turning its typed error into one line.
public func loadModel(_ path: String) throws -> TimbreModel {
    do {
        return try TimbreModel(contentsOf: path)
    } catch {
        throw CLIError("\(error)")
    }
}
