import Foundation
import Inference
import Model
import TestSupport
import XCTest

/// The tone balance (docs/model-format.md, "Tone balance"): the table's lookup and its
/// application to a frame's controls against the trainer's reference, and what the shipped
/// model's table does (its loading: InharmonicityLoadingTests).
final class ToneTests: XCTestCase {
    let fixturePath = Fixtures.directory.appendingPathComponent("tone-reference.safetensors").path

    func testLookupMatchesTheTrainer() throws {
        let fixture = try Reference(fixturePath)
        let table = ToneTable(instrumentCount: fixture.shape("gain_db")[0], zDim: fixture.shape("means")[1],
                              pitchAnchors: try fixture.values("pitch_anchors").map(Double.init),
                              velocityAnchors: try fixture.values("velocity_anchors").map(Double.init),
                              gainDB: try fixture.values("gain_db"), onsetDB: try fixture.values("onset_db"),
                              onsetPitchAnchors: try fixture.values("onset_pitch_anchors").map(Double.init),
                              latentMeans: try fixture.values("means"),
                              blendScale: Double(try fixture.values("blend_scale")[0]), blendRule: .inverseDistance)
        let zs = try fixture.values("lookup.z"), pitches = try fixture.values("lookup.pitch")
        let velocities = try fixture.values("lookup.velocity"), expected = try fixture.values("lookup.values")
        let seconds = try fixture.values("lookup.seconds"), onsets = try fixture.values("lookup.onset")
        let b = ToneTable.bandCount, zDim = table.zDim
        XCTAssertEqual(table.onsetFrameCount, 60)
        XCTAssertEqual(table.onsetPitchAnchors, [40, 55, 60, 61, 90])
        for q in 0..<pitches.count {
            let g = table.gains(z: Array(zs[q * zDim ..< (q + 1) * zDim]), pitch: Double(pitches[q]),
                                velocity: Double(velocities[q]), secondsSinceNoteOn: Double(seconds[q]))
            XCTAssertLessThan(maxScaledError(Array(g[0..<b]), Array(expected[q * b ..< (q + 1) * b])), 1e-5, "query \(q)")
            XCTAssertEqual(g[b], onsets[q], accuracy: 1e-4, "onset of query \(q) at \(seconds[q]) s")
        }
        // NaN in z: no balance (0 dB), not NaN
        let nan = table.gains(z: [.nan, 0], pitch: 60, velocity: 100, secondsSinceNoteOn: 0)
        XCTAssertEqual(nan[0...b].map(abs).max(), 0)
        XCTAssertEqual(nan[b + 1], 1, "the whole (empty) balance's share")
    }

    /// A transient lifted by its strike's top as the trainer lifts it (`tone.lift_transient`).
    func testTheStrikeTopLiftsTheTransientAsTheTrainer() throws {
        let fixture = try Reference(fixturePath)
        var amplitudes = try fixture.values("transient.in")
        let expected = try fixture.values("transient.out"), top = try fixture.values("transient.top_db")[0]
        XCTAssertEqual(amplitudes.count, TransientTable.envelopeCount)
        ToneTable.liftTransient(&amplitudes, topDB: Double(top))
        XCTAssertLessThan(maxScaledError(amplitudes, expected), 1e-5)
        let b = TransientTable.bandCount
        XCTAssertLessThan(amplitudes[b - 1], try fixture.values("transient.in")[b - 1] * 0.25, "the top band cut at the note-on")
        XCTAssertEqual(amplitudes[ToneBalance.strikeTopBand - 1], try fixture.values("transient.in")[ToneBalance.strikeTopBand - 1],
                       "the band under the top untouched")
    }

