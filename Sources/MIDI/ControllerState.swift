// What one MIDI channel's controllers say: 14-bit CC pairs, RPN/NRPN, pitch bend, pressures, program.

/// The controller state of one MIDI channel, updated by channel voice messages.
///
/// A pure value (no heap: fixed-size inline storage) that the engine keeps one of per channel and updates
/// from the real-time thread with `apply(_:)`. It implements the MIDI 1.0 conventions a synthesizer is
/// expected to follow:
/// - **14-bit controller pairs**: controllers 0...31 (MSB) pair with 32...63 (LSB). Receiving an MSB sets
///   the pair's LSB to 0 (MIDI 1.0: "when an MSB is received, the receiver should set its concept of the
///   LSB to zero"); an LSB alone refines the current MSB. See `controllerValue14Bit(msbNumber:)`.
/// - **RPN/NRPN**: CC 101/100 select a registered parameter, CC 99/98 a non-registered one, 127/127
///   (the null parameter) deselects. Data entry MSB (CC 6) sets the selected value to MSB·128 (LSB 0);
///   data entry LSB (CC 38) sets its low 7 bits; increment/decrement (CC 96/97, data byte ignored)
///   step it: by one cent for pitch-bend sensitivity (cents 0...99, carrying into semitones), by one
///   semitone for coarse tuning, by one 14-bit step otherwise. With no parameter selected, data entry is
///   stored as a plain controller and changes no parameter.
/// - **Reset All Controllers** (CC 121) per RP-015: see `resetAllControllers()`.
///
/// Registered parameters 0,0...0,5 are stored (pitch-bend sensitivity, fine and coarse tuning, tuning
/// program and bank, modulation depth range); other RPNs and NRPNs are reported through `apply(_:)` for
/// the caller to act on but not stored beyond the value being edited.
///
/// The channel carried by events is ignored: route each event to its channel's state.
public struct ControllerState: Sendable {
    /// A registered or non-registered parameter number (CC 101/100 or CC 99/98 values).
    public struct ParameterNumber: Sendable, Hashable, BitwiseCopyable, CustomStringConvertible {
        /// Parameter number MSB (CC 101 for RPN, CC 99 for NRPN).
        public var msb: UInt8
        /// Parameter number LSB (CC 100 for RPN, CC 98 for NRPN).
        public var lsb: UInt8

        /// Creates a parameter number from its two 7-bit halves.
        @inlinable
        public init(msb: UInt8, lsb: UInt8) {
            self.msb = msb
            self.lsb = lsb
        }

        /// The number as one 14-bit value (MSB·128 + LSB).
        @inlinable
        public var value14Bit: UInt16 { UInt16(msb & 0x7F) << 7 | UInt16(lsb & 0x7F) }

        /// RPN 0,0: pitch-bend sensitivity (data MSB = semitones, LSB = cents). Default 2 semitones.
        public static let pitchBendSensitivity = ParameterNumber(msb: 0, lsb: 0)
        /// RPN 0,1: channel fine tuning (14-bit, 8192 = 0 cents, ±100 cents full scale).
        public static let fineTuning = ParameterNumber(msb: 0, lsb: 1)
        /// RPN 0,2: channel coarse tuning (MSB: 64 = 0 semitones; LSB ignored).
        public static let coarseTuning = ParameterNumber(msb: 0, lsb: 2)
        /// RPN 0,3: tuning program select.
        public static let tuningProgramSelect = ParameterNumber(msb: 0, lsb: 3)
        /// RPN 0,4: tuning bank select.
        public static let tuningBankSelect = ParameterNumber(msb: 0, lsb: 4)
        /// RPN 0,5: modulation depth range (MSB = semitones, LSB = 128ths of a semitone).
        public static let modulationDepthRange = ParameterNumber(msb: 0, lsb: 5)
        /// 127,127: the null parameter; selecting it deselects any RPN/NRPN.
        public static let null = ParameterNumber(msb: 127, lsb: 127)

        public var description: String { "\(msb),\(lsb)" }
    }

