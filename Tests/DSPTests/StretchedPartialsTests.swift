import DSP
import Foundation
import XCTest

/// The oscillator bank's stretched path (B > 0): partial k at `k sqrt(1 + B k²) f0`.
final class StretchedPartialsTests: XCTestCase {
    func testStretchedPartialWithinATenthOfACent() {
        let cases: [(rate: Double, f0: Double, partial: Int, b: Double)] = [
            (48_000, 261.625_565, 15, 3.2e-4), (48_000, 130.812_78, 15, 1.05e-4), (44_100, 523.251_13, 7, 8.9e-4),
            (96_000, 110, 11, 5e-5), (32_000, 440, 1, 1e-3),
        ]
        for c in cases {
            let hop = hopSamples(sampleRate: c.rate, frameRate: 100)!
            var amps = [Float](repeating: 0, count: 16)
            amps[c.partial - 1] = 0.5
            let x = renderHarmonics(sampleRate: c.rate, hop: hop, f0Hz: Array(repeating: c.f0, count: 100),
                                    amplitudes: Array(repeating: amps, count: 100), splits: [64, 128, 300],
                                    inharmonicity: Array(repeating: c.b, count: 100))
            let expected = c.f0 * HarmonicControls.stretchRatio(partial: c.partial, inharmonicity: c.b)
            let measured = measureFrequency(x, sampleRate: c.rate, nominalHz: expected)
            let cents = abs(centsBetween(expected, measured))
            print("stretched \(c): expected \(expected) Hz, measured \(measured) Hz, error \(cents) cents")
            XCTAssertLessThan(cents, 0.1, "\(c)")
            XCTAssertEqual(rms(x) * 2.squareRoot(), 0.5, accuracy: 1e-3, "\(c)")
        }
    }

    func testZeroInharmonicityIsTheHarmonicPathExactly() {
        let rate = 48_000.0, hop = 480, frames = 6, k = 100
        let f0s = (0..<frames).map { 90 * pow(1.02, Double($0)) }
        let amps: [[Float]] = (0..<frames).map { n in (0..<k).map { h in Float(n + 1) * 0.01 / Float(h + 1) } }
        let plain = renderHarmonics(sampleRate: rate, hop: hop, f0Hz: f0s, amplitudes: amps, splits: [13, 200])
        let bank = HarmonicOscillatorBank(sampleRate: rate, hop: hop, maxHarmonics: k)
        let zero = renderHarmonics(sampleRate: rate, hop: hop, f0Hz: f0s, amplitudes: amps, splits: [13, 200],
                                   inharmonicity: Array(repeating: 0, count: frames), bank: bank)
        XCTAssertEqual(plain, zero)
        XCTAssertFalse(bank.isStretched)
    }

    /// Frames with B > 0 from the third on, B changing from frame to frame and back to 0 for two,
    /// f0 gliding (the chirp recurrence) then steady (the constant-step loop).
    private func controls(frames: Int, k: Int) -> (f0: [Double], amps: [[Float]], b: [Double]) {
        let f0s = (0..<frames).map { $0 < frames / 2 ? 70 + 30 * sin(Double($0)) : 110 }
        let amps: [[Float]] = (0..<frames).map { n in
            (0..<k).map { h -> Float in Float(0.3 + 0.1 * cos(Double(n * h))) / Float(h + 1) }
        }
        var b = [Double](repeating: 0, count: frames)
        for n in 2..<frames where n != 5 && n != 6 { b[n] = 1e-4 * Double(n) }
        return (f0s, amps, b)
    }

    func testStretchedBlockSplitsGiveIdenticalSamples() {
        let rate = 44_100.0, hop = 441, frames = 10, k = 100
        let (f0s, amps, b) = controls(frames: frames, k: k)
        let whole = renderHarmonics(sampleRate: rate, hop: hop, f0Hz: f0s, amplitudes: amps, inharmonicity: b)
        let split = renderHarmonics(sampleRate: rate, hop: hop, f0Hz: f0s, amplitudes: amps,
                                    splits: [1, 4, 13, 14, 101, 333], inharmonicity: b)
        XCTAssertEqual(whole, split, "7 uneven pieces per frame must give bit-identical samples")
        // varying pieces, single samples included
        let bank = HarmonicOscillatorBank(sampleRate: rate, hop: hop, maxHarmonics: k)
        var pieces = [Float](repeating: 0, count: frames * hop)
        var seed: UInt64 = 11
        pieces.withUnsafeMutableBufferPointer { out in
            for n in 0..<frames {
                let next = min(n + 1, frames - 1)
                var m = 0
                while m < hop {
                    seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    let take = min(hop - m, n == 3 ? 1 : 1 + Int(seed >> 33) % 97)
                    amps[n].withUnsafeBufferPointer { a0 in
                        amps[next].withUnsafeBufferPointer { a1 in
                            bank.render(f0Hz: f0s[n], nextF0Hz: f0s[next], amplitudes: a0, nextAmplitudes: a1,
                                        inharmonicity: b[n], samples: m..<(m + take),
                                        addingInto: out.baseAddress! + n * hop + m)
                        }
                    }
                    m += take
                }
            }
        }
        XCTAssertEqual(whole, pieces)
        XCTAssertTrue(bank.isStretched)
        bank.reset()
        XCTAssertFalse(bank.isStretched)
    }

