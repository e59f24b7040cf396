// MIDI conventions the live daemon relies on (DESIGN.md §6), checked on the engine alone.
import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

final class MIDIBehaviourTests: XCTestCase {
    func engine() throws -> Engine {
        let model = try TimbreModel(contentsOf: Fixtures.smallModel)
        var s = EngineSettings()
        s.maxBlockFrames = 64
        s.polyphony = 8
        let e = Engine(model: model, settings: s, timbre: model.latentMeans[0], gainDB: 0)
        _ = e.commands.push(.setReverbMix(0))
        return e
    }

    /// Renders and returns (samples, voices sounding at the end).
    func play(_ e: Engine, seconds: Double, _ events: [(Double, MIDIEvent)]) -> ([Float], Int) {
        let x = renderMono(e, frames: Int(seconds * 48000), block: 64, events: events.map { (Int($0.0 * 48000), $0.1) })
        var voices = -1
        while let s = e.status.pop() { if case let .block(v, _) = s { voices = v } }
        return (x, voices)
    }

    /// Power of `x` at one frequency (Goertzel), 48 kHz.
    func power(_ x: [Float], _ hz: Double) -> Double {
        let w = 2 * Double.pi * hz / 48000
        var re = 0.0, im = 0.0
        for (n, v) in x.enumerated() { re += Double(v) * cos(w * Double(n)); im -= Double(v) * sin(w * Double(n)) }
        return re * re + im * im
    }

    func testVelocityZeroNoteOnIsANoteOff() throws {
        let (a, _) = play(try engine(), seconds: 1, [(0, .noteOn(channel: 0, note: 60, velocity: 90)), (0.3, .noteOn(channel: 0, note: 60, velocity: 0))])
        let (b, _) = play(try engine(), seconds: 1, [(0, .noteOn(channel: 0, note: 60, velocity: 90)), (0.3, .noteOff(channel: 0, note: 60, velocity: 64))])
        XCTAssertTrue(a == b, "velocity-0 note-on and note-off render differently")
    }

    func testSostenutoHoldsOnlyTheNotesDownWhenPressed() throws {
        let e = try engine()
        let (_, held) = play(e, seconds: 2.5, [
            (0, .noteOn(channel: 0, note: 60, velocity: 90)), (0.1, .controlChange(channel: 0, controller: 66, value: 127)),
            (0.2, .noteOff(channel: 0, note: 60, velocity: 0)), (0.3, .noteOn(channel: 0, note: 64, velocity: 90)),
            (0.4, .noteOff(channel: 0, note: 64, velocity: 0)),
        ])
        XCTAssertEqual(held, 1, "only the note down when sostenuto was pressed is held")
        let (_, after) = play(e, seconds: 2, [(0, .controlChange(channel: 0, controller: 66, value: 0))])
        XCTAssertEqual(after, 0)
    }

    func testAllNotesOffRespectsTheSustainPedal() throws {
        let e = try engine()
        let (_, held) = play(e, seconds: 2.5, [
            (0, .controlChange(channel: 0, controller: 64, value: 127)), (0, .noteOn(channel: 0, note: 60, velocity: 90)),
            (0, .noteOn(channel: 0, note: 67, velocity: 90)), (0.3, .controlChange(channel: 0, controller: 123, value: 0)),
        ])
        XCTAssertEqual(held, 2, "all-notes-off released notes the pedal holds")
        let (_, after) = play(e, seconds: 2, [(0, .controlChange(channel: 0, controller: 64, value: 0))])
        XCTAssertEqual(after, 0)
    }

    func testResetAllControllersLiftsPedalsAndCentresTheBend() throws {
        let e = try engine()
        let (_, _) = play(e, seconds: 0.5, [
            (0, .controlChange(channel: 0, controller: 64, value: 127)), (0, .pitchBend(channel: 0, value: 0)),
            (0, .noteOn(channel: 0, note: 60, velocity: 90)), (0.2, .noteOff(channel: 0, note: 60, velocity: 0)),
        ])
        let (_, after) = play(e, seconds: 2, [(0, .controlChange(channel: 0, controller: 121, value: 0))])
        XCTAssertEqual(after, 0, "the pedal-held note was not released by reset-all-controllers")
        // the bend is centred: A4's second harmonic is at 880 Hz, not at 784 Hz (bent down 2 semitones)
        let (x, _) = play(e, seconds: 0.5, [(0, .noteOn(channel: 0, note: 69, velocity: 90))])
        let tail = Array(x[12000...])
        XCTAssertGreaterThan(power(tail, 880), 10 * power(tail, 784))
    }

