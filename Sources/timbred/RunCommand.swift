import ArgumentParser
import Control
import Daemon
import Foundation
import JackBackend
import Model

/// `timbred run` (the default): the live synthesizer as a JACK client.
///
/// Every flag is a setting of `Setting` (Control/Settings.swift), where its name, default,
/// range and help are declared once; flags override the config file, which overrides defaults.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Play the synthesizer live: a JACK client with stereo outputs and MIDI input (the default command).",
        discussion: """
        Settings come from the defaults, then the config file, then these flags. The config file \
        (\(DaemonSettings.defaultConfigPath) unless --config says otherwise) uses the same names \
        with underscores (client_name = "synth"), plus a [cc] table mapping controllers to \
        targets (see `timbred --help`).

        Signals: SIGHUP reloads presets and the [cc] table; SIGTERM or SIGINT stop cleanly. \
        Preset files are also reloaded when they change. Control it with `timbred ctl`.
        """)

    @Option(help: "Config file (default: $XDG_CONFIG_HOME/timbred/timbred.toml).")
    var config: String?

    @Option(name: .customLong(Setting.clientName.flagName), help: ArgumentHelp(Setting.clientName.helpText, valueName: Setting.clientName.valueName))
    var clientName: String?
    @Option(name: .customLong(Setting.server.flagName), help: ArgumentHelp(Setting.server.helpText, valueName: Setting.server.valueName))
    var server: String?
    @Option(name: .customLong(Setting.autoconnect.flagName), help: ArgumentHelp(Setting.autoconnect.helpText, valueName: Setting.autoconnect.valueName))
    var autoconnect: String?
    @Option(name: .customLong(Setting.jackMIDIAutoconnect.flagName), help: ArgumentHelp(Setting.jackMIDIAutoconnect.helpText, valueName: Setting.jackMIDIAutoconnect.valueName))
    var jackMIDIAutoconnect: String?
    @Option(name: .customLong(Setting.alsaMIDI.flagName), help: ArgumentHelp(Setting.alsaMIDI.helpText, valueName: Setting.alsaMIDI.valueName))
    var alsaMIDI: String?
    @Option(name: .customLong(Setting.alsaAutoconnect.flagName), help: ArgumentHelp(Setting.alsaAutoconnect.helpText, valueName: Setting.alsaAutoconnect.valueName))
    var alsaAutoconnect: String?
    @Option(name: .customLong(Setting.channel.flagName), help: ArgumentHelp(Setting.channel.helpText, valueName: Setting.channel.valueName))
    var channel: String?
    @Option(name: .customLong(Setting.drumChannel.flagName), help: ArgumentHelp(Setting.drumChannel.helpText, valueName: Setting.drumChannel.valueName))
    var drumChannel: String?
    @Option(name: .customLong(Setting.keepPreset.flagName), help: ArgumentHelp(Setting.keepPreset.helpText, valueName: Setting.keepPreset.valueName))
    var keepPreset: String?
    @Option(name: .customLong(Setting.model.flagName), help: ArgumentHelp(Setting.model.helpText, valueName: Setting.model.valueName))
    var model: String?
    @Option(name: .customLong(Setting.preset.flagName), help: ArgumentHelp(Setting.preset.helpText, valueName: Setting.preset.valueName))
    var preset: String?
    @Option(name: .customLong(Setting.polyphony.flagName), help: ArgumentHelp(Setting.polyphony.helpText, valueName: Setting.polyphony.valueName))
    var polyphony: String?
    @Option(name: .customLong(Setting.gainDB.flagName), help: ArgumentHelp(Setting.gainDB.helpText, valueName: Setting.gainDB.valueName))
    var gainDB: String?
    @Option(name: .customLong(Setting.reverb.flagName), help: ArgumentHelp(Setting.reverb.helpText, valueName: Setting.reverb.valueName))
    var reverb: String?
    @Option(name: .customLong(Setting.attackScale.flagName), help: ArgumentHelp(Setting.attackScale.helpText, valueName: Setting.attackScale.valueName))
    var attackScale: String?
    @Option(name: .customLong(Setting.releaseScale.flagName), help: ArgumentHelp(Setting.releaseScale.helpText, valueName: Setting.releaseScale.valueName))
    var releaseScale: String?
    @Option(name: .customLong(Setting.pitchBendRange.flagName), help: ArgumentHelp(Setting.pitchBendRange.helpText, valueName: Setting.pitchBendRange.valueName))
    var pitchBendRange: String?
    @Option(name: .customLong(Setting.timbreGlideMs.flagName), help: ArgumentHelp(Setting.timbreGlideMs.helpText, valueName: Setting.timbreGlideMs.valueName))
    var timbreGlideMs: String?
    @Option(name: .customLong(Setting.morphA.flagName), help: ArgumentHelp(Setting.morphA.helpText, valueName: Setting.morphA.valueName))
    var morphA: String?
    @Option(name: .customLong(Setting.morphB.flagName), help: ArgumentHelp(Setting.morphB.helpText, valueName: Setting.morphB.valueName))
    var morphB: String?
    @Option(name: .customLong(Setting.pad.flagName), help: ArgumentHelp(Setting.pad.helpText, valueName: Setting.pad.valueName))
    var pad: String?
    @Option(name: .customLong(Setting.osc.flagName), help: ArgumentHelp(Setting.osc.helpText, valueName: Setting.osc.valueName))
    var osc: String?
    @Option(name: .customLong(Setting.oscPort.flagName), help: ArgumentHelp(Setting.oscPort.helpText, valueName: Setting.oscPort.valueName))
    var oscPort: String?
    @Option(name: .customLong(Setting.logLevel.flagName), help: ArgumentHelp(Setting.logLevel.helpText, valueName: Setting.logLevel.valueName))
    var logLevel: String?
    @Option(name: .customLong(Setting.tuning.flagName), help: ArgumentHelp(Setting.tuning.helpText, valueName: Setting.tuning.valueName))
    var tuning: String?
    @Option(name: .customLong(Setting.mpe.flagName), help: ArgumentHelp(Setting.mpe.helpText, valueName: Setting.mpe.valueName))
    var mpe: String?
    @Option(name: .customLong(Setting.mpeSlide.flagName), help: ArgumentHelp(Setting.mpeSlide.helpText, valueName: Setting.mpeSlide.valueName))
    var mpeSlide: String?
    @Option(name: .customLong(Setting.decoderThread.flagName), help: ArgumentHelp(Setting.decoderThread.helpText, valueName: Setting.decoderThread.valueName))
    var decoderThread: String?

    /// The flags given, by setting (every setting has exactly one flag; a test checks it).
    var flags: [Setting: String?] {
        [.clientName: clientName, .server: server, .autoconnect: autoconnect, .jackMIDIAutoconnect: jackMIDIAutoconnect,
         .alsaMIDI: alsaMIDI, .alsaAutoconnect: alsaAutoconnect, .channel: channel,
         .drumChannel: drumChannel, .keepPreset: keepPreset, .model: model, .preset: preset,
         .polyphony: polyphony, .gainDB: gainDB, .reverb: reverb, .attackScale: attackScale, .releaseScale: releaseScale,
         .pitchBendRange: pitchBendRange, .timbreGlideMs: timbreGlideMs, .morphA: morphA, .morphB: morphB, .pad: pad,
         .osc: osc, .oscPort: oscPort, .logLevel: logLevel, .tuning: tuning, .mpe: mpe, .mpeSlide: mpeSlide,
         .decoderThread: decoderThread]
    }

    /// Defaults ← config file ← flags. - Throws: `SettingError` naming the file or flag.
    func resolveSettings() throws(SettingError) -> DaemonSettings {
        var settings = DaemonSettings(configPath: config ?? DaemonSettings.defaultConfigPath)
        try settings.mergeConfigFile()
        for (setting, given) in flags {
            if let given { settings[setting] = try setting.value(fromText: given) }
        }
        return settings
    }

    mutating func run() throws {
        let settings: DaemonSettings
        do {
            settings = try resolveSettings()
        } catch {
            Log.error("\(error)")
            throw ExitCode(2)
        }
        switch settings.string(.logLevel) {
        case "error": Log.maximumLevel = .error
        case "warning": Log.maximumLevel = .warning
        case "notice": Log.maximumLevel = .notice
        case "debug":
            Log.maximumLevel = .debug
            JackBackend.showsLibraryMessages = true
        default: Log.maximumLevel = .info
        }
        for key in settings.unknownKeys { Log.warning("\(settings.configPath): unknown setting \(key) (ignored)") }
        let timbreModel: TimbreModel
        let path: String
        do {
            path = try Resources.modelPath(settings.string(.model).isEmpty ? nil : settings.string(.model))
            timbreModel = try loadModel(path)
            Log.info("model \(path): \(timbreModel.config.zDim)-dimensional timbre space, instruments "
                     + timbreModel.instrumentNames.joined(separator: ", "))
        } catch {
            Log.error("\(error)")
            throw ExitCode(1)
        }
        let daemon = Daemon(settings: settings, model: timbreModel, modelPath: path, presetFolders: Resources.presetFolders)
        try daemon.run()
    }
}
