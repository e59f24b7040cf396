import Foundation
import Model
import TestSupport
import XCTest

final class EnvelopeTablesTests: XCTestCase {
    /// Every query of small-reference (`envelope.queries` rows: pitch, velocity, t_on, t_off or -1,
    /// z…) against `envelope.values`, with weights computed from z, the model's latent means and
    /// its `envelope_blend_scale`.
    func testLookupsMatchTheReference() throws {
        let model = try TimbreModel(contentsOf: Fixtures.smallModel)
        let reference = try Reference(Fixtures.smallReference)
        let queries = try reference.values("envelope.queries")
        let expected = try reference.values("envelope.values")
        let columns = reference.shape("envelope.queries")[1]
        XCTAssertEqual(columns, 4 + model.config.zDim)
        XCTAssertEqual(queries.count / columns, expected.count)
        let env = model.envelopes
        var weights = [Float](repeating: 0, count: env.instrumentCount)
        var worst = 0.0
        for row in 0..<expected.count {
            let q = Array(queries[row * columns ..< (row + 1) * columns])
            env.blendWeights(z: Array(q[4...]), into: &weights)
            XCTAssertEqual(Double(weights.reduce(0, +)), 1, accuracy: 1e-6)
            let value = env.loudnessDB(pitch: Double(q[0]), velocity: Double(q[1]), secondsSinceNoteOn: Double(q[2]),
                                       noteOffAtSeconds: q[3] < 0 ? nil : Double(q[3]), weights: weights)
            let error = abs(value - Double(expected[row]))
            worst = max(worst, error)
            XCTAssertLessThanOrEqual(error, 1e-4, "query \(row) \(q[0 ..< 4]): \(value) vs \(expected[row])")
        }
        print("envelope lookups: \(expected.count) queries, max |error| \(worst) dB")
    }

    /// Hand-built tables: checks each rule of the document separately.
    func testLookupRules() {
        // One instrument, pitches 40/80, velocities 40/120, 4-frame tables at 10 frames/s.
        let hold: [Float] = [
            -10, -20, -30, -40,   // p40 v40
            -12, -22, -32, -42,   // p40 v120
            -14, -24, -34, -44,   // p80 v40
            -16, -26, -36, -46,   // p80 v120
        ]
        let release: [Float] = [0, -5, -10, -15, 0, -5, -10, -15, 0, -5, -10, -15, 0, -5, -10, -15]
        let env = EnvelopeTables(instrumentCount: 1, zDim: 1, pitchAnchors: [40, 80], velocityAnchors: [40, 120],
                                 frameRateHz: 10, holdFrameCount: 4, releaseFrameCount: 4,
                                 holdDB: hold, holdSlopeDBPerSecond: [-1, -1, -1, -1],
                                 releaseDB: release, releaseSlopeDBPerSecond: [-20, -20, -20, -20],
                                 latentMeans: [0], blendScale: 1)
        let w: [Float] = [1]
        func look(_ p: Double, _ v: Double, _ t: Double, _ off: Double? = nil) -> Double {
            env.loudnessDB(pitch: p, velocity: v, secondsSinceNoteOn: t, noteOffAtSeconds: off, weights: w)
        }
        XCTAssertEqual(look(40, 40, 0), -10, accuracy: 1e-9)
        XCTAssertEqual(look(40, 40, 0.15), -25, accuracy: 1e-9)                 // between frames
        XCTAssertEqual(look(60, 40, 0), -12, accuracy: 1e-9)                    // between pitches
        XCTAssertEqual(look(20, 40, 0), -10, accuracy: 1e-9)                    // pitch clamped below
        XCTAssertEqual(look(100, 40, 0), -14, accuracy: 1e-9)                   // pitch clamped above
        XCTAssertEqual(look(40, 80, 0), -11, accuracy: 1e-9)                    // between velocities
        XCTAssertEqual(look(40, 200, 0), -14, accuracy: 1e-9)                   // velocity extrapolated
        XCTAssertEqual(look(40, 0, 0), -9, accuracy: 1e-9)
        XCTAssertEqual(look(40, 40, 1.3), -40 - 1.0, accuracy: 1e-9)            // hold tail slope
        XCTAssertEqual(look(40, 40, 0.25, 0.1), -20 - 7.5, accuracy: 1e-9)      // released
        XCTAssertEqual(look(40, 40, 0.05, 0.1), -15, accuracy: 1e-9)            // before the note-off
        XCTAssertEqual(look(40, 40, 1.1, 0.1), -20 - 15 - 20 * 0.7, accuracy: 1e-9)  // release tail
        XCTAssertEqual(look(40, 40, 100), -120, accuracy: 1e-9)                 // clamped to the floor
    }

