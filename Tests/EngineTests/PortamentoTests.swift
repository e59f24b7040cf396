// Portamento (CC 65, CC 5/37, CC 84) and mono/legato mode (CC 126/127), measured as a player
// hears them: the pitch of the rendered audio over time, with the shipped model's flute.
import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

final class PortamentoTests: XCTestCase {
    static let rate = 48000.0

    func flute() throws -> Engine { try shippedEngine(instrument: "flute", polyphony: 8, sampleRate: Self.rate) }

    func play(_ e: Engine, seconds: Double, _ events: [(Double, MIDIEvent)]) -> [Float] {
        renderMono(e, frames: Int(seconds * Self.rate), block: 64, events: events.map { (Int($0.0 * Self.rate), $0.1) })
    }

    /// Pitch (MIDI semitones) of 21 ms of `x` from `seconds`: the normalised autocorrelation's
    /// peak over periods of 230-450 Hz (notes 58-68), refined by a parabola.
    func pitch(_ x: [Float], at seconds: Double) -> Double {
        let start = Int(seconds * Self.rate), n = 1024
        let lo = Int(Self.rate / 450), hi = Int(Self.rate / 230)
        var best = lo, scores = [Double](repeating: -1, count: hi + 2)
        for lag in lo...(hi + 1) {
            var xy = 0.0, xx = 0.0, yy = 0.0
            for i in 0..<n {
                let a = Double(x[start + i]), b = Double(x[start + i + lag])
                xy += a * b; xx += a * a; yy += b * b
            }
            scores[lag] = xy / max((xx * yy).squareRoot(), 1e-12)
            if lag <= hi && scores[lag] > scores[best] { best = lag }
        }
        let (a, b, c) = (scores[best - 1], scores[best], scores[best + 1])
        let shift = (a - 2 * b + c) != 0 ? 0.5 * (a - c) / (a - 2 * b + c) : 0
        let hz = Self.rate / (Double(best) + shift)
        return 69 + 12 * log2(hz / 440)
    }

    let portamento384ms: [(Double, MIDIEvent)] = [
        (0, .controlChange(channel: 0, controller: 65, value: 127)),
        (0, .controlChange(channel: 0, controller: 5, value: 3)),  // 3 · 128 ms = 384 ms
    ]

    /// Portamento on, poly: a note struck after another glides from the last key to its own over
    /// the time CC 5 sets, continuously (semitones rise steadily, half-way at half the time).
    func testPortamentoGlidesFromTheLastKeyOverItsTime() throws {
        let x = play(try flute(), seconds: 2.2, portamento384ms + [
            (0.0, .noteOn(channel: 0, note: 60, velocity: 100)), (0.3, .noteOff(channel: 0, note: 60, velocity: 0)),
            (1.2, .noteOn(channel: 0, note: 67, velocity: 100)),
        ])
        XCTAssertEqual(pitch(x, at: 0.15), 60, accuracy: 0.1)
        let curve = stride(from: 1.22, through: 1.56, by: 0.02).map { pitch(x, at: $0) }
        for (a, b) in zip(curve, curve.dropFirst()) { XCTAssertGreaterThan(b, a - 0.05, "the glide turns back: \(curve)") }
        // the window at t covers t…t+21 ms: half-way (63.5) at 1.2 + 0.192 - 0.011
        XCTAssertEqual(pitch(x, at: 1.2 + 0.192 - 0.011), 63.5, accuracy: 0.5, "\(curve)")
        XCTAssertLessThan(curve.first!, 61.5, "\(curve)")
        XCTAssertEqual(pitch(x, at: 1.75), 67, accuracy: 0.1)
        // without portamento the same note starts at its own pitch
        let y = play(try flute(), seconds: 1.5, [
            (0.0, .noteOn(channel: 0, note: 60, velocity: 100)), (0.3, .noteOff(channel: 0, note: 60, velocity: 0)),
            (1.2, .noteOn(channel: 0, note: 67, velocity: 100)),
        ])
        XCTAssertEqual(pitch(y, at: 1.25), 67, accuracy: 0.15)
    }

    /// CC 84 makes the next note glide from the key it names, portamento on or off, once.
    func testPortamentoControlGlidesFromItsKeyOnce() throws {
        let x = play(try flute(), seconds: 2.5, [
            (0, .controlChange(channel: 0, controller: 5, value: 3)),
            (0, .controlChange(channel: 0, controller: 84, value: 60)),
            (0.0, .noteOn(channel: 0, note: 67, velocity: 100)), (0.8, .noteOff(channel: 0, note: 67, velocity: 0)),
            (1.5, .noteOn(channel: 0, note: 64, velocity: 100)),
        ])
        XCTAssertLessThan(pitch(x, at: 0.03), 61.5)
        XCTAssertEqual(pitch(x, at: 0.6), 67, accuracy: 0.1)
        XCTAssertEqual(pitch(x, at: 1.55), 64, accuracy: 0.15, "CC 84 acted twice")
    }

    /// Mono mode: a key struck while another is down moves the one voice there without a new
    /// attack (the level does not dip and rise again), and back to the held key when it goes up.
    func testMonoModeIsLegatoOnOneVoice() throws {
        let e = try flute()
        let x = play(e, seconds: 2.4, portamento384ms + [
            (0, .controlChange(channel: 0, controller: 126, value: 1)),
            (0.0, .noteOn(channel: 0, note: 60, velocity: 100)),
            (0.8, .noteOn(channel: 0, note: 67, velocity: 100)),
            (1.6, .noteOff(channel: 0, note: 67, velocity: 0)),
        ])
        var voices = -1
        while let s = e.status.pop() { if case let .block(v, _) = s { voices = max(voices, v) } }
        XCTAssertEqual(voices, 1, "mono mode used more than one voice")
        XCTAssertEqual(pitch(x, at: 0.6), 60, accuracy: 0.1)
        XCTAssertEqual(pitch(x, at: 1.4), 67, accuracy: 0.1)
        XCTAssertGreaterThan(pitch(x, at: 0.95), 61, "no glide up")
        XCTAssertEqual(pitch(x, at: 2.2), 60, accuracy: 0.1, "did not return to the held key")
        func rms(_ a: Double, _ b: Double) -> Double {
            let s = x[Int(a * Self.rate)..<Int(b * Self.rate)]
            return (s.reduce(0.0) { $0 + Double($1 * $1) } / Double(s.count)).squareRoot()
        }
        // a new attack would restart the flute's slow rise: its first 50 ms would be far quieter
        let before = rms(0.7, 0.8), after = rms(0.8, 0.85)
        XCTAssertGreaterThan(20 * log10(after / before), -3, "the legato note dipped like a new attack")
    }
}
