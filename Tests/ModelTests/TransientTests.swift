import DSP
import Foundation
import Model
import TestSupport
import XCTest

/// The attack transients (docs/model-format.md, "Transients"): the table's lookup and the basis
/// waveforms against the trainer's reference, and the optional tensors' loading.
final class TransientTests: XCTestCase {
    let fixturePath = Fixtures.directory.appendingPathComponent("transient-reference.safetensors").path

    func fixtureTable(_ fixture: Reference) throws -> TransientTable {
        TransientTable(instrumentCount: fixture.shape("amplitude")[0], zDim: fixture.shape("means")[1],
                       pitchAnchors: try fixture.values("pitch_anchors").map(Double.init),
                       velocityAnchors: try fixture.values("velocity_anchors").map(Double.init),
                       amplitude: try fixture.values("amplitude"), latentMeans: try fixture.values("means"),
                       blendScale: Double(try fixture.values("blend_scale")[0]), blendRule: .inverseDistance)
    }

    func testLookupMatchesTheTrainer() throws {
        let fixture = try Reference(fixturePath)
        let table = try fixtureTable(fixture)
        let zs = try fixture.values("lookup.z"), pitches = try fixture.values("lookup.pitch")
        let velocities = try fixture.values("lookup.velocity"), expected = try fixture.values("lookup.values")
        let e = TransientTable.envelopeCount, zDim = table.zDim
        for q in 0..<pitches.count {
            let a = table.amplitudes(z: Array(zs[q * zDim ..< (q + 1) * zDim]), pitch: Double(pitches[q]),
                                     velocity: Double(velocities[q]))
            XCTAssertLessThan(maxScaledError(a, Array(expected[q * e ..< (q + 1) * e])), 1e-6, "query \(q)")
        }
        // NaN in z: no transient, not NaN
        XCTAssertEqual(table.amplitudes(z: [.nan, 0], pitch: 60, velocity: 100).max(), 0)
    }

    func testANoteMatchesTheTrainer() throws {
        let fixture = try Reference(fixturePath)
        let expectedAmplitudes = try fixture.values("lookup.values")
        let a = Array(expectedAmplitudes[0..<TransientTable.envelopeCount])
        for rate in [32000, 48000] {
            let white = try fixture.values("white.\(rate)")
            let n = fixture.shape("white.\(rate)")[1]
            let bands = TransientBands(frameCount: TransientTable.frameCount, bandEdgesHz: TransientTable.bandEdgesHz,
                                       frameRateHz: TransientTable.frameRateHz, sampleRate: Double(rate),
                                       white: { white[$0 * n + $1] })
            XCTAssertEqual(bands.length, n)
            // one note, added in three uneven pieces from its first sample, and nothing past L
            var out = [Float](repeating: 0, count: n + 100)
            a.withUnsafeBufferPointer { ab in
                out.withUnsafeMutableBufferPointer { o in
                    var at = 0
                    for piece in [37, 1000, n + 100 - 1037] {
                        bands.add(amplitudes: ab.baseAddress!, from: at, count: piece, into: o.baseAddress! + at)
                        at += piece
                    }
                }
            }
            let audio = try fixture.values("audio.\(rate)")
            let peak = audio.map(abs).max() ?? 0
            XCTAssertGreaterThan(peak, 0.01)
            XCTAssertLessThan(maxScaledError(Array(out[0..<n]), audio), 1e-5 * Double(peak), "a note at \(rate) Hz")
            XCTAssertEqual(out[n...].map(abs).max(), 0)
        }
    }

    func testTheShippedModelStrikesTheMallets() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let t = try XCTUnwrap(model.transients, "models/default.safetensors has no transient tensors "
                                                + "(timbred-train transients adds them)")
        let bands = TransientBands(frameCount: TransientTable.frameCount, bandEdgesHz: TransientTable.bandEdgesHz,
                                   frameRateHz: TransientTable.frameRateHz, sampleRate: 48000)
        /// Energy of a preset's transient at MIDI 60, in dB (relative to full scale for 1 s).
        func energyDB(_ name: String, velocity: Double = 100) throws -> Double {
            let i = try XCTUnwrap(model.instrumentIndex(named: name))
            let a = t.amplitudes(z: model.latentMeans[i], pitch: 60, velocity: velocity)
            var out = [Float](repeating: 0, count: bands.length)
            a.withUnsafeBufferPointer { ab in out.withUnsafeMutableBufferPointer {
                bands.add(amplitudes: ab.baseAddress!, from: 0, count: bands.length, into: $0.baseAddress!) } }
            return 10 * log10(out.reduce(0) { $0 + Double($1 * $1) } / 48000 + 1e-30)
        }
        let vibraphone = try energyDB("vibraphone"), flute = try energyDB("flute")
        print("shipped transients at MIDI 60: vibraphone \(vibraphone) dB, flute \(flute) dB, soft vibraphone \(try energyDB("vibraphone", velocity: 16)) dB")
        XCTAssertGreaterThan(vibraphone, flute + 10, "a struck bar has a strike a flute has not")
        XCTAssertGreaterThan(vibraphone, try energyDB("vibraphone", velocity: 16) + 6, "a soft strike is softer")
    }
}
