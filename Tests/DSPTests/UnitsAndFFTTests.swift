import DSP
import Foundation
import XCTest

final class UnitsAndFFTTests: XCTestCase {
    func testUnits() {
        XCTAssertEqual(midiToHz(69), 440, accuracy: 1e-12)
        XCTAssertEqual(midiToHz(60), 261.625_565_300_598_6, accuracy: 1e-9)
        XCTAssertEqual(hzToMidi(880), 81, accuracy: 1e-12)
        XCTAssertEqual(hzToMidi(midiToHz(37.25)), 37.25, accuracy: 1e-12)
        XCTAssertEqual(hzToMidi(0), 69 + 12 * log2(1e-3 / 440), accuracy: 1e-9)
        XCTAssertEqual(centsBetween(440, 880), 1200, accuracy: 1e-9)
        XCTAssertEqual(dbToAmplitude(-6.0), 0.501_187_233_627_272_3, accuracy: 1e-12)
        XCTAssertEqual(dbToAmplitude(Float(-20)), 0.1, accuracy: 1e-7)
        XCTAssertEqual(amplitudeToDB(0.1), -20, accuracy: 1e-12)
        XCTAssertEqual(amplitudeToDB(0.0), -120)
        XCTAssertEqual(amplitudeToDB(Float(2)), 6.020_6, accuracy: 1e-4)
        XCTAssertEqual(powerToDB(0.01), -20, accuracy: 1e-12)
        XCTAssertEqual(secondsToSamples(0.5, sampleRate: 44_100), 22_050)
        XCTAssertEqual(hopSamples(sampleRate: 44_100, frameRate: 100), 441)
        XCTAssertEqual(hopSamples(sampleRate: 96_000, frameRate: 100), 960)
        XCTAssertNil(hopSamples(sampleRate: 44_100, frameRate: 250))
    }

    func testRealFFTRoundTripAndBins() {
        for size in [8, 44, 176, 1_024] {
            let fft = RealFFT(size: size)
            var noise = WhiteNoise(seed: UInt64(size))
            let x = (0..<size).map { _ in noise.next() }
            for i in 0..<size { fft.samples[i] = x[i] }
            fft.forward()
            // Bin 0 is the sum.
            XCTAssertEqual(Double(fft.spectrum[0]), x.reduce(0.0) { $0 + Double($1) }, accuracy: 1e-4)
            XCTAssertEqual(fft.spectrum[1], 0)
            fft.inverse()
            for i in 0..<size { XCTAssertEqual(fft.samples[i] / Float(size), x[i], accuracy: 1e-6) }
        }
        // A cosine at bin 3 lands in bin 3 with magnitude N/2.
        let fft = RealFFT(size: 64)
        for i in 0..<64 { fft.samples[i] = Float(cos(2 * Double.pi * 3 * Double(i) / 64)) }
        fft.forward()
        XCTAssertEqual(fft.spectrum[6], 32, accuracy: 1e-4)
        XCTAssertEqual(fft.spectrum[7], 0, accuracy: 1e-4)
        XCTAssertEqual(fft.spectrum[8], 0, accuracy: 1e-4)
    }

    func testPlansCanBeMadeFromManyThreads() {
        // The planner lock makes concurrent construction safe.
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let fft = RealFFT(size: 64 + 8 * i)
            fft.samples[0] = 1
            fft.forward()
            XCTAssertEqual(fft.spectrum[2], 1)
        }
    }
}
