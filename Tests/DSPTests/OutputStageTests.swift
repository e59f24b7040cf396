import DSP
import Foundation
import XCTest

final class OutputStageTests: XCTestCase {
    private func process(_ stage: inout OutputStage, _ x: [Float], block: Int = 256) -> ([Float], Int) {
        var y = x
        var replaced = 0
        y.withUnsafeMutableBufferPointer { b in
            var done = 0
            while done < b.count {
                let count = min(block, b.count - done)
                replaced += stage.process(b.baseAddress! + done, count: count)
                done += count
            }
        }
        return (y, replaced)
    }

    func testNonFiniteInputGivesFiniteOutput() {
        var stage = OutputStage(sampleRate: 48_000)
        var x = (0..<4_800).map { Float(0.5 * sin(Double($0) * 0.05)) }
        x[100] = .nan
        x[2_000] = .infinity
        x[2_001] = -.infinity
        x[3_000] = .signalingNaN
        let (y, replaced) = process(&stage, x)
        XCTAssertEqual(replaced, 4)
        XCTAssertTrue(y.allSatisfy(\.isFinite))
        XCTAssertEqual(y[100], 0)
        // An all-NaN block, then the stage keeps working.
        let (z, replacedAll) = process(&stage, [Float](repeating: .nan, count: 64))
        XCTAssertEqual(replacedAll, 64)
        XCTAssertEqual(z, [Float](repeating: 0, count: 64))
        let (after, _) = process(&stage, [Float](repeating: 0.25, count: 8))
        XCTAssertEqual(after[0], 0.25, accuracy: 1e-6)
    }

    func testNeverReachesFullScale() {
        var stage = OutputStage(sampleRate: 44_100)
        let x = (0..<44_100).map { Float(10 * sin(2 * Double.pi * 440 * Double($0) / 44_100)) }
        let (y, _) = process(&stage, x)
        let peak = y.map(abs).max()!
        print("limiter: amplitude-10 sine peaks at \(peak) (\(amplitudeToDB(peak)) dBFS)")
        XCTAssertLessThan(peak, 1.0)
        XCTAssertGreaterThan(peak, 0.99)
        // Extremes stay bounded too.
        let (big, _) = process(&stage, [1e30, -1e30, Float.greatestFiniteMagnitude, 3, -3])
        XCTAssertTrue(big.allSatisfy { abs($0) < 1 })
    }

    func testTransparentBelowThreshold() {
        // A 1 kHz sine at -6 dBFS passes with its level (the DC blocker is +0.003 dB at 1 kHz,
        // with a phase lead of about 5 Hz / 1 kHz = 0.005 rad).
        var stage = OutputStage(sampleRate: 48_000)
        let x = (0..<48_000).map { Float(0.5 * sin(2 * Double.pi * 1_000 * Double($0) / 48_000)) }
        let (y, _) = process(&stage, x)
        let tail = Array(y[24_000...])
        XCTAssertEqual(amplitudeToDB(rms(tail) * 2.squareRoot() / 0.5), 0, accuracy: 0.01)
        XCTAssertLessThan(maxAbsDifference(tail, Array(x[24_000...])), 0.5 * 0.006)
    }

    func testRemovesDC() {
        var stage = OutputStage(sampleRate: 48_000)
        let seconds = 2
        let x = (0..<(48_000 * seconds)).map { Float(0.3 + 0.3 * sin(2 * Double.pi * 200 * Double($0) / 48_000)) }
        let (y, _) = process(&stage, x, block: 128)
        let lastSecond = y[48_000...]
        let mean = lastSecond.reduce(0.0) { $0 + Double($1) } / Double(lastSecond.count)
        print("DC blocker: mean after 1 s \(mean) (input offset 0.3)")
        XCTAssertEqual(mean, 0, accuracy: 1e-4)
        // The 200 Hz sine itself survives at its level (within 0.01 dB).
        XCTAssertEqual(amplitudeToDB(rms(Array(lastSecond)) * 2.squareRoot() / 0.3), 0, accuracy: 0.01)
    }
}
