import XCTest
import MIDI

final class ControllerStateTests: XCTestCase {
    @discardableResult
    private func cc(_ state: inout ControllerState, _ controller: UInt8, _ value: UInt8) -> ControllerState.Update? {
        state.apply(.controlChange(channel: 0, controller: controller, value: value))
    }

    func testPowerOnDefaults() {
        let state = ControllerState()
        XCTAssertEqual(state.controllerValue(7), 100)
        XCTAssertEqual(state.controllerValue(10), 64)
        XCTAssertEqual(state.controllerValue(11), 127)
        XCTAssertEqual(state.pitchBendValue, 8192)
        XCTAssertEqual(state.pitchBendSemitones, 0)
        XCTAssertEqual(state.pitchBendRangeSemitones, 2)
        XCTAssertEqual(state.fineTuningCents, 0)
        XCTAssertEqual(state.coarseTuningSemitones, 0)
        XCTAssertEqual(state.parameterSelection, .none)
        XCTAssertFalse(state.isSustainOn)
    }

    func testRPNZeroZeroSetsPitchBendRangeToTwelveSemitones() {
        var state = ControllerState()
        XCTAssertNil(cc(&state, 101, 0))
        XCTAssertNil(cc(&state, 100, 0))
        XCTAssertEqual(state.parameterSelection, .registered(.pitchBendSensitivity))
        XCTAssertEqual(cc(&state, 6, 12), .registeredParameter(.pitchBendSensitivity, value: 12 << 7))
        XCTAssertEqual(state.pitchBendRangeSemitones, 12)
        XCTAssertEqual(state.registeredParameterValue(.pitchBendSensitivity), 12 << 7)

        XCTAssertEqual(state.apply(.pitchBend(channel: 0, value: 0)), .pitchBend(value: 0))
        XCTAssertEqual(state.pitchBendSemitones, -12)
        _ = state.apply(.pitchBend(channel: 0, value: 16383))
        XCTAssertEqual(state.pitchBendSemitones, 12 * 8191 / 8192, accuracy: 1e-12)
        _ = state.apply(.pitchBend(channel: 0, value: 8192 + 4096))
        XCTAssertEqual(state.pitchBendSemitones, 6)

        // Data entry LSB adds cents: 12 semitones 50 cents.
        XCTAssertEqual(cc(&state, 38, 50), .registeredParameter(.pitchBendSensitivity, value: 12 << 7 | 50))
        XCTAssertEqual(state.pitchBendRangeSemitones, 12.5)
        XCTAssertEqual(state.pitchBendSensitivity.semitones, 12)
        XCTAssertEqual(state.pitchBendSensitivity.cents, 50)
        // Data entry MSB alone resets the cents (MSB receipt zeroes the LSB).
        cc(&state, 6, 7)
        XCTAssertEqual(state.pitchBendRangeSemitones, 7)
    }

    func testNullRPNDeselectsSoDataEntryChangesNothing() {
        var state = ControllerState()
        cc(&state, 101, 0); cc(&state, 100, 0); cc(&state, 6, 12)
        cc(&state, 101, 127); cc(&state, 100, 127)
        XCTAssertEqual(state.parameterSelection, .none)
        XCTAssertNil(cc(&state, 6, 3))
        XCTAssertNil(cc(&state, 38, 3))
        XCTAssertNil(cc(&state, 96, 0))
        XCTAssertEqual(state.pitchBendRangeSemitones, 12)
        XCTAssertEqual(state.controllerValue(6), 3, "data entry is still stored as a plain controller")
    }

    func testNRPNIsReportedAndDoesNotTouchRegisteredParameters() {
        var state = ControllerState()
        cc(&state, 99, 1); cc(&state, 98, 2)
        let number = ControllerState.ParameterNumber(msb: 1, lsb: 2)
        XCTAssertEqual(state.parameterSelection, .nonRegistered(number))
        XCTAssertEqual(cc(&state, 6, 3), .nonRegisteredParameter(number, value: 3 << 7))
        XCTAssertEqual(cc(&state, 38, 4), .nonRegisteredParameter(number, value: 3 << 7 | 4))
        XCTAssertEqual(number.value14Bit, 130)
        XCTAssertEqual(state.pitchBendRangeSemitones, 2)
    }

