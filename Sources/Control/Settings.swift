import Foundation
import MIDI
import Presets
import SoundParameters

/// A setting's value.
public enum SettingValue: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case bool(Bool)
    case integer(Int)
    case number(Double)

    public var description: String {
        switch self {
        case .string(let s): return "\"\(s)\""
        case .bool(let b): return b ? "true" : "false"
        case .integer(let i): return String(i)
        case .number(let d): return d == d.rounded() && abs(d) < 1e9 ? String(format: "%.1f", d) : String(d)
        }
    }
}

/// A setting that could not be used, naming where it came from. Prints as one line.
public struct SettingError: Error, Equatable, CustomStringConvertible {
    /// The config file (with its line, when known) or "command line".
    public let source: String
    public let message: String
    public init(source: String, message: String) {
        self.source = source
        self.message = message
    }
    public var description: String { "\(source): \(message)" }
}

/// Every setting of the daemon, declared once: name, kind, default, range and help.
///
/// The config file key is `name` (`client_name = "synth"`), the command-line flag is `--` plus
/// the name with dashes (`--client-name synth`); flags override the file, which overrides the
/// defaults. `timbred --help` and `timbred run --help` print this table.
public enum Setting: String, CaseIterable, Sendable {
    case clientName = "client_name"
    case server
    case autoconnect
    case jackMIDIAutoconnect = "jack_midi_autoconnect"
    case alsaMIDI = "alsa_midi"
    case alsaAutoconnect = "alsa_autoconnect"
    case channel
    case drumChannel = "drum_channel"
    case keepPreset = "keep_preset"
    case model
    case preset
    case polyphony
    case gainDB = "gain_db"
    case reverb
    case attackScale = "attack_scale"
    case releaseScale = "release_scale"
    case pitchBendRange = "pitch_bend_range"
    case timbreGlideMs = "timbre_glide_ms"
    case morphA = "morph_a"
    case morphB = "morph_b"
    case pad
    case osc
    case oscPort = "osc_port"
    case logLevel = "log_level"
    case tuning
    case mpe
    case mpeSlide = "mpe_slide"
    case decoderThread = "decoder_thread"

    /// What kind of value the setting takes.
    public enum Kind: Sendable, Equatable {
        case string
        case bool
        case integer(ClosedRange<Int>)
        case number(ClosedRange<Double>)
        case choice([String])
        /// MIDI channels as text: "" none, "all", or channels 1-16 such as "1,2,5-8"
        /// (`Setting.channels(in:)`); a config file may also say true (all) or false (none).
        case channels
    }

