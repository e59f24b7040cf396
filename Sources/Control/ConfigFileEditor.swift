import Foundation

/// Writes MIDI-learned mappings into the config file's `[cc]` table, keeping everything else
/// (comments, other settings, other entries) as it was.
public enum ConfigFileEditor {
    /// The config text with `key = "target"` set in the `[cc]` table (replacing the key's old
    /// line, or adding the table at the end).
    public static func settingControllerMapping(key: String, target: String, in text: String) -> String {
        var lines = text.isEmpty ? [] : text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        let entry = "\(key) = \"\(target.replacingOccurrences(of: "\"", with: ""))\""
        var table = ""
        var ccHeader: Int? = nil
        var lastCCLine: Int? = nil
        var replaced = false
        for (i, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                table = line.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
                if table == "cc" { ccHeader = i; lastCCLine = i }
                continue
            }
            guard table == "cc", !line.isEmpty, !line.hasPrefix("#") else { continue }
            lastCCLine = i
            let lhs = line.split(separator: "=", maxSplits: 1).first.map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            if lhs == key {
                lines[i] = entry
                replaced = true
            }
        }
        if !replaced {
            if ccHeader != nil, let last = lastCCLine {
                lines.insert(entry, at: last + 1)
            } else {
                if let last = lines.last, !last.trimmingCharacters(in: .whitespaces).isEmpty { lines.append("") }
                lines.append("[cc]  # knobs: controller = \"target\" (MIDI learn writes here)")
                lines.append(entry)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Sets the mapping in the file at `path` (created, with its folder, when missing).
    /// - Throws: the file system's error when the file cannot be written.
    public static func saveControllerMapping(key: String, target: String, path: String) throws {
        let old = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "# timbred configuration (see `timbred --help`)\n"
        let new = settingControllerMapping(key: key, target: target, in: old)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try new.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
