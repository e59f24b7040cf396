import Foundation
import SoundParameters

// The OSC control API as types: the requests `timbred ctl` (or any OSC client) sends to the
// daemon on 127.0.0.1, and the replies. One place knows the wire format (paths and argument
// layout, see docs/control-protocol.md); the server (Daemon) parses requests and encodes replies
// with it, the client (`timbred ctl`) encodes requests and parses replies.

/// A request that could not be read: prints as the one line the server answers or ctl prints.
public struct ControlProtocolError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// One request of the OSC control API.
public enum ControlRequest: Sendable, Equatable {
    /// `/timbred/status`: answered with a `StatusReport`.
    case status
    /// `/timbred/load [s "reset"]`: answered with a `LoadReport`; `reset` then starts a new window.
    case load(reset: Bool)
    /// `/timbred/preset s NAME | i NUMBER`: play a preset (by name, file stem, instrument or index).
    case preset(String)
    /// `/timbred/latent i DIM f VALUE`: move one latent dimension of the timbre target.
    case latent(dimension: Int, value: Float)
    /// `/timbred/morph f POSITION`: the A/B morph, 0…1.
    case morph(Float)
    /// `/timbred/pad f X f Y`: the 2-D pad, 0…1 each.
    case pad(x: Float, y: Float)
    /// `/timbred/reverb f MIX`: reverb mix, within `ParameterLimits.reverbMix`.
    case reverb(Float)
    /// `/timbred/gain f DB`: output gain in dB, within `ParameterLimits.gainDB`.
    case gain(Float)
    /// `/timbred/attack f SCALE`, `/timbred/release f SCALE`: envelope time scales, within
    /// `ParameterLimits.attackScale` and `.releaseScale`.
    case attack(Float)
    case release(Float)
    /// `/timbred/panic`: silence every note now.
    case panic
    /// `/timbred/note i NOTE [i VELOCITY [i CHANNEL]]`: a note-on (velocity 0: off); velocity
    /// defaults to 100, channel (0…15) to 0.
    case note(Int, velocity: Int?, channel: Int?)
    /// `/timbred/learn s TARGET`: map the next controller moved to TARGET.
    case learn(TargetSpec)
    /// `/timbred/learn s "cancel"` (or "none", or nothing): disarm MIDI learn.
    case cancelLearn
    /// `/timbred/reload`: reload the presets and the config file's `[cc]` table.
    case reload
    /// `/timbred/model/reload`: reload the model file.
    case reloadModel

    public static let prefix = "/timbred/"

    /// The request's OSC path.
    public var path: String {
        switch self {
        case .status: return "/timbred/status"
        case .load: return "/timbred/load"
        case .preset: return "/timbred/preset"
        case .latent: return "/timbred/latent"
        case .morph: return "/timbred/morph"
        case .pad: return "/timbred/pad"
        case .reverb: return "/timbred/reverb"
        case .gain: return "/timbred/gain"
        case .attack: return "/timbred/attack"
        case .release: return "/timbred/release"
        case .panic: return "/timbred/panic"
        case .note: return "/timbred/note"
        case .learn, .cancelLearn: return "/timbred/learn"
        case .reload: return "/timbred/reload"
        case .reloadModel: return "/timbred/model/reload"
        }
    }

    /// The OSC message (the wire format the daemon reads).
    public var message: OSCMessage {
        switch self {
        case .status, .panic, .reload, .reloadModel: return OSCMessage(path)
        case .load(let reset): return OSCMessage(path, reset ? [.string("reset")] : [])
        case .preset(let key):
            if let n = Int32(key) { return OSCMessage(path, [.int(n)]) }
            return OSCMessage(path, [.string(key)])
        case let .latent(d, v): return OSCMessage(path, [.int(Int32(clamping: d)), .float(v)])
        case .morph(let v), .reverb(let v), .gain(let v), .attack(let v), .release(let v): return OSCMessage(path, [.float(v)])
        case let .pad(x, y): return OSCMessage(path, [.float(x), .float(y)])
        case let .note(n, velocity, channel):
            var a: [OSCArgument] = [.int(Int32(clamping: n))]
            if let velocity {
                a.append(.int(Int32(clamping: velocity)))
                if let channel { a.append(.int(Int32(clamping: channel))) }
            }
            return OSCMessage(path, a)
        case .learn(let target): return OSCMessage(path, [.string(target.description)])
        case .cancelLearn: return OSCMessage(path, [.string("cancel")])
        }
    }