    /// The declaration: kind, default and help.
    public var spec: (kind: Kind, defaultValue: SettingValue, help: String) {
        switch self {
        case .clientName: return (.string, .string("timbred"), "JACK client name")
        case .server: return (.string, .string(""), "JACK server name (empty: $JACK_DEFAULT_SERVER or the default server)")
        case .autoconnect: return (.bool, .bool(true), "connect the outputs to the first two physical playback ports")
        case .jackMIDIAutoconnect:
            return (.bool, .bool(false), "connect every physical JACK MIDI source to midi_in (with PipeWire, ALSA devices appear twice: use one of the two autoconnects)")
        case .alsaMIDI: return (.bool, .bool(true), "open an ALSA sequencer input port")
        case .alsaAutoconnect:
            return (.bool, .bool(true), "subscribe the ALSA port to every hardware MIDI source, including ones plugged in later (Midi Through skipped)")
        case .channel: return (.integer(0...16), .integer(0), "MIDI channel to play, 1-16; 0 = every channel (omni)")
        case .drumChannel:
            return (.integer(0...16), .integer(10), "MIDI channel of General MIDI drums, whose notes are not played (a pitched synth would play the kit's keys as melody; drum and effect banks too); 0 = none")
        case .keepPreset:
            return (.channels, .string(""), "MIDI channels whose program changes are ignored, keeping the chosen preset: \"all\" or channels such as \"1,2\" (empty: program changes pick presets on every channel)")
        case .model: return (.string, .string(""), "model file (empty: models/default.safetensors in the search path)")
        case .preset: return (.string, .string(""), "preset to start with, by name or file name (empty: the first)")
        case .polyphony: return (.integer(1...128), .integer(32), "notes that can sound at once")
        case .gainDB: return (.number(ParameterLimits.gainDB), .number(-6), "output gain in dB")
        case .reverb: return (.number(ParameterLimits.reverbMix), .number(0), "reverb mix (0 = dry, the instruments as measured; 1 = the model's room as trained)")
        case .attackScale: return (.number(ParameterLimits.attackScale), .number(1), "time scale of the learned envelope after note-on")
        case .releaseScale: return (.number(ParameterLimits.releaseScale), .number(1), "time scale of the learned envelope after note-off")
        case .pitchBendRange: return (.number(ParameterLimits.pitchBendSemitones), .number(2), "pitch-bend range in semitones until RPN 0,0 sets one")
        case .timbreGlideMs: return (.number(1...2000), .number(30), "time constant of the glide when the timbre moves, in ms")
        case .morphA: return (.string, .string(""), "preset at morph position 0 (empty: the first preset)")
        case .morphB: return (.string, .string(""), "preset at morph position 1 (empty: the second preset)")
        case .pad: return (.string, .string(""), "four presets for the pad corners, comma-separated: bottom-left, bottom-right, top-left, top-right (empty: the first four)")
        case .osc: return (.bool, .bool(true), "serve the OSC control API on 127.0.0.1")
        case .oscPort: return (.integer(1024...65535), .integer(9123), "UDP port of the OSC control API (loopback only)")
        case .logLevel: return (.choice(["error", "warning", "notice", "info", "debug"]), .string("info"), "most verbose log level")
        case .mpe: return (.string, .string(""), "MPE zones from the start: \"lower\" (channel 1 manages 2-16), \"upper\" (16 manages 1-15), \"lower 7, upper 7\"…; empty: none until an MPE Configuration Message (RPN 6) sets them")
        case .mpeSlide: return (.string, .string("morph"), "where an MPE note's slide (CC 74) moves its own timbre: \"morph\" (127: one whole morph_a → morph_b distance further, 0: back) or \"latent N [MIN MAX]\" (dimension N by half its range)")
        case .decoderThread:
            return (.bool, .bool(true), "decode the voices' frames ahead on a real-time worker thread (SCHED_FIFO just below JACK's process thread where permitted, pinned to the other core) while the process callback synthesises; the samples are the same either way, false decodes everything in the callback")
        case .tuning: return (.string, .string(""), "Scala tuning: a .scl file, optionally followed by \", FILE.kbm\" (a keyboard mapping); empty: 12-tone equal temperament")
        }
    }

    /// The command-line flag, `--client-name` for `client_name`.
    public var flag: String { "--" + rawValue.replacingOccurrences(of: "_", with: "-") }
    /// The flag's name without dashes, for ArgumentParser's `.customLong`.
    public var flagName: String { rawValue.replacingOccurrences(of: "_", with: "-") }

    /// Help text with the default and range, for `--help`.
    public var helpText: String {
        let s = spec
        var text = s.help
        switch s.kind {
        case .integer(let r): text += " (\(r.lowerBound)...\(r.upperBound))"
        case .number(let r): text += " (\(Self.format(r.lowerBound))...\(Self.format(r.upperBound)))"
        case .choice(let c): text += " (\(c.joined(separator: ", ")))"
        default: break
        }
        return text + "; default \(s.defaultValue)"
    }

