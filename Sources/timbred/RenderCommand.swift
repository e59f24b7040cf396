import ArgumentParser
import Control
import Engine
import Foundation
import MIDI
import Model
import Timbre

/// `timbred render IN.mid -o OUT.wav`: drives the real-time engine from a Standard MIDI File (or
/// one note, `--note`) in a plain loop (no JACK) and writes the result with libsndfile.
/// `--morph A:B` moves the timbre from preset A to preset B over the length of the music.
/// Program changes (with bank select), the controller map and the morph/pad corners act as in
/// the live daemon: both feed the same `SoundController` (`--keep-preset` ignores program changes).
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a MIDI file to audio with the same engine the daemon runs.",
        discussion: """
        The file plays as it would live: the config file's settings and [cc] table (defaults: CC \
        70-77 latent 0-7, CC 1 morph between morph_a and morph_b, CC 7 gain, CC 11 loudness, CC 91 \
        reverb) drive the knobs, and bank select (CC 0/32) + program change pick presets from the \
        sample they arrive at: on bank 0 the preset of the General MIDI program, else the nearest \
        of its GM family, each choice printed once; channel 10 (drum_channel) and drum banks do \
        not play. --keep-preset ignores program changes, so --preset plays throughout.
        """)

    @Argument(help: "Standard MIDI File (format 0 or 1); leave out with --note.")
    var input: String?

    @Option(help: "Render one note of this MIDI pitch instead of a MIDI file.")
    var note: Int?

    @Option(help: "Velocity of --note (1-127).")
    var velocity: Int = 100

    @Option(help: "Seconds --note is held.")
    var seconds: Double = 4

    @Option(help: "Morph from preset A to preset B over the length of the music, as \"A:B\".")
    var morph: String?

    @Option(name: .shortAndLong, help: "Output audio file (WAV, 32-bit float, stereo).")
    var output: String

    @Option(help: "Preset to start with (name, file stem or instrument; default: preset from the config file, else the first).")
    var preset: String?

    @Flag(help: "Ignore program changes: the chosen --preset plays throughout (without it, bank select + program change pick presets as they do live).")
    var keepPreset = false

    @Option(parsing: .unconditional, help: "Latent point, comma-separated (overrides --preset); it may start with a minus sign.")
    var latent: String?

    @Option(help: "Model file (default: models/default.safetensors).")
    var model: String?

    @Option(help: "Config file whose settings and [cc] table apply, as for `timbred run` (default: $XDG_CONFIG_HOME/timbred/timbred.toml).")
    var config: String?

    @Option(help: "Output sample rate in Hz (44100, 48000, 88200, 96000...).")
    var rate: Int = 48000

    @Option(help: "Frames per block, as JACK's period live (scripts/play runs 256). With the daemon's period, the same events give the same samples as live, from the same point of its period.")
    var period: Int = 256

    @Option(help: "Maximum simultaneous notes (default: polyphony from the config file, else 32).")
    var polyphony: Int?

    @Option(help: "Decode the voices' frames ahead on a worker thread, true or false (default: the config file's decoder_thread, else true). The samples are the same either way.")
    var decoderThread: Bool?

    @Option(help: "Reverb mix (0 = dry, 1 = the model's room as trained; default: the config file's, else 0; a preset's own wins).")
    var reverb: Float?

    @Option(help: "Output gain in dB (default: the config file's gain_db, else -6; a preset's own wins).")
    var gainDB: Float?

    @Option(help: "Scala tuning: a .scl file, optionally followed by \", FILE.kbm\" (default: the config file's tuning, else 12-tone equal temperament).")
    var tuning: String?

    @Option(help: "MPE zones from the start: \"lower\", \"upper\", \"lower 7, upper 7\"… (default: the config file's mpe, else none until an MPE Configuration Message).")
    var mpe: String?

    @Option(help: "Seconds rendered after the last event for releases and reverb tails.")
    var tail: Double = 2.0

    mutating func run() throws {
        do {
            try render()
        } catch let e as CLIError {
            FileHandle.standardError.write(Data("timbred render: \(e.description)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The music to play: a MIDI file's events and length, or one note.
    private struct Song {
        var events: [StandardMIDIFile.TimedEvent]
        var durationSeconds: Double
        /// The file's SysEx payloads (tuning and reset messages play).
        var sysExBytes: [UInt8] = []
    }

    private func loadSong() throws -> Song {
        if let note {
            guard input == nil else { throw CLIError("give either a MIDI file or --note, not both") }
            guard (0...127).contains(note), (1...127).contains(velocity), seconds > 0, seconds <= 600 else {
                throw CLIError("--note must be 0-127, --velocity 1-127, --seconds 0-600")
            }
            return Song(events: [
                .init(timeSeconds: 0, tick: 0, trackIndex: 0, event: .noteOn(channel: 0, note: UInt8(note), velocity: UInt8(velocity))),
                .init(timeSeconds: seconds, tick: 0, trackIndex: 0, event: .noteOff(channel: 0, note: UInt8(note), velocity: 64)),
            ], durationSeconds: seconds)
        }
        guard let input else { throw CLIError("give a MIDI file to render, or --note PITCH") }
        guard let data = FileManager.default.contents(atPath: input) else {
            throw CLIError("\(input): cannot read MIDI file")
        }
        do {
            let file = try StandardMIDIFile(bytes: [UInt8](data))
            for repair in file.repairs { Log.warning("\(input): \(repair)") }
            return Song(events: file.events, durationSeconds: file.durationSeconds, sysExBytes: file.sysExBytes)
        } catch {
            throw CLIError("\(input): \(error)")
        }
    }

    private func render() throws {
        let song = try loadSong()
        guard [44100, 48000, 88200, 96000, 32000, 64000, 192000].contains(rate) else {
            throw CLIError("unsupported --rate \(rate) (use 44100, 48000, 88200 or 96000)")
        }
        var settings = DaemonSettings(configPath: config ?? DaemonSettings.defaultConfigPath)
        do {
            try settings.mergeConfigFile()
        } catch {
            throw CLIError("\(error)")
        }
        if let reverb { settings[.reverb] = .number(Double(reverb)) }
        if let gainDB { settings[.gainDB] = .number(Double(gainDB)) }
        if let polyphony { settings[.polyphony] = .integer(polyphony) }
        if let decoderThread { settings[.decoderThread] = .bool(decoderThread) }
        if let tuning { settings[.tuning] = .string(tuning) }
        if let mpe { settings[.mpe] = .string(mpe) }
        guard (1...256).contains(settings.integer(.polyphony)) else { throw CLIError("--polyphony must be 1...256") }
        guard (16...8192).contains(period) else { throw CLIError("--period must be 16...8192 frames") }
        Log.maximumLevel = .notice  // warnings, and what each program change picked (once)
        let timbreModel = try loadModel(try Resources.modelPath(model ?? (settings.string(.model).isEmpty ? nil : settings.string(.model))))
        if let morph {
            // the morph knob between the two presets (through the control side's path warp)
            let names = morph.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            if names.count == 2 {
                settings[.morphA] = .string(names[0])
                settings[.morphB] = .string(names[1])
            }
        }
        var morphPath: (from: [Float], to: [Float])?
        // the control side and the engine, as the daemon builds them
        let renderer: OfflineRenderer
        do {
            renderer = try OfflineRenderer(model: timbreModel, presetFolders: Resources.presetFolders, settings: settings,
                                           preset: preset, keepPreset: keepPreset, sampleRate: rate,
                                           blockFrames: period) { controller in
                if let z = try resolveLatent(model: timbreModel) { controller.moveTimbre(to: z) }
                morphPath = try resolveMorph(controller.library)
                if let morphPath { controller.moveTimbre(to: morphPath.from) }
            }
        } catch let e as PresetNotFound {
            throw CLIError(e.description)
        } catch let e as TuningFileError {
            throw CLIError(e.description)
        } catch let e as SettingError {
            throw CLIError(e.description)
        }
        let controller = renderer.sound

        let sampleRate = Double(rate)
        let totalFrames = Int((song.durationSeconds + tail) * sampleRate)
        let started = DispatchTime.now().uptimeNanoseconds
        let out = renderer.render(song.events, sysExBytes: song.sysExBytes, frameCount: totalFrames) { frame in
            // the morph knob turns from A to B while the music plays, then stays at B
            guard morphPath != nil else { return }
            let t = Float(min(1, Double(frame) / max(1, song.durationSeconds * sampleRate)))
            _ = controller.perform(.morph(t))
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        do {
            try writeFloatWAV(path: output, interleaved: out, channels: 2, sampleRate: rate)
        } catch {
            throw CLIError("\(error)")
        }
        let audioSeconds = Double(totalFrames) / sampleRate
        print(String(format: "rendered %.2f s of audio in %.2f s (%.1fx real time) to %@", audioSeconds, seconds,
                     audioSeconds / max(seconds, 1e-9), output))
    }

    /// The two latent points of `--morph A:B`, or nil without the option.
    private func resolveMorph(_ library: PresetLibrary) throws -> (from: [Float], to: [Float])? {
        guard let morph else { return nil }
        let names = morph.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard names.count == 2, !names[0].isEmpty, !names[1].isEmpty else {
            throw CLIError("--morph wants two presets as A:B, got \"\(morph)\"")
        }
        let points = try names.map { name -> [Float] in
            guard let p = library.find(name) else {
                throw CLIError("--morph: no preset named \(name) (have: \(library.presets.map(\.name).joined(separator: ", ")))")
            }
            return p.point
        }
        return (points[0], points[1])
    }

    /// The point of `--latent`, or nil without the option.
    private func resolveLatent(model: TimbreModel) throws -> [Float]? {
        guard let latent else { return nil }
        let values = latent.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard values.allSatisfy({ $0 != nil && $0!.isFinite }) else { throw CLIError("--latent: not a list of numbers: \(latent)") }
        let z = values.map { $0! }
        guard z.count == model.config.zDim else {
            throw CLIError("--latent has \(z.count) values; the model's timbre space has \(model.config.zDim)")
        }
        return z
    }
}