    /// Reads a request the way the daemon always has: numbers may come as int, float or double.
    /// - Throws: `ControlProtocolError` saying what the request needs (the server's error reply).
    public init(message: OSCMessage) throws(ControlProtocolError) {
        let args = message.arguments
        func number(_ i: Int) -> Float? {
            guard i < args.count, let v = args[i].number.map(Float.init), v.isFinite else { return nil }
            return v
        }
        func integer(_ i: Int) -> Int? {
            guard let v = number(i), abs(v) < 1e9 else { return nil }
            return Int(v)
        }
        func fail(_ text: String) -> ControlProtocolError { ControlProtocolError(text) }
        switch message.path {
        case "/timbred/status": self = .status
        case "/timbred/load":
            if case .string("reset")? = args.first { self = .load(reset: true) } else { self = .load(reset: false) }
        case "/timbred/preset":
            guard let first = args.first else { throw fail("/timbred/preset needs a name or a number") }
            if case .string(let s) = first {
                self = .preset(s)
            } else if let v = first.number, v.isFinite, abs(v) < 1e9 {
                self = .preset(String(Int(v)))
            } else {
                self = .preset("-1")
            }
        case "/timbred/latent":
            guard let d = integer(0), let v = number(1) else { throw fail("/timbred/latent needs a dimension and a value") }
            self = .latent(dimension: d, value: v)
        case "/timbred/morph":
            guard let m = number(0) else { throw fail("/timbred/morph needs a position 0...1") }
            self = .morph(m)
        case "/timbred/pad":
            guard let x = number(0), let y = number(1) else { throw fail("/timbred/pad needs x and y in 0...1") }
            self = .pad(x: x, y: y)
        case "/timbred/reverb":
            let range = ParameterLimits.reverbMix
            guard let m = number(0), range.contains(Double(m)) else { throw fail("/timbred/reverb needs a mix \(ParameterLimits.text(range))") }
            self = .reverb(m)
        case "/timbred/gain":
            let range = ParameterLimits.gainDB
            guard let g = number(0), range.contains(Double(g)) else { throw fail("/timbred/gain needs dB in \(ParameterLimits.text(range))") }
            self = .gain(g)
        case "/timbred/attack", "/timbred/release":
            let isAttack = message.path.hasSuffix("attack")
            let range = isAttack ? ParameterLimits.attackScale : ParameterLimits.releaseScale
            guard let s = number(0), range.contains(Double(s)) else { throw fail("\(message.path) needs a scale \(ParameterLimits.text(range))") }
            self = isAttack ? .attack(s) : .release(s)
        case "/timbred/panic": self = .panic
        case "/timbred/note":
            guard let n = integer(0), (0...127).contains(n) else { throw fail("/timbred/note needs a note 0...127 and a velocity") }
            self = .note(n, velocity: integer(1), channel: integer(2))
        case "/timbred/learn":
            let text = args.map(\.description).joined(separator: " ").trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text == "cancel" || text == "none" {
                self = .cancelLearn
            } else {
                do {
                    self = .learn(try TargetSpec(parsing: text))
                } catch {
                    throw fail("\(error)")
                }
            }
        case "/timbred/reload": self = .reload
        case "/timbred/model/reload": self = .reloadModel
        default:
            throw fail("unknown request \(message.path) (see `timbred ctl --help`)")
        }
    }

