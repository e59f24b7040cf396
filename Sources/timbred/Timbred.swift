import ArgumentParser
import Control
import Glibc

/// `timbred`: the neural synthesizer's command-line entry point. Without a subcommand it runs
/// the live daemon (`timbred run`).
@main
struct Timbred: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timbred",
        abstract: "A real-time neural (DDSP) synthesizer: play instruments from a learned timbre space.",
        discussion: """
        Without a command, timbred runs the live synthesizer (`timbred run`): a JACK client with \
        stereo outputs (out_left, out_right) and a MIDI input (midi_in), plus an ALSA sequencer \
        input port, controlled over OSC on 127.0.0.1 (`timbred ctl`).

        Configuration file: \(DaemonSettings.defaultConfigPath) ($XDG_CONFIG_HOME/timbred/timbred.toml). \
        Every setting, with its command-line flag --name-with-dashes:
        \(Setting.reference)

        Knobs: a [cc] table maps controllers to targets, e.g.
          [cc]
          74 = "latent 2"          # a latent dimension (range: where the model's instruments lie, or "latent 2 -1 1")
          1 = "morph"              # A/B morph between morph_a and morph_b
          16 = "pad_x"             # 2-D pad over the four pad presets (and 17 = "pad_y")
          91 = "reverb 0 2"        # also gain, attack, release, loudness
          pressure = "loudness 0 9"   # channel pressure; poly_pressure too
        Defaults: CC 70-77 → latent 0-7, CC 1 → morph, CC 7 → gain, CC 11 → loudness, CC 91 → reverb, \
        pressure → loudness. MIDI learn (`timbred ctl learn "latent 3"`, then move a knob) writes here.

        Presets: *.toml files in presets/ (also under $TIMBRED_HOME and ~/.local/share/timbred) and \
        $XDG_CONFIG_HOME/timbred/presets: name, instrument or latent, and optional program, bank, reverb, \
        gain_db, attack_scale, release_scale and a [cc] table (see the README). Program change N plays \
        preset N of the bank chosen by CC 0/32. Files are reloaded when they change and on SIGHUP.
        """,
        subcommands: [RunCommand.self, CtlCommand.self, RenderCommand.self, BenchCommand.self, ModelCommand.self,
                      CheckRealtimeCommand.self, EncodeCommand.self, MapCommand.self, PresetsCommand.self],
        defaultSubcommand: RunCommand.self
    )

    /// Parses the command line and runs the command. Help wraps to the terminal's width; written
    /// to a pipe or a file (no terminal, no $COLUMNS) it is not wrapped at all, so a reader or a
    /// pager wraps it without breaking lines mid-sentence.
    static func main() {
        if isatty(STDOUT_FILENO) == 0 && getenv("COLUMNS") == nil { setenv("COLUMNS", "100000", 1) }
        main(nil)
    }
}