    /// An onset course on the band gains' velocity anchors (`tone.onset_db` with as many velocities
    /// as `tone.gain_velocities`, session 34) is read at them: at a layer's velocity its own cell,
    /// between two anchors linear between them; on the envelopes' anchors the same cells would be
    /// read elsewhere.
    func testAnOnsetCourseOnTheGainsVelocitiesIsReadAtThem() {
        let gainVelocities: [Double] = [20, 64, 120], frames = 3
        // [I = 1, P = 2, V = 3, T = 3]: cell v holds 10 · (v + 1) dB at every frame and pitch
        var onset: [Float] = []
        for _ in 0..<2 { for v in 0..<3 { onset += Array(repeating: Float(10 * (v + 1)), count: frames) } }
        func table(onGains: Bool, onsetDB: [Float]) -> ToneTable {
            ToneTable(instrumentCount: 1, zDim: 1, pitchAnchors: [40, 80], velocityAnchors: [20, 120],
                      gainDB: Array(repeating: 0, count: 2 * 3 * ToneTable.bandCount), onsetDB: onsetDB,
                      onsetPitchAnchors: [40, 80], gainVelocityAnchors: gainVelocities,
                      onsetOnGainVelocities: onGains, latentMeans: [0], blendScale: 1, blendRule: .inverseDistance)
        }
        let wide = table(onGains: true, onsetDB: onset)
        XCTAssertEqual(wide.onsetVelocityAnchors, gainVelocities)
        XCTAssertEqual(wide.onsetFrameCount, frames)
        func onsetDB(_ t: ToneTable, velocity: Double) -> Float {
            t.gains(z: [0], pitch: 60, velocity: velocity, secondsSinceNoteOn: 0.005)[ToneTable.bandCount]
        }
        XCTAssertEqual(onsetDB(wide, velocity: 64), 20, accuracy: 1e-4, "the 64 anchor's own cell")
        XCTAssertEqual(onsetDB(wide, velocity: 42), 15, accuracy: 1e-4, "halfway between 20 and 64")
        XCTAssertEqual(onsetDB(wide, velocity: 92), 25, accuracy: 1e-4, "halfway between 64 and 120")
        XCTAssertEqual(onsetDB(wide, velocity: 127), 30, accuracy: 1e-4, "clamped to the last anchor")
        // the same course without the layer, on the envelopes' two anchors (cells 10 and 30 dB)
        var narrow: [Float] = []
        for _ in 0..<2 { for v in [0, 2] { narrow += Array(repeating: Float(10 * (v + 1)), count: frames) } }
        let old = table(onGains: false, onsetDB: narrow)
        XCTAssertEqual(old.onsetVelocityAnchors, [20, 120])
        XCTAssertEqual(onsetDB(old, velocity: 64), 10 + 20 * 44 / 100, accuracy: 1e-4)
    }

    /// The strike's top per key and velocity (`tone.strike_top_db` on the onset course's keys):
    /// at the queries' times after note-on as the trainer computes it, 0 from the strike's ramp on.
    func testStrikeTopLookupMatchesTheTrainer() throws {
        let fixture = try Reference(fixturePath)
        let velocities = try fixture.values("velocity_anchors").map(Double.init)
        let table = ToneTable(instrumentCount: fixture.shape("gain_db")[0], zDim: fixture.shape("means")[1],
                              pitchAnchors: try fixture.values("pitch_anchors").map(Double.init),
                              velocityAnchors: velocities, gainDB: try fixture.values("gain_db"),
                              onsetDB: try fixture.values("onset_db"),
                              onsetPitchAnchors: try fixture.values("onset_pitch_anchors").map(Double.init),
                              strikeTopDB: try fixture.values("strike_top_db"), latentMeans: try fixture.values("means"),
                              blendScale: Double(try fixture.values("blend_scale")[0]), blendRule: .inverseDistance)
        let zs = try fixture.values("lookup.z"), pitches = try fixture.values("lookup.pitch")
        let queried = try fixture.values("lookup.velocity"), seconds = try fixture.values("lookup.seconds")
        let expected = try fixture.values("lookup.strike_top")
        XCTAssertGreaterThan(expected.map(abs).max() ?? 0, 1, "the fixture's queries reach the strike's top")
        for q in 0..<pitches.count {
            let g = table.gains(z: Array(zs[q * table.zDim ..< (q + 1) * table.zDim]), pitch: Double(pitches[q]),
                                velocity: Double(queried[q]), secondsSinceNoteOn: Double(seconds[q]))
            XCTAssertEqual(g[ToneTable.bandCount + 3], expected[q], accuracy: 1e-4, "query \(q) at \(seconds[q]) s")
        }
    }