    /// A request from `timbred ctl`'s command line: the request's name and its words.
    /// - Throws: `ControlProtocolError` naming the word that is wrong.
    public init(command: String, arguments args: [String]) throws(ControlProtocolError) {
        func float(_ i: Int) throws(ControlProtocolError) -> Float {
            guard i < args.count, let v = Float(args[i]) else { throw ControlProtocolError("\(command): argument \(i + 1) must be a number") }
            return v
        }
        func int(_ i: Int) throws(ControlProtocolError) -> Int {
            guard i < args.count, let v = Int32(args[i]) else { throw ControlProtocolError("\(command): argument \(i + 1) must be an integer") }
            return Int(v)
        }
        switch command {
        case "status": self = .status
        case "panic": self = .panic
        case "reload":
            if args.first == "model" { self = .reloadModel; return }
            guard args.isEmpty else { throw ControlProtocolError("reload takes nothing, or model") }
            self = .reload
        case "load":
            if args.first == "reset" { self = .load(reset: true); return }
            guard args.isEmpty else { throw ControlProtocolError("load takes nothing, or reset") }
            self = .load(reset: false)
        case "preset":
            guard let key = args.first else { throw ControlProtocolError("preset needs a name or a number") }
            self = .preset(Int32(key) != nil ? key : args.joined(separator: " "))
        case "latent": self = .latent(dimension: try int(0), value: try float(1))
        case "morph": self = .morph(try float(0))
        case "reverb": self = .reverb(try float(0))
        case "gain": self = .gain(try float(0))
        case "attack": self = .attack(try float(0))
        case "release": self = .release(try float(0))
        case "pad": self = .pad(x: try float(0), y: try float(1))
        case "learn":
            let text = args.joined(separator: " ").trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text == "cancel" || text == "none" { self = .cancelLearn; return }
            do {
                self = .learn(try TargetSpec(parsing: text))
            } catch {
                throw ControlProtocolError("\(error)")
            }
        case "note":
            self = .note(try int(0), velocity: args.count > 1 ? try int(1) : nil, channel: args.count > 2 ? try int(2) : nil)
        default:
            throw ControlProtocolError("unknown request \(command) (see `timbred ctl --help`)")
        }
    }
}

/// `/timbred/status`'s reply: `i voices, i xruns, f dsp_load, s preset, s jack, i rate,
/// i frames, f peak, f callback_mean, f callback_peak, i late_cycles`, then one `f` per latent
/// dimension.
public struct StatusReport: Sendable, Equatable {
    /// Voices sounding.
    public var voices: Int
    /// xruns since the start.
    public var xruns: Int
    /// JACK's DSP load of the whole graph, %.
    public var dspLoadPercent: Float
    /// The shared preset: what every channel without a preset of its own plays ("" before one
    /// is chosen).
    public var preset: String
    /// "active" or "waiting for a JACK server".
    public var jackState: String
    /// JACK's sample rate (Hz) and period (frames); 0 while no server runs.
    public var sampleRate: Int
    public var bufferFrames: Int
    /// The last block's peak output level.
    public var peak: Float
    /// timbred's own process callback since the load window began: mean and peak % of the
    /// period, and cycles that took longer than the period.
    public var callbackMeanPercent: Float
    public var callbackPeakPercent: Float
    public var lateCycles: Int
    /// The shared timbre target, one value per latent dimension.
    public var latent: [Float]
    /// The channels (1…16) playing a preset of their own (chosen by a program change on them),
    /// and its name; empty when every channel plays the shared preset. On the wire: one string
    /// `"CHANNEL NAME"` per channel after the latent values (a client that reads only numbers
    /// there skips them).
    public var channelPresets: [Int: String]

    public init(voices: Int, xruns: Int, dspLoadPercent: Float, preset: String, jackState: String, sampleRate: Int,
                bufferFrames: Int, peak: Float, callbackMeanPercent: Float, callbackPeakPercent: Float, lateCycles: Int,
                latent: [Float], channelPresets: [Int: String] = [:]) {
        self.channelPresets = channelPresets
        self.voices = voices
        self.xruns = xruns
        self.dspLoadPercent = dspLoadPercent
        self.preset = preset
        self.jackState = jackState
        self.sampleRate = sampleRate
        self.bufferFrames = bufferFrames
        self.peak = peak
        self.callbackMeanPercent = callbackMeanPercent
        self.callbackPeakPercent = callbackPeakPercent
        self.lateCycles = lateCycles
        self.latent = latent
    }

    public static let path = "/timbred/status"

    public var message: OSCMessage {
        OSCMessage(Self.path, [
            .int(Int32(clamping: voices)), .int(Int32(clamping: xruns)), .float(dspLoadPercent), .string(preset), .string(jackState),
            .int(Int32(clamping: sampleRate)), .int(Int32(clamping: bufferFrames)), .float(peak),
            .float(callbackMeanPercent), .float(callbackPeakPercent), .int(Int32(clamping: lateCycles)),
        ] + latent.map { .float($0) } + channelPresets.sorted { $0.key < $1.key }.map { .string("\($0.key) \($0.value)") })
    }

