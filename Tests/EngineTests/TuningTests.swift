// MIDI Tuning Standard and master tuning SysEx (issue 16), measured as a player hears them: the
// fundamental of the rendered audio (the shipped model's flute), in cents from the tuning asked for.
import Engine
import Foundation
import MIDI
import Model
import TestSupport
import XCTest

/// Renders `events` (seconds, event) with their SysEx payloads (`.systemExclusive` spans into
/// `sysEx`) in blocks of `block`, returning the left channel.
func renderWithSysEx(_ engine: Engine, seconds: Double, block: Int = 64, events: [(Double, MIDIEvent)],
                     sysEx: [UInt8]) -> [Float] {
    let rate = engine.settings.sampleRate
    let frames = Int(seconds * rate)
    var out = [Float](repeating: 0, count: frames)
    var l = [Float](repeating: 0, count: block), r = [Float](repeating: 0, count: block)
    let timed = events.map { (Int(($0.0 * rate).rounded()), $0.1) }
    var pos = 0
    while pos < frames {
        let n = min(block, frames - pos)
        let ev = timed.filter { $0.0 >= pos && $0.0 < pos + n }.map { TimedMIDIEvent(offset: $0.0 - pos, event: $0.1) }
        ev.withUnsafeBufferPointer { e in
            sysEx.withUnsafeBufferPointer { bytes in
                l.withUnsafeMutableBufferPointer { lp in
                    r.withUnsafeMutableBufferPointer { rp in
                        engine.render(frameCount: n, events: e, sysEx: bytes, left: lp.baseAddress!, right: rp.baseAddress!)
                    }
                }
            }
        }
        for i in 0..<n { out[pos + i] = l[i] }
        pos += n
    }
    return out
}

/// A SysEx byte store and the events that point into it.
struct SysExStore {
    var bytes: [UInt8] = []
    mutating func event(_ payload: [UInt8]) -> MIDIEvent {
        defer { bytes += payload }
        return .systemExclusive(MIDISysExSpan(byteOffset: UInt32(bytes.count), byteCount: UInt32(payload.count)))
    }
}

final class TuningTests: XCTestCase {
    static let rate = 48000.0

    func flute() throws -> Engine { try shippedEngine(instrument: "flute", polyphony: 8, sampleRate: Self.rate) }

    /// Cents between the pitch measured in `x` over `from ..< from + 0.3` s and `expected` (MIDI).
    func centsError(_ x: [Float], from: Double, expected: Double) -> Double {
        (PitchMeasure.pitch(x, sampleRate: Self.rate, guess: expected, fromSeconds: from, seconds: 0.3) - expected) * 100
    }

    static func on(_ t: Double, _ key: UInt8, channel: UInt8 = 0) -> (Double, MIDIEvent) { (t, .noteOn(channel: channel, note: key, velocity: 100)) }
    static func off(_ t: Double, _ key: UInt8, channel: UInt8 = 0) -> (Double, MIDIEvent) { (t, .noteOff(channel: channel, note: key, velocity: 0)) }

    /// Plays notes 0.6 s apart (each held 0.55 s) after the SysEx at time 0 and returns each
    /// note's error in cents against its expected pitch.
    func errors(_ payloads: [[UInt8]], notes: [(key: UInt8, channel: UInt8, expected: Double)], controllers: [MIDIEvent] = [],
                file: StaticString = #filePath, line: UInt = #line) throws -> [Double] {
        var store = SysExStore()
        var events: [(Double, MIDIEvent)] = payloads.map { (0, store.event($0)) } + controllers.map { (0, $0) }
        for (i, n) in notes.enumerated() {
            events += [Self.on(0.01 + 0.6 * Double(i), n.key, channel: n.channel), Self.off(0.56 + 0.6 * Double(i), n.key, channel: n.channel)]
        }
        let x = renderWithSysEx(try flute(), seconds: 0.6 * Double(notes.count) + 0.1, events: events, sysEx: store.bytes)
        return notes.enumerated().map { i, n in centsError(x, from: 0.22 + 0.6 * Double(i), expected: n.expected) }
    }

    func assertWithinOneCent(_ errors: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        print("tuning \(what): cents errors \(errors.map { String(format: "%+.3f", $0) }.joined(separator: " "))")
        for e in errors { XCTAssertLessThan(abs(e), 1, "\(what): \(errors)", file: file, line: line) }
    }

