// libFuzzer harness: StandardMIDIFile(bytes:) on arbitrary files.
//
// Checks that no input traps and that an accepted file is consistent: events in tick order with finite,
// non-decreasing times, every SysEx span inside `sysExBytes`, the duration not before the last event.
import FuzzerDriver
import Glibc
import MIDI

@main
enum Main {
    static func main() { exit(fuzzer_run(CommandLine.argc, CommandLine.unsafeArgv, fuzzMIDIFile)) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMIDIFile(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let file: StandardMIDIFile
    do {
        file = try StandardMIDIFile(bytes: bytes)
    } catch {
        _ = "\(error)"  // error descriptions must not trap either
        return 0
    }
    precondition(file.trackCount >= 1)
    var previous: StandardMIDIFile.TimedEvent?
    for entry in file.events {
        precondition(entry.tick >= 0 && entry.timeSeconds.isFinite && entry.timeSeconds >= 0, "bad time \(entry)")
        precondition(entry.trackIndex >= 0 && entry.trackIndex < file.trackCount)
        if let previous {
            precondition(previous.tick <= entry.tick, "events out of tick order")
            precondition(previous.timeSeconds <= entry.timeSeconds, "time runs backwards")
        }
        if case let .systemExclusive(span) = entry.event {
            precondition(file.sysExPayload(span) != nil, "SysEx span \(span) outside the pool")
        }
        previous = entry
    }
    for change in file.tempoChanges {
        precondition(change.tempoMicrosecondsPerQuarter > 0 && change.timeSeconds.isFinite)
    }
    precondition(file.durationSeconds.isFinite)
    if let last = file.events.last {
        precondition(file.durationSeconds >= last.timeSeconds, "duration \(file.durationSeconds) before the last event")
    }
    return 0
}