    /// Which parameter data entry currently edits.
    public enum ParameterSelection: Sendable, Hashable {
        /// None (power-on, after the null parameter, after Reset All Controllers).
        case none
        /// A registered parameter (RPN), selected with CC 101/100.
        case registered(ParameterNumber)
        /// A non-registered parameter (NRPN), selected with CC 99/98.
        case nonRegistered(ParameterNumber)
    }

    /// Channel mode messages (controllers 120...127).
    public enum ChannelModeMessage: Sendable, Hashable {
        /// CC 120: silence every voice now, without release.
        case allSoundOff
        /// CC 121: Reset All Controllers (already applied to this state when reported).
        case resetAllControllers
        /// CC 122: local control on (value ≥ 64) or off.
        case localControl(isOn: Bool)
        /// CC 123: release every note (sustain and sostenuto still hold them).
        case allNotesOff
        /// CC 124: omni off (implies all notes off).
        case omniOff
        /// CC 125: omni on (implies all notes off).
        case omniOn
        /// CC 126: mono on with this many channels (0: as many as voices), implies all notes off.
        case monoOn(channelCount: UInt8)
        /// CC 127: poly on (implies all notes off).
        case polyOn
    }

    /// What an applied event changed, for the caller to act on.
    public enum Update: Sendable, Hashable {
        /// A 7-bit controller (64...95, 102...119) changed.
        case controller(number: UInt8, value: UInt8)
        /// A 14-bit controller pair changed (MSB number 0...31; data entry 6 is reported as a parameter).
        case controller14Bit(msbNumber: UInt8, value: UInt16)
        /// The selected registered parameter was set to `value` (14-bit).
        case registeredParameter(ParameterNumber, value: UInt16)
        /// The selected non-registered parameter was set to `value` (14-bit).
        case nonRegisteredParameter(ParameterNumber, value: UInt16)
        /// Pitch bend changed (14-bit, 8192 centre).
        case pitchBend(value: UInt16)
        /// Channel pressure changed.
        case channelPressure(UInt8)
        /// Polyphonic pressure of one note changed.
        case polyPressure(note: UInt8, pressure: UInt8)
        /// Program change, with the bank selected by CC 0/32 at that moment.
        case programChange(program: UInt8, bankMSB: UInt8, bankLSB: UInt8)
        /// A channel mode message (CC 120...127).
        case channelMode(ChannelModeMessage)
    }

    // Controller numbers used here.
    private static let dataEntryMSB: UInt8 = 6
    private static let dataEntryLSB: UInt8 = 38
    private static let dataIncrement: UInt8 = 96
    private static let dataDecrement: UInt8 = 97
    private static let nrpnLSB: UInt8 = 98
    private static let nrpnMSB: UInt8 = 99
    private static let rpnLSB: UInt8 = 100
    private static let rpnMSB: UInt8 = 101
    private static let storedRegisteredParameterCount = 6

    private var controllers = InlineArray<128, UInt8>(repeating: 0)
    private var polyPressures = InlineArray<128, UInt8>(repeating: 0)
    /// Values of RPN 0,0 ... 0,5 (14-bit).
    private var registeredValues = InlineArray<6, UInt16>(repeating: 0)
    /// Value of the selected parameter when it is not one of the stored RPNs.
    private var otherParameterValue: UInt16 = 0

    /// Current pitch bend, 14-bit, 8192 = centre.
    public private(set) var pitchBendValue: UInt16 = MIDIEvent.pitchBendCentre
    /// Current channel pressure (0...127).
    public private(set) var channelPressure: UInt8 = 0
    /// Current program (0...127).
    public private(set) var program: UInt8 = 0
    /// The parameter data entry edits now.
    public private(set) var parameterSelection: ParameterSelection = .none