    /// The band course (`tone.course_db`): the band gains with the course added at the query's
    /// time after note-on, before its first time, between two and after its last, as the trainer
    /// computes them; the same table without the course gives the band gains alone.
    func testBandCourseMatchesTheTrainer() throws {
        let fixture = try Reference(fixturePath)
        func table(withCourse: Bool) throws -> ToneTable {
            ToneTable(instrumentCount: fixture.shape("gain_db")[0], zDim: fixture.shape("means")[1],
                      pitchAnchors: try fixture.values("pitch_anchors").map(Double.init),
                      velocityAnchors: try fixture.values("velocity_anchors").map(Double.init),
                      gainDB: try fixture.values("gain_db"), onsetDB: try fixture.values("onset_db"),
                      onsetPitchAnchors: try fixture.values("onset_pitch_anchors").map(Double.init),
                      courseSeconds: withCourse ? try fixture.values("course_seconds").map(Double.init) : [],
                      courseDB: withCourse ? try fixture.values("course_db") : [],
                      latentMeans: try fixture.values("means"),
                      blendScale: Double(try fixture.values("blend_scale")[0]), blendRule: .inverseDistance)
        }
        let with = try table(withCourse: true), without = try table(withCourse: false)
        let zs = try fixture.values("lookup.z"), pitches = try fixture.values("lookup.pitch")
        let velocities = try fixture.values("lookup.velocity"), seconds = try fixture.values("lookup.seconds")
        let expected = try fixture.values("lookup.course_values"), plain = try fixture.values("lookup.values")
        let b = ToneTable.bandCount, zDim = with.zDim
        var moved: Float = 0
        for q in 0..<pitches.count {
            let z = Array(zs[q * zDim ..< (q + 1) * zDim])
            let g = with.gains(z: z, pitch: Double(pitches[q]), velocity: Double(velocities[q]),
                               secondsSinceNoteOn: Double(seconds[q]))
            let g0 = without.gains(z: z, pitch: Double(pitches[q]), velocity: Double(velocities[q]),
                                   secondsSinceNoteOn: Double(seconds[q]))
            XCTAssertLessThan(maxScaledError(Array(g[0..<b]), Array(expected[q * b ..< (q + 1) * b])), 1e-5,
                              "query \(q) at \(seconds[q]) s")
            XCTAssertLessThan(maxScaledError(Array(g0[0..<b]), Array(plain[q * b ..< (q + 1) * b])), 1e-5)
            XCTAssertEqual(g[b], g0[b], "the course leaves the onset gain alone")
            moved = max(moved, zip(g, g0).map { abs($0 - $1) }.max()!)
        }
        XCTAssertGreaterThan(moved, 1, "the fixture's course moves the gains")
    }

    /// Band gains on pitch anchors of their own (`tone.gain_pitches`: every key, `tone --key-bands`,
    /// session 24), the band course still on the envelopes' anchors: looked up at the queries as the
    /// trainer looks them up, and not as the envelopes' anchors would read the same values.
    func testBandGainsOnTheirOwnPitchAnchorsMatchTheTrainer() throws {
        let fixture = try Reference(fixturePath)
        let keys = try fixture.values("gain_key_anchors").map(Double.init)
        let table = ToneTable(instrumentCount: fixture.shape("gain_keys_db")[0], zDim: fixture.shape("means")[1],
                              pitchAnchors: try fixture.values("pitch_anchors").map(Double.init),
                              velocityAnchors: try fixture.values("velocity_anchors").map(Double.init),
                              gainDB: try fixture.values("gain_keys_db"), onsetDB: try fixture.values("onset_db"),
                              onsetPitchAnchors: try fixture.values("onset_pitch_anchors").map(Double.init),
                              courseSeconds: try fixture.values("course_seconds").map(Double.init),
                              courseDB: try fixture.values("course_db"), gainPitchAnchors: keys,
                              latentMeans: try fixture.values("means"),
                              blendScale: Double(try fixture.values("blend_scale")[0]), blendRule: .inverseDistance)
        XCTAssertEqual(table.gainPitchAnchors, [30, 45, 60, 61, 100])
        let zs = try fixture.values("lookup.z"), pitches = try fixture.values("lookup.pitch")
        let velocities = try fixture.values("lookup.velocity"), seconds = try fixture.values("lookup.seconds")
        let expected = try fixture.values("lookup.key_course_values"), onsets = try fixture.values("lookup.onset")
        let b = ToneTable.bandCount, zDim = table.zDim
        for q in 0..<pitches.count {
            let g = table.gains(z: Array(zs[q * zDim ..< (q + 1) * zDim]), pitch: Double(pitches[q]),
                                velocity: Double(velocities[q]), secondsSinceNoteOn: Double(seconds[q]))
            XCTAssertLessThan(maxScaledError(Array(g[0..<b]), Array(expected[q * b ..< (q + 1) * b])), 1e-5, "query \(q)")
            XCTAssertEqual(g[b], onsets[q], accuracy: 1e-4, "the onset course is the same table's")
        }
    }

