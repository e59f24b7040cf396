import DSP
import Foundation
import XCTest

final class FilteredNoiseTests: XCTestCase {
    func testFIRLengths() {
        XCTAssertEqual(NoiseSynth.firLength(bandCount: 65, bandLimitHz: 16_000, sampleRate: 32_000), 128)
        XCTAssertEqual(NoiseSynth.firLength(bandCount: 65, bandLimitHz: 16_000, sampleRate: 48_000), 192)
        XCTAssertEqual(NoiseSynth.firLength(bandCount: 65, bandLimitHz: 16_000, sampleRate: 44_100), 176)
        XCTAssertEqual(NoiseSynth.firLength(bandCount: 65, bandLimitHz: 16_000, sampleRate: 96_000), 384)
        XCTAssertEqual(NoiseSynth.firLength(bandCount: 17, bandLimitHz: 16_000, sampleRate: 44_100), 44)
        // Python rounds half to even: (B-1)·R/(2F) = 2.5 -> 2.
        XCTAssertEqual(NoiseSynth.firLength(bandCount: 6, bandLimitHz: 16_000, sampleRate: 16_000), 4)
    }

    func testFIRMatchesDirectFormula() {
        let bands = (0..<17).map { Float(0.2 + 0.1 * sin(Double($0))) }
        for rate in [32_000.0, 44_100, 96_000] {
            let synth = NoiseSynth(sampleRate: rate, hop: Int(rate / 100), bandCount: 17, bandLimitHz: 16_000)
            let n = synth.firLength
            var taps = [Float](repeating: 0, count: n)
            bands.withUnsafeBufferPointer { b in taps.withUnsafeMutableBufferPointer { synth.fir(bandMagnitudes: b, into: $0) } }
            // Response on the rfft grid, irfft by its cosine sum, rotate, window (all in double).
            let response: [Double] = (0...(n / 2)).map { j in
                let hz = Double(j) * rate / Double(n)
                guard hz <= 16_000 + 1e-9 else { return 0 }
                let position = hz / 16_000 * 16
                let index = min(Int(position), 15)
                let fraction = position - Double(index)
                return Double(bands[index]) + fraction * Double(bands[index + 1] - bands[index])
            }
            for i in 0..<n {
                let t = (i - n / 2 + n) % n  // rotated right by n/2
                var sum = response[0] + response[n / 2] * (t % 2 == 0 ? 1 : -1)
                for j in 1..<(n / 2) { sum += 2 * response[j] * cos(2 * Double.pi * Double(j * t) / Double(n)) }
                let window = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))
                XCTAssertEqual(Double(taps[i]), sum / Double(n) * window, accuracy: 1e-6, "rate \(rate) tap \(i)")
            }
        }
    }

    func testWhiteNoiseIsUniform() {
        var noise = WhiteNoise(seed: 42)
        var sum = 0.0, sumSquares = 0.0, low: Float = 0, high: Float = 0
        let count = 200_000
        for _ in 0..<count {
            let x = noise.next()
            sum += Double(x); sumSquares += Double(x * x)
            low = min(low, x); high = max(high, x)
        }
        XCTAssertEqual(sum / Double(count), 0, accuracy: 0.005)
        XCTAssertEqual(sumSquares / Double(count), 1.0 / 3.0, accuracy: 0.005)
        XCTAssertGreaterThanOrEqual(low, -1)
        XCTAssertLessThan(high, 1)
        XCTAssertLessThan(low, -0.999)
        XCTAssertGreaterThan(high, 0.999)
        var a = WhiteNoise(seed: 7), b = WhiteNoise(seed: 7), c = WhiteNoise(seed: 8)
        let sa = (0..<16).map { _ in a.next() }, sb = (0..<16).map { _ in b.next() }, sc = (0..<16).map { _ in c.next() }
        XCTAssertEqual(sa, sb)
        XCTAssertNotEqual(sa, sc)
    }

    func testFilteredNoiseFollowsItsBands() {
        // 48 kHz, 65 bands to 16 kHz: full level to 6 kHz, -12 dB at 7-8 kHz, a ramp to 0 at
        // 10 kHz, silent above. Welch PSD of 4 s of noise against the band response.
        let rate = 48_000.0, hop = 480, bandLimit = 16_000.0
        let bandHz = (0..<65).map { Double($0) * bandLimit / 64 }
        let bands: [Float] = bandHz.map { hz in
            if hz <= 6_000 { return 1 }
            if hz <= 8_000 { return hz <= 7_000 ? 1 - Float((hz - 6_000) / 1_000) * 0.75 : 0.25 }
            if hz <= 10_000 { return 0.25 * Float((10_000 - hz) / 2_000) }
            return 0
        }
        let synth = NoiseSynth(sampleRate: rate, hop: hop, bandCount: 65, bandLimitHz: bandLimit)
        let voice = NoiseVoice(synth: synth, seed: 1234)
        let frames = 400
        var output = [Float](repeating: 0, count: frames * hop)
        output.withUnsafeMutableBufferPointer { out in
            bands.withUnsafeBufferPointer { b in
                for n in 0..<frames {
                    voice.beginFrame(bandMagnitudes: b)
                    voice.render(addingInto: out.baseAddress! + n * hop, count: 100)
                    voice.render(addingInto: out.baseAddress! + n * hop + 100, count: hop - 100)
                }
            }
        }
        // Welch: 1024-point Hann segments, 50 % overlap; PSD per sample normalised so white
        // noise of variance σ² reads σ² in every bin.
        let segment = 1024
        let fft = RealFFT(size: segment)
        let window = (0..<segment).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(segment)) }
        let windowPower = window.reduce(0) { $0 + $1 * $1 }
        var psd = [Double](repeating: 0, count: fft.binCount)
        var segments = 0
        var start = 2_000
        while start + segment <= output.count {
            for i in 0..<segment { fft.samples[i] = Float(window[i] * Double(output[start + i])) }
            fft.forward()
            for j in 0..<fft.binCount {
                let re = Double(fft.spectrum[2 * j]), im = Double(fft.spectrum[2 * j + 1])
                psd[j] += (re * re + im * im) / windowPower
            }
            segments += 1
            start += segment / 2
        }
        let whiteVariance = 1.0 / 3.0
        func gainDB(_ j: Int) -> Double { 10 * log10(psd[j] / Double(segments) / whiteVariance) }
        func designedDB(_ hz: Double) -> Double {
            let position = hz / bandLimit * 64
            let index = min(Int(position), 63)
            let m = Double(bands[index]) + (position - Double(index)) * Double(bands[index + 1] - bands[index])
            return 20 * log10(max(m, 1e-12))
        }
        let binHz = rate / Double(segment)
        var worstPass = 0.0, worstShelf = 0.0, loudestStop = -300.0
        for j in 1..<fft.binCount {
            let hz = Double(j) * binHz
            if hz >= 200 && hz <= 5_500 { worstPass = max(worstPass, abs(gainDB(j) - designedDB(hz))) }
            if hz >= 7_300 && hz <= 7_800 { worstShelf = max(worstShelf, abs(gainDB(j) - designedDB(hz))) }
            if hz >= 10_800 { loudestStop = max(loudestStop, gainDB(j)) }
        }
        print("noise PSD: passband worst \(worstPass) dB, -12 dB shelf worst \(worstShelf) dB, stopband loudest \(loudestStop) dB")
        XCTAssertLessThan(worstPass, 1)
        XCTAssertLessThan(worstShelf, 1)
        XCTAssertLessThan(loudestStop, -30)
    }

    func testMatchesTorchReferenceAudio() throws {
        let cases: [(String, Int, [Double])] = [
            ("small-reference.safetensors", 17, [32_000, 44_100, 48_000, 96_000]),
            ("default-reference.safetensors", 65, [32_000, 48_000]),
        ]
        for (name, bandCount, rates) in cases {
            let fixture = try SafeTensors.fixture(name)
            let bands = fixture.rows("controls.noise")
            XCTAssertEqual(bands.first?.count, bandCount)
            for rate in rates {
                let white = fixture["white.\(Int(rate))"]
                let expected = fixture["audio.noise.\(Int(rate))"]
                let hop = hopSamples(sampleRate: rate, frameRate: 100)!
                let synth = NoiseSynth(sampleRate: rate, hop: hop, bandCount: bandCount, bandLimitHz: Double(fixture.bandLimitHz))
                let output = renderFrames(NoiseVoice(synth: synth, seed: 0), bands: bands, white: white, hop: hop)
                let error = maxAbsDifference(output, expected)
                let scale = expected.map { abs(Double($0)) }.max()!
                print("noise vs torch \(name) @\(Int(rate)): max error \(error), relative \(error / scale)")
                XCTAssertLessThan(error / scale, 1e-5, "\(name) at \(rate)")
            }
        }
    }

    /// The noise's high-pass below the fundamental (docs/model-format.md, "Noise below the
    /// fundamental"): a sine far under the cutoff loses what the Butterworth response says, one
    /// far above it passes, and a cutoff of 0 passes everything bit for bit.
    func testHighPassResponse() {
        let rate = 48_000.0, cutoff = 400.0
        func gainDB(_ hz: Double, cutoffHz: Double) -> Double {
            var filter = HighPassBiquad()
            filter.set(cutoffHz: cutoffHz, sampleRate: rate)
            var inPower = 0.0, outPower = 0.0
            for i in 0..<Int(rate) {
                let x = Float(sin(2 * Double.pi * hz * Double(i) / rate))
                let y = filter.process(x)
                if i >= Int(rate) / 2 {
                    inPower += Double(x * x)
                    outPower += Double(y * y)
                }
            }
            return 10 * log10(outPower / inPower)
        }
        for (hz, expected) in [(100.0, 10 * log10(pow(0.25, 4) / (1 + pow(0.25, 4)))), (200, 10 * log10(pow(0.5, 4) / (1 + pow(0.5, 4)))),
                               (400, -3.01), (1600, 0), (6400, 0)] {
            XCTAssertEqual(gainDB(hz, cutoffHz: cutoff), expected, accuracy: 0.15, "\(hz) Hz")
        }
        var off = HighPassBiquad()
        off.set(cutoffHz: 0, sampleRate: rate)
        XCTAssertFalse(off.isOn)
        for x: Float in [0.5, -0.25, 1, 0] { XCTAssertEqual(off.process(x), x) }
        // a cutoff at or above Nyquist is held at 0.45 of the rate: finite and stable
        var high = HighPassBiquad()
        high.set(cutoffHz: 1e6, sampleRate: rate)
        var noise = WhiteNoise(seed: 3)
        for _ in 0..<10_000 { XCTAssertTrue(abs(high.process(noise.next())) < 4) }
    }

    /// A cutoff near 0 Hz (a blend whose weights give an instrument with a high-pass a share of
    /// 1e-5) stays stable at every rate: below `minimumCutoffHz` the filter is off, just above it
    /// the noise passes at its own level. In single precision a cutoff of 4 mHz grew 2 s of noise
    /// at -25 dB into full-scale DC.
    func testHighPassNearZeroCutoffStaysStable() {
        for rate in [44_100.0, 48_000, 96_000, 192_000] {
            for cutoff in [0.004, 0.03, 1, 4.99, HighPassBiquad.minimumCutoffHz, 6, 20] {
                var filter = HighPassBiquad()
                filter.set(cutoffHz: cutoff, sampleRate: rate)
                XCTAssertEqual(filter.isOn, cutoff >= HighPassBiquad.minimumCutoffHz, "\(cutoff) Hz")
                var noise = WhiteNoise(seed: 11)
                var inPower = 0.0, outPower = 0.0, peak: Float = 0
                for _ in 0..<Int(rate) * 4 {
                    let x = 0.05 * noise.next()
                    let y = filter.process(x)
                    inPower += Double(x * x)
                    outPower += Double(y * y)
                    peak = max(peak, abs(y))
                }
                XCTAssertLessThan(peak, 0.5, "\(cutoff) Hz at \(rate) Hz")
                XCTAssertEqual(10 * log10(outPower / inPower), 0, accuracy: 0.1, "\(cutoff) Hz at \(rate) Hz")
            }
        }
        var nan = HighPassBiquad()
        nan.set(cutoffHz: .nan, sampleRate: 48_000)
        XCTAssertFalse(nan.isOn)
    }

    /// `NoiseVoice` with the high-pass set at each frame to ratio × that frame's f0 gives the
    /// trainer's twin (`dsp.noise_highpass` after `dsp.filtered_noise`) on fixed inputs, at 44.1
    /// and 48 kHz, handed out in pieces of any size.
    func testHighPassMatchesTorchReferenceAudio() throws {
        let fixture = try SafeTensors.fixture("highpass-reference.safetensors")
        let bands = fixture.rows("controls.noise"), f0 = fixture["f0_hz"], ratio = Double(fixture["ratio"][0])
        for rate in [44_100.0, 48_000] {
            let white = fixture["white.\(Int(rate))"], expected = fixture["audio.highpass.\(Int(rate))"]
            let unfiltered = fixture["audio.noise.\(Int(rate))"]
            let hop = hopSamples(sampleRate: rate, frameRate: 100)!
            let synth = NoiseSynth(sampleRate: rate, hop: hop, bandCount: bands[0].count, bandLimitHz: Double(fixture.bandLimitHz))
            let output = renderFrames(NoiseVoice(synth: synth, seed: 0), bands: bands, white: white, hop: hop) { voice, n in
                voice.setHighPass(cutoffHz: ratio * Double(f0[n]))
            }
            let scale = expected.map { abs(Double($0)) }.max()!
            let error = maxAbsDifference(output, expected)
            print("high-passed noise vs torch @\(Int(rate)): max error \(error), relative \(error / scale)")
            XCTAssertLessThan(error / scale, 1e-4, "at \(rate)")
            // and the filter did something: the unfiltered noise differs from it by far more
            XCTAssertGreaterThan(maxAbsDifference(unfiltered, expected) / scale, 0.05)
        }
    }

    /// `voice`'s noise for every frame of `bands`, each frame's `hop` samples of `white` filtered
    /// and handed out in pieces of 1, 63, 100 and the rest; `beforeFrame` runs before each frame
    /// starts.
    func renderFrames(_ voice: NoiseVoice, bands: [[Float]], white: [Float], hop: Int,
                      beforeFrame: (NoiseVoice, Int) -> Void = { _, _ in }) -> [Float] {
        var output = [Float](repeating: 0, count: bands.count * hop)
        output.withUnsafeMutableBufferPointer { out in
            white.withUnsafeBufferPointer { w in
                for n in bands.indices {
                    beforeFrame(voice, n)
                    bands[n].withUnsafeBufferPointer { voice.beginFrame(bandMagnitudes: $0, white: w.baseAddress! + n * hop) }
                    var done = 0
                    for piece in [1, 63, 100, hop] where done < hop {
                        let count = min(piece, hop - done)
                        voice.render(addingInto: out.baseAddress! + n * hop + done, count: count)
                        done += count
                    }
                }
            }
        }
        return output
    }
}
