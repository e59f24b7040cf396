import Foundation
import Model
import ModelCore
import TestSupport
import XCTest

/// The engine computes a latent point's blend weights once per decoded frame and hands them to
/// every table that blends alike (`LatentBlend`): each table's lookup from those weights must be
/// its lookup from the point, bit for bit, on and off the morph knob's line.
final class LatentBlendSharingTests: XCTestCase {
    func testTheShippedTablesBlendAlikeAndReadSharedWeightsAsTheirOwn() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let tone = try XCTUnwrap(model.tone), inharmonicity = try XCTUnwrap(model.inharmonicity)
        let highPass = try XCTUnwrap(model.noiseHighPass), motion = try XCTUnwrap(model.motion)
        let blend = tone.blend
        // one blend for every table read per decoded frame: the engine shares its weights
        XCTAssertEqual(inharmonicity.blend, blend)
        XCTAssertEqual(highPass.blend, blend)
        XCTAssertEqual(motion.blend, blend)

        let means = model.latentMeans, zDim = model.config.zDim
        let flute = try XCTUnwrap(model.instrumentIndex(named: "flute"))
        let trumpet = try XCTUnwrap(model.instrumentIndex(named: "trumpet"))
        let piano = try XCTUnwrap(model.instrumentIndex(named: "piano"))
        let line = model.envelopes.morphLine(from: means[flute], to: means[trumpet])
        // on the line (its middle), off it, and an instrument's own point
        var middle = [Float](repeating: 0, count: zDim), away = middle
        for d in 0..<zDim {
            middle[d] = 0.5 * (means[flute][d] + means[trumpet][d])
            away[d] = middle[d] + (d % 2 == 0 ? 0.7 : -0.4)
        }
        let count = model.config.instrumentCount
        var shared = [Double](repeating: 0, count: count), own = shared
        var gainsShared = [Float](repeating: 0, count: ToneTable.rowCount), gainsOwn = gainsShared
        for (name, z) in [("the line's middle", middle), ("off the line", away), ("the piano", means[piano])] {
            for l in [MorphLine.none, line] {
                z.withUnsafeBufferPointer { zp in
                    blend.weights(z: zp.baseAddress!, line: l, into: &shared)
                    for (pitch, seconds) in [(48.0, 0.01), (69.0, 0.5), (90.5, 3.0)] {
                        tone.gains(z: zp.baseAddress!, pitch: pitch, velocity: 100, secondsSinceNoteOn: seconds, line: l,
                                   scratch: &own, into: &gainsOwn)
                        tone.gains(weights: shared, pitch: pitch, velocity: 100, secondsSinceNoteOn: seconds, into: &gainsShared)
                        XCTAssertEqual(gainsShared, gainsOwn, "tone at \(name), pitch \(pitch)")
                        XCTAssertEqual(inharmonicity.coefficient(pitch: pitch, weights: shared),
                                       inharmonicity.coefficient(z: zp.baseAddress!, pitch: pitch, line: l, scratch: &own), name)
                        XCTAssertEqual(inharmonicity.tuningSemitones(key: pitch, weights: shared),
                                       inharmonicity.tuningSemitones(z: zp.baseAddress!, key: pitch, line: l, scratch: &own), name)
                        let v = motion.vibrato(pitch: pitch, weights: shared)
                        let w = motion.vibrato(z: zp.baseAddress!, pitch: pitch, line: l, scratch: &own)
                        XCTAssertEqual(v.cents, w.cents, name)
                        XCTAssertEqual(v.hz, w.hz, name)
                    }
                    XCTAssertEqual(highPass.ratio(weights: shared), highPass.ratio(z: zp.baseAddress!, line: l, scratch: &own), name)
                }
            }
        }
        // the line changes the weights in its middle (else the line's cases test nothing new)
        middle.withUnsafeBufferPointer { zp in
            blend.weights(z: zp.baseAddress!, line: .none, into: &own)
            blend.weights(z: zp.baseAddress!, line: line, into: &shared)
        }
        XCTAssertNotEqual(own, shared)
    }
}