    func testEqualTemperamentWithoutTuning() throws {
        assertWithinOneCent(try errors([], notes: [(69, 0, 69), (60, 0, 60)]), "12-TET")
    }

    func testRealTimeSingleNoteTuningChange() throws {
        let msg = MIDITuningMessage.singleNote(program: 0, changes: [(69, 69.3333), (60, 59.5), (64, 63.8631)])
        assertWithinOneCent(try errors([msg], notes: [(69, 0, 69.3333), (60, 0, 59.5), (64, 0, 63.8631), (62, 0, 62)]),
                            "single-note real-time")
    }

    func testSingleNoteTuningChangeWithBankBothForms() throws {
        let nonRT = MIDITuningMessage.singleNote(program: 0, changes: [(67, 67.2)], bank: 3, realTime: false)
        let rt = MIDITuningMessage.singleNote(program: 0, changes: [(65, 64.86)], bank: 0, realTime: true)
        // channel 2 selects tuning bank 3 (RPN 0,4; program 0): bank 3's key 67; channel 1 plays bank 0's
        assertWithinOneCent(try errors([nonRT, rt], notes: [(67, 1, 67.2), (65, 0, 64.86), (67, 0, 67)],
                                       controllers: Self.selectTuning(channel: 1, bank: 3, program: 0)),
                            "single-note with bank (non-rt bank 3, rt bank 0, bank 0's key 67 untouched)")
    }

    /// RPN 0,4 (tuning bank) and 0,3 (tuning program) on `channel`, as control changes.
    static func selectTuning(channel: UInt8, bank: UInt8, program: UInt8) -> [MIDIEvent] {
        [(101, 0), (100, 4), (6, bank), (101, 0), (100, 3), (6, program)].map {
            .controlChange(channel: channel, controller: $0.0, value: $0.1)
        }
    }

    /// Tuning banks are kept apart: a program of bank 1 retuned does not retune the same
    /// program of bank 0 (or of bank 2, which no message wrote: equal temperament), and a channel
    /// plays the bank and program it selects.
    func testTuningBanksAreNotFoldedTogether() throws {
        let bank1 = MIDITuningMessage.singleNote(program: 0, changes: [(69, 69.4)], bank: 1, realTime: false)
        let bank0 = MIDITuningMessage.singleNote(program: 0, changes: [(69, 68.8)])
        let bank1Dump = MIDITuningMessage.bulkDump(program: 5, pitches: (0..<128).map { Double($0) - 0.33 }, bank: 1)
        let selects = Self.selectTuning(channel: 1, bank: 1, program: 0) + Self.selectTuning(channel: 2, bank: 2, program: 0)
            + Self.selectTuning(channel: 3, bank: 1, program: 5) + Self.selectTuning(channel: 4, bank: 0, program: 5)
        assertWithinOneCent(try errors([bank1, bank0, bank1Dump], notes: [(69, 0, 68.8), (69, 1, 69.4), (69, 2, 69), (64, 3, 63.67), (64, 4, 64)],
                                       controllers: selects),
                            "banks apart (bank 0 / bank 1 / bank 2 unwritten / bank 1 program 5 / bank 0 program 5)")
    }

    /// Scale/octave tuning dumps (`08 05` 1-byte, `08 06` 2-byte) define a tuning program:
    /// equal temperament plus 12 offsets, played by a channel that selects it; a dump with a bad
    /// checksum changes nothing.
    func testScaleOctaveTuningDumpsBothForms() throws {
        var oneByte = [Double](repeating: 0, count: 12); oneByte[9] = -23; oneByte[4] = 14  // A −23, E +14
        var twoBytes = [Double](repeating: 0, count: 12); twoBytes[7] = 37.55; twoBytes[0] = -88.3  // G, C
        let dump1 = MIDITuningMessage.scaleOctaveDump(bank: 0, program: 5, cents: oneByte, twoBytes: false)
        let dump2 = MIDITuningMessage.scaleOctaveDump(bank: 2, program: 9, cents: twoBytes, twoBytes: true)
        var bad = MIDITuningMessage.scaleOctaveDump(bank: 0, program: 6, cents: [Double](repeating: 50, count: 12), twoBytes: true)
        bad[bad.count - 1] ^= 0x01
        let selects = Self.selectTuning(channel: 0, bank: 0, program: 5) + Self.selectTuning(channel: 1, bank: 2, program: 9)
            + Self.selectTuning(channel: 2, bank: 0, program: 6)
        assertWithinOneCent(try errors([dump1, dump2, bad], notes: [(69, 0, 68.77), (76, 0, 76.14), (67, 1, 67.3755), (48, 1, 47.117),
                                                                    (69, 2, 69), (69, 3, 69)], controllers: selects),
                            "scale/octave dumps (1-byte: A, E; 2-byte bank 2: G, C; bad checksum; channel without selection)")
    }

