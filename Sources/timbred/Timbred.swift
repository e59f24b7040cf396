import ArgumentParser

/// `timbred`: the neural synthesizer's command-line entry point.
@main
struct Timbred: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timbred",
        abstract: "A real-time neural (DDSP) synthesizer: play instruments from a learned timbre space.",
        subcommands: [RenderCommand.self, BenchCommand.self, ModelCommand.self, CheckRealtimeCommand.self]
    )
}