    /// - Throws: `ControlProtocolError` when the arguments are not a status reply's.
    public init(message m: OSCMessage) throws(ControlProtocolError) {
        let a = m.arguments
        guard m.path == Self.path, a.count >= 11,
              let voices = a[0].number, let xruns = a[1].number, let dsp = a[2].number,
              case .string(let preset) = a[3], case .string(let jack) = a[4],
              let rate = a[5].number, let frames = a[6].number, let peak = a[7].number,
              let mean = a[8].number, let callbackPeak = a[9].number, let late = a[10].number else {
            throw ControlProtocolError("malformed status reply: \(a.map(\.description).joined(separator: " "))")
        }
        self.init(voices: Int(voices), xruns: Int(xruns), dspLoadPercent: Float(dsp), preset: preset, jackState: jack,
                  sampleRate: Int(rate), bufferFrames: Int(frames), peak: Float(peak), callbackMeanPercent: Float(mean),
                  callbackPeakPercent: Float(callbackPeak), lateCycles: Int(late),
                  latent: a[11...].compactMap { $0.number.map(Float.init) },
                  channelPresets: Dictionary(a[11...].compactMap { argument -> (Int, String)? in
                      guard case .string(let text) = argument, let space = text.firstIndex(of: " "),
                            let channel = Int(text[..<space]) else { return nil }
                      return (channel, String(text[text.index(after: space)...]))
                  }, uniquingKeysWith: { _, last in last }))
    }

    /// The lines `timbred ctl status` prints.
    public var text: String {
        """
        voices: \(voices)
        xruns: \(xruns)
        dsp_load: \(String(format: "%.1f", dspLoadPercent)) % (JACK graph)
        callback_load: mean \(String(format: "%.1f", callbackMeanPercent)) %, peak \(String(format: "%.1f", callbackPeakPercent)) % of the period; late cycles: \(lateCycles)
        preset: \(preset)
        channel_presets: \(channelPresets.isEmpty ? "none" : channelPresets.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        jack: \(jackState) (\(sampleRate) Hz, \(bufferFrames) frames)
        peak: \(String(format: "%.3f", peak))
        latent: \(latent.map { String(format: "%.3f", $0) }.joined(separator: " "))
        """
    }
}

/// `/timbred/load`'s reply: `f mean, f peak, i late_cycles, i cycles, i xruns, f cpu_mean,
/// f cpu_peak, i overrun_cycles, i worker_running, f worker_mean, f worker_cpu_mean,
/// i worker_jobs` (a reply of the first 8 only, from a daemon before the worker's fields, reads
/// as the worker not running).
public struct LoadReport: Sendable, Equatable {
    /// The process callback's wall time since the window began, % of the period: mean over
    /// every cycle, the longest cycle; cycles longer than their period; cycles in the window.
    public var meanPercent: Float
    public var peakPercent: Float
    public var lateCycles: Int
    public var cycles: Int
    /// xruns since the start.
    public var xruns: Int
    /// The same in the thread's CPU time (its own work, without preemption and machine stalls):
    /// mean, largest, and cycles whose CPU time alone exceeded the period.
    public var cpuMeanPercent: Float
    public var cpuPeakPercent: Float
    public var overrunCycles: Int
    /// The decode worker (issue 17) runs beside the callback.
    public var workerRunning: Bool
    /// The decode worker's wall time inside jobs over the same window, % of the window's cycles ×
    /// the period (the load it puts on its own core, comparable with `meanPercent`), and the same
    /// in its thread's CPU time; jobs it computed in the window.
    public var workerMeanPercent: Float
    public var workerCPUMeanPercent: Float
    public var workerJobs: Int