    func testStretchedMatchesDoubleReference() {
        let rate = 48_000.0, hop = 480, frames = 10, k = 60
        let (f0s, amps, b) = controls(frames: frames, k: k)
        let x = renderHarmonics(sampleRate: rate, hop: hop, f0Hz: f0s, amplitudes: amps, splits: [64, 128, 192],
                                inharmonicity: b)
        let reference = referenceStretched(sampleRate: rate, hop: hop, f0Hz: f0s, amplitudes: amps, inharmonicity: b)
        let error = zip(x, reference).reduce(0.0) { max($0, abs(Double($1.0) - $1.1)) }
        let peak = reference.reduce(0.0) { max($0, abs($1)) }
        print("stretched oscillators vs double reference: max error \(error), relative \(error / peak)")
        XCTAssertLessThan(error / peak, 1e-5)
        // no jump where the note enters the stretched path (frame 2) or B changes: the largest step
        // stays within what the partials' slopes allow
        let maxStep = zip(x.dropFirst(), x).map { abs(Double($0) - Double($1)) }.max()!
        var slope = 0.0
        for a in amps {
            var s = 0.0
            for (j, v) in a.enumerated() { s += Double(v) * Double(j + 1) * 1.05 }  // r_k ≤ 1.05 k here
            slope = max(slope, s)
        }
        XCTAssertLessThanOrEqual(maxStep, slope * 2 * Double.pi * f0s.max()! / rate * 1.05)
    }

    func testStretchedMatchesTorchReference() throws {
        let fixture = try SafeTensors.fixture("inharmonic-reference.safetensors")
        let f0 = fixture["f0_hz"].map(Double.init)
        let amps = fixture.rows("amplitudes")
        let b = fixture["inharmonicity"].map(Double.init)
        for rate in [44_100.0, 48_000.0] {
            let expected = fixture["audio.\(Int(rate))"]
            let hop = hopSamples(sampleRate: rate, frameRate: 100)!
            let x = renderHarmonics(sampleRate: rate, hop: hop, f0Hz: f0, amplitudes: amps, splits: [37, 200],
                                    inharmonicity: b)
            let error = maxAbsDifference(x, expected)
            let scale = expected.map { abs(Double($0)) }.max()!
            print("stretched vs torch @\(Int(rate)): max error \(error), relative \(error / scale)")
            XCTAssertLessThan(error / scale, 1e-5, "at \(rate)")
        }
    }

    func testStretchedMaskMatchesTorch() throws {
        let fixture = try SafeTensors.fixture("inharmonic-reference.safetensors")
        let amplitude = fixture["mask.amplitude"], f0 = fixture["mask.f0_hz"], b = fixture["mask.inharmonicity"]
        let limit = fixture["mask.limit_hz"][0]
        let distribution = fixture.rows("mask.distribution"), expected = fixture.rows("mask.harmonics")
        var muted = 0
        for n in 0..<f0.count {
            var amps = [Float](repeating: -1, count: distribution[n].count)
            let active = distribution[n].withUnsafeBufferPointer { d in
                amps.withUnsafeMutableBufferPointer { a in
                    HarmonicControls.mask(amplitude: amplitude[n], distribution: d, f0Hz: f0[n], limitHz: limit,
                                          inharmonicity: Double(b[n]), into: a)
                }
            }
            muted += amps.count - active
            for k in amps.indices {
                XCTAssertEqual(amps[k], expected[n][k], accuracy: 1e-6 * max(1, abs(expected[n][k])), "frame \(n) k \(k + 1)")
            }
        }
        XCTAssertGreaterThan(muted, 0)
    }

    func testEnteringTheStretchedPathMidNoteKeepsThePhase() {
        // harmonic frames, then a frame with a tiny B: the first stretched samples continue the
        // harmonic ones (θ_k = k φ at the switch)
        let rate = 48_000.0, hop = 480, k = 20
        let amps = [[Float]](repeating: (0..<k).map { 0.3 / Float($0 + 1) }, count: 4)
        let f0s = [Double](repeating: 196, count: 4)
        let harmonic = renderHarmonics(sampleRate: rate, hop: hop, f0Hz: f0s, amplitudes: amps)
        let switched = renderHarmonics(sampleRate: rate, hop: hop, f0Hz: f0s, amplitudes: amps,
                                       inharmonicity: [0, 0, 1e-12, 1e-12])
        XCTAssertEqual(Array(harmonic[..<(2 * hop)]), Array(switched[..<(2 * hop)]))
        XCTAssertLessThan(maxAbsDifference(harmonic, switched), 1e-5)
    }
}