    /// A real-time change retunes the note that sounds; a non-real-time one only later notes.
    func testRealTimeChangesRetuneSoundingNotesAndNonRealTimeOnesDoNot() throws {
        var store = SysExStore()
        let rt = store.event(MIDITuningMessage.singleNote(program: 0, changes: [(69, 69.5)]))
        let nonRT = store.event(MIDITuningMessage.singleNote(program: 0, changes: [(67, 66.75)], bank: 0, realTime: false))
        let x = renderWithSysEx(try flute(), seconds: 3.3, events: [
            Self.on(0.01, 69), (0.6, rt), Self.off(1.2, 69),
            Self.on(1.3, 67), (1.8, nonRT), Self.off(2.4, 67), Self.on(2.5, 67), Self.off(3.2, 67),
        ], sysEx: store.bytes)
        let errs = [centsError(x, from: 0.22, expected: 69), centsError(x, from: 0.8, expected: 69.5),
                    centsError(x, from: 1.45, expected: 67), centsError(x, from: 1.95, expected: 67),
                    centsError(x, from: 2.75, expected: 66.75)]
        assertWithinOneCent(errs, "real-time retunes, non-real-time waits")
    }

    func testBulkTuningDumpBothForms() throws {
        // 19-EDO around A4 = 69 on program 0; program 7 (bank form) a just scale, selected by RPN 0,3 on channel 1
        let edo19: [Double] = (0..<128).map { (k: Int) -> Double in 69 + Double(k - 69) * 12 / 19 }
        let just: [Double] = [0, 111.73, 203.91, 315.64, 386.31, 498.04, 590.22, 701.96, 813.69, 884.36, 1017.6, 1088.27]
        let justKeys: [Double] = (0..<128).map { (k: Int) -> Double in
            let octave = Double(k / 12 * 12)
            return octave + just[k % 12] / 100
        }
        let dump = MIDITuningMessage.bulkDump(program: 0, pitches: edo19)
        let bankDump = MIDITuningMessage.bulkDump(program: 7, pitches: justKeys, bank: 1)
        var store = SysExStore()
        var events: [(Double, MIDIEvent)] = [(0, store.event(dump)), (0, store.event(bankDump))]
        events += Self.selectTuning(channel: 1, bank: 1, program: 7).map { (0, $0) }
        let plan: [(UInt8, UInt8, Double)] = [(70, 0, edo19[70]), (66, 0, edo19[66]), (64, 1, justKeys[64]), (70, 1, justKeys[70])]
        for (i, n) in plan.enumerated() {
            events += [Self.on(0.01 + 0.6 * Double(i), n.0, channel: n.1), Self.off(0.56 + 0.6 * Double(i), n.0, channel: n.1)]
        }
        let x = renderWithSysEx(try flute(), seconds: 2.5, events: events, sysEx: store.bytes)
        assertWithinOneCent(plan.enumerated().map { i, n in centsError(x, from: 0.22 + 0.6 * Double(i), expected: n.2) },
                            "bulk dump (19-EDO program 0; just, bank form, RPN 0,3)")
    }

    func testBulkDumpWithABadChecksumIsIgnored() throws {
        var dump = MIDITuningMessage.bulkDump(program: 0, pitches: (0..<128).map { Double($0) + 0.5 })
        dump[dump.count - 1] ^= 0x01
        assertWithinOneCent(try errors([dump], notes: [(69, 0, 69)]), "bad checksum ignored")
    }