    public init(meanPercent: Float, peakPercent: Float, lateCycles: Int, cycles: Int, xruns: Int, cpuMeanPercent: Float,
                cpuPeakPercent: Float, overrunCycles: Int, workerRunning: Bool = false, workerMeanPercent: Float = 0,
                workerCPUMeanPercent: Float = 0, workerJobs: Int = 0) {
        self.workerRunning = workerRunning
        self.workerMeanPercent = workerMeanPercent
        self.workerCPUMeanPercent = workerCPUMeanPercent
        self.workerJobs = workerJobs
        self.meanPercent = meanPercent
        self.peakPercent = peakPercent
        self.lateCycles = lateCycles
        self.cycles = cycles
        self.xruns = xruns
        self.cpuMeanPercent = cpuMeanPercent
        self.cpuPeakPercent = cpuPeakPercent
        self.overrunCycles = overrunCycles
    }

    public static let path = "/timbred/load"

    public var message: OSCMessage {
        OSCMessage(Self.path, [.float(meanPercent), .float(peakPercent), .int(Int32(clamping: lateCycles)),
                               .int(Int32(clamping: cycles)), .int(Int32(clamping: xruns)), .float(cpuMeanPercent),
                               .float(cpuPeakPercent), .int(Int32(clamping: overrunCycles)), .int(workerRunning ? 1 : 0),
                               .float(workerMeanPercent), .float(workerCPUMeanPercent), .int(Int32(clamping: workerJobs))])
    }

    /// - Throws: `ControlProtocolError` when the arguments are not a load reply's.
    public init(message m: OSCMessage) throws(ControlProtocolError) {
        let n = m.arguments.compactMap(\.number)
        guard m.path == Self.path, m.arguments.count == 8 || m.arguments.count == 12, n.count == m.arguments.count else {
            throw ControlProtocolError("malformed load reply: \(m.arguments.map(\.description).joined(separator: " "))")
        }
        let worker = n.count == 12
        self.init(meanPercent: Float(n[0]), peakPercent: Float(n[1]), lateCycles: Int(n[2]), cycles: Int(n[3]), xruns: Int(n[4]),
                  cpuMeanPercent: Float(n[5]), cpuPeakPercent: Float(n[6]), overrunCycles: Int(n[7]),
                  workerRunning: worker && n[8] != 0, workerMeanPercent: worker ? Float(n[9]) : 0,
                  workerCPUMeanPercent: worker ? Float(n[10]) : 0, workerJobs: worker ? Int(n[11]) : 0)
    }

    /// The lines `timbred ctl load` prints.
    public var text: String {
        func percent(_ x: Float) -> String { String(format: "%.2f", x) }
        return "callback_load_mean: \(percent(meanPercent)) %\ncallback_load_peak: \(percent(peakPercent)) %\n"
            + "late_cycles: \(lateCycles)\ncycles: \(cycles)\nxruns: \(xruns)\n"
            + "callback_cpu_mean: \(percent(cpuMeanPercent)) %\ncallback_cpu_peak: \(percent(cpuPeakPercent)) %\n"
            + "overrun_cycles: \(overrunCycles)\n"
            + (workerRunning
                ? "decode_worker_load_mean: \(percent(workerMeanPercent)) %\ndecode_worker_cpu_mean: \(percent(workerCPUMeanPercent)) %\n"
                  + "decode_worker_jobs: \(workerJobs)"
                : "decode_worker: off")
    }
}

/// Every reply of the OSC control API.
public enum ControlReply: Sendable, Equatable {
    /// `/timbred/ok s TEXT`: done; TEXT says what.
    case ok(String)
    /// `/timbred/error s TEXT`: refused; TEXT says why.
    case error(String)
    /// `/timbred/status …`
    case status(StatusReport)
    /// `/timbred/load …`
    case load(LoadReport)

    public var message: OSCMessage {
        switch self {
        case .ok(let text): return OSCMessage("/timbred/ok", [.string(text)])
        case .error(let text): return OSCMessage("/timbred/error", [.string(text)])
        case .status(let s): return s.message
        case .load(let l): return l.message
        }
    }

    /// - Throws: `ControlProtocolError` for a path that is no reply, or a malformed one.
    public init(message m: OSCMessage) throws(ControlProtocolError) {
        switch m.path {
        case "/timbred/ok": self = .ok(m.arguments.map(\.description).joined(separator: " "))
        case "/timbred/error": self = .error(m.arguments.first?.description ?? "error")
        case StatusReport.path: self = .status(try StatusReport(message: m))
        case LoadReport.path: self = .load(try LoadReport(message: m))
        default: throw ControlProtocolError("unexpected reply \(m.path)")
        }
    }
}
