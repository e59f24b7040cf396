import Control
import Engine
import MIDI
import XCTest

final class ControllerMapSpecTests: XCTestCase {
    let means: [[Float]] = [[-1, 0, 2, 0.5], [1, 0.2, 3, 0.5], [0, 0.4, 2.5, 0.5]]

    func testTargetsParseAndPrintBack() throws {
        for text in ["latent 3", "latent 1 -2 2", "morph", "pad_x", "pad_y", "reverb 0 2", "gain -40 0", "attack", "release 0.5 4",
                     "loudness -30 0", "none"] {
            XCTAssertEqual(try TargetSpec(parsing: text).description, text)
        }
        XCTAssertEqual(try TargetSpec(parsing: "Pad-X").target, .padX)
        for bad in ["", "latent", "latent x", "wobble", "reverb 1", "gain a b", "attack 0 2"] {
            XCTAssertThrowsError(try TargetSpec(parsing: bad), bad)
        }
    }

    func testLatentRangeSpansTheInstrumentsWithAMargin() throws {
        let m = try TargetSpec(parsing: "latent 0").mapping(latentMeans: means)
        XCTAssertEqual(m.minimum, -1.5, accuracy: 1e-6)
        XCTAssertEqual(m.maximum, 1.5, accuracy: 1e-6)
        let flat = try TargetSpec(parsing: "latent 3").mapping(latentMeans: means)  // all instruments at 0.5
        XCTAssertEqual(flat.minimum, 0.25, accuracy: 1e-6)
        XCTAssertEqual(flat.maximum, 0.75, accuracy: 1e-6)
        XCTAssertThrowsError(try TargetSpec(parsing: "latent 4").mapping(latentMeans: means)) { e in
            XCTAssertTrue("\(e)".contains("4 dimensions"))
        }
        let attack = try TargetSpec(parsing: "attack").mapping(latentMeans: means)
        XCTAssertTrue(attack.isLogarithmic)
        XCTAssertEqual(attack.value(at: 0.5), 1, accuracy: 1e-5)  // geometric middle of 0.25...4
    }

    func testSourcesAndReservedControllers() throws {
        XCTAssertEqual(try ControllerMapSpec.source("74"), .controller(74))
        XCTAssertEqual(try ControllerMapSpec.source("cc1"), .controller(1))
        XCTAssertEqual(try ControllerMapSpec.source("pressure"), .channelPressure)
        XCTAssertEqual(try ControllerMapSpec.source("poly_pressure"), .polyPressure)
        for reserved in ["0", "6", "32", "38", "64", "66", "100", "101", "120", "123"] {
            XCTAssertThrowsError(try ControllerMapSpec.source(reserved), reserved)
        }
        XCTAssertThrowsError(try ControllerMapSpec.source("128"))
    }

    func testDefaultsWorkOnAFourDimensionalModel() {
        let r = ControllerMapSpec.resolve(ControllerMapSpec.defaults, latentMeans: means, skipMissingDimensions: true)
        XCTAssertEqual(r.errors, [])
        XCTAssertEqual(r.mappings[.controller(70)]?.target, .latent(dimension: 0))
        XCTAssertEqual(r.mappings[.controller(73)]?.target, .latent(dimension: 3))
        XCTAssertNil(r.mappings[.controller(74)], "dimension 4 does not exist in this model")
        XCTAssertEqual(r.mappings[.controller(1)]?.target, .morph)
        XCTAssertEqual(r.mappings[.channelPressure]?.target, .loudnessDB)
        let bad = ControllerMapSpec.resolve(["74": "latent 9", "64": "morph"], latentMeans: means)
        XCTAssertEqual(bad.errors.count, 2)
    }
}

/// The real-time map (Engine.ControllerMap) on its own.
final class ControllerMapTests: XCTestCase {
    func point(_ v: [Float]) -> LatentPoint { LatentPoint(v) }

