import ArgumentParser
import Engine
import Foundation
import MIDI
import Model
import Presets
import Timbre

/// `timbred render IN.mid -o OUT.wav`: drives the real-time engine from a Standard MIDI File (or
/// one note, `--note`) in a plain loop (no JACK) and writes the result with libsndfile.
/// `--morph A:B` moves the timbre from preset A to preset B over the length of the music.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a MIDI file to audio with the same engine the daemon runs.")

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

    @Option(help: "Preset name (or file stem / instrument) to play with.")
    var preset: String?

    @Option(help: "Latent point, comma-separated (overrides --preset).")
    var latent: String?

    @Option(help: "Model file (default: models/default.safetensors).")
    var model: String?

    @Option(help: "Output sample rate in Hz (44100, 48000, 88200, 96000...).")
    var rate: Int = 48000

    @Option(help: "Maximum simultaneous notes.")
    var polyphony: Int = 32

    @Option(help: "Reverb mix (0 = dry, 1 = as the model was trained).")
    var reverb: Float = 1

    @Option(help: "Output gain in dB.")
    var gainDB: Float = -6

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
            return Song(events: file.events, durationSeconds: file.durationSeconds)
        } catch {
            throw CLIError("\(input): \(error)")
        }
    }

    private func render() throws {
        let song = try loadSong()
        guard [44100, 48000, 88200, 96000, 32000, 64000, 192000].contains(rate) else {
            throw CLIError("unsupported --rate \(rate) (use 44100, 48000, 88200 or 96000)")
        }
        guard (1...256).contains(polyphony) else { throw CLIError("--polyphony must be 1...256") }
        let modelPath = try Resources.modelPath(model)
        let timbreModel = try loadModel(modelPath)
        let (presets, _) = Preset.loadAll(folders: Resources.presetFolders)
        let timbre = try resolveTimbre(model: timbreModel, presets: presets)
        let morphPath = try resolveMorph(model: timbreModel, presets: presets)

        var settings = EngineSettings()
        settings.sampleRate = Double(rate)
        settings.polyphony = polyphony
        settings.maxBlockFrames = 256
        let engine = Engine(model: timbreModel, settings: settings, timbre: morphPath?.from ?? timbre, gainDB: gainDB)
        _ = engine.commands.push(.setReverbMix(reverb))

        let sampleRate = Double(rate)
        let block = settings.maxBlockFrames
        let totalFrames = Int((song.durationSeconds + tail) * sampleRate)
        var out = [Float](repeating: 0, count: 2 * totalFrames)
        var left = [Float](repeating: 0, count: block), right = [Float](repeating: 0, count: block)
        var events: [TimedMIDIEvent] = []
        events.reserveCapacity(1024)
        var next = 0
        let started = DispatchTime.now().uptimeNanoseconds
        var frame = 0
        while frame < totalFrames {
            let n = min(block, totalFrames - frame)
            events.removeAll(keepingCapacity: true)
            if let morphPath {
                // the timbre moves linearly from A to B while the music plays, then stays at B
                let t = Float(min(1, Double(frame) / max(1, song.durationSeconds * sampleRate)))
                let z = zip(morphPath.from, morphPath.to).map { $0 + t * ($1 - $0) }
                _ = engine.commands.push(.setTimbre(LatentPoint(z)))
            }
            while next < song.events.count {
                let e = song.events[next]
                let at = Int((e.timeSeconds * sampleRate).rounded())
                if at >= frame + n { break }
                if case .programChange(_, let program) = e.event {
                    if let p = presets.first(where: { $0.program == Int(program) }),
                       let z = try? p.latentPoint(instruments: timbreModel.instrumentNames, means: timbreModel.latentMeans) {
                        _ = engine.commands.push(.setTimbre(LatentPoint(z)))
                    }
                } else {
                    events.append(TimedMIDIEvent(offset: max(0, at - frame), event: e.event))
                }
                next += 1
            }
            left.withUnsafeMutableBufferPointer { l in
                right.withUnsafeMutableBufferPointer { r in
                    events.withUnsafeBufferPointer { ev in
                        engine.render(frameCount: n, events: ev, left: l.baseAddress!, right: r.baseAddress!)
                    }
                }
            }
            for i in 0..<n {
                out[2 * (frame + i)] = left[i]
                out[2 * (frame + i) + 1] = right[i]
            }
            frame += n
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
    private func resolveMorph(model: TimbreModel, presets: [Preset]) throws -> (from: [Float], to: [Float])? {
        guard let morph else { return nil }
        let names = morph.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard names.count == 2, !names[0].isEmpty, !names[1].isEmpty else {
            throw CLIError("--morph wants two presets as A:B, got \"\(morph)\"")
        }
        let points = try names.map { name -> [Float] in
            guard let p = Preset.find(name, in: presets) else {
                throw CLIError("--morph: no preset named \(name) (have: \(presets.map(\.name).joined(separator: ", ")))")
            }
            do {
                return try p.latentPoint(instruments: model.instrumentNames, means: model.latentMeans)
            } catch {
                throw CLIError("\(error)")
            }
        }
        return (points[0], points[1])
    }

    private func resolveTimbre(model: TimbreModel, presets: [Preset]) throws -> [Float] {
        if let latent {
            let values = latent.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard values.allSatisfy({ $0 != nil && $0!.isFinite }) else { throw CLIError("--latent: not a list of numbers: \(latent)") }
            let z = values.map { $0! }
            guard z.count == model.config.zDim else {
                throw CLIError("--latent has \(z.count) values; the model's timbre space has \(model.config.zDim)")
            }
            return z
        }
        if let preset {
            guard let p = Preset.find(preset, in: presets) else {
                throw CLIError("no preset named \(preset) (have: \(presets.map(\.name).joined(separator: ", ")))")
            }
            do {
                return try p.latentPoint(instruments: model.instrumentNames, means: model.latentMeans)
            } catch {
                throw CLIError("\(error)")
            }
        }
        return model.latentMeans[0]
    }
}