    /// Power-on state (General MIDI 2 defaults): volume 100, pan and balance 64, expression 127, sound
    /// controllers 70...79 at 64, reverb send (91) 40, everything else 0; pitch bend centred; no parameter
    /// selected; pitch-bend sensitivity 2 semitones, tuning centred, modulation depth range 50 cents.
    public init() {
        controllers[7] = 100
        controllers[8] = 64
        controllers[10] = 64
        controllers[11] = 127
        for number in 70..<80 { controllers[number] = 64 }
        controllers[91] = 40
        for number in 98..<102 { controllers[number] = 127 }
        registeredValues[0] = 2 << 7  // 2 semitones, 0 cents
        registeredValues[1] = 8192  // fine tuning centre
        registeredValues[2] = 64 << 7  // coarse tuning centre
        registeredValues[5] = 64  // 0 semitones + 64/128: 50 cents
    }

    // MARK: - Applying events

    /// Applies one channel voice message (its channel is ignored) and reports what changed; `nil` when
    /// nothing a synthesizer would act on changed (notes, system messages, parameter selection, data entry
    /// with no parameter selected). Real-time safe: no allocation, no lock.
    public mutating func apply(_ event: MIDIEvent) -> Update? {
        switch event {
        case let .controlChange(_, controller, value):
            return applyControlChange(controller: controller, value: value)
        case let .pitchBend(_, value):
            pitchBendValue = min(value, MIDIEvent.maximum14BitValue)
            return .pitchBend(value: pitchBendValue)
        case let .channelPressure(_, pressure):
            channelPressure = pressure & 0x7F
            return .channelPressure(channelPressure)
        case let .polyPressure(_, note, pressure):
            polyPressures[Int(note & 0x7F)] = pressure & 0x7F
            return .polyPressure(note: note & 0x7F, pressure: pressure & 0x7F)
        case let .programChange(_, newProgram):
            program = newProgram & 0x7F
            return .programChange(program: program, bankMSB: controllers[0], bankLSB: controllers[32])
        default:
            return nil
        }
    }

    /// Applies a control change (controller and value are masked to 7 bits). See `apply(_:)`.
    /// Real-time safe.
    public mutating func applyControlChange(controller: UInt8, value: UInt8) -> Update? {
        let number = controller & 0x7F
        let value = value & 0x7F
        switch number {
        case Self.dataEntryMSB:
            controllers[Int(number)] = value
            controllers[Int(Self.dataEntryLSB)] = 0
            return setSelectedParameter(UInt16(value) << 7)
        case Self.dataEntryLSB:
            controllers[Int(number)] = value
            guard let current = selectedParameterValue else { return nil }
            return setSelectedParameter((current & 0x3F80) | UInt16(value))
        case _ where number <= 31:
            controllers[Int(number)] = value
            controllers[Int(number) + 32] = 0
            return .controller14Bit(msbNumber: number, value: UInt16(value) << 7)
        case _ where number >= 32 && number <= 63:
            controllers[Int(number)] = value
            return .controller14Bit(msbNumber: number - 32, value: controllerValue14Bit(msbNumber: number - 32))
        case Self.dataIncrement, Self.dataDecrement:
            controllers[Int(number)] = value
            return stepSelectedParameter(up: number == Self.dataIncrement)
        case Self.nrpnLSB, Self.nrpnMSB:
            controllers[Int(number)] = value
            select(.nonRegistered(ParameterNumber(msb: controllers[Int(Self.nrpnMSB)],
                                                  lsb: controllers[Int(Self.nrpnLSB)])))
            return nil
        case Self.rpnLSB, Self.rpnMSB:
            controllers[Int(number)] = value
            select(.registered(ParameterNumber(msb: controllers[Int(Self.rpnMSB)],
                                               lsb: controllers[Int(Self.rpnLSB)])))
            return nil
        case 120:
            return .channelMode(.allSoundOff)
        case 121:
            resetAllControllers()
            return .channelMode(.resetAllControllers)
        case 122:
            return .channelMode(.localControl(isOn: value >= 64))
        case 123:
            return .channelMode(.allNotesOff)
        case 124:
            return .channelMode(.omniOff)
        case 125:
            return .channelMode(.omniOn)
        case 126:
            return .channelMode(.monoOn(channelCount: value))
        case 127:
            return .channelMode(.polyOn)
        default:  // 64...95 except 96/97, 102...119
            controllers[Int(number)] = value
            return .controller(number: number, value: value)
        }
    }