    /// A band course on the band gains' own velocity anchors (`tone.gain_velocities`, session 22):
    /// read at those anchors, linear between them, so a velocity layer's own course (the decoder
    /// between its trained velocities) is played at its velocity, not a line between its neighbours.
    func testABandCourseOnTheGainVelocitiesIsReadAtThem() {
        let b = ToneTable.bandCount, seconds = [0.5, 1.5], gainVelocities = [16.0, 64, 127]
        // cell (pitch j, velocity m) at time s: 10 m + s dB in every band, the same at both pitches
        var course = [Float]()
        for _ in 0..<2 { for m in 0..<3 { for s in 0..<2 { course += Array(repeating: Float(10 * m + s), count: b) } } }
        let table = ToneTable(instrumentCount: 1, zDim: 1, pitchAnchors: [48, 72], velocityAnchors: [16, 127],
                              gainDB: Array(repeating: 0, count: 2 * 3 * b), courseSeconds: seconds, courseDB: course,
                              gainVelocityAnchors: gainVelocities, courseOnGainVelocities: true,
                              latentMeans: [0], blendScale: 1, blendRule: .inverseDistance)
        XCTAssertEqual(table.courseVelocityAnchors, gainVelocities)
        for (velocity, at, expected) in [(64.0, 0.5, Float(10)), (40, 1.5, 6), (100, 0.5, 10 + 10 * 36 / 63),
                                         (127, 1.0, 20.5), (10, 0.2, 0)] {
            let g = table.gains(z: [0], pitch: 60, velocity: velocity, secondsSinceNoteOn: at)
            XCTAssertEqual(g[5], expected, accuracy: 1e-4, "velocity \(velocity) at \(at) s")
            XCTAssertEqual(g[20], expected, accuracy: 1e-4)
        }
    }

    /// The strike (`tone.strike_fraction`, `tone.strike_noise_db`): the row's share is the
    /// instrument's at the note-on, halfway through the 120 ms ramp halfway to 1, 1 from its end on
    /// (tone.strike_ramp), and its noise gain the instrument's at the note-on, halfway to 0 dB
    /// halfway through, 0 from the end on (tone.strike_noise_ramp); the band and onset gains are
    /// left whole; without the tensors the share is 1 and the noise gain 0.
    func testTheStrikeSharesTheBandGainsOverItsRamp() throws {
        let fixture = try Reference(fixturePath)
        func table(strike: [Float], noise: [Float] = []) throws -> ToneTable {
            ToneTable(instrumentCount: fixture.shape("gain_db")[0], zDim: fixture.shape("means")[1],
                      pitchAnchors: try fixture.values("pitch_anchors").map(Double.init),
                      velocityAnchors: try fixture.values("velocity_anchors").map(Double.init),
                      gainDB: try fixture.values("gain_db"), onsetDB: try fixture.values("onset_db"),
                      onsetPitchAnchors: try fixture.values("onset_pitch_anchors").map(Double.init),
                      courseSeconds: try fixture.values("course_seconds").map(Double.init),
                      courseDB: try fixture.values("course_db"), strikeFraction: strike, strikeNoiseDB: noise,
                      latentMeans: try fixture.values("means"),
                      blendScale: Double(try fixture.values("blend_scale")[0]), blendRule: .inverseDistance)
        }
        let plain = try table(strike: []), struck = try table(strike: [0.2, 0.6], noise: [-12, 4])
        let noiseOnly = try table(strike: [], noise: [-12, 4])
        let b = ToneTable.bandCount, means = try fixture.values("means")
        for (instrument, share, noiseDB) in [(0, Float(0.2), Float(-12)), (1, Float(0.6), Float(4))] {
            let z = Array(means[instrument * 2 ..< instrument * 2 + 2])
            for (seconds, expected, expectedNoise) in [(0.0, share, noiseDB), (0.06, share + (1 - share) / 2, noiseDB / 2),
                                                       (0.12, 1, 0), (0.5, 1, 0)] as [(Double, Float, Float)] {
                let g = struck.gains(z: z, pitch: 60, velocity: 100, secondsSinceNoteOn: seconds)
                let g0 = plain.gains(z: z, pitch: 60, velocity: 100, secondsSinceNoteOn: seconds)
                let gn = noiseOnly.gains(z: z, pitch: 60, velocity: 100, secondsSinceNoteOn: seconds)
                XCTAssertEqual(Array(g[0...b]), Array(g0[0...b]), "the band and onset gains are the whole balance's")
                XCTAssertEqual(g[b + 1], expected, accuracy: 1e-6, "the share at \(seconds) s")
                XCTAssertEqual(g[b + 2], expectedNoise, accuracy: 1e-5, "the noise gain at \(seconds) s")
                XCTAssertEqual(g0[b + 1], 1, "without the tensor the share is 1")
                XCTAssertEqual(g0[b + 2], 0, "without the tensor the noise gain is 0")
                XCTAssertEqual(gn[b + 1], 1, accuracy: 1e-6, "a noise gain alone leaves the share whole")
                XCTAssertEqual(gn[b + 2], expectedNoise, accuracy: 1e-5)
            }
        }
    }