    func testBlendWeights() {
        let env = EnvelopeTables(instrumentCount: 2, zDim: 2, pitchAnchors: [0, 1], velocityAnchors: [0, 1],
                                 frameRateHz: 100, holdFrameCount: 2, releaseFrameCount: 2,
                                 holdDB: [Float](repeating: -10, count: 16), holdSlopeDBPerSecond: [Float](repeating: 0, count: 8),
                                 releaseDB: [Float](repeating: 0, count: 16), releaseSlopeDBPerSecond: [Float](repeating: -20, count: 8),
                                 latentMeans: [0, 0, 2, 0], blendScale: 1)
        let w = env.blendWeights(z: [0, 0])
        // a = [0, -2]: w = [1, e^-2] / (1 + e^-2)
        XCTAssertEqual(Double(w[0]), 1 / (1 + exp(-2.0)), accuracy: 1e-7)
        XCTAssertEqual(Double(w[1]), exp(-2.0) / (1 + exp(-2.0)), accuracy: 1e-7)
        let mid = env.blendWeights(z: [1, 5])
        XCTAssertEqual(mid[0], 0.5, accuracy: 1e-7)
        // Far away from both: no overflow, still a distribution.
        let far = env.blendWeights(z: [1000, -1000])
        XCTAssertEqual(far[0] + far[1], 1, accuracy: 1e-6)
    }

    /// The inverse-distance rule: exactly an instrument at its mean (a preset plays its own
    /// envelope), equal weights half-way between two, a smooth path between them (no step larger
    /// than a few times the mean step), and the nearest means dominate far from all of them.
    func testInverseDistanceBlendIsTheInstrumentAtItsMeanAndSmoothBetween() {
        let means: [Float] = [0, 0, 2, 0, 0, 3]
        let env = EnvelopeTables(instrumentCount: 3, zDim: 2, pitchAnchors: [0, 1], velocityAnchors: [0, 1],
                                 frameRateHz: 100, holdFrameCount: 2, releaseFrameCount: 2,
                                 holdDB: [Float](repeating: -10, count: 24), holdSlopeDBPerSecond: [Float](repeating: 0, count: 12),
                                 releaseDB: [Float](repeating: 0, count: 24), releaseSlopeDBPerSecond: [Float](repeating: -20, count: 12),
                                 latentMeans: means, blendScale: 0.8, blendRule: .inverseDistance)
        for k in 0..<3 {
            let w = env.blendWeights(z: Array(means[(2 * k)..<(2 * k + 2)]))
            XCTAssertGreaterThan(w[k], 1 - 1e-6, "instrument \(k) at its own mean")
        }
        let mid = env.blendWeights(z: [1, 0])
        XCTAssertEqual(mid[0], mid[1], accuracy: 1e-6)
        XCTAssertLessThan(mid[2], 0.1, "a third instrument, 3.2 away, barely enters half-way between two 1 away")
        var path: [Float] = []
        for i in 0...100 { path.append(env.blendWeights(z: [2 * Float(i) / 100, 0])[1]) }
        let steps = zip(path.dropFirst(), path).map { abs($0 - $1) }
        let meanStep = steps.reduce(0, +) / Float(steps.count)
        print(String(format: "inverse-distance path: largest step %.4f, mean step %.4f", steps.max()!, meanStep))
        XCTAssertLessThan(steps.max()!, 4 * meanStep, "the weight moves smoothly along the path")
        XCTAssertEqual(path.first!, 0, accuracy: 1e-6)
        XCTAssertEqual(path.last!, 1, accuracy: 1e-6)
        let far = env.blendWeights(z: [1000, -1000])
        XCTAssertEqual(far.reduce(0, +), 1, accuracy: 1e-5)
        let nan = env.blendWeights(z: [.nan, 0])
        XCTAssertTrue(nan.allSatisfy { $0.isNaN })
        XCTAssertEqual(env.loudnessDB(pitch: 0.5, velocity: 0.5, secondsSinceNoteOn: 0.1, noteOffAtSeconds: nil, weights: nan),
                       EnvelopeTables.floorDB)
    }

