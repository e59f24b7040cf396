// libFuzzer harness: Preset.parse (and the TOML subset under it) on arbitrary text.
//
// Checks that no input traps and that an accepted preset respects the documented ranges.
import FuzzerDriver
import Glibc
import Presets

@main
enum Main {
    static func main() { exit(fuzzer_run(CommandLine.argc, CommandLine.unsafeArgv, fuzzPreset)) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPreset(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? TOMLSubset.parse(text)
    guard let preset = try? Preset.parse(text, path: "fuzz.toml") else { return 0 }
    precondition(!preset.name.isEmpty)
    precondition(preset.latent != nil || preset.instrument != nil)
    if let latent = preset.latent {
        precondition(!latent.isEmpty && latent.count <= 64 && latent.allSatisfy(\.isFinite))
    }
    if let program = preset.program { precondition((0...127).contains(program)) }
    if let bank = preset.bank { precondition((0...16383).contains(bank)) }
    for value in [preset.reverbMix, preset.gainDB, preset.attackScale, preset.releaseScale] {
        if let value { precondition(value.isFinite) }
    }
    return 0
}
