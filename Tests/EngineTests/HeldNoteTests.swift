// A note held past the loudness envelope's table (3 s, as long as the note set holds its notes),
// heard as a player holding a chord hears it: the shipped model's sustaining instruments keep
// their level, its piano goes on decaying. FluidR3's horn, clarinet and cello, held 10.5 s at A4,
// change by -0.0, -0.0 and +0.1 dB from the second at 2.5 s to the second at 9 s (`timbred-train
// playing`); with the tail slopes read on the last half second of the 3 s notes, which took the
// horn's beat for a fade, the horn lost 5.0 dB over that span, the clarinet 1.3, the cello 1.8;
// with them read on the notes held 10 s (`timbred-train envelopes --tails`), -0.4, +0.2, +0.5.
import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

final class HeldNoteTests: XCTestCase {
    static let rate = 48000.0

    /// Mean power (dB) of the second of `x` from `seconds`.
    func levelDB(_ x: [Float], at seconds: Double) -> Double {
        let start = Int(seconds * Self.rate), n = Int(Self.rate)
        var sum = 0.0
        for i in start..<(start + n) { sum += Double(x[i]) * Double(x[i]) }
        return 10 * log10(sum / Double(n) + 1e-30)
    }

    /// A4 at velocity 100 held 10.5 s on the shipped model's `instrument`: the level change from
    /// the second at 2.5 s to the second at 9 s, dB.
    func heldChangeDB(_ instrument: String) throws -> Double {
        let e = try shippedEngine(instrument: instrument, polyphony: 2, sampleRate: Self.rate)
        let x = renderMono(e, frames: Int(10.5 * Self.rate), block: 512, events: [
            (0, .noteOn(channel: 0, note: 69, velocity: 100)),
        ])
        return levelDB(x, at: 9) - levelDB(x, at: 2.5)
    }

    func testSustainingInstrumentsHoldTheirLevelPastTheTable() throws {
        for instrument in ["french_horn", "clarinet", "cello"] {
            let change = try heldChangeDB(instrument)
            print(String(format: "%@ held 10.5 s: %+.1f dB from 2.5 s to 9 s", instrument, change))
            XCTAssertEqual(change, 0, accuracy: 2, "\(instrument): the held note changed by \(change) dB past 3 s")
        }
    }

    /// The violin's middle C at velocity 100, between the decoder's trained velocities 80 and 120:
    /// the decoder swells there by 1.5 dB from 0.5 to 1 s where it is flat at 80 and 120 (FluidR3's
    /// is flat at every velocity). The band course measured at the velocity layers too (`timbred-train
    /// tone --velocity-layers`) takes most of it out: +1.2 dB with the course read between 80 and 120.
    func testTheViolinAtVelocity100DoesNotSwellAfterItsAttack() throws {
        let e = try shippedEngine(instrument: "violin", polyphony: 2, sampleRate: Self.rate)
        let x = renderMono(e, frames: Int(3 * Self.rate), block: 512, events: [
            (0, .noteOn(channel: 0, note: 60, velocity: 100)),
        ])
        func quarterDB(_ seconds: Double) -> Double {
            let start = Int(seconds * Self.rate), n = Int(0.25 * Self.rate)
            var sum = 0.0
            for i in start..<(start + n) { sum += Double(x[i]) * Double(x[i]) }
            return 10 * log10(sum / Double(n) + 1e-30)
        }
        let later = stride(from: 1.0, to: 2.75, by: 0.25).map(quarterDB)
        let swell = later.reduce(0, +) / Double(later.count) - quarterDB(0.5)
        print(String(format: "violin C4 at velocity 100: 1-2.75 s against 0.5-0.75 s: %+.2f dB", swell))
        XCTAssertLessThan(swell, 0.8)
        XCTAssertGreaterThan(swell, -1.5)
    }

    /// FluidR3's piano A4 falls 39 dB over the same span. The shipped piano's falls within 30 %
    /// of that (-43.2 dB): its tail slopes are read on the anchors' nearest keys and set through
    /// the engine so that it plays them (`timbred-train envelopes --tails --timbred`, session 24).
    /// Before, the anchors averaged keys up to 11 semitones away and the decoder's level fell more
    /// slowly than its input: -24.7 dB.
    func testThePianoGoesOnDecayingPastTheTable() throws {
        let change = try heldChangeDB("piano")
        print(String(format: "piano held 10.5 s: %+.1f dB from 2.5 s to 9 s", change))
        XCTAssertLessThan(change, -39 * 0.7)
        XCTAssertGreaterThan(change, -39 * 1.3)
    }
}
