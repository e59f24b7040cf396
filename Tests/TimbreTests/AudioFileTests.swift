import Foundation
import Timbre
import XCTest

/// The WAV writer: the same samples give the same bytes, whenever they are written.
final class AudioFileTests: XCTestCase {
    func testTwoWritesOfTheSameSamplesAreByteIdentical() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("timbred-wav-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let samples = (0..<4800).map { Float(sin(Double($0) * 0.05)) * 0.5 }
        let a = dir.appendingPathComponent("a.wav").path, b = dir.appendingPathComponent("b.wav").path
        try writeFloatWAV(path: a, interleaved: samples, channels: 2, sampleRate: 48000)
        Thread.sleep(forTimeInterval: 1.1)  // a time-stamped header would now differ
        try writeFloatWAV(path: b, interleaved: samples, channels: 2, sampleRate: 48000)
        let bytesA = try Data(contentsOf: URL(fileURLWithPath: a)), bytesB = try Data(contentsOf: URL(fileURLWithPath: b))
        XCTAssertEqual(bytesA, bytesB)
        XCTAssertNil(bytesA.range(of: Data("PEAK".utf8)), "a PEAK chunk carries the time of writing")
        XCTAssertGreaterThanOrEqual(bytesA.count, samples.count * 4 + 44)
    }
}
