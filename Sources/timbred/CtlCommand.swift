import ArgumentParser
import Control
import Foundation

/// `timbred ctl`: the command-line client of the OSC control API (127.0.0.1 only).
struct CtlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Control a running timbred over OSC (127.0.0.1).",
        discussion: """
        Requests (the OSC path is /timbred/<request>):
          status                  voices, xruns, DSP load, preset, JACK state, latent point
          load [reset]            timbred's own callback load (mean, peak % of the period, late
                                  cycles) since the window began; reset starts a new window
          preset NAME|NUMBER      play a preset
          latent DIM VALUE        move one latent dimension
          morph POSITION          A/B morph, 0...1
          pad X Y                 2-D pad over four presets, 0...1 each
          reverb MIX              reverb mix, 0...4 (1 = as trained)
          gain DB                 output gain, -60...12 dB
          attack SCALE, release SCALE   envelope time scales, 0.1...10
          panic                   silence every note now
          learn TARGET            map the next knob moved to TARGET (latent N, morph, pad_x, pad_y,
                                  reverb, gain, attack, release, loudness; cancel to disarm); saved
          note NOTE [VELOCITY [CHANNEL]]   play a note (velocity 0 releases it)
          reload                  reload presets and the [cc] table
          reload model            reload the model file (refused, keeping the sound, if it is broken)
        Any OSC tool works too: oscsend 127.0.0.1 9123 /timbred/morph f 0.5
        """)

    @Argument(help: "The request (status, load, preset, latent, morph, pad, reverb, gain, attack, release, panic, learn, note, reload).")
    var request: String

    @Argument(parsing: .allUnrecognized, help: "Its arguments (negative numbers are fine: gain -12).")
    var arguments: [String] = []

    @Option(help: "OSC port (default: osc_port from the config file, else 9123).")
    var port: Int?

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Double = 1

    mutating func run() throws {
        let oscPort = port ?? configuredPort()
        let message: OSCMessage
        do {
            message = try Self.message(request, arguments)
        } catch let e as CLIError {
            FileHandle.standardError.write(Data("timbred ctl: \(e.description)\n".utf8))
            throw ExitCode(2)
        }
        let reply: OSCMessage
        do {
            reply = try OSCClient.request(message, port: oscPort, timeoutSeconds: timeout)
        } catch {
            FileHandle.standardError.write(Data("timbred ctl: \(error)\n".utf8))
            throw ExitCode(1)
        }
        switch reply.path {
        case "/timbred/status":
            print(Self.formatStatus(reply.arguments))
        case "/timbred/load":
            print(Self.formatLoad(reply.arguments))
        case "/timbred/error":
            FileHandle.standardError.write(Data("timbred ctl: \(reply.arguments.first?.description ?? "error")\n".utf8))
            throw ExitCode(1)
        default:
            print(reply.arguments.map(\.description).joined(separator: " "))
        }
    }

    private func configuredPort() -> Int {
        var settings = DaemonSettings(configPath: DaemonSettings.defaultConfigPath)
        try? settings.mergeConfigFile()
        return settings.integer(.oscPort)
    }

    /// The OSC message for a request and its command-line arguments.
    static func message(_ request: String, _ args: [String]) throws -> OSCMessage {
        let path = "/timbred/" + request
        func float(_ i: Int) throws -> OSCArgument {
            guard i < args.count, let v = Float(args[i]) else { throw CLIError("\(request): argument \(i + 1) must be a number") }
            return .float(v)
        }
        func int(_ i: Int) throws -> OSCArgument {
            guard i < args.count, let v = Int32(args[i]) else { throw CLIError("\(request): argument \(i + 1) must be an integer") }
            return .int(v)
        }
        switch request {
        case "status", "panic": return OSCMessage(path)
        case "reload":
            if args.first == "model" { return OSCMessage("/timbred/model/reload") }
            guard args.isEmpty else { throw CLIError("reload takes nothing, or model") }
            return OSCMessage(path)
        case "load":
            if args.first == "reset" { return OSCMessage(path, [.string("reset")]) }
            guard args.isEmpty else { throw CLIError("load takes nothing, or reset") }
            return OSCMessage(path)
        case "preset":
            guard let key = args.first else { throw CLIError("preset needs a name or a number") }
            if let n = Int32(key) { return OSCMessage(path, [.int(n)]) }
            return OSCMessage(path, [.string(args.joined(separator: " "))])
        case "latent": return OSCMessage(path, [try int(0), try float(1)])
        case "morph", "reverb", "gain", "attack", "release": return OSCMessage(path, [try float(0)])
        case "pad": return OSCMessage(path, [try float(0), try float(1)])
        case "learn": return OSCMessage(path, [.string(args.joined(separator: " "))])
        case "note":
            var a = [try int(0)]
            if args.count > 1 { a.append(try int(1)) }
            if args.count > 2 { a.append(try int(2)) }
            return OSCMessage(path, a)
        default:
            throw CLIError("unknown request \(request) (see `timbred ctl --help`)")
        }
    }

    /// The load report: mean, peak, late cycles, cycles, xruns.
    static func formatLoad(_ a: [OSCArgument]) -> String {
        func at(_ i: Int) -> String { i < a.count ? a[i].description : "?" }
        func percent(_ i: Int) -> String { i < a.count ? String(format: "%.2f", a[i].number ?? 0) : "?" }
        return "callback_load_mean: \(percent(0)) %\ncallback_load_peak: \(percent(1)) %\nlate_cycles: \(at(2))\ncycles: \(at(3))\nxruns: \(at(4))"
            + "\ncallback_cpu_mean: \(percent(5)) %\ncallback_cpu_peak: \(percent(6)) %\noverrun_cycles: \(at(7))"
    }

    /// Human-readable status lines.
    static func formatStatus(_ a: [OSCArgument]) -> String {
        func at(_ i: Int) -> String { i < a.count ? a[i].description : "?" }
        func percent(_ i: Int) -> String { i < a.count ? String(format: "%.1f", a[i].number ?? 0) : "?" }
        let latent = a.count > 11 ? a[11...].compactMap { $0.number.map { String(format: "%.3f", $0) } }.joined(separator: " ") : ""
        return """
        voices: \(at(0))
        xruns: \(at(1))
        dsp_load: \(percent(2)) % (JACK graph)
        callback_load: mean \(percent(8)) %, peak \(percent(9)) % of the period; late cycles: \(at(10))
        preset: \(at(3))
        jack: \(at(4)) (\(at(5)) Hz, \(at(6)) frames)
        peak: \(a.count > 7 ? String(format: "%.3f", a[7].number ?? 0) : "?")
        latent: \(latent)
        """
    }
}