    /// The channels (0…15) a `.channels` setting names: "" none, "all" (or "true") every
    /// channel, else a comma-separated list of channels 1-16 and ranges ("1,3,9-11").
    /// - Throws: `SettingError` naming `source` and `setting` when the text is not such a list.
    public static func channels(in text: String, source: String, setting: String) throws(SettingError) -> Set<Int> {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t.isEmpty || t == "false" || t == "none" { return [] }
        if t == "all" || t == "true" { return Set(0..<16) }
        var out = Set<Int>()
        for part in t.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
                .map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard (1...2).contains(bounds.count), let lo = bounds.first!, let hi = bounds.last!, 1 <= lo, lo <= hi, hi <= 16 else {
                throw SettingError(source: source, message: "\(setting) must be \"all\" or MIDI channels 1-16 such as \"1,2,5-8\", not \"\(text)\"")
            }
            for c in lo...hi { out.insert(c - 1) }
        }
        return out
    }

    private static func format(_ d: Double) -> String { d == d.rounded() ? String(Int(d)) : String(d) }

    /// Checks and converts a value from the config file.
    func value(from toml: TOMLValue, source: String) throws(SettingError) -> SettingValue {
        let s = spec
        switch (s.kind, toml) {
        case (.string, .string(let v)): return .string(v)
        case (.choice(let options), .string(let v)):
            guard options.contains(v) else { throw SettingError(source: source, message: "\(rawValue) must be one of \(options.joined(separator: ", ")), not \"\(v)\"") }
            return .string(v)
        case (.bool, .bool(let v)): return .bool(v)
        case (.channels, .string(let v)):
            _ = try Self.channels(in: v, source: source, setting: rawValue)
            return .string(v)
        case (.channels, .bool(let v)): return .string(v ? "all" : "")
        case (.integer(let r), .integer(let v)):
            guard r.contains(v) else { throw SettingError(source: source, message: "\(rawValue) = \(v) is outside \(r.lowerBound)...\(r.upperBound)") }
            return .integer(v)
        case (.number(let r), _):
            guard let v = toml.number else { break }
            guard r.contains(v) else { throw SettingError(source: source, message: "\(rawValue) = \(v) is outside \(Self.format(r.lowerBound))...\(Self.format(r.upperBound))") }
            return .number(v)
        default: break
        }
        throw SettingError(source: source, message: "\(rawValue) must be \(kindName)")
    }

    /// Checks and converts a value given as text (a command-line flag).
    public func value(fromText text: String, source: String = "command line") throws(SettingError) -> SettingValue {
        switch spec.kind {
        case .string, .choice, .channels: return try value(from: .string(text), source: source)
        case .bool:
            switch text.lowercased() {
            case "true", "yes", "on", "1": return .bool(true)
            case "false", "no", "off", "0": return .bool(false)
            default: throw SettingError(source: source, message: "\(flag) must be true or false, not \(text)")
            }
        case .integer:
            guard let i = Int(text) else { throw SettingError(source: source, message: "\(flag) must be an integer, not \(text)") }
            return try value(from: .integer(i), source: source)
        case .number:
            guard let d = Double(text), d.isFinite else { throw SettingError(source: source, message: "\(flag) must be a number, not \(text)") }
            return try value(from: .float(d), source: source)
        }
    }

    private var kindName: String {
        switch spec.kind {
        case .string: return "a string"
        case .bool: return "true or false"
        case .integer: return "an integer"
        case .number: return "a number"
        case .choice(let c): return "one of \(c.joined(separator: ", "))"
        case .channels: return "\"all\" or MIDI channels 1-16 such as \"1,2,5-8\""
        }
    }

    /// The whole table as text, for `--help` discussions: the name (and flag), then its help.
    public static var reference: String {
        allCases.map { "  \($0.rawValue) (\($0.flag) \($0.valueName))\n      \($0.helpText)" }.joined(separator: "\n")
    }

    /// What the value looks like, for help texts.
    public var valueName: String {
        switch spec.kind {
        case .string: return "text"
        case .bool: return "true|false"
        case .integer: return "n"
        case .number: return "x"
        case .choice(let c): return c.joined(separator: "|")
        case .channels: return "all|1,2,..."
        }
    }
}