    func testChannelPressureMappedToLoudnessMakesNotesLouder() throws {
        func level(_ pressure: UInt8?) throws -> Double {
            let e = try engine()
            _ = e.commands.push(.mapController(source: .channelPressure, mapping: ControllerMapping(target: .loudnessDB, minimum: 0, maximum: 9)))
            var events: [(Double, MIDIEvent)] = [(0, .noteOn(channel: 0, note: 60, velocity: 80))]
            if let pressure { events.append((0, .channelPressure(channel: 0, pressure: pressure))) }
            let (x, _) = play(e, seconds: 0.6, events)
            let tail = x[(x.count / 2)...]
            return (tail.reduce(0.0) { $0 + Double($1 * $1) } / Double(tail.count)).squareRoot()
        }
        // the loudness input changes the decoder's output (louder for a trained model; the
        // fixture's weights are arbitrary, so only the change is checked)
        let plain = try level(nil)
        XCTAssertGreaterThan(abs(try level(127) - plain), 0.005 * plain)
        XCTAssertEqual(try level(0), plain, accuracy: 1e-9)
    }

    func testMorphCommandsMoveTheTimbreTargetAndReportIt() throws {
        let e = try engine()
        _ = e.commands.push(.setMorphPoint(corner: .a, point: LatentPoint([0, 0, 0, 0])))
        _ = e.commands.push(.setMorphPoint(corner: .b, point: LatentPoint([1, 2, 3, 4])))
        _ = e.commands.push(.setMorph(0.5))
        _ = renderMono(e, frames: 64, block: 64, events: [])
        var reported: [Float] = []
        while let s = e.status.pop() { if case .timbre(let p) = s { reported = p.array } }
        XCTAssertEqual(reported, [0.5, 1, 1.5, 2])
    }

    /// RPN 0,2 (coarse) and 0,1 (fine) tune the channel: the same samples as a pitch bend of the
    /// same size (both only move the decoder's and the oscillators' f0), on that channel only.
    func testChannelCoarseAndFineTuningMoveThePitchLikeAnEqualBend() throws {
        func rpn(_ channel: UInt8, _ lsb: UInt8, msb value: UInt8, lsb dataLSB: UInt8 = 0) -> [(Double, MIDIEvent)] {
            [(0, .controlChange(channel: channel, controller: 101, value: 0)),
             (0, .controlChange(channel: channel, controller: 100, value: lsb)),
             (0, .controlChange(channel: channel, controller: 6, value: value)),
             (0, .controlChange(channel: channel, controller: 38, value: dataLSB))]
        }
        let note: [(Double, MIDIEvent)] = [(0.01, .noteOn(channel: 0, note: 60, velocity: 90)),
                                           (0.4, .noteOff(channel: 0, note: 60, velocity: 0))]
        let (plain, _) = play(try engine(), seconds: 0.6, note)
        // coarse +6 semitones (data MSB 70) against a bend of +6 (range 12, bend 8192 + 4096)
        let (coarse, _) = play(try engine(), seconds: 0.6, rpn(0, 2, msb: 70) + note)
        let (bent6, _) = play(try engine(), seconds: 0.6, rpn(0, 0, msb: 12) + [(0, .pitchBend(channel: 0, value: 12288))] + note)
        XCTAssertEqual(coarse, bent6)
        XCTAssertNotEqual(coarse, plain)
        // fine +50 cents (8192 + 4096 = MSB 96, LSB 0) against a bend of +0.5 (range 1)
        let (fine, _) = play(try engine(), seconds: 0.6, rpn(0, 1, msb: 96) + note)
        let (bentHalf, _) = play(try engine(), seconds: 0.6, rpn(0, 0, msb: 1) + [(0, .pitchBend(channel: 0, value: 12288))] + note)
        XCTAssertEqual(fine, bentHalf)
        XCTAssertNotEqual(fine, plain)
        // another channel's tuning leaves channel 1 alone
        let (other, _) = play(try engine(), seconds: 0.6, rpn(3, 2, msb: 70) + note)
        XCTAssertEqual(other, plain)
    }
}