    /// The shipped model blends by inverse distance, so every preset (an instrument's mean) plays
    /// its own instrument's envelope, as the decoder was trained; the gaussian rule gave a preset
    /// 46-84 % of its own.
    func testTheShippedModelsPresetsPlayTheirOwnEnvelope() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let env = model.envelopes
        XCTAssertEqual(env.blendRule, .inverseDistance)
        var lowest: Float = 1
        for (k, mean) in model.latentMeans.enumerated() {
            let w = env.blendWeights(z: mean)
            lowest = min(lowest, w[k])
        }
        print(String(format: "shipped model: lowest own weight at a preset %.6f", lowest))
        XCTAssertGreaterThan(lowest, 0.999)
    }

    /// The morph line: a third instrument half-way between two (a sax between a flute and a
    /// trumpet) takes the middle of the line by the rule alone; on the line, A's and B's
    /// instruments blend linearly along it; a point off the line leaves it continuously, and past
    /// the radius (half the third mean's distance from the line) the rule's own weights are back,
    /// so the third instrument's own mean plays its own tables.
    func testOnTheMorphLineTheTablesBlendItsEndsLinearly() {
        let means: [Float] = [0, 0, 4, 0, 2, 0.6]  // A, B, and a third mean 0.6 from the middle
        let env = EnvelopeTables(instrumentCount: 3, zDim: 2, pitchAnchors: [0, 1], velocityAnchors: [0, 1],
                                 frameRateHz: 100, holdFrameCount: 2, releaseFrameCount: 2,
                                 holdDB: [Float](repeating: -10, count: 24), holdSlopeDBPerSecond: [Float](repeating: 0, count: 12),
                                 releaseDB: [Float](repeating: 0, count: 24), releaseSlopeDBPerSecond: [Float](repeating: -20, count: 12),
                                 latentMeans: means, blendScale: 0.8, blendRule: .inverseDistance)
        let line = env.morphLine(from: [0, 0], to: [4, 0])
        XCTAssertEqual(line.radius, 0.3, accuracy: 1e-6, "half the third mean's distance from the line")
        let byRule = env.blendWeights(z: [2, 0])
        XCTAssertGreaterThan(byRule[2], 0.9, "by the rule alone the middle of the line is the third instrument")
        for s: Float in [0, 0.25, 0.5, 0.9, 1] {
            let w = env.blendWeights(z: [4 * s, 0], line: line)
            XCTAssertEqual(w[0], 1 - s, accuracy: 1e-5, "A's share at s = \(s)")
            XCTAssertEqual(w[1], s, accuracy: 1e-5, "B's share at s = \(s)")
        }
        // leaving the line towards the third mean: continuous, the rule's weights from the radius on
        var previous = env.blendWeights(z: [2, 0], line: line)
        for i in 1...60 {
            let w = env.blendWeights(z: [2, 0.6 * Float(i) / 60], line: line)
            XCTAssertLessThan(abs(w[2] - previous[2]), 0.1, "no jump leaving the line (at \(i))")
            previous = w
        }
        XCTAssertEqual(env.blendWeights(z: [2, 0.35], line: line), env.blendWeights(z: [2, 0.35]))
        XCTAssertGreaterThan(env.blendWeights(z: [2, 0.6], line: line)[2], 1 - 1e-6, "the third preset plays its own")
        XCTAssertEqual(env.morphLine(from: [1, 1], to: [1, 1]).radius, 0, "no line between a point and itself")
        XCTAssertEqual(env.blendWeights(z: [2, 0], line: .none), byRule)
    }

    /// On the shipped model the straight line from the flute to the trumpet passes closer to the
    /// alto sax's mean than to either end: by the rule alone its middle took 83 % of the sax's
    /// tables; along the morph line it takes half the flute's and half the trumpet's.
    func testTheShippedFluteToTrumpetLineBlendsFluteAndTrumpet() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let names = model.config.instruments
        guard let flute = names.firstIndex(of: "flute"), let trumpet = names.firstIndex(of: "trumpet"),
              let sax = names.firstIndex(of: "alto_sax") else { throw XCTSkip("no flute, trumpet or sax") }
        let a = model.latentMeans[flute], b = model.latentMeans[trumpet]
        let middle = zip(a, b).map { ($0 + $1) / 2 }
        let env = model.envelopes
        let line = env.morphLine(from: a, to: b)
        let byRule = env.blendWeights(z: middle), onLine = env.blendWeights(z: middle, line: line)
        print(String(format: "flute → trumpet, middle: sax %.2f by the rule; flute %.2f, trumpet %.2f on the line (radius %.2f)",
                     byRule[sax], onLine[flute], onLine[trumpet], line.radius))
        XCTAssertGreaterThan(byRule[sax], 0.5)
        XCTAssertEqual(onLine[flute], 0.5, accuracy: 1e-4)
        XCTAssertEqual(onLine[trumpet], 0.5, accuracy: 1e-4)
    }
}