    func testScaleOctaveTuningOneByte() throws {
        var cents = [Int](repeating: 0, count: 12)
        cents[9] = 17   // A
        cents[0] = -31  // C
        let msg = MIDITuningMessage.scaleOctave1Byte(channels: [0, 2], cents: cents, realTime: true)
        let nonRT = MIDITuningMessage.scaleOctave1Byte(channels: [3], cents: [Int](repeating: -64, count: 12), realTime: false)
        assertWithinOneCent(try errors([msg, nonRT], notes: [(69, 0, 69.17), (60, 2, 59.69), (69, 1, 69), (67, 3, 66.36)]),
                            "scale/octave 1-byte (rt channels 1+3, other channel, non-rt channel 4)")
    }

    func testScaleOctaveTuningTwoBytes() throws {
        var cents = [Double](repeating: 0, count: 12)
        cents[9] = -31.42
        cents[4] = 13.69
        let msg = MIDITuningMessage.scaleOctave2Byte(channels: Array(0..<16), cents: cents, realTime: false)
        let rt = MIDITuningMessage.scaleOctave2Byte(channels: [15], cents: [Double](repeating: 99.9, count: 12), realTime: true)
        assertWithinOneCent(try errors([msg, rt], notes: [(69, 0, 68.6858), (64, 5, 64.1369), (62, 0, 62), (60, 15, 60.999)]),
                            "scale/octave 2-byte (non-rt all channels, rt channel 16)")
    }

    func testMasterFineAndCoarseTuning() throws {
        let fine = MIDITuningMessage.masterFine(cents: 37.5)
        let coarse = MIDITuningMessage.masterCoarse(semitones: -3)
        assertWithinOneCent(try errors([fine], notes: [(69, 0, 69.375), (60, 4, 60.375)]), "master fine")
        assertWithinOneCent(try errors([fine, coarse], notes: [(69, 0, 66.375)]), "master fine + coarse")
        // with a key table underneath
        let key = MIDITuningMessage.singleNote(program: 0, changes: [(72, 72.25)])
        assertWithinOneCent(try errors([key, MIDITuningMessage.masterFine(cents: -20)], notes: [(72, 0, 72.05)]), "key + master")
    }

    /// A GM System On clears master and scale tuning (the key tables stay).
    func testGMResetClearsMasterAndScaleTuning() throws {
        var cents = [Int](repeating: 0, count: 12)
        cents[9] = 30
        let payloads = [MIDITuningMessage.masterFine(cents: 50), MIDITuningMessage.scaleOctave1Byte(channels: [0], cents: cents),
                        MIDITuningMessage.singleNote(program: 0, changes: [(64, 64.4)]), [0x7E, 0x7F, 0x09, 0x01]]
        assertWithinOneCent(try errors(payloads, notes: [(69, 0, 69), (64, 0, 64.4)]), "GM reset")
    }

    /// Scala-style key tables through the command ring: 16 commands set program 0's 128 keys.
    func testKeyPitchCommandsRetuneTheKeyboard() throws {
        let e = try flute()
        let table: [Double] = (0..<128).map { (k: Int) -> Double in 60 + Double(k - 60) * 12 / 19 }
        for first in stride(from: 0, to: 128, by: 8) {
            var v = SIMD8<Double>()
            for i in 0..<8 { v[i] = table[first + i] }
            XCTAssertTrue(e.commands.push(.setKeyPitches(first: UInt8(first), pitches: v)))
        }
        let x = renderWithSysEx(e, seconds: 1.3, events: [Self.on(0.01, 64), Self.off(0.56, 64), Self.on(0.61, 71), Self.off(1.2, 71)], sysEx: [])
        assertWithinOneCent([centsError(x, from: 0.22, expected: table[64]), centsError(x, from: 0.82, expected: table[71])],
                            "key pitch commands (19-EDO)")
    }