    func testSevenBitAndFourteenBitControllers() {
        var map = ControllerMap(dimension: 2)
        _ = map.apply(.mapController(source: .controller(1), mapping: ControllerMapping(target: .latent(dimension: 1), minimum: -1, maximum: 1)))
        var state = ControllerState()
        _ = state.applyControlChange(controller: 1, value: 127)
        guard case let .setLatentDimension(1, v)? = map.controlChange(channel: 0, controller: 1, value: 127, state: state) else {
            return XCTFail("no effect")
        }
        XCTAssertEqual(v, 1, accuracy: 1e-6, "a 7-bit controller reaches full scale")
        // once an LSB arrives, the pair is read as 14 bits
        _ = state.applyControlChange(controller: 1, value: 64)
        _ = state.applyControlChange(controller: 33, value: 64)
        guard case let .setLatentDimension(1, v2)? = map.controlChange(channel: 0, controller: 33, value: 64, state: state) else {
            return XCTFail("the LSB had no effect")
        }
        XCTAssertEqual(v2, -1 + 2 * Float(64 * 128 + 64) / 16383, accuracy: 1e-6)
        XCTAssertNil(map.controlChange(channel: 0, controller: 5, value: 10, state: state), "unmapped")
    }

    func testMorphAndPadInterpolateContinuously() {
        var map = ControllerMap(dimension: 2)
        _ = map.apply(.setMorphPoint(corner: .a, point: point([0, 0])))
        _ = map.apply(.setMorphPoint(corner: .b, point: point([2, -4])))
        guard case let .setTimbre(p)? = map.apply(.setMorph(0.25)) else { return XCTFail() }
        XCTAssertEqual(p.array, [0.5, -1])
        for (corner, v) in [(MorphCorner.padBottomLeft, [Float(0), 0]), (.padBottomRight, [1, 0]), (.padTopLeft, [0, 1]), (.padTopRight, [1, 1])] {
            _ = map.apply(.setMorphPoint(corner: corner, point: point(v)))
        }
        guard case let .setTimbre(q)? = map.apply(.setPad(x: 0.3, y: 0.6)) else { return XCTFail() }
        XCTAssertEqual(q.array[0], 0.3, accuracy: 1e-6)
        XCTAssertEqual(q.array[1], 0.6, accuracy: 1e-6)
        // the mod wheel through a morph mapping
        _ = map.apply(.mapController(source: .controller(1), mapping: ControllerMapping(target: .morph, minimum: 0, maximum: 1)))
        var state = ControllerState()
        _ = state.applyControlChange(controller: 1, value: 127)
        guard case let .setTimbre(r)? = map.controlChange(channel: 0, controller: 1, value: 127, state: state) else { return XCTFail() }
        XCTAssertEqual(r.array, [2, -4])
        XCTAssertNil(map.apply(.setMorphPoint(corner: .a, point: point([1, 2, 3]))), "wrong dimension")
    }

