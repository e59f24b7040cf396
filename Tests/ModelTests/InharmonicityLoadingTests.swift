import Foundation
import Model
import TestSupport
import XCTest

/// The optional tensors: stretched partials (docs/model-format.md, "Inharmonicity"), attack
/// transients ("Transients") and the tone balance ("Tone balance").
final class InharmonicityLoadingTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("timbred-inharmonicity-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The small model with `tensors` (name: shape, values) appended to its header and data.
    func smallModel(adding tensors: [(String, [Int], [Float])]) throws -> URL {
        let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.smallModel))
        var n = 0
        for i in 0..<8 { n |= Int(original[i]) << (8 * i) }
        var header = try XCTUnwrap(JSONSerialization.jsonObject(with: original.subdata(in: 8 ..< 8 + n)) as? [String: Any])
        var data = original.subdata(in: 8 + n ..< original.count)
        for (name, shape, values) in tensors {
            let start = data.count
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [start, data.count]]
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(data)
        let url = directory.appendingPathComponent("model-\(UUID().uuidString).safetensors")
        try out.write(to: url)
        return url
    }

    func table(_ rows: Int) -> [Float] {
        var values = [Float](repeating: 0, count: rows * 128)
        for i in values.indices where i / 128 != 1 {
            let semitones = Double(i % 128 - 60)
            values[i] = Float(1e-4 * pow(2, semitones / 12))
        }
        return values
    }

    func testAFileWithoutTheTensorsPlaysHarmonic() throws {
        let model = try TimbreModel(contentsOf: Fixtures.smallModel)
        XCTAssertNil(model.inharmonicity)
    }

    func testLoadsTheTable() throws {
        let url = try smallModel(adding: [("inharmonicity.b", [3, 128], table(3)), ("inharmonicity.blend_scale", [1], [0.5])])
        let model = try TimbreModel(contentsOf: url.path)
        let t = try XCTUnwrap(model.inharmonicity)
        XCTAssertEqual(t.instrumentCount, 3)
        XCTAssertEqual(t.blendScale, 0.5)
        XCTAssertEqual(t.values, table(3))
        XCTAssertTrue(t.isStretched)
        XCTAssertEqual(model.unexpectedTensorNames, [])
        // at an instrument's own mean, far from the others, its own B (linear between pitches)
        let means = model.latentMeans
        let own = t.coefficient(z: means[0], pitch: 60.5)
        XCTAssertEqual(own, 1e-4 * (pow(2, 0.5 / 12) + 1) / 2, accuracy: 2e-6)
        XCTAssertEqual(t.coefficient(z: means[1], pitch: 60), 0, "instrument b is harmonic")
    }

    func testRefusesHalfTheTensorsNegativeValuesAndWrongShapes() throws {
        let half = try smallModel(adding: [("inharmonicity.b", [3, 128], table(3))])
        XCTAssertThrowsError(try TimbreModel(contentsOf: half.path)) { error in
            XCTAssertTrue("\(error)".contains("tensor inharmonicity.blend_scale is missing"), "\(error)")
        }
        var negative = table(3)
        negative[7] = -1e-4
        let bad = try smallModel(adding: [("inharmonicity.b", [3, 128], negative), ("inharmonicity.blend_scale", [1], [0.5])])
        XCTAssertThrowsError(try TimbreModel(contentsOf: bad.path)) { error in
            XCTAssertTrue("\(error)".contains("inharmonicity.b: value -0.0001 at flat index 7"), "\(error)")
        }
        let shape = try smallModel(adding: [("inharmonicity.b", [2, 128], table(2)), ("inharmonicity.blend_scale", [1], [0.5])])
        XCTAssertThrowsError(try TimbreModel(contentsOf: shape.path)) { error in
            XCTAssertTrue("\(error)".contains("expected shape [3, 128], found [2, 128]"), "\(error)")
        }
        let scale = try smallModel(adding: [("inharmonicity.b", [3, 128], table(3)), ("inharmonicity.blend_scale", [1], [0])])
        XCTAssertThrowsError(try TimbreModel(contentsOf: scale.path))
    }

    func testAStretchTuningLoadsBesideTheTableAndBadOnesAreRefused() throws {
        let base: [(String, [Int], [Float])] = [("inharmonicity.b", [3, 128], table(3)),
                                                ("inharmonicity.blend_scale", [1], [0.5])]
        // instrument 0 tuned from -10 cents at key 0 to +27 at 127, the others equal
        var cents = [Float](repeating: 0, count: 3 * 128)
        for k in 0..<128 { cents[k] = -10 + 37 * Float(k) / 127 }
        let model = try TimbreModel(contentsOf: try smallModel(adding: base + [("inharmonicity.tuning_cents", [3, 128], cents)]).path)
        let t = try XCTUnwrap(model.inharmonicity)
        XCTAssertTrue(t.isTuned)
        XCTAssertEqual(model.unexpectedTensorNames, [])
        let means = model.latentMeans
        // at its own mean (far from the others), its own cents, linear between keys, in semitones
        XCTAssertEqual(t.tuningSemitones(z: means[0], key: 127), 0.27, accuracy: 1e-4)
        XCTAssertEqual(t.tuningSemitones(z: means[0], key: 63.5), (-10 + 37 * 63.5 / 127) / 100, accuracy: 1e-4)
        XCTAssertEqual(t.tuningSemitones(z: means[0], key: 200), 0.27, accuracy: 1e-4, "clamped to 127")
        XCTAssertEqual(t.tuningSemitones(z: means[1], key: 127), 0, accuracy: 1e-4)
        // a file without it: equal temperament
        let plain = try XCTUnwrap(try TimbreModel(contentsOf: try smallModel(adding: base).path).inharmonicity)
        XCTAssertFalse(plain.isTuned)
        XCTAssertEqual(plain.tuningSemitones(z: means[0], key: 127), 0)
        // refused: without the table, over a semitone, the wrong shape
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [("inharmonicity.tuning_cents", [3, 128], cents)]).path)) {
            XCTAssertTrue("\($0)".contains("inharmonicity.tuning_cents") && "\($0)".contains("without inharmonicity.b"), "\($0)")
        }
        var wild = cents
        wild[5] = 140
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: base + [("inharmonicity.tuning_cents", [3, 128], wild)]).path)) {
            XCTAssertTrue("\($0)".contains("inharmonicity.tuning_cents: value 140.0 at flat index 5"), "\($0)")
        }
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: base + [("inharmonicity.tuning_cents", [3, 127], Array(cents[0..<381]))]).path)) {
            XCTAssertTrue("\($0)".contains("expected shape [3, 128], found [3, 127]"), "\($0)")
        }
    }

    func testTransientTableLoadsAndBadOnesAreRefused() throws {
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        XCTAssertNil(plain.transients)
        let c = plain.config
        let shape = [c.instrumentCount, c.envPitches.count, c.envVelocities.count, TransientTable.frameCount,
                     TransientTable.bandCount]
        let count = shape.reduce(1, *)
        let values = (0..<count).map { Float($0 % 7) * 0.001 }
        let model = try TimbreModel(contentsOf: try smallModel(adding: [("transient.amplitude", shape, values)]).path)
        let t = try XCTUnwrap(model.transients)
        XCTAssertEqual(t.amplitude, values)
        XCTAssertEqual(t.pitchAnchors, c.envPitches)
        XCTAssertTrue(model.unexpectedTensorNames.isEmpty)
        var negative = values
        negative[123] = -0.5
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [("transient.amplitude", shape, negative)]).path)) {
            XCTAssertTrue("\($0)".contains("transient.amplitude") && "\($0)".contains("flat index 123"), "\($0)")
        }
        var short = shape
        short[3] = 40
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [
            ("transient.amplitude", short, [Float](repeating: 0, count: count / 50 * 40))]).path)) {
            XCTAssertTrue("\($0)".contains("expected shape"), "\($0)")
        }
    }

    func testToneTableLoadsAndBadOnesAreRefused() throws {
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        XCTAssertNil(plain.tone)
        let c = plain.config
        let shape = [c.instrumentCount, c.envPitches.count, c.envVelocities.count, ToneTable.bandCount]
        let count = shape.reduce(1, *)
        let values = (0..<count).map { Float($0 % 11) - 5 }
        let model = try TimbreModel(contentsOf: try smallModel(adding: [("tone.gain_db", shape, values)]).path)
        let t = try XCTUnwrap(model.tone)
        XCTAssertEqual(t.gainDB, values)
        XCTAssertEqual(t.onsetFrameCount, 0, "no onset course in this file")
        XCTAssertTrue(model.unexpectedTensorNames.isEmpty)
        var loud = values
        loud[57] = 90
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [("tone.gain_db", shape, loud)]).path)) {
            XCTAssertTrue("\($0)".contains("tone.gain_db") && "\($0)".contains("flat index 57"), "\($0)")
        }
    }

    /// The strike's share of the tone balance (`tone.strike_fraction` [I]) loads beside the band
    /// gains; a share outside 0…1 or one without the band gains is refused with the tensor named.
    func testToneStrikeLoadsAndBadOnesAreRefused() throws {
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        let c = plain.config, n = c.instrumentCount
        let shape = [n, c.envPitches.count, c.envVelocities.count, ToneTable.bandCount]
        let gains: (String, [Int], [Float]) = ("tone.gain_db", shape, [Float](repeating: 2, count: shape.reduce(1, *)))
        let shares = (0..<n).map { Float($0 % 5) / 4 }
        let model = try TimbreModel(contentsOf: try smallModel(adding: [gains, ("tone.strike_fraction", [n], shares)]).path)
        XCTAssertEqual(try XCTUnwrap(model.tone).strikeFraction, shares)
        XCTAssertTrue(model.unexpectedTensorNames.isEmpty)
        XCTAssertEqual(try XCTUnwrap(try TimbreModel(contentsOf: try smallModel(adding: [gains]).path).tone).strikeFraction, [])
        for extra in [[gains, ("tone.strike_fraction", [n], shares.map { $0 + 1.5 })],
                      [gains, ("tone.strike_fraction", [n], shares.map { -$0 - 0.1 })],
                      [gains, ("tone.strike_fraction", [n + 1], shares + [0.5])]] as [[(String, [Int], [Float])]] {
            XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: extra).path)) {
                XCTAssertTrue("\($0)".contains("tone.strike_fraction"), "\($0)")
            }
        }
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [("tone.strike_fraction", [n], shares)]).path)) {
            XCTAssertTrue("\($0)".contains("tone.gain_db"), "\($0)")
        }
    }

    /// The strike's noise gain (`tone.strike_noise_db` [I]) loads beside the band gains, with or
    /// without the share; a gain beyond ±40 dB, a NaN, a wrong length or one without the band gains
    /// is refused with the tensor named.
    func testToneStrikeNoiseLoadsAndBadOnesAreRefused() throws {
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        let c = plain.config, n = c.instrumentCount
        let shape = [n, c.envPitches.count, c.envVelocities.count, ToneTable.bandCount]
        let gains: (String, [Int], [Float]) = ("tone.gain_db", shape, [Float](repeating: 2, count: shape.reduce(1, *)))
        let noise = (0..<n).map { Float($0 % 4) * -3 }
        let model = try TimbreModel(contentsOf: try smallModel(adding: [gains, ("tone.strike_noise_db", [n], noise)]).path)
        let tone = try XCTUnwrap(model.tone)
        XCTAssertEqual(tone.strikeNoiseDB, noise)
        XCTAssertEqual(tone.strikeFraction, [])
        XCTAssertTrue(model.unexpectedTensorNames.isEmpty)
        for extra in [[gains, ("tone.strike_noise_db", [n], noise.map { $0 - 41 })],
                      [gains, ("tone.strike_noise_db", [n], [Float.nan] + noise.dropFirst())],
                      [gains, ("tone.strike_noise_db", [n + 1], noise + [0])]] as [[(String, [Int], [Float])]] {
            XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: extra).path)) {
                XCTAssertTrue("\($0)".contains("tone.strike_noise_db"), "\($0)")
            }
        }
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [("tone.strike_noise_db", [n], noise)]).path)) {
            XCTAssertTrue("\($0)".contains("tone.gain_db"), "\($0)")
        }
    }

    /// The strike's top per key (`tone.strike_top_db` [I, P_onset, V_gain]: on the envelopes' anchors
    /// in a file without onset pitches or gain velocities of its own) loads beside the band gains and
    /// is read at the note-on; a gain beyond ±40 dB, a NaN, a wrong shape or one without the band
    /// gains is refused with the tensor named.
    func testToneStrikeTopLoadsAndBadOnesAreRefused() throws {
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        let c = plain.config, n = c.instrumentCount
        let shape = [n, c.envPitches.count, c.envVelocities.count, ToneTable.bandCount]
        let gains: (String, [Int], [Float]) = ("tone.gain_db", shape, [Float](repeating: 2, count: shape.reduce(1, *)))
        let topShape = [n, c.envPitches.count, c.envVelocities.count]
        let top = (0..<topShape.reduce(1, *)).map { Float($0 % 5) * -4 }
        let model = try TimbreModel(contentsOf: try smallModel(adding: [gains, ("tone.strike_top_db", topShape, top)]).path)
        let tone = try XCTUnwrap(model.tone)
        XCTAssertEqual(tone.strikeTopDB, top)
        XCTAssertTrue(model.unexpectedTensorNames.isEmpty)
        // a table of −6 dB everywhere: −6 at the note-on, −3 half-way through the ramp, 0 after it
        let flat = try TimbreModel(contentsOf: try smallModel(adding: [
            gains, ("tone.strike_top_db", topShape, [Float](repeating: -6, count: top.count))]).path)
        func topDB(_ seconds: Double) throws -> Float {
            try XCTUnwrap(flat.tone).gains(z: flat.latentMeans[0], pitch: 60, velocity: 100,
                                           secondsSinceNoteOn: seconds)[ToneTable.bandCount + 3]
        }
        XCTAssertEqual(try topDB(0), -6, accuracy: 1e-4)
        XCTAssertEqual(try topDB(ToneTable.strikeRampSeconds / 2), -3, accuracy: 1e-4)
        XCTAssertEqual(try topDB(0.2), 0, "none after the strike's ramp")
        for extra in [[gains, ("tone.strike_top_db", topShape, top.map { $0 - 41 })],
                      [gains, ("tone.strike_top_db", topShape, [Float.nan] + top.dropFirst())],
                      [gains, ("tone.strike_top_db", [n, c.envPitches.count + 1, c.envVelocities.count],
                               top + [Float](repeating: 0, count: n * c.envVelocities.count))]] as [[(String, [Int], [Float])]] {
            XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: extra).path)) {
                XCTAssertTrue("\($0)".contains("tone.strike_top_db"), "\($0)")
            }
        }
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [("tone.strike_top_db", topShape, top)]).path)) {
            XCTAssertTrue("\($0)".contains("tone.gain_db"), "\($0)")
        }
    }

    /// The partial motion's three tensors load; a file with only some of them, edges that do not
    /// start at 1 or do not increase, a negative depth or a correlation of 1 is refused with the
    /// tensor named.
    func testPartialMotionLoadsAndBadOnesAreRefused() throws {
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        XCTAssertNil(plain.motion)
        let n = plain.config.instrumentCount
        let edges: [Float] = [1, 2, 4, 100]
        let depth = (0..<(n * 3)).map { Float($0 % 5) }
        let rho = [Float](repeating: 0.8, count: n)
        func model(_ e: [Float], _ d: [Float], _ r: [Float]) throws -> URL {
            try smallModel(adding: [("motion.harmonic_edges", [e.count], e), ("motion.depth_db", [n, e.count - 1], d),
                                    ("motion.correlation", [n], r)])
        }
        let loaded = try TimbreModel(contentsOf: try model(edges, depth, rho).path)
        let m = try XCTUnwrap(loaded.motion)
        XCTAssertEqual(m.harmonicEdges, [1, 2, 4, 100])
        XCTAssertEqual(m.depthDB, depth)
        XCTAssertEqual(m.groupCount, 3)
        XCTAssertTrue(loaded.unexpectedTensorNames.isEmpty)
        let at0 = m.parameters(z: loaded.latentMeans[0])
        XCTAssertEqual(at0.correlation, 0.8, accuracy: 1e-5)
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [("motion.depth_db", [n, 3], depth)]).path)) {
            XCTAssertTrue("\($0)".contains("motion.harmonic_edges"), "\($0)")
        }
        for (e, d, r, name) in [([2, 3, 4, 100] as [Float], depth, rho, "motion.harmonic_edges"),
                                ([1, 4, 4, 100], depth, rho, "motion.harmonic_edges"),
                                (edges, depth.map { $0 - 1 }, rho, "motion.depth_db"),
                                (edges, depth, rho.map { _ in 1 }, "motion.correlation")] {
            XCTAssertThrowsError(try TimbreModel(contentsOf: try model(e, d, r).path)) {
                XCTAssertTrue("\($0)".contains(name), "\($0)")
            }
        }
    }

    /// The small model's instrument count and a partial motion for it: two groups, 1 dB, ρ 0.5.
    func smallMotion() throws -> (Int, [(String, [Int], [Float])]) {
        let n = try TimbreModel(contentsOf: Fixtures.smallModel).config.instrumentCount
        return (n, [("motion.harmonic_edges", [3], [1, 2, 100]),
                    ("motion.depth_db", [n, 2], [Float](repeating: 1, count: 2 * n)),
                    ("motion.correlation", [n], [Float](repeating: 0.5, count: n))])
    }

    /// The motion's vibrato (`motion.vibrato_cents`, `motion.vibrato_hz`) loads beside the motion
    /// and blends by the timbre point; one without the other, either without the motion, or a
    /// depth or rate out of range is refused with the tensor named.
    func testTheMotionsVibratoLoadsAndBadOnesAreRefused() throws {
        let (n, motion) = try smallMotion()
        let cents = (0..<n).map { Float(10 * $0) }, hz = (0..<n).map { Float(4 + $0) }
        let loaded = try TimbreModel(contentsOf: try smallModel(adding: motion + [("motion.vibrato_cents", [n], cents),
                                                                               ("motion.vibrato_hz", [n], hz)]).path)
        let m = try XCTUnwrap(loaded.motion)
        XCTAssertTrue(m.hasVibrato)
        XCTAssertEqual(m.vibratoCents, cents)
        XCTAssertTrue(loaded.unexpectedTensorNames.isEmpty)
        // at an instrument's own point the blend leans on that instrument's row (depth 10 i cents,
        // rate 4 + i Hz: one set of weights blends both, so rate = 4 + depth / 10)
        var scratch = [Double](repeating: 0, count: n)
        let v = loaded.latentMeans[1].withUnsafeBufferPointer { z in
            m.vibrato(z: z.baseAddress!, pitch: 60, scratch: &scratch)
        }
        XCTAssertEqual(v.cents, 10, accuracy: 2)
        XCTAssertEqual(v.hz, 4 + v.cents / 10, accuracy: 1e-9)
        XCTAssertFalse(try XCTUnwrap(try TimbreModel(contentsOf: try smallModel(adding: motion).path).motion).hasVibrato)
        for (extra, name) in [([("motion.vibrato_cents", [n], cents)], "motion.vibrato_hz"),
                              ([("motion.vibrato_cents", [n], cents.map { $0 + 200 }), ("motion.vibrato_hz", [n], hz)],
                               "motion.vibrato_cents"),
                              ([("motion.vibrato_cents", [n], cents), ("motion.vibrato_hz", [n], hz.map { -$0 })],
                               "motion.vibrato_hz")] as [([(String, [Int], [Float])], String)] {
            XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: motion + extra).path)) {
                XCTAssertTrue("\($0)".contains(name), "\($0)")
            }
        }
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [("motion.vibrato_cents", [n], cents),
                                                                                  ("motion.vibrato_hz", [n], hz)]).path)) {
            XCTAssertTrue("\($0)".contains("motion.harmonic_edges"), "\($0)")
        }
    }

    /// A vibrato per instrument and pitch anchor ([I, P] on the envelopes' anchors) loads, is
    /// linear between the anchors at the key and clamped outside them; a table on another number
    /// of anchors, or a rate of the other shape, is refused with the tensor named.
    func testAVibratoPerPitchAnchorLoadsInterpolatesAndBadShapesAreRefused() throws {
        let (n, motion) = try smallMotion()
        let anchors = try TimbreModel(contentsOf: Fixtures.smallModel).config.envPitches
        let p = anchors.count
        // every instrument: depth 2 cents per anchor index, rate 4 Hz + 0.25 per anchor index
        let cents = (0..<n).flatMap { _ in (0..<p).map { Float(2 * $0) } }
        let hz = (0..<n).flatMap { _ in (0..<p).map { Float(4) + 0.25 * Float($0) } }
        let loaded = try TimbreModel(contentsOf: try smallModel(adding: motion + [("motion.vibrato_cents", [n, p], cents),
                                                                               ("motion.vibrato_hz", [n, p], hz)]).path)
        let m = try XCTUnwrap(loaded.motion)
        XCTAssertTrue(m.hasVibrato)
        XCTAssertEqual(m.vibratoPitchAnchors, anchors)
        XCTAssertTrue(loaded.unexpectedTensorNames.isEmpty)
        var scratch = [Double](repeating: 0, count: n)
        func at(_ pitch: Double) -> (cents: Double, hz: Double) {
            loaded.latentMeans[0].withUnsafeBufferPointer { m.vibrato(z: $0.baseAddress!, pitch: pitch, scratch: &scratch) }
        }
        // a quarter of the way from the last anchor but one to the last; every instrument the same,
        // so the blend is exact
        let key = anchors[p - 2] + 0.25 * (anchors[p - 1] - anchors[p - 2])
        XCTAssertEqual(at(key).cents, 2 * (Double(p) - 1.75), accuracy: 1e-5)
        XCTAssertEqual(at(key).hz, 4 + 0.25 * (Double(p) - 1.75), accuracy: 1e-5)
        XCTAssertEqual(at(anchors[0] - 20).cents, 0, accuracy: 1e-6)
        XCTAssertEqual(at(anchors[p - 1] + 20).cents, Double(2 * (p - 1)), accuracy: 1e-5)
        XCTAssertEqual(at(.nan).cents, 0, accuracy: 1e-6, "a key of NaN reads the first anchor")
        for (extra, name) in [([("motion.vibrato_cents", [n, p + 1], cents + [Float](repeating: 0, count: n)),
                                ("motion.vibrato_hz", [n, p], hz)], "motion.vibrato_cents"),
                              ([("motion.vibrato_cents", [n, p], cents), ("motion.vibrato_hz", [n], Array(hz.prefix(n)))],
                               "motion.vibrato_hz")] as [([(String, [Int], [Float])], String)] {
            XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: motion + extra).path)) {
                XCTAssertTrue("\($0)".contains(name), "\($0)")
            }
        }
    }

    /// The motion's smoother (`motion.smoothing` [I], β) loads beside the motion and blends by the
    /// timbre point; without it β is 0; out of 0…0.99, or without the motion, it is refused with
    /// the tensor named.
    func testTheMotionsSmootherLoadsAndBadOnesAreRefused() throws {
        let (n, motion) = try smallMotion()
        let beta = [Float](repeating: 0.8, count: n)
        let loaded = try TimbreModel(contentsOf: try smallModel(adding: motion + [("motion.smoothing", [n], beta)]).path)
        let m = try XCTUnwrap(loaded.motion)
        XCTAssertEqual(m.smoothing, beta)
        XCTAssertTrue(loaded.unexpectedTensorNames.isEmpty)
        XCTAssertEqual(m.parameters(z: loaded.latentMeans[0]).smoothing, 0.8, accuracy: 1e-5)
        let without = try XCTUnwrap(try TimbreModel(contentsOf: try smallModel(adding: motion).path).motion)
        XCTAssertEqual(without.parameters(z: loaded.latentMeans[0]).smoothing, 0)
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: motion + [("motion.smoothing", [n],
                                                                                          beta.map { _ in 1 })]).path)) {
            XCTAssertTrue("\($0)".contains("motion.smoothing"), "\($0)")
        }
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [("motion.smoothing", [n], beta)]).path)) {
            XCTAssertTrue("\($0)".contains("motion.harmonic_edges"), "\($0)")
        }
    }

    /// The motion's drift cut (`motion.drift_cut_hz` [I], Hz) loads beside the motion and blends by
    /// the timbre point; without it the cut is 0; out of 0…10 Hz, or without the motion, it is
    /// refused with the tensor named.
    func testTheMotionsDriftCutLoadsAndBadOnesAreRefused() throws {
        let (n, motion) = try smallMotion()
        let cut = (0..<n).map { Float($0 % 2) * 2 }
        let loaded = try TimbreModel(contentsOf: try smallModel(adding: motion + [("motion.drift_cut_hz", [n], cut)]).path)
        let m = try XCTUnwrap(loaded.motion)
        XCTAssertEqual(m.driftCutHz, cut)
        XCTAssertTrue(loaded.unexpectedTensorNames.isEmpty)
        var scratch = [Double](repeating: 0, count: n), depth = [Float](repeating: 0, count: m.groupCount)
        for i in 0..<2 {
            // the blend weights `parameters` leaves in the scratch, over the instruments' cuts
            let got = loaded.latentMeans[i].withUnsafeBufferPointer { z -> Float in
                _ = m.parameters(z: z.baseAddress!, scratch: &scratch, depthDB: &depth)
                return m.driftCutHz(weights: scratch)
            }
            let expected = (0..<n).reduce(0.0) { $0 + scratch[$1] * Double(cut[$1]) }
            XCTAssertEqual(Double(got), expected, accuracy: 1e-5)
            XCTAssertGreaterThan(got, 0)
            XCTAssertLessThan(got, 2)
        }
        let without = try XCTUnwrap(try TimbreModel(contentsOf: try smallModel(adding: motion).path).motion)
        XCTAssertEqual(without.driftCutHz(weights: scratch), 0)
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: motion + [("motion.drift_cut_hz", [n],
                                                                                          cut.map { _ in 11 })]).path)) {
            XCTAssertTrue("\($0)".contains("motion.drift_cut_hz"), "\($0)")
        }
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [("motion.drift_cut_hz", [n], cut)]).path)) {
            XCTAssertTrue("\($0)".contains("motion.harmonic_edges"), "\($0)")
        }
    }

    /// The motion's vibrato lock (`motion.vibrato_lock` [I, G], a share) loads beside the motion
    /// and its vibrato and blends by the timbre point; without it every group's share is 0; a share
    /// out of 0…1, a wrong shape, or a lock without the vibrato is refused with the tensor named.
    func testTheMotionsVibratoLockLoadsAndBadOnesAreRefused() throws {
        let (n, motion) = try smallMotion()
        let vibrato: [(String, [Int], [Float])] = [("motion.vibrato_cents", [n], [Float](repeating: 10, count: n)),
                                                   ("motion.vibrato_hz", [n], [Float](repeating: 5, count: n))]
        let lock = (0..<(2 * n)).map { $0 % 2 == 0 ? Float(0.25) : 0.75 }
        let loaded = try TimbreModel(contentsOf: try smallModel(adding: motion + vibrato
                                                                + [("motion.vibrato_lock", [n, 2], lock)]).path)
        let m = try XCTUnwrap(loaded.motion)
        XCTAssertEqual(m.vibratoLock, lock)
        XCTAssertTrue(loaded.unexpectedTensorNames.isEmpty)
        var scratch = [Double](repeating: 0, count: n), depth = [Float](repeating: 0, count: 2)
        var shares = [Float](repeating: -1, count: 2)
        _ = loaded.latentMeans[0].withUnsafeBufferPointer {
            m.parameters(z: $0.baseAddress!, scratch: &scratch, depthDB: &depth, vibratoLock: &shares)
        }
        XCTAssertEqual(shares[0], 0.25, accuracy: 1e-5)
        XCTAssertEqual(shares[1], 0.75, accuracy: 1e-5)
        let without = try XCTUnwrap(try TimbreModel(contentsOf: try smallModel(adding: motion + vibrato).path).motion)
        _ = loaded.latentMeans[0].withUnsafeBufferPointer {
            without.parameters(z: $0.baseAddress!, scratch: &scratch, depthDB: &depth, vibratoLock: &shares)
        }
        XCTAssertEqual(shares, [0, 0])
        // its tilt loads beside it; without the lock it is refused
        let tilt = lock.map { $0 - 0.5 }
        let tilted = try TimbreModel(contentsOf: try smallModel(adding: motion + vibrato
            + [("motion.vibrato_lock", [n, 2], lock), ("motion.vibrato_tilt", [n, 2], tilt)]).path)
        XCTAssertEqual(tilted.motion?.vibratoTilt, tilt)
        XCTAssertTrue(tilted.unexpectedTensorNames.isEmpty)
        var tilts = [Float](repeating: 9, count: 2)
        _ = tilted.latentMeans[0].withUnsafeBufferPointer {
            tilted.motion!.parameters(z: $0.baseAddress!, scratch: &scratch, depthDB: &depth, vibratoTilt: &tilts)
        }
        XCTAssertEqual(tilts[0], -0.25, accuracy: 1e-5)
        XCTAssertEqual(tilts[1], 0.25, accuracy: 1e-5)
        for (extra, name) in [(vibrato + [("motion.vibrato_tilt", [n, 2], tilt)], "motion.vibrato_lock"),
                              (vibrato + [("motion.vibrato_lock", [n, 2], lock),
                                          ("motion.vibrato_tilt", [n, 2], tilt.map { $0 * 5 })], "motion.vibrato_tilt"),(vibrato + [("motion.vibrato_lock", [n, 2], lock.map { $0 + 0.5 })], "motion.vibrato_lock"),
                              (vibrato + [("motion.vibrato_lock", [n], Array(lock.prefix(n)))], "motion.vibrato_lock"),
                              ([("motion.vibrato_lock", [n, 2], lock)], "motion.vibrato_cents")]
            as [([(String, [Int], [Float])], String)] {
            XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: motion + extra).path)) {
                XCTAssertTrue("\($0)".contains(name), "\($0)")
            }
        }
    }

    /// The noise's high-pass below the fundamental (`highpass.ratio` [I]) loads on its own and
    /// blends by the timbre point; a ratio out of 0…2, a wrong shape or a non-finite value is
    /// refused with the tensor named.
    func testTheNoiseHighPassLoadsAndBadOnesAreRefused() throws {
        let plain = try TimbreModel(contentsOf: Fixtures.smallModel)
        XCTAssertNil(plain.noiseHighPass)
        let n = plain.config.instrumentCount
        let ratios = (0..<n).map { Float($0 % 3) * 0.4 }
        let loaded = try TimbreModel(contentsOf: try smallModel(adding: [("highpass.ratio", [n], ratios)]).path)
        let table = try XCTUnwrap(loaded.noiseHighPass)
        XCTAssertEqual(table.ratios, ratios)
        XCTAssertTrue(loaded.unexpectedTensorNames.isEmpty)
        // at an instrument's own point the blend leans on that instrument's row
        for i in 0..<min(n, 3) {
            XCTAssertEqual(table.ratio(z: loaded.latentMeans[i]), Double(ratios[i]), accuracy: 0.15, "instrument \(i)")
        }
        for (values, shape) in [(ratios.map { $0 + 2.5 }, [n]), (ratios.map { -$0 - 0.1 }, [n]),
                                (ratios + [0.5], [n + 1]), ([Float.nan] + ratios.dropFirst(), [n])] {
            XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [("highpass.ratio", shape, values)]).path)) {
                XCTAssertTrue("\($0)".contains("highpass.ratio"), "\($0)")
            }
        }
    }

    /// The control smoothing (`controls.smooth_from_frame` [1]) loads as a whole frame number;
    /// 0, a fraction, a frame past 1000, a non-finite value or a wrong shape is refused with the
    /// tensor named.
    func testTheControlSmoothingLoadsAndBadOnesAreRefused() throws {
        XCTAssertNil(try TimbreModel(contentsOf: Fixtures.smallModel).controlSmoothingFromFrame)
        let loaded = try TimbreModel(contentsOf: try smallModel(adding: [("controls.smooth_from_frame", [1], [10])]).path)
        XCTAssertEqual(loaded.controlSmoothingFromFrame, 10)
        XCTAssertTrue(loaded.unexpectedTensorNames.isEmpty)
        for (values, shape) in [([Float(0)], [1]), ([2.5], [1]), ([1001], [1]), ([Float.nan], [1]), ([10, 10], [2])] {
            XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [("controls.smooth_from_frame", shape, values)]).path)) {
                XCTAssertTrue("\($0)".contains("controls.smooth_from_frame"), "\($0)")
            }
        }
    }

    /// An onset course on pitch anchors of its own (`tone.onset_pitches`) with its own frame
    /// count loads; pitches that do not increase, or an onset table of the envelopes' shape
    /// beside them, are refused with the tensor named.
    func testToneOnsetOnItsOwnPitchesLoadsAndBadOnesAreRefused() throws {
        let c = try TimbreModel(contentsOf: Fixtures.smallModel).config
        let bands = [c.instrumentCount, c.envPitches.count, c.envVelocities.count, ToneTable.bandCount]
        let gains = [Float](repeating: 1, count: bands.reduce(1, *))
        let pitches: [Float] = [30, 50, 60, 61, 62, 100]
        let onsetShape = [c.instrumentCount, pitches.count, c.envVelocities.count, 60]
        // a course that depends on the pitch anchor and the frame only (the blend over
        // instruments then cannot change it)
        let onset = (0..<onsetShape.reduce(1, *)).map { n -> Float in
            let frame = n % 60, anchor = n / (60 * c.envVelocities.count) % pitches.count
            return Float((anchor * 7 + frame) % 9) - 4
        }
        let model = try TimbreModel(contentsOf: try smallModel(adding: [
            ("tone.gain_db", bands, gains), ("tone.onset_db", onsetShape, onset),
            ("tone.onset_pitches", [pitches.count], pitches)]).path)
        let t = try XCTUnwrap(model.tone)
        XCTAssertEqual(t.onsetPitchAnchors, pitches.map(Double.init))
        XCTAssertEqual(t.onsetFrameCount, 60)
        XCTAssertEqual(t.pitchAnchors, c.envPitches)
        XCTAssertTrue(model.unexpectedTensorNames.isEmpty)
        // at key 61, frame 55 (550 ms: past the 40 frames of a file without its own pitches)
        let z = model.latentMeans[0], v = c.envVelocities[0]
        XCTAssertEqual(t.gains(z: z, pitch: 61, velocity: v, secondsSinceNoteOn: 0.55)[ToneTable.bandCount],
                       Float((3 * 7 + 55) % 9) - 4, accuracy: 1e-3)
        XCTAssertEqual(t.gains(z: z, pitch: 60, velocity: v, secondsSinceNoteOn: 0.55)[ToneTable.bandCount],
                       Float((2 * 7 + 55) % 9) - 4, accuracy: 1e-3)
        var descending = pitches
        descending.swapAt(2, 3)
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [
            ("tone.gain_db", bands, gains), ("tone.onset_db", onsetShape, onset),
            ("tone.onset_pitches", [pitches.count], descending)]).path)) {
            XCTAssertTrue("\($0)".contains("tone.onset_pitches") && "\($0)".contains("increasing"), "\($0)")
        }
        let envelopeShape = [c.instrumentCount, c.envPitches.count, c.envVelocities.count, 40]
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [
            ("tone.gain_db", bands, gains), ("tone.onset_db", envelopeShape, [Float](repeating: 0, count: envelopeShape.reduce(1, *))),
            ("tone.onset_pitches", [pitches.count], pitches)]).path)) {
            XCTAssertTrue("\($0)".contains("tone.onset_db") && "\($0)".contains("expected shape"), "\($0)")
        }
    }

    /// A band course (`tone.course_seconds`, `tone.course_db`) loads and moves the band gains
    /// over the note; one without the other, times that do not increase, a gain beyond the
    /// limit, or a course without band gains are refused with the tensor named.
    func testToneBandCourseLoadsAndBadOnesAreRefused() throws {
        let c = try TimbreModel(contentsOf: Fixtures.smallModel).config
        let bands = [c.instrumentCount, c.envPitches.count, c.envVelocities.count, ToneTable.bandCount]
        let gains = [Float](repeating: 1, count: bands.reduce(1, *))
        let seconds: [Float] = [0.2, 0.5, 2.5]
        let courseShape = [c.instrumentCount, c.envPitches.count, c.envVelocities.count, seconds.count,
                           ToneTable.bandCount]
        // band 20 falls 0 → -6 → -12 dB at the three times, in every cell
        let course = (0..<courseShape.reduce(1, *)).map { n -> Float in
            let band = n % ToneTable.bandCount, time = n / ToneTable.bandCount % seconds.count
            return band == 20 ? Float(time) * -6 : 0
        }
        let base: [(String, [Int], [Float])] = [("tone.gain_db", bands, gains)]
        let model = try TimbreModel(contentsOf: try smallModel(adding: base + [
            ("tone.course_seconds", [seconds.count], seconds), ("tone.course_db", courseShape, course)]).path)
        let t = try XCTUnwrap(model.tone)
        XCTAssertEqual(t.courseSeconds, seconds.map(Double.init))
        XCTAssertTrue(model.unexpectedTensorNames.isEmpty)
        let z = model.latentMeans[0], p = c.envPitches[0], v = c.envVelocities[0]
        let at = { (s: Double) in t.gains(z: z, pitch: p, velocity: v, secondsSinceNoteOn: s) }
        XCTAssertEqual(at(0)[20], 1, accuracy: 1e-4)       // before the first time: the first time's
        XCTAssertEqual(at(0.35)[20], -2, accuracy: 1e-4)   // halfway to the second: 1 - 3
        XCTAssertEqual(at(1.5)[20], -8, accuracy: 1e-4)    // halfway to the third: 1 - 9
        XCTAssertEqual(at(30)[20], -11, accuracy: 1e-4)    // after the last: the last's
        XCTAssertEqual(at(1.5)[19], 1, accuracy: 1e-4)     // other bands: the band gain alone
        func refused(_ tensors: [(String, [Int], [Float])], naming name: String, _ what: String) {
            XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: tensors).path)) {
                XCTAssertTrue("\($0)".contains(name) && "\($0)".contains(what), "\($0)")
            }
        }
        refused(base + [("tone.course_db", courseShape, course)], naming: "tone.course_seconds", "missing")
        refused(base + [("tone.course_seconds", [seconds.count], seconds)], naming: "tone.course_db", "missing")
        refused(base + [("tone.course_seconds", [seconds.count], [0.2, 2.5, 0.5]), ("tone.course_db", courseShape, course)],
                naming: "tone.course_seconds", "increasing")
        var loud = course
        loud[7] = 55
        refused(base + [("tone.course_seconds", [seconds.count], seconds), ("tone.course_db", courseShape, loud)],
                naming: "tone.course_db", "flat index 7")
        refused([("tone.course_seconds", [seconds.count], seconds), ("tone.course_db", courseShape, course)],
                naming: "tone.gain_db", "missing")
    }

    /// Band gains on velocity anchors of their own (`tone.gain_velocities`: the note set's 16 …
    /// 127 plus layers measured at 64 and 100) load and are interpolated on those anchors while
    /// the onset course keeps the envelopes'; a table of the envelopes' shape beside them, or
    /// velocities that do not increase, are refused with the tensor named.
    func testToneGainVelocitiesLoadAndBadOnesAreRefused() throws {
        let c = try TimbreModel(contentsOf: Fixtures.smallModel).config
        let velocities: [Float] = [10, 64, 100, 127]
        let bands = [c.instrumentCount, c.envPitches.count, velocities.count, ToneTable.bandCount]
        // band 22's gain is the velocity anchor's index times 4 dB, everywhere
        let gains = (0..<bands.reduce(1, *)).map { n -> Float in
            n % ToneTable.bandCount == 22 ? Float(n / ToneTable.bandCount % velocities.count) * 4 : 0
        }
        let base: [(String, [Int], [Float])] = [("tone.gain_velocities", [velocities.count], velocities)]
        let model = try TimbreModel(contentsOf: try smallModel(adding: base + [("tone.gain_db", bands, gains)]).path)
        let t = try XCTUnwrap(model.tone)
        XCTAssertEqual(t.gainVelocityAnchors, velocities.map(Double.init))
        XCTAssertEqual(t.velocityAnchors, c.envVelocities)
        XCTAssertTrue(model.unexpectedTensorNames.isEmpty)
        let z = model.latentMeans[0], p = c.envPitches[0]
        XCTAssertEqual(t.gains(z: z, pitch: p, velocity: 100)[22], 8, accuracy: 1e-4)
        XCTAssertEqual(t.gains(z: z, pitch: p, velocity: 82)[22], 6, accuracy: 1e-4)   // halfway 64 → 100
        XCTAssertEqual(t.gains(z: z, pitch: p, velocity: 1)[22], 0, accuracy: 1e-4)    // clamped to 10
        XCTAssertEqual(t.gains(z: z, pitch: p, velocity: 82)[21], 0, accuracy: 1e-4)
        let envelopeShape = [c.instrumentCount, c.envPitches.count, c.envVelocities.count, ToneTable.bandCount]
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: base + [
            ("tone.gain_db", envelopeShape, [Float](repeating: 0, count: envelopeShape.reduce(1, *)))]).path)) {
            XCTAssertTrue("\($0)".contains("tone.gain_db") && "\($0)".contains("expected shape"), "\($0)")
        }
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [
            ("tone.gain_velocities", [velocities.count], [10, 100, 64, 127]), ("tone.gain_db", bands, gains)]).path)) {
            XCTAssertTrue("\($0)".contains("tone.gain_velocities") && "\($0)".contains("increasing"), "\($0)")
        }
    }

    /// Band gains on pitch anchors of their own (`tone.gain_pitches`: every key, session 24) load
    /// and are read on those anchors beside gain velocities of their own; pitches that do not
    /// increase, a table of the envelopes' pitch count beside them, or the pitches without band
    /// gains are refused with the tensor named.
    func testToneGainPitchesLoadAndBadOnesAreRefused() throws {
        let c = try TimbreModel(contentsOf: Fixtures.smallModel).config
        let keys: [Float] = [40, 41, 60, 90]
        let velocities: [Float] = [10, 64, 100, 127]
        let bands = [c.instrumentCount, keys.count, velocities.count, ToneTable.bandCount]
        // band 5's gain is the key anchor's index times 3 dB, everywhere
        let gains = (0..<bands.reduce(1, *)).map { n -> Float in
            n % ToneTable.bandCount == 5 ? Float(n / (ToneTable.bandCount * velocities.count) % keys.count) * 3 : 0
        }
        let base: [(String, [Int], [Float])] = [("tone.gain_velocities", [velocities.count], velocities)]
        let model = try TimbreModel(contentsOf: try smallModel(adding: base + [
            ("tone.gain_pitches", [keys.count], keys), ("tone.gain_db", bands, gains)]).path)
        let t = try XCTUnwrap(model.tone)
        XCTAssertEqual(t.gainPitchAnchors, keys.map(Double.init))
        XCTAssertEqual(t.pitchAnchors, c.envPitches, "the band course and the transients keep the envelopes' anchors")
        XCTAssertTrue(model.unexpectedTensorNames.isEmpty)
        let z = model.latentMeans[0]
        XCTAssertEqual(t.gains(z: z, pitch: 41, velocity: 100)[5], 3, accuracy: 1e-4)
        XCTAssertEqual(t.gains(z: z, pitch: 75, velocity: 100)[5], 7.5, accuracy: 1e-4)  // halfway 60 → 90
        XCTAssertEqual(t.gains(z: z, pitch: 20, velocity: 100)[5], 0, accuracy: 1e-4)    // clamped to 40
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: base + [
            ("tone.gain_pitches", [keys.count], [40, 60, 41, 90]), ("tone.gain_db", bands, gains)]).path)) {
            XCTAssertTrue("\($0)".contains("tone.gain_pitches") && "\($0)".contains("increasing"), "\($0)")
        }
        let envelopeShape = [c.instrumentCount, c.envPitches.count, velocities.count, ToneTable.bandCount]
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: base + [
            ("tone.gain_pitches", [keys.count], keys),
            ("tone.gain_db", envelopeShape, [Float](repeating: 0, count: envelopeShape.reduce(1, *)))]).path)) {
            XCTAssertTrue("\($0)".contains("tone.gain_db") && "\($0)".contains("expected shape"), "\($0)")
        }
        XCTAssertThrowsError(try TimbreModel(contentsOf: try smallModel(adding: [("tone.gain_pitches", [keys.count], keys)]).path)) {
            XCTAssertTrue("\($0)".contains("tone.gain_db"), "\($0)")
        }
    }

    func testLookupMatchesTorchReference() throws {
        let fixture = try Reference(Fixtures.directory.appendingPathComponent("inharmonic-reference.safetensors").path)
        let means = try fixture.values("lookup.means"), zs = try fixture.values("lookup.z")
        let pitches = try fixture.values("lookup.pitch"), expected = try fixture.values("lookup.values")
        let zDim = fixture.shape("lookup.means")[1]
        let t = InharmonicityTable(instrumentCount: fixture.shape("lookup.b")[0], zDim: zDim,
                                   values: try fixture.values("lookup.b"), latentMeans: means,
                                   blendScale: Double(try fixture.values("lookup.blend_scale")[0]))
        var zeros = 0
        for q in 0..<pitches.count {
            let b = t.coefficient(z: Array(zs[q * zDim ..< (q + 1) * zDim]), pitch: Double(pitches[q]))
            if expected[q] == 0 { zeros += 1 }
            XCTAssertEqual(b, Double(expected[q]), accuracy: 1e-6 * Double(expected[q]) + 1e-12, "query \(q)")
        }
        XCTAssertGreaterThan(zeros, 0)
        XCTAssertLessThan(zeros, pitches.count)
        // the stretch tuning at the same queries, the pitch as the key
        let tuned = InharmonicityTable(instrumentCount: t.instrumentCount, zDim: zDim, values: t.values, latentMeans: means,
                                       blendScale: t.blendScale, tuningCents: try fixture.values("lookup.tuning_cents"))
        let semitones = try fixture.values("lookup.tuning_semitones")
        for q in 0..<pitches.count {
            XCTAssertEqual(tuned.tuningSemitones(z: Array(zs[q * zDim ..< (q + 1) * zDim]), key: Double(pitches[q])),
                           Double(semitones[q]), accuracy: 1e-6, "query \(q)")
        }
        XCTAssertGreaterThan(semitones.map { abs($0) }.max() ?? 0, 0.05, "the queries reach the tuned keys")
    }

    func testTheShippedModelStretchesThePiano() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let t = try XCTUnwrap(model.inharmonicity, "models/default.safetensors has no inharmonicity tensors "
                                                    + "(timbred-train inharmonicity adds them)")
        let piano = try XCTUnwrap(model.instrumentIndex(named: "piano"))
        let b60 = t.coefficient(z: model.latentMeans[piano], pitch: 60)
        print("shipped model: piano B at MIDI 48/60/72 = \([48.0, 60, 72].map { t.coefficient(z: model.latentMeans[piano], pitch: $0) })")
        XCTAssertGreaterThan(b60, 2e-4)
        XCTAssertLessThan(b60, 5e-4)
        if let flute = model.instrumentIndex(named: "flute") {
            XCTAssertEqual(t.coefficient(z: model.latentMeans[flute], pitch: 72), 0)
            XCTAssertEqual(t.tuningSemitones(z: model.latentMeans[flute], key: 96), 0, accuracy: 0.005,
                           "the flute plays equal temperament")
        }
        // the piano's stretch tuning: middle C and A4 within a few cents of equal temperament, the
        // treble sharp (FluidR3's first partial: +16 cents at MIDI 96, +27 at 108, less the stretch
        // its B gives the first partial there)
        let cents = [48.0, 60, 69, 96, 108].map { t.tuningSemitones(z: model.latentMeans[piano], key: $0) * 100 }
        print("shipped model: piano tuning at MIDI 48/60/69/96/108 = \(cents) cents")
        XCTAssertTrue(t.isTuned, "models/default.safetensors has no stretch tuning (timbred-train inharmonicity --tuned piano)")
        XCTAssertLessThan(cents[0...2].map(abs).max()!, 3)
        XCTAssertGreaterThan(cents[3], 5)
        XCTAssertGreaterThan(cents[4], 12)
    }
}
