import ArgumentParser
import Control
import Foundation
import SoundParameters

/// `timbred ctl`: the command-line client of the OSC control API (127.0.0.1 only).
struct CtlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Control a running timbred over OSC (127.0.0.1).",
        discussion: """
        Requests (the OSC path is /timbred/<request>):
          status                  voices, xruns, DSP load, preset (and channels with their own), JACK state, latent point
          load [reset]            timbred's own callback load (mean, peak % of the period, late
                                  cycles) since the window began, and the decode worker's load
                                  beside it (% of the period on its own core); reset starts a
                                  new window
          preset NAME|NUMBER      play a preset
          latent DIM VALUE        move one latent dimension
          morph POSITION          A/B morph, 0...1
          pad X Y                 2-D pad over four presets, 0...1 each
          reverb MIX              reverb mix, \(ParameterLimits.text(ParameterLimits.reverbMix)) (1 = as trained)
          gain DB                 output gain, \(ParameterLimits.text(ParameterLimits.gainDB)) dB
          attack SCALE, release SCALE   envelope time scales, \(ParameterLimits.text(ParameterLimits.attackScale))
          panic                   silence every note now
          learn TARGET            map the next knob moved to TARGET (latent N, morph, pad_x, pad_y,
                                  reverb, gain, attack, release, loudness; cancel to disarm); saved
          note NOTE [VELOCITY [CHANNEL]]   play a note (velocity 0 releases it)
          reload                  reload presets and the [cc] table
          reload model            reload the model file (refused, keeping the sound, if it is broken)
        Any OSC tool works too: oscsend 127.0.0.1 9123 /timbred/morph f 0.5
        (every path, argument and reply: docs/control-protocol.md)
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
        let request: ControlRequest
        do {
            request = try ControlRequest(command: self.request, arguments: arguments)
        } catch {
            FileHandle.standardError.write(Data("timbred ctl: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        let reply: ControlReply
        do {
            reply = try ControlReply(message: OSCClient.request(request.message, port: oscPort, timeoutSeconds: timeout))
        } catch {
            FileHandle.standardError.write(Data("timbred ctl: \(error)\n".utf8))
            throw ExitCode(1)
        }
        switch reply {
        case .status(let status): print(status.text)
        case .load(let load): print(load.text)
        case .ok(let text): print(text)
        case .error(let text):
            FileHandle.standardError.write(Data("timbred ctl: \(text)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func configuredPort() -> Int {
        var settings = DaemonSettings(configPath: DaemonSettings.defaultConfigPath)
        try? settings.mergeConfigFile()
        return settings.integer(.oscPort)
    }
}