    /// The path warp: the knob's position goes through the table to the point on A → B; new
    /// corners A or B return it to the straight line; a table that is not nondecreasing from 0
    /// to 1 is refused.
    func testTheMorphKnobGoesThroughThePathWarp() {
        var map = ControllerMap(dimension: 2)
        _ = map.apply(.setMorphPoint(corner: .a, point: point([0, 0])))
        _ = map.apply(.setMorphPoint(corner: .b, point: point([2, -4])))
        var positions = SIMD16<Float>()
        for j in 0..<MorphWarp.count { positions[j] = j < 5 ? Float(j) * 0.15 : 0.6 + 0.4 * Float(j - 5) / 10 }
        guard let warp = MorphWarp(positions: positions) else { return XCTFail("a valid warp refused") }
        XCTAssertNil(map.apply(.setMorphWarp(warp)), "a warp alone does not move the timbre")
        XCTAssertEqual(warp.parameter(at: 2.0 / 15), 0.3, accuracy: 1e-6)
        XCTAssertEqual(warp.parameter(at: 3.5 / 15), 0.525, accuracy: 1e-6)
        guard case let .setTimbre(p)? = map.apply(.setMorph(2.0 / 15)) else { return XCTFail() }
        XCTAssertEqual(p.array[0], 0.6, accuracy: 1e-5)
        XCTAssertEqual(p.array[1], -1.2, accuracy: 1e-5)
        guard case let .setTimbre(end)? = map.apply(.setMorph(1)) else { return XCTFail() }
        XCTAssertEqual(end.array, [2, -4], "the knob's end is B")
        _ = map.apply(.setMorphPoint(corner: .padTopLeft, point: point([1, 1])))
        XCTAssertEqual(map.morphWarp, warp, "a pad corner leaves the warp")
        _ = map.apply(.setMorphPoint(corner: .b, point: point([4, 0])))
        XCTAssertEqual(map.morphWarp, .identity, "a new B: the straight line until the control side sends its warp")
        guard case let .setTimbre(q)? = map.apply(.setMorph(0.25)) else { return XCTFail() }
        XCTAssertEqual(q.array[0], 1, accuracy: 1e-6)
        positions[3] = 0.01
        XCTAssertNil(MorphWarp(positions: positions), "decreasing")
        positions = MorphWarp.identity.positions
        positions[15] = 0.9
        XCTAssertNil(MorphWarp(positions: positions), "not ending at B")
        positions[15] = .nan
        XCTAssertNil(MorphWarp(positions: positions), "not finite")
    }

    /// The brightness tilt along the line: linear in the path parameter between its 32 values and
    /// in pitch between A3, A4 and A5 (the nearest beyond); refused unless 0 at both ends, finite
    /// and within its limits.
    func testTheMorphTiltBetweenPathPointsAndPitches() throws {
        var slope = SIMD32<Float>(), level = SIMD32<Float>()
        for j in 1..<(MorphTilt.count - 1) {
            slope[j] = 2
            level[j] = -1
        }
        let two = try XCTUnwrap(MorphTilt(dBPerOctave: slope, levelDB: level))
        let four = try XCTUnwrap(MorphTilt(dBPerOctave: slope * 2, levelDB: level))
        let warp = try XCTUnwrap(MorphWarp(positions: MorphWarp.identity.positions, tilts: (MorphTilt(), two, four)))
        XCTAssertTrue(warp.isTilted)
        XCTAssertFalse(MorphWarp.identity.isTilted)
        XCTAssertNotEqual(warp, MorphWarp(positions: MorphWarp.identity.positions))
        XCTAssertEqual(warp.tilt(at: 0.5, pitch: 69).dBPerOctave, 2, accuracy: 1e-6)
        XCTAssertEqual(warp.tilt(at: 0.5, pitch: 69).levelDB, -1, accuracy: 1e-6)
        XCTAssertEqual(warp.tilt(at: 0.5, pitch: 63).dBPerOctave, 1, accuracy: 1e-6, "halfway from A3 to A4")
        XCTAssertEqual(warp.tilt(at: 0.5, pitch: 75).dBPerOctave, 3, accuracy: 1e-6, "halfway from A4 to A5")
        XCTAssertEqual(warp.tilt(at: 0.5, pitch: 30).dBPerOctave, 0, accuracy: 1e-6, "A3's below it")
        XCTAssertEqual(warp.tilt(at: 0.5, pitch: 100).dBPerOctave, 4, accuracy: 1e-6, "A5's above it")
        XCTAssertEqual(warp.tilt(at: 0.5 / 31, pitch: 69).dBPerOctave, 1, accuracy: 1e-6, "halfway to the first point")
        XCTAssertEqual(warp.tilt(at: 0, pitch: 81).dBPerOctave, 0, "A is untilted")
        XCTAssertEqual(warp.tilt(at: 1, pitch: 81).dBPerOctave, 0, "B is untilted")
        XCTAssertEqual(warp.tilt(at: .nan, pitch: .nan).dBPerOctave, 0)
        var end = slope
        end[MorphTilt.count - 1] = 1
        XCTAssertNil(MorphTilt(dBPerOctave: end, levelDB: level), "B tilted")
        var steep = slope
        steep[5] = MorphTilt.maximumDBPerOctave + 1
        XCTAssertNil(MorphTilt(dBPerOctave: steep, levelDB: level), "beyond the limit")
        steep[5] = .nan
        XCTAssertNil(MorphTilt(dBPerOctave: steep, levelDB: level), "not finite")
    }