    /// A new engine (a JACK period or rate change, a restart, a model reload) carries on from the
    /// one it replaces: what MTS, master tuning and RPN 0,1 set live, the tuning bank a channel
    /// selected, and a channel's own timbre (a program change's). Without the carry-over the same
    /// notes play equal temperament and the shared timbre, so the test can fail.
    func testANewEngineCarriesOnTheLiveTuningsAndChannelTimbres() throws {
        let old = try flute()
        let model = old.model
        guard let trumpet = model.instrumentIndex(named: "trumpet") else { throw XCTSkip("the model has no trumpet") }
        XCTAssertTrue(old.commands.push(.setChannelTimbre(channel: 2, LatentPoint(model.latentMeans[trumpet]))))
        var scale = [Int](repeating: 0, count: 12); scale[1] = 40  // C# +40 cents on channel 1
        var store = SysExStore()
        var live: [(Double, MIDIEvent)] = [
            (0, store.event(MIDITuningMessage.singleNote(program: 0, changes: [(69, 69.3)]))),
            (0, store.event(MIDITuningMessage.singleNote(program: 0, changes: [(69, 68.6)], bank: 1))),
            (0, store.event(MIDITuningMessage.masterFine(cents: -10))),
            (0, store.event(MIDITuningMessage.scaleOctave1Byte(channels: [0], cents: scale))),
        ]
        // RPN 0,1 on channel 2: +25 cents (14-bit 10240); channel 4 selects tuning bank 1
        live += [(101, 0), (100, 1), (6, 80), (38, 0)].map { (0, .controlChange(channel: 1, controller: $0.0, value: $0.1)) }
        live += Self.selectTuning(channel: 3, bank: 1, program: 0).map { (0, $0) }
        _ = renderWithSysEx(old, seconds: 0.05, events: live, sysEx: store.bytes)

        let plan: [(key: UInt8, channel: UInt8, expected: Double)] = [(69, 0, 69.2), (61, 0, 61.3), (60, 1, 60.15), (69, 3, 68.5), (67, 2, 66.9)]
        var notes: [(Double, MIDIEvent)] = []
        for (i, n) in plan.enumerated() {
            notes += [Self.on(0.01 + 0.6 * Double(i), n.key, channel: n.channel), Self.off(0.56 + 0.6 * Double(i), n.key, channel: n.channel)]
        }
        let seconds = 0.6 * Double(plan.count) + 0.1
        func play(carrying: Bool) throws -> (cents: [Double], audio: [Float]) {
            let new = try flute()
            if carrying { new.captureLiveState(of: old) }
            XCTAssertTrue(new.commands.push(.carryOverLiveState(channelTimbres: true)))
            let x = renderWithSysEx(new, seconds: seconds, events: notes, sysEx: [])
            return (plan.enumerated().map { i, n in centsError(x, from: 0.22 + 0.6 * Double(i), expected: n.expected) }, x)
        }
        let (carried, x) = try play(carrying: true)
        let (fresh, y) = try play(carrying: false)
        assertWithinOneCent(carried, "carried to a new engine (MTS key, scale/octave, RPN 0,1, bank 1, master; channel 3's timbre)")
        print("tuning without the carry-over: cents errors \(fresh.map { String(format: "%+.1f", $0) }.joined(separator: " "))")
        XCTAssertGreaterThan(fresh.map(abs).min()!, 5, "a fresh engine played the carried tunings: the test could not fail")

        // channel 3's note (key 67, the last) with the trumpet's profile, as the trumpet chosen for every channel plays it
        let reference = try flute()
        XCTAssertTrue(reference.commands.push(.setTimbre(LatentPoint(model.latentMeans[trumpet]))))
        var masterOnly = SysExStore()
        let refEvents: [(Double, MIDIEvent)] = [(0, masterOnly.event(MIDITuningMessage.masterFine(cents: -10))),
                                                Self.on(0.01 + 0.6 * 4, 67, channel: 2), Self.off(0.56 + 0.6 * 4, 67, channel: 2)]
        let z = renderWithSysEx(reference, seconds: seconds, events: refEvents, sysEx: masterOnly.bytes)
        func profile(_ a: [Float]) -> [Double] {
            HarmonicProfile.levelsDB(a.flatMap { [$0, $0] }, sampleRate: Self.rate, f0Hz: 440 * pow(2, (66.9 - 69) / 12),
                                     startSeconds: 0.6 * 4 + 0.2, seconds: 0.3, harmonics: 6)
        }
        let carriedDB = zip(profile(x), profile(z)).map { abs($0 - $1) }.max()!
        let freshDB = zip(profile(y), profile(z)).map { abs($0 - $1) }.max()!
        print(String(format: "channel 3's own timbre after the swap: %.2f dB from the trumpet (%.2f dB without the carry-over)", carriedDB, freshDB))
        XCTAssertLessThan(carriedDB, 1)
        XCTAssertGreaterThan(freshDB, 3)
    }
}
