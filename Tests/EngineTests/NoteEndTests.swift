// When a voice ends, heard as a player hears it: a soft note rings as long as a loud one (the
// voice ends a fixed distance under its own peak, not at an absolute level), and a released note
// still frees its voice. The shipped model's piano at middle C.
import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

final class NoteEndTests: XCTestCase {
    static let rate = 48000.0

    func piano() throws -> Engine { try shippedEngine(instrument: "piano", polyphony: 4, sampleRate: Self.rate) }

    /// RMS level (dB) of the 50 ms of `x` from `seconds`.
    func levelDB(_ x: [Float], at seconds: Double) -> Double {
        let start = Int(seconds * Self.rate), n = Int(0.05 * Self.rate)
        var sum = 0.0
        for i in start..<(start + n) { sum += Double(x[i]) * Double(x[i]) }
        return 10 * log10(sum / Double(n) + 1e-30)
    }

    /// The loudest 50 ms of the first second (dB).
    func peakDB(_ x: [Float]) -> Double {
        stride(from: 0.0, to: 1.0, by: 0.025).map { levelDB(x, at: $0) }.max()!
    }

    /// Middle C held 6 s at velocity 16 and 100, released, rendered to 9 s: the soft note still
    /// sounds at 5.5 s (with the old absolute end at -90 dB it stopped at 3.8 s, while FluidR3's
    /// rings past 8 s), it has fallen about as far under its peak as the loud one, and both voices
    /// are free 3 s after the release.
    func testASoftNoteRingsAsLongAsALoudOneAndAReleasedOneEnds() throws {
        var fallDB: [Double] = []
        for velocity: UInt8 in [16, 100] {
            let e = try piano()
            let x = renderMono(e, frames: Int(9 * Self.rate), block: 64, events: [
                (0, .noteOn(channel: 0, note: 60, velocity: velocity)),
                (Int(6 * Self.rate), .noteOff(channel: 0, note: 60, velocity: 0)),
            ])
            let peak = peakDB(x), late = levelDB(x, at: 5.5)
            XCTAssertGreaterThan(late, peak - 60, "velocity \(velocity): at 5.5 s the note is \(peak - late) dB under its peak")
            fallDB.append(peak - late)
            XCTAssertEqual(e.activeVoiceCount, 0, "velocity \(velocity): the released note still holds a voice at 9 s")
            XCTAssertLessThan(levelDB(x, at: 8.9), peak - 80, "velocity \(velocity): still sounding 2.9 s after the release")
        }
        XCTAssertEqual(fallDB[0], fallDB[1], accuracy: 10, "the soft note fell \(fallDB[0]) dB by 5.5 s, the loud one \(fallDB[1])")
    }
}