    /// The control side's warp from a brightness profile: even steps of brightness change, up or
    /// down, a fifth of the knob spread evenly; identity for a flat one.
    func testTheWarpMovesTheBrightnessEvenly() {
        // bright only over the last quarter of the line: the knob spends most of its travel there
        let profile = (0...16).map { i -> Double in i < 12 ? 600 : 600 + Double(i - 12) * 200 }
        let warp = MorphProfile.warp(brightness: profile)
        XCTAssertEqual(warp.positions[0], 0)
        XCTAssertEqual(warp.positions[15], 1)
        for j in 1..<MorphWarp.count { XCTAssertGreaterThanOrEqual(warp.positions[j], warp.positions[j - 1]) }
        // 20 % of the knob crosses the whole line evenly, 80 % goes to the bright quarter: the
        // knob reaches it (12/16) at 0.15, and at 0.2 it is 0.05 / 0.2125 of a step further
        XCTAssertEqual(warp.parameter(at: 0.2), 0.75 + 0.05 / 0.2125 / 16, accuracy: 1e-3)
        XCTAssertEqual(warp.parameter(at: 0.6), 0.75 + 0.45 / 0.2125 / 16, accuracy: 0.01)
        // the same profile darkening (B darker than A) gives the same warp
        XCTAssertEqual(MorphProfile.warp(brightness: profile.map { 2000 - $0 }), warp)
        XCTAssertEqual(MorphProfile.warp(brightness: [Double](repeating: 700, count: 17)), .identity)
        XCTAssertEqual(MorphProfile.warp(brightness: [700, .nan, 800]), .identity)
        // a bump brighter than both ends: its rise and fall take their share, not a jump
        let bump = (0...16).map { i -> Double in 600 + 400 * max(0, 1 - abs(Double(i) - 8) / 2) }
        let crossing = MorphProfile.warp(brightness: bump)
        XCTAssertEqual(crossing.parameter(at: 0.5), 0.5, accuracy: 1e-3, "symmetric")
        XCTAssertLessThan(crossing.parameter(at: 0.6) - crossing.parameter(at: 0.4), 0.2, "the bump is crossed slowly")
    }

    func testPressureResetAndReservedControllers() {
        var map = ControllerMap(dimension: 2)
        _ = map.apply(.mapController(source: .channelPressure, mapping: ControllerMapping(target: .loudnessDB, minimum: 0, maximum: 9)))
        XCTAssertNil(map.pressure(.channelPressure, value: 127))
        XCTAssertEqual(map.loudnessOffsetDB, 9)
        _ = map.apply(.mapController(source: .controller(1), mapping: ControllerMapping(target: .reverbMix, minimum: 0, maximum: 2)))
        let effects = map.resetControllers(channel: 0)  // RP-015: modulation to 0, pressure to 0
        XCTAssertEqual(map.loudnessOffsetDB, 0)
        guard case let .setReverbMix(m)? = effects.modulation else { return XCTFail() }
        XCTAssertEqual(m, 0)
        XCTAssertNil(effects.expression)
        _ = map.apply(.mapController(source: .controller(64), mapping: ControllerMapping(target: .morph, minimum: 0, maximum: 1)))
        XCTAssertEqual(map.mapping(for: .controller(64)).target, .none, "the sustain pedal cannot be remapped")
    }
}