    /// Reset All Controllers, per MIDI RP-015 (and as CC 121 does through `apply(_:)`).
    ///
    /// Resets: modulation and every other controller 0...119 to 0, except expression (11) to 127;
    /// pedals 64...67 (sustain, portamento, sostenuto, soft) to 0; RPN and NRPN numbers (98...101) to the
    /// null value 127 (so no parameter is selected); pitch bend to centre; channel pressure and every
    /// note's polyphonic pressure to 0.
    ///
    /// Keeps: program, bank select (0, 32), volume (7, 39), pan (10, 42), sound controllers (70...79),
    /// effects depths (91...95), the values of registered and non-registered parameters (pitch-bend
    /// sensitivity, tuning...), channel mode state. Balance (8, 40) is kept too, like pan (RP-015 does
    /// not name it; FluidSynth keeps it). Real-time safe.
    public mutating func resetAllControllers() {
        for number in 0..<120 where !Self.isKeptByReset(number) {
            controllers[number] = 0
        }
        controllers[11] = 127
        for number in 98..<102 { controllers[number] = 127 }
        parameterSelection = .none
        otherParameterValue = 0
        pitchBendValue = MIDIEvent.pitchBendCentre
        channelPressure = 0
        for note in 0..<128 { polyPressures[note] = 0 }
    }

    private static func isKeptByReset(_ number: Int) -> Bool {
        switch number {
        case 0, 32, 7, 39, 8, 40, 10, 42: return true
        default: return (number >= 70 && number <= 79) || (number >= 91 && number <= 95)
        }
    }

    // MARK: - Reading the state

    /// The 7-bit value of controller `number` (masked to 0...127). Channel mode controllers (120...127)
    /// are not stored and read 0.
    public func controllerValue(_ number: UInt8) -> UInt8 { controllers[Int(number & 0x7F)] }

    /// The 14-bit value of the controller pair `msbNumber` (0...31) and `msbNumber + 32`: MSB·128 + LSB.
    /// For a number above 31, the 7-bit value times 128.
    public func controllerValue14Bit(msbNumber: UInt8) -> UInt16 {
        let number = Int(msbNumber & 0x7F)
        let msb = UInt16(controllers[number]) << 7
        return number < 32 ? msb | UInt16(controllers[number + 32]) : msb
    }

    /// Polyphonic pressure of `note` (0...127).
    public func polyPressure(note: UInt8) -> UInt8 { polyPressures[Int(note & 0x7F)] }

    /// The stored 14-bit value of registered parameter `parameter`, for RPN 0,0 ... 0,5; `nil` for others.
    public func registeredParameterValue(_ parameter: ParameterNumber) -> UInt16? {
        guard parameter.msb == 0, Int(parameter.lsb) < Self.storedRegisteredParameterCount else { return nil }
        return registeredValues[Int(parameter.lsb)]
    }

    /// Pitch-bend sensitivity (RPN 0,0) split into its semitones (data MSB) and cents (data LSB).
    public var pitchBendSensitivity: (semitones: UInt8, cents: UInt8) {
        let value = registeredValues[0]
        return (UInt8(value >> 7), UInt8(value & 0x7F))
    }

    /// The pitch-bend range in semitones (RPN 0,0): semitones + cents / 100. Default 2.
    public var pitchBendRangeSemitones: Double {
        let sensitivity = pitchBendSensitivity
        return Double(sensitivity.semitones) + Double(sensitivity.cents) / 100
    }

    /// Current pitch bend as -1...+8191/8192 (0 at the centre, -1 at value 0).
    public var pitchBendNormalized: Double { (Double(pitchBendValue) - 8192) / 8192 }

    /// Current pitch bend in semitones: `pitchBendNormalized` × `pitchBendRangeSemitones`.
    public var pitchBendSemitones: Double { pitchBendNormalized * pitchBendRangeSemitones }