    func testIncrementAndDecrementStepCentsForBendRangeAndSemitonesForCoarseTuning() {
        var state = ControllerState()
        cc(&state, 101, 0); cc(&state, 100, 0)
        cc(&state, 96, 127)
        XCTAssertEqual(state.pitchBendRangeSemitones, 2.01, accuracy: 1e-12)
        cc(&state, 97, 127); cc(&state, 97, 127)
        XCTAssertEqual(state.pitchBendSensitivity.semitones, 1)
        XCTAssertEqual(state.pitchBendSensitivity.cents, 99)
        cc(&state, 100, 2)  // coarse tuning
        XCTAssertEqual(cc(&state, 96, 0), .registeredParameter(.coarseTuning, value: 65 << 7))
        XCTAssertEqual(state.coarseTuningSemitones, 1)
    }

    func testTuningParameters() {
        var state = ControllerState()
        cc(&state, 101, 0); cc(&state, 100, 1); cc(&state, 6, 0x60); cc(&state, 38, 0)
        XCTAssertEqual(state.fineTuningCents, 50)  // (0x3000 - 8192) * 100 / 8192
        cc(&state, 100, 2); cc(&state, 6, 64 - 12)
        XCTAssertEqual(state.coarseTuningSemitones, -12)
        XCTAssertEqual(state.pitchOffsetSemitones, -11.5)
    }

    func testFourteenBitControllerPair() {
        var state = ControllerState()
        XCTAssertEqual(cc(&state, 1, 0x40), .controller14Bit(msbNumber: 1, value: 0x40 << 7))
        XCTAssertEqual(cc(&state, 33, 0x20), .controller14Bit(msbNumber: 1, value: 0x40 << 7 | 0x20))
        XCTAssertEqual(state.controllerValue14Bit(msbNumber: 1), 8224)
        // A new MSB zeroes the LSB.
        XCTAssertEqual(cc(&state, 1, 0x41), .controller14Bit(msbNumber: 1, value: 8320))
        XCTAssertEqual(state.controllerValue(33), 0)
        // Volume as 14 bits.
        cc(&state, 7, 127); cc(&state, 39, 127)
        XCTAssertEqual(state.controllerValue14Bit(msbNumber: 7), 16383)
        // Above 31 there is no pair: 7-bit value times 128.
        cc(&state, 74, 10)
        XCTAssertEqual(state.controllerValue14Bit(msbNumber: 74), 1280)
    }

    func testPedalsPressureAndProgramWithBank() {
        var state = ControllerState()
        XCTAssertEqual(cc(&state, 64, 64), .controller(number: 64, value: 64))
        XCTAssertTrue(state.isSustainOn)
        cc(&state, 64, 63)
        XCTAssertFalse(state.isSustainOn)
        cc(&state, 66, 127)
        XCTAssertTrue(state.isSostenutoOn)
        cc(&state, 0, 1); cc(&state, 32, 2)
        XCTAssertEqual(state.bankNumber, 130)
        XCTAssertEqual(state.apply(.programChange(channel: 0, program: 5)),
                       .programChange(program: 5, bankMSB: 1, bankLSB: 2))
        XCTAssertEqual(state.apply(.polyPressure(channel: 0, note: 60, pressure: 70)), .polyPressure(note: 60, pressure: 70))
        XCTAssertEqual(state.polyPressure(note: 60), 70)
        XCTAssertEqual(state.apply(.channelPressure(channel: 0, pressure: 9)), .channelPressure(9))
        XCTAssertNil(state.apply(.noteOn(channel: 0, note: 60, velocity: 1)))
        XCTAssertNil(state.apply(.timingClock))
    }

