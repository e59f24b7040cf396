import DSP
import Foundation
import XCTest

final class HarmonicOscillatorBankTests: XCTestCase {
    /// One second of a single harmonic with constant controls.
    private func tone(sampleRate: Double, f0Hz: Double, harmonic: Int, harmonicCount: Int) -> [Float] {
        let hop = hopSamples(sampleRate: sampleRate, frameRate: 100)!
        var amps = [Float](repeating: 0, count: harmonicCount)
        amps[harmonic - 1] = 0.5
        return renderHarmonics(sampleRate: sampleRate, hop: hop, f0Hz: Array(repeating: f0Hz, count: 100),
                               amplitudes: Array(repeating: amps, count: 100))
    }

    func testFrequencyWithinATenthOfACent() {
        let cases: [(rate: Double, f0: Double, harmonic: Int)] = [
            (44_100, 440, 1), (44_100, 261.625_565, 3), (44_100, 27.5, 1),
            (96_000, 1_234.5, 1), (96_000, 110, 7), (96_000, 3_951.07, 1),
        ]
        for c in cases {
            let x = tone(sampleRate: c.rate, f0Hz: c.f0, harmonic: c.harmonic, harmonicCount: 8)
            let expected = c.f0 * Double(c.harmonic)
            let measured = measureFrequency(x, sampleRate: c.rate, nominalHz: expected)
            let cents = abs(centsBetween(expected, measured))
            print("tone \(c): measured \(measured) Hz, error \(cents) cents")
            XCTAssertLessThan(cents, 0.1, "\(c): measured \(measured) Hz")
            // Amplitude is what was asked for.
            XCTAssertEqual(rms(x) * 2.squareRoot(), 0.5, accuracy: 1e-3, "\(c)")
        }
    }

    func testNoEnergyAboveBandLimitForHighNote() {
        // f0 = 5 kHz, 100 harmonics at 48 kHz, model band limit 16 kHz: only 5, 10, 15 kHz survive.
        let rate = 48_000.0, hop = 480
        let distribution = [Float](repeating: 1, count: 100)
        var amps = [Float](repeating: 0, count: 100)
        let active = distribution.withUnsafeBufferPointer { d in
            amps.withUnsafeMutableBufferPointer { a in
                HarmonicControls.mask(amplitude: 0.9, distribution: d, f0Hz: 5_000, limitHz: min(Float(rate / 2), 16_000), into: a)
            }
        }
        XCTAssertEqual(active, 3)
        XCTAssertEqual(amps[0], 0.3, accuracy: 1e-6)
        XCTAssertEqual(amps[3...].max(), 0)
        let x = renderHarmonics(sampleRate: rate, hop: hop, f0Hz: Array(repeating: 5_000, count: 100),
                                amplitudes: Array(repeating: amps, count: 100))
        let power = kaiserPowerSpectrum(x)
        let binHz = rate / Double(x.count)
        let peak = power.max()!
        let above = power.enumerated().filter { Double($0.offset) * binHz > 16_100 }.map(\.element)
        let worstDB = 10 * log10(above.max()! / peak)
        let totalDB = 10 * log10(above.reduce(0, +) / power.reduce(0, +))
        print("high note: strongest bin above 16.1 kHz \(worstDB) dB, total \(totalDB) dB")
        XCTAssertLessThan(worstDB, -100)
        XCTAssertLessThan(totalDB, -100)
        XCTAssertEqual(10 * log10(peak / 0.09), 0, accuracy: 0.01)  // 0.3² each
    }

    func testMatchesDirectReferenceWithInterpolation() {
        // Changing f0 and amplitudes over frames, 40 harmonics at 44.1 kHz, against the doc's
        // formula in double precision.
        let rate = 44_100.0, hop = 441, frames = 12, k = 40
        let f0s = (0..<frames).map { 180 + 25 * sin(Double($0)) }
        let amps: [[Float]] = (0..<frames).map { n in
            (0..<k).map { h in Float(0.6 / Double(h + 1)) * Float(1 + 0.3 * cos(Double(n + h))) }
        }
        let x = renderHarmonics(sampleRate: rate, hop: hop, f0Hz: f0s, amplitudes: amps)
        let reference = referenceHarmonics(sampleRate: rate, hop: hop, f0Hz: f0s, amplitudes: amps)
        let error = zip(x, reference).reduce(0.0) { max($0, abs(Double($1.0) - $1.1)) }
        let peak = reference.reduce(0.0) { max($0, abs($1)) }
        print("oscillator vs double reference: max error \(error), relative \(error / peak)")
        XCTAssertLessThan(error / peak, 1e-5)
    }