    /// Channel fine tuning (RPN 0,1) in cents: (value − 8192) × 100 / 8192, −100...+99.99.
    public var fineTuningCents: Double { (Double(registeredValues[1]) - 8192) * 100 / 8192 }

    /// Channel coarse tuning (RPN 0,2) in semitones: data MSB − 64, −64...+63.
    public var coarseTuningSemitones: Int { Int(registeredValues[2] >> 7) - 64 }

    /// Everything that shifts this channel's pitch, in semitones: pitch bend + coarse + fine tuning.
    public var pitchOffsetSemitones: Double {
        pitchBendSemitones + Double(coarseTuningSemitones) + fineTuningCents / 100
    }

    /// Bank number from bank select MSB (CC 0) and LSB (CC 32): MSB·128 + LSB.
    public var bankNumber: UInt16 { controllerValue14Bit(msbNumber: 0) }

    /// Sustain (damper) pedal, CC 64 ≥ 64.
    public var isSustainOn: Bool { controllers[64] >= 64 }
    /// Portamento switch, CC 65 ≥ 64.
    public var isPortamentoOn: Bool { controllers[65] >= 64 }
    /// Sostenuto pedal, CC 66 ≥ 64.
    public var isSostenutoOn: Bool { controllers[66] >= 64 }
    /// Soft pedal, CC 67 ≥ 64.
    public var isSoftPedalOn: Bool { controllers[67] >= 64 }
    /// Legato footswitch, CC 68 ≥ 64.
    public var isLegatoOn: Bool { controllers[68] >= 64 }

    // MARK: - Parameter editing

    private mutating func select(_ selection: ParameterSelection) {
        let resolved: ParameterSelection
        switch selection {
        case let .registered(number) where number == .null, let .nonRegistered(number) where number == .null:
            resolved = .none
        default:
            resolved = selection
        }
        if resolved != parameterSelection {
            parameterSelection = resolved
            otherParameterValue = 0
        }
    }

    /// Index into `registeredValues` of the selected parameter, if it is one of the stored RPNs.
    private var selectedRegisteredIndex: Int? {
        guard case let .registered(number) = parameterSelection, number.msb == 0,
              Int(number.lsb) < Self.storedRegisteredParameterCount else { return nil }
        return Int(number.lsb)
    }

    private var selectedParameterValue: UInt16? {
        switch parameterSelection {
        case .none: return nil
        case .registered, .nonRegistered:
            if let index = selectedRegisteredIndex { return registeredValues[index] }
            return otherParameterValue
        }
    }

    private mutating func setSelectedParameter(_ value: UInt16) -> Update? {
        let value = min(value, MIDIEvent.maximum14BitValue)
        switch parameterSelection {
        case .none:
            return nil
        case let .registered(number):
            if let index = selectedRegisteredIndex {
                registeredValues[index] = value
            } else {
                otherParameterValue = value
            }
            return .registeredParameter(number, value: value)
        case let .nonRegistered(number):
            otherParameterValue = value
            return .nonRegisteredParameter(number, value: value)
        }
    }

    private mutating func stepSelectedParameter(up: Bool) -> Update? {
        guard let current = selectedParameterValue else { return nil }
        let next: UInt16
        switch parameterSelection {
        case .registered(.pitchBendSensitivity):
            // Cents 0...99 carrying into semitones.
            var semitones = Int(current >> 7)
            var cents = min(Int(current & 0x7F), 99)
            if up {
                cents += 1
                if cents == 100 { cents = 0; semitones += 1 }
                if semitones > 127 { semitones = 127; cents = 99 }
            } else if cents > 0 {
                cents -= 1
            } else if semitones > 0 {
                semitones -= 1
                cents = 99
            }
            next = UInt16(semitones << 7 | cents)
        case .registered(.coarseTuning):
            let semitones = Int(current >> 7)
            next = UInt16(up ? min(semitones + 1, 127) << 7 : max(semitones - 1, 0) << 7)
        default:
            next = up ? min(current + 1, MIDIEvent.maximum14BitValue) : (current == 0 ? 0 : current - 1)
        }
        return setSelectedParameter(next)
    }
}