    func testChannelModeMessagesAreReportedNotStored() {
        var state = ControllerState()
        XCTAssertEqual(cc(&state, 120, 0), .channelMode(.allSoundOff))
        XCTAssertEqual(cc(&state, 123, 0), .channelMode(.allNotesOff))
        XCTAssertEqual(cc(&state, 122, 0), .channelMode(.localControl(isOn: false)))
        XCTAssertEqual(cc(&state, 126, 1), .channelMode(.monoOn(channelCount: 1)))
        XCTAssertEqual(cc(&state, 127, 0), .channelMode(.polyOn))
        XCTAssertEqual(state.controllerValue(123), 0)
    }

    func testResetAllControllersFollowsRP015() {
        var state = ControllerState()
        let settings: [(UInt8, UInt8)] = [
            (0, 1), (32, 2), (7, 90), (39, 5), (10, 30), (42, 6), (8, 20), (11, 50), (43, 9), (1, 100), (33, 3),
            (2, 44), (4, 45), (5, 46), (64, 127), (65, 127), (66, 127), (67, 127), (68, 127), (71, 99), (74, 98),
            (91, 70), (93, 71), (84, 60), (16, 15),
        ]
        for (controller, value) in settings { cc(&state, controller, value) }
        cc(&state, 101, 0); cc(&state, 100, 0); cc(&state, 6, 7)  // bend range 7, RPN 0,0 left selected
        _ = state.apply(.programChange(channel: 0, program: 5))
        _ = state.apply(.pitchBend(channel: 0, value: 1000))
        _ = state.apply(.channelPressure(channel: 0, pressure: 60))
        _ = state.apply(.polyPressure(channel: 0, note: 60, pressure: 70))

        XCTAssertEqual(cc(&state, 121, 0), .channelMode(.resetAllControllers))

        // Reset.
        XCTAssertEqual(state.controllerValue(1), 0, "modulation")
        XCTAssertEqual(state.controllerValue(33), 0, "modulation LSB")
        XCTAssertEqual(state.controllerValue(11), 127, "expression")
        XCTAssertEqual(state.controllerValue(43), 0, "expression LSB")
        for pedal: UInt8 in [64, 65, 66, 67, 68] { XCTAssertEqual(state.controllerValue(pedal), 0, "pedal \(pedal)") }
        for number: UInt8 in [2, 4, 5, 16, 84] { XCTAssertEqual(state.controllerValue(number), 0, "cc \(number)") }
        for number: UInt8 in 98...101 { XCTAssertEqual(state.controllerValue(number), 127, "parameter number \(number)") }
        XCTAssertEqual(state.parameterSelection, .none)
        XCTAssertEqual(state.pitchBendValue, 8192)
        XCTAssertEqual(state.channelPressure, 0)
        XCTAssertEqual(state.polyPressure(note: 60), 0)
        XCTAssertFalse(state.isSustainOn)

        // Kept.
        XCTAssertEqual(state.program, 5)
        XCTAssertEqual(state.bankNumber, 130)
        XCTAssertEqual(state.controllerValue(7), 90, "volume")
        XCTAssertEqual(state.controllerValue(39), 5, "volume LSB")
        XCTAssertEqual(state.controllerValue(10), 30, "pan")
        XCTAssertEqual(state.controllerValue(42), 6, "pan LSB")
        XCTAssertEqual(state.controllerValue(8), 20, "balance")
        XCTAssertEqual(state.controllerValue(71), 99, "sound controller")
        XCTAssertEqual(state.controllerValue(74), 98, "sound controller")
        XCTAssertEqual(state.controllerValue(91), 70, "effects depth")
        XCTAssertEqual(state.controllerValue(93), 71, "effects depth")
        XCTAssertEqual(state.pitchBendRangeSemitones, 7, "registered parameter values survive")

        // No parameter is selected any more, so data entry cannot change the bend range.
        XCTAssertNil(cc(&state, 6, 1))
        XCTAssertEqual(state.pitchBendRangeSemitones, 7)
    }

    func testStateIsInlineAndSendable() {
        // A fixed-size value: no heap behind it, so copying it in the engine costs no allocation.
        XCTAssertTrue(_isPOD(ControllerState.self))
        let state = ControllerState()
        let sendable: any Sendable = state
        XCTAssertNotNil(sendable)
    }
}