    /// `ToneBalance.apply` with a share σ < 1: the bands get σ of their gains in dB and the frame
    /// keeps the power (Σ harmonics² + Σ noise²) the whole gains give; σ = 1 is the whole balance.
    /// With a noise gain N the noise moves by N dB and nothing else does.
    func testTheStrikesShareKeepsTheFramesPower() {
        let k = 12, nb = 17, b = ToneBalance.bandCount
        let balance = ToneBalance(harmonicCount: k, noiseBandCount: nb, bandLimitHz: 16000)
        let gains = (0..<b).map { Float($0 % 7) * 3 - 6 }
        let harmonics = (0..<k).map { 1 / Float($0 + 1) }, noise = (0..<nb).map { 0.01 * Float($0 % 3 + 1) }
        func play(_ share: Float, onset: Float = -2, noiseDB: Float = 0) -> ([Float], [Float]) {
            var h = harmonics, n = noise
            (gains + [onset, share, noiseDB, 0]).withUnsafeBufferPointer { g in
                balance.apply(gainsDB: g.baseAddress!, f0Hz: 220, harmonics: &h, noise: &n)
            }
            return (h, n)
        }
        func power(_ x: ([Float], [Float])) -> Float { x.0.map { $0 * $0 }.reduce(0, +) + x.1.map { $0 * $0 }.reduce(0, +) }
        let whole = play(1), none = play(0), part = play(0.5)
        XCTAssertEqual(power(none), power(whole), accuracy: 1e-5 * power(whole))
        XCTAssertEqual(power(part), power(whole), accuracy: 1e-5 * power(whole))
        // with no share the shape is the decoder's (every value the same factor of its input)
        let factors = zip(none.0, harmonics).map { $0 / $1 }
        XCTAssertLessThan(factors.max()! / factors.min()! - 1, 1e-5)
        XCTAssertNotEqual(part.0, whole.0)
        // the noise 12 dB down, the harmonics as they were (with a share: as the share alone gives)
        let quiet = play(1, noiseDB: -12), partQuiet = play(0.5, noiseDB: -12)
        XCTAssertEqual(quiet.0, whole.0)
        XCTAssertEqual(partQuiet.0, part.0)
        for (q, w) in zip(quiet.1 + partQuiet.1, whole.1 + part.1) { XCTAssertEqual(20 * log10(Double(q / w)), -12, accuracy: 1e-3) }
    }