    func testBlockSplitsGiveIdenticalSamples() {
        let rate = 48_000.0, hop = 480, frames = 6, k = 100
        let f0s = (0..<frames).map { 90 * pow(1.02, Double($0)) }
        let amps: [[Float]] = (0..<frames).map { n in (0..<k).map { h in Float(n + 1) * 0.01 / Float(h + 1) } }
        let whole = renderHarmonics(sampleRate: rate, hop: hop, f0Hz: f0s, amplitudes: amps)
        let split = renderHarmonics(sampleRate: rate, hop: hop, f0Hz: f0s, amplitudes: amps,
                                    splits: [1, 4, 13, 14, 101, 333])
        XCTAssertEqual(whole, split, "7 uneven pieces per frame must give bit-identical samples")
        // Phase continuity across frame boundaries: no jump larger than the signal's slope allows.
        let maxStep = zip(whole.dropFirst(), whole).map { abs($0 - $1) }.max()!
        // |d/di Σ A_k sin(kφ)| ≤ Σ k·A_k · 2π f0 / R (plus a small amplitude-ramp term).
        let weightedSum = amps.map { a in a.enumerated().reduce(0.0) { $0 + Double($1.element) * Double($1.offset + 1) } }.max()!
        let slopeBound = weightedSum * 2 * Double.pi * f0s.max()! / rate
        XCTAssertLessThanOrEqual(Double(maxStep), slopeBound * 1.05)
    }

    func testVaryingBlockSplitsGiveIdenticalSamples() {
        // Pieces that differ from frame to frame (single samples, odd lengths, pieces ending inside
        // an 8-sample group) against whole frames, at a hop that is not a multiple of 8.
        let rate = 44_100.0, hop = 441, frames = 8, k = 100
        let f0s = (0..<frames).map { 70 + 30 * sin(Double($0)) }
        let amps: [[Float]] = (0..<frames).map { n in
            (0..<k).map { h -> Float in Float(0.3 + 0.1 * cos(Double(n * h))) / Float(h + 1) }
        }
        let whole = renderHarmonics(sampleRate: rate, hop: hop, f0Hz: f0s, amplitudes: amps)
        let bank = HarmonicOscillatorBank(sampleRate: rate, hop: hop, maxHarmonics: k)
        var pieces = [Float](repeating: 0, count: frames * hop)
        var seed: UInt64 = 7
        pieces.withUnsafeMutableBufferPointer { out in
            for n in 0..<frames {
                let next = min(n + 1, frames - 1)
                var m = 0
                while m < hop {
                    seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    let take = min(hop - m, n == 0 ? 1 : 1 + Int(seed >> 33) % (16 * n))
                    amps[n].withUnsafeBufferPointer { a0 in
                        amps[next].withUnsafeBufferPointer { a1 in
                            bank.render(f0Hz: f0s[n], nextF0Hz: f0s[next], amplitudes: a0, nextAmplitudes: a1,
                                        samples: m..<(m + take), addingInto: out.baseAddress! + n * hop + m)
                        }
                    }
                    m += take
                }
            }
        }
        XCTAssertEqual(whole, pieces)
    }