/// The daemon's settings after defaults, config file and command line, plus the config file's
/// `[cc]` table (source → target text).
public struct DaemonSettings: Sendable, Equatable {
    private var values: [Setting: SettingValue]
    /// `[cc]` entries from the config file, in file order is not kept: keyed by source text.
    public var controllerMap: [String: String] = [:]
    /// `[mpe_map]` entries (per-note expression → target text: `pressure`, `release_velocity`).
    public var mpeMap: [String: String] = [:]
    /// The config file read (or to be written by MIDI learn).
    public var configPath: String
    /// Keys of the config file that are not settings (reported as warnings).
    public var unknownKeys: [String] = []

    /// Defaults only.
    public init(configPath: String) {
        values = [:]
        for s in Setting.allCases { values[s] = s.spec.defaultValue }
        self.configPath = configPath
    }

    /// `$XDG_CONFIG_HOME/timbred/timbred.toml` (or `~/.config/timbred/timbred.toml`).
    public static var defaultConfigPath: String {
        let env = ProcessInfo.processInfo.environment
        let home = env["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((env["HOME"] ?? "") + "/.config")
        return home + "/timbred/timbred.toml"
    }

    public subscript(_ setting: Setting) -> SettingValue {
        get { values[setting] ?? setting.spec.defaultValue }
        set { values[setting] = newValue }
    }

    public func string(_ s: Setting) -> String {
        if case .string(let v) = self[s] { return v }
        return ""
    }
    public func bool(_ s: Setting) -> Bool {
        if case .bool(let v) = self[s] { return v }
        return false
    }
    public func integer(_ s: Setting) -> Int {
        switch self[s] {
        case .integer(let v): return v
        case .number(let v): return Int(v)
        default: return 0
        }
    }
    public func number(_ s: Setting) -> Double {
        switch self[s] {
        case .number(let v): return v
        case .integer(let v): return Double(v)
        default: return 0
        }
    }

    /// The `channel` setting (1…16 one channel, 0 every channel) as the filter every MIDI input
    /// applies: the JACK process thread live, `OfflineRenderer` offline.
    public var channelFilter: MIDIChannelFilter {
        let c = integer(.channel)
        return MIDIChannelFilter(channel: (1...16).contains(c) ? c - 1 : nil)
    }

    /// The `drum_channel` setting as the filter every MIDI input applies.
    public var drumFilter: MIDIDrumFilter { MIDIDrumFilter(drumChannelSetting: integer(.drumChannel)) }

    /// The `keep_preset` setting: the channels (0…15) whose program changes are ignored.
    public var keepPresetChannels: Set<Int> {
        (try? Setting.channels(in: string(.keepPreset), source: configPath, setting: Setting.keepPreset.rawValue)) ?? []
    }

    /// Merges the config file's text over the current values.
    /// - Throws: `SettingError` naming the file (and line) and the problem.
    public mutating func merge(configText text: String, path: String) throws(SettingError) {
        let table: [String: TOMLValue]
        do {
            table = try TOMLSubset.parse(text)
        } catch {
            throw SettingError(source: path, message: "\(error)")
        }
        for (key, value) in table.sorted(by: { $0.key < $1.key }) {
            if key.hasPrefix("cc.") {
                guard case .string(let target) = value else {
                    throw SettingError(source: path, message: "\(key) must be a string such as \"latent 2\"")
                }
                controllerMap[String(key.dropFirst(3))] = target
            } else if key.hasPrefix("mpe_map.") {
                guard case .string(let target) = value else {
                    throw SettingError(source: path, message: "\(key) must be a string such as \"loudness\" or \"latent 2\"")
                }
                mpeMap[String(key.dropFirst(8))] = target
            } else if let setting = Setting(rawValue: key) {
                self[setting] = try setting.value(from: value, source: path)
            } else {
                unknownKeys.append(key)
            }
        }
    }

    /// Reads and merges the config file at `configPath`; a missing file is no error.
    public mutating func mergeConfigFile() throws(SettingError) {
        guard FileManager.default.fileExists(atPath: configPath) else { return }
        guard let data = FileManager.default.contents(atPath: configPath),
              let text = String(data: data, encoding: .utf8) else {
            throw SettingError(source: configPath, message: "cannot read the file as UTF-8 text")
        }
        try merge(configText: text, path: configPath)
    }
}