    /// The shipped model's vibraphone, guitar, bass and clarinet strike with less of the balance than
    /// they sustain with, its trumpet and flute with all of it and the violin with most of it, as
    /// `timbred-train tone --strike` measured on the training notes (TRAINING.md, sessions 20 and
    /// 26: the violin's errors lie within 0.1 dB from 0 to 0.75 of the balance, and 0.75 won in
    /// session 26).
    func testTheShippedModelsStrikeShares() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let tone = try XCTUnwrap(model.tone)
        XCTAssertEqual(tone.strikeFraction.count, model.config.instrumentCount, "no tone.strike_fraction (timbred-train tone --strike)")
        func share(_ name: String) throws -> Float { tone.strikeFraction[try XCTUnwrap(model.instrumentIndex(named: name))] }
        for name in ["vibraphone", "acoustic_bass", "clarinet"] { XCTAssertEqual(try share(name), 0, name) }
        XCTAssertLessThan(try share("nylon_guitar"), 0.5)
        for name in ["trumpet", "flute"] { XCTAssertEqual(try share(name), 1, name) }
        XCTAssertGreaterThanOrEqual(try share("violin"), 0.75)
    }

    func testApplyMatchesTheTrainer() throws {
        let fixture = try Reference(fixturePath)
        let gains = try fixture.values("lookup.values"), f0 = try fixture.values("apply.f0_hz")
        let onsets = try fixture.values("lookup.onset")
        let harmonics = try fixture.values("apply.harmonics"), noise = try fixture.values("apply.noise")
        let harmonicsOut = try fixture.values("apply.harmonics_out"), noiseOut = try fixture.values("apply.noise_out")
        let k = fixture.shape("apply.harmonics")[1], nb = fixture.shape("apply.noise")[1], b = ToneBalance.bandCount
        let balance = ToneBalance(harmonicCount: k, noiseBandCount: nb, bandLimitHz: 16000)
        for t in 0..<f0.count {
            var h = Array(harmonics[t * k ..< (t + 1) * k]), n = Array(noise[t * nb ..< (t + 1) * nb])
            (Array(gains[t * b ..< (t + 1) * b]) + [onsets[t], 1, 0, 0]).withUnsafeBufferPointer { g in
                h.withUnsafeMutableBufferPointer { hp in
                    n.withUnsafeMutableBufferPointer { np in
                        balance.apply(gainsDB: g.baseAddress!, f0Hz: f0[t], harmonics: hp.baseAddress!,
                                      noise: np.baseAddress!)
                    }
                }
            }
            XCTAssertLessThan(maxScaledError(h, Array(harmonicsOut[t * k ..< (t + 1) * k])), 1e-4, "harmonics at \(f0[t]) Hz")
            XCTAssertLessThan(maxScaledError(n, Array(noiseOut[t * nb ..< (t + 1) * nb])), 1e-4, "noise at \(f0[t]) Hz")
        }
        // at the note-on with the strike's share σ and noise gain N (tone.apply's strike and
        // strike_noise_db on a frame at 0 s)
        let strike = try fixture.values("apply.strike")  // [σ, N] per frame
        let struckH = try fixture.values("apply.strike_harmonics_out"), struckN = try fixture.values("apply.strike_noise_out")
        for t in 0..<f0.count {
            var h = Array(harmonics[t * k ..< (t + 1) * k]), n = Array(noise[t * nb ..< (t + 1) * nb])
            (Array(gains[t * b ..< (t + 1) * b]) + [onsets[t], strike[2 * t], strike[2 * t + 1], 0]).withUnsafeBufferPointer { g in
                balance.apply(gainsDB: g.baseAddress!, f0Hz: f0[t], harmonics: &h, noise: &n)
            }
            XCTAssertLessThan(maxScaledError(h, Array(struckH[t * k ..< (t + 1) * k])), 1e-4, "struck harmonics at \(f0[t]) Hz")
            XCTAssertLessThan(maxScaledError(n, Array(struckN[t * nb ..< (t + 1) * nb])), 1e-4, "struck noise at \(f0[t]) Hz")
        }
        // and with the strike's top T as well (tone.apply's strike_top_db)
        let top = try fixture.values("apply.strike_top_db")
        let topH = try fixture.values("apply.strike_top_harmonics_out"), topN = try fixture.values("apply.strike_top_noise_out")
        for t in 0..<f0.count {
            var h = Array(harmonics[t * k ..< (t + 1) * k]), n = Array(noise[t * nb ..< (t + 1) * nb])
            (Array(gains[t * b ..< (t + 1) * b]) + [onsets[t], strike[2 * t], strike[2 * t + 1], top[t]]).withUnsafeBufferPointer { g in
                balance.apply(gainsDB: g.baseAddress!, f0Hz: f0[t], harmonics: &h, noise: &n)
            }
            XCTAssertLessThan(maxScaledError(h, Array(topH[t * k ..< (t + 1) * k])), 1e-4, "topped harmonics at \(f0[t]) Hz")
            XCTAssertLessThan(maxScaledError(n, Array(topN[t * nb ..< (t + 1) * nb])), 1e-4, "topped noise at \(f0[t]) Hz")
        }
        // and with stretched partials (tone.apply's stretch_b): each partial's gain read where it
        // sounds, k · f0 · √(1 + B k²); the trainer's output differs from the harmonic one's there
        let stretch = try fixture.values("apply.stretch_b")
        let stretchedH = try fixture.values("apply.stretched_harmonics_out")
        let stretchedN = try fixture.values("apply.stretched_noise_out")
        for t in 0..<f0.count {
            var h = Array(harmonics[t * k ..< (t + 1) * k]), n = Array(noise[t * nb ..< (t + 1) * nb])
            (Array(gains[t * b ..< (t + 1) * b]) + [onsets[t], strike[2 * t], strike[2 * t + 1], top[t]]).withUnsafeBufferPointer { g in
                balance.apply(gainsDB: g.baseAddress!, f0Hz: f0[t], inharmonicity: Double(stretch[t]), harmonics: &h, noise: &n)
            }
            let expected = Array(stretchedH[t * k ..< (t + 1) * k])
            XCTAssertLessThan(maxScaledError(h, expected), 1e-4, "stretched harmonics at \(f0[t]) Hz, B \(stretch[t])")
            XCTAssertLessThan(maxScaledError(n, Array(stretchedN[t * nb ..< (t + 1) * nb])), 1e-4, "stretched noise at \(f0[t]) Hz")
            if stretch[t] >= 1e-3 {
                XCTAssertGreaterThan(maxScaledError(Array(topH[t * k ..< (t + 1) * k]), expected), 1e-2,
                                     "B \(stretch[t]) moves the upper partials' gains")
            }
        }
    }

    /// The shipped model's balance where issue 15 measured the model short: the piano's 8 kHz
    /// region is raised, the noise below a low flute's fundamental lowered, and the trumpet's
    /// middle stays put. The 48 kHz decoder (session 13) makes its own top octave: 12.5 kHz at
    /// MIDI 84 needs -2…+5 dB (the 32 kHz one needed +4.5…+7.3 dB). The piano's 8 kHz at MIDI 72
    /// and velocity 100: +4…+6 dB while velocity 100 was read between the 80 and 120 anchors there,
    /// +2.0 since the key has its own velocity-100 notes (session 26). The piano's 12.5 kHz is not
    /// bounded here since session 34: `key-bands --only piano --floor-db 72` sets it per key where
    /// FluidR3's piano sits 60-72 dB under the note (+7.2 dB at MIDI 84), and the through-engine
    /// tests of `test_keybands.py` judge it against the real notes.
    func testTheShippedModelBalancesTheBands() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let t = try XCTUnwrap(model.tone, "models/default.safetensors has no tone.gain_db (timbred-train tone adds it)")
        func gainDB(_ name: String, pitch: Double, hz: Double) throws -> Float {
            let i = try XCTUnwrap(model.instrumentIndex(named: name))
            let g = t.gains(z: model.latentMeans[i], pitch: pitch, velocity: 100, secondsSinceNoteOn: 0.45)
            return g[Int((ToneBalance.bandPosition(hz: hz)).rounded())]
        }
        let piano8k = try gainDB("piano", pitch: 72, hz: 8000), trumpet1k = try gainDB("trumpet", pitch: 60, hz: 1000)
        let top = try ["trumpet", "alto_sax", "nylon_guitar"].map { try gainDB($0, pitch: 84, hz: 12500) }
        let flute125 = try gainDB("flute", pitch: 60, hz: 125)
        print("shipped tone balance: piano 8 kHz \(piano8k) dB, 12.5 kHz at MIDI 84 \(top) dB, "
              + "flute 125 Hz \(flute125) dB, trumpet 1 kHz \(trumpet1k) dB")
        XCTAssertGreaterThan(piano8k, 1)
        XCTAssertLessThan(top.map(abs).max()!, 6)
        XCTAssertLessThan(flute125, -3)
        XCTAssertLessThan(abs(trumpet1k), 3)
    }

    /// The shipped model's onset course lies on the band gains' velocities, 64 and 100 among them
    /// (`key-onsets --gain-velocities`, session 34), and the loader reads it so.
    func testTheShippedOnsetCourseHasAnchorsAtTheVelocityLayers() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let t = try XCTUnwrap(try TimbreModel(contentsOf: Fixtures.defaultModel).tone)
        XCTAssertEqual(t.onsetVelocityAnchors, [16, 40, 64, 80, 100, 120, 127])
        XCTAssertEqual(t.onsetVelocityAnchors, t.gainVelocityAnchors)
    }

    /// The shipped model's band course: a real piano's top dies faster than its middle, the
    /// decoder's less so, so the piano's 8 kHz gain falls over a held note (at MIDI 60 by 7 dB
    /// from 0.2 to 2.5 s when measured); a trumpet, which holds its tone, stays within 3 dB from
    /// 1 to 8 kHz.
    func testTheShippedBandCourseDarkensThePiano() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let t = try XCTUnwrap(model.tone)
        XCTAssertEqual(t.courseSeconds.count, 5, "models/default.safetensors has no band course (timbred-train tone)")
        func gainDB(_ name: String, hz: Double, at seconds: Double) throws -> Float {
            let i = try XCTUnwrap(model.instrumentIndex(named: name))
            let g = t.gains(z: model.latentMeans[i], pitch: 60, velocity: 100, secondsSinceNoteOn: seconds)
            return g[Int((ToneBalance.bandPosition(hz: hz)).rounded())]
        }
        let pianoTop = try gainDB("piano", hz: 8000, at: 2.5) - gainDB("piano", hz: 8000, at: 0.2)
        print("piano 8 kHz gain 2.5 s against 0.2 s after note-on: \(pianoTop) dB")
        XCTAssertLessThan(pianoTop, -4)
        for hz in [1000.0, 2000, 4000, 8000] {
            let moved = try gainDB("trumpet", hz: hz, at: 2.5) - gainDB("trumpet", hz: hz, at: 0.2)
            XCTAssertLessThan(abs(moved), 3, "trumpet at \(hz) Hz")
        }
    }

    /// The shipped band gains have velocity anchors of their own, measured at 64 and 100 as well:
    /// FluidR3's trumpet at velocity 100 is brighter than a line between 80 and 120 gives the
    /// decoder, and at 64 darker.
    func testTheShippedBandGainsHaveVelocityLayers() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let t = try XCTUnwrap(model.tone)
        XCTAssertEqual(t.gainVelocityAnchors, [16, 40, 64, 80, 100, 120, 127])
        XCTAssertEqual(t.courseVelocityAnchors, t.gainVelocityAnchors, "the band course at the layers too")
        let i = try XCTUnwrap(model.instrumentIndex(named: "trumpet"))
        let band = Int(ToneBalance.bandPosition(hz: 8000).rounded())
        func gainDB(_ velocity: Double) -> Float {
            t.gains(z: model.latentMeans[i], pitch: 60, velocity: velocity, secondsSinceNoteOn: 0.45)[band]
        }
        print("trumpet 8 kHz gain at velocity 64 / 80 / 100 / 120: \([64, 80, 100, 120].map(gainDB)) dB")
        XCTAssertGreaterThan(gainDB(100), (gainDB(80) + gainDB(120)) / 2 + 2.5)
        XCTAssertLessThan(gainDB(64), gainDB(80) - 3)
    }

    /// The shipped model's onset course follows the SoundFont's key ranges: the organ reaches its
    /// level in 99 ms at MIDI 60 and 248 ms at 62 (its samples change between them), so 62's
    /// first 150 ms are lowered further than 60's; the course runs 2 s (`timbred-train key-onsets`),
    /// on every key.
    func testTheShippedOnsetCourseIsPerKey() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else { throw XCTSkip("no shipped model") }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let t = try XCTUnwrap(model.tone)
        XCTAssertEqual(t.onsetFrameCount, 200)
        XCTAssertEqual(t.onsetPitchAnchors.first, 21)
        XCTAssertEqual(t.onsetPitchAnchors.count, 88)
        let organ = model.latentMeans[try XCTUnwrap(model.instrumentIndex(named: "church_organ"))]
        func early(_ pitch: Double) -> Float {
            let s = stride(from: 0.02, through: 0.15, by: 0.01).map {
                t.gains(z: organ, pitch: pitch, velocity: 100, secondsSinceNoteOn: $0)[ToneTable.bandCount]
            }
            return s.reduce(0, +) / Float(s.count)
        }
        let at60 = early(60), at62 = early(62)
        print("organ onset gain over 20-150 ms: MIDI 60 \(at60) dB, 62 \(at62) dB")
        XCTAssertLessThan(at62, at60 - 2)
    }
}