    /// Prints the rendering cost (no assertion): K = 100 at 48 kHz in 64-sample blocks, as the
    /// engine calls it. Meaningful in release builds (`swift test -c release`).
    func testOscillatorThroughput() {
        let rate = 48_000.0, hop = 480, k = 100, block = 64
        #if DEBUG
        let frames = 10, repetitions = 1
        #else
        let frames = 100, repetitions = 7
        #endif
        let f0s = (0..<frames).map { 110 * (1 + 0.02 * sin(Double($0) / 3)) }
        let amps: [[Float]] = (0..<frames).map { n in
            (0..<k).map { h -> Float in
                let decay = 0.5 / Double(h + 1)
                return Float(decay * (1 + 0.3 * sin(Double(n + 3 * h))))
            }
        }
        let bank = HarmonicOscillatorBank(sampleRate: rate, hop: hop, maxHarmonics: k)
        var output = [Float](repeating: 0, count: frames * hop)
        var nanoseconds: [Double] = []
        output.withUnsafeMutableBufferPointer { out in
            for _ in 0..<repetitions {
                bank.reset()
                let start = DispatchTime.now().uptimeNanoseconds
                var position = 0
                while position < frames * hop {
                    let n = position / hop, m = position % hop, next = min(n + 1, frames - 1)
                    let take = min(block, hop - m)
                    amps[n].withUnsafeBufferPointer { a0 in
                        amps[next].withUnsafeBufferPointer { a1 in
                            bank.render(f0Hz: f0s[n], nextF0Hz: f0s[next], amplitudes: a0, nextAmplitudes: a1,
                                        samples: m..<(m + take), addingInto: out.baseAddress! + position)
                        }
                    }
                    position += take
                }
                nanoseconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / Double(frames * hop))
            }
        }
        nanoseconds.sort()
        print("oscillator bank, K = \(k) at 48 kHz, \(block)-sample blocks: median \(nanoseconds[nanoseconds.count / 2]) ns "
              + "per sample per voice (min \(nanoseconds[0]), \(repetitions) runs)")
    }

    func testPhaseStartsAtZeroAndResetRestarts() {
        let bank = HarmonicOscillatorBank(sampleRate: 32_000, hop: 320, maxHarmonics: 4)
        let amps: [[Float]] = [[1, 0, 0, 0], [1, 0, 0, 0]]
        let first = renderHarmonics(sampleRate: 32_000, hop: 320, f0Hz: [1000, 1000], amplitudes: amps, bank: bank)
        XCTAssertEqual(first[0], 0)
        XCTAssertEqual(first[8], Float(sin(2 * Double.pi * 1000 * 8 / 32_000)), accuracy: 1e-6)
        // 640 samples of 1 kHz = 20 whole cycles.
        XCTAssertEqual(bank.phaseCycles - bank.phaseCycles.rounded(), 0, accuracy: 1e-9)
        bank.reset()
        let again = renderHarmonics(sampleRate: 32_000, hop: 320, f0Hz: [1000, 1000], amplitudes: amps, bank: bank)
        XCTAssertEqual(first, again)
    }

    func testSilentFramesStillAdvancePhase() {
        let hop = 100
        let silent = [Float](repeating: 0, count: 3)
        let bank = HarmonicOscillatorBank(sampleRate: 10_000, hop: hop, maxHarmonics: 3)
        _ = renderHarmonics(sampleRate: 10_000, hop: hop, f0Hz: [25], amplitudes: [silent], bank: bank)
        XCTAssertEqual(bank.phaseCycles, 0.25, accuracy: 1e-12)
        // No harmonics at all: nothing is written, the phase still advances.
        var out: [Float] = [7, 7]
        let empty = UnsafeBufferPointer<Float>(start: nil, count: 0)
        out.withUnsafeMutableBufferPointer {
            bank.render(f0Hz: 25, nextF0Hz: 25, amplitudes: empty, nextAmplitudes: empty, samples: 0..<2, addingInto: $0.baseAddress!)
        }
        XCTAssertEqual(out, [7, 7])
        XCTAssertEqual(bank.phaseCycles, 0.255, accuracy: 1e-12)
    }

    func testMaskMatchesTorchControls() throws {
        for name in ["small-reference.safetensors", "default-reference.safetensors"] {
            let fixture = try SafeTensors.fixture(name)
            let f0 = fixture["f0_hz"], amplitude = fixture["controls.amplitude"]
            let distribution = fixture.rows("controls.distribution"), expected = fixture.rows("controls.harmonics")
            for n in 0..<f0.count {
                var amps = [Float](repeating: -1, count: distribution[n].count)
                distribution[n].withUnsafeBufferPointer { d in
                    amps.withUnsafeMutableBufferPointer { a in
                        _ = HarmonicControls.mask(amplitude: amplitude[n], distribution: d, f0Hz: f0[n], limitHz: fixture.bandLimitHz, into: a)
                    }
                }
                for k in amps.indices {
                    XCTAssertEqual(amps[k], expected[n][k], accuracy: 1e-6 * max(1, abs(expected[n][k])), "\(name) frame \(n) k \(k + 1)")
                }
            }
        }
    }

    func testMatchesTorchReferenceAudio() throws {
        let cases: [(String, [Double])] = [
            ("small-reference.safetensors", [32_000, 44_100, 48_000, 96_000]),
            ("default-reference.safetensors", [32_000, 48_000]),
        ]
        for (name, rates) in cases {
            let fixture = try SafeTensors.fixture(name)
            let f0 = fixture["f0_hz"].map(Double.init)
            let amps = fixture.rows("controls.harmonics")
            for rate in rates {
                let expected = fixture["audio.harmonic.\(Int(rate))"]
                let hop = hopSamples(sampleRate: rate, frameRate: 100)!
                let x = renderHarmonics(sampleRate: rate, hop: hop, f0Hz: f0, amplitudes: amps, splits: [37, 200])
                let error = maxAbsDifference(x, expected)
                let scale = expected.map { abs(Double($0)) }.max()!
                print("harmonic vs torch \(name) @\(Int(rate)): max error \(error), relative \(error / scale)")
                XCTAssertLessThan(error / scale, 1e-5, "\(name) at \(rate)")
            }
        }
    }
}
