// MIDI Tuning Standard (MMA, with the 1999 extensions) and universal master tuning SysEx,
// parsed straight into preallocated tables: no allocation, no lock, real-time safe.

/// The tunings a synthesizer keeps, as the MIDI Tuning Standard defines them, and the SysEx that
/// changes them.
///
/// - **Key-based tunings**: tuning programs in tuning banks, each a table of 128 keys → pitch in
///   semitones (MIDI note numbers with a fraction; power-on: key k sounds k, equal temperament).
///   Bulk tuning dumps (`7E dd 08 01`, bank 0, and the bank form `08 04`) replace a whole table;
///   single-note tuning changes (real-time `7F dd 08 02`, bank 0, and the bank forms
///   `7E/7F dd 08 07`) set some keys; `7F 7F 7F` leaves a key as it is. Scale/octave tuning dumps
///   (`7E dd 08 05`, 1 byte per pitch class, and `08 06`, 2 bytes) make a program's table equal
///   temperament plus 12 offsets. Bank 0's 128 programs always have a table; programs of banks
///   1…127 get one of `extraTableCount` tables when a message first writes them (a message for a
///   further one is ignored until a reset). A channel plays the program its RPN 0,3 (tuning
///   program select) and RPN 0,4 (tuning bank select) name, bank 0 program 0 until it selects
///   another; a program no message wrote plays equal temperament.
/// - **Scale/octave tunings** (`7E/7F dd 08 08`, 1 byte per pitch class, ±64 cents in 1-cent
///   steps; `08 09`, 2 bytes, ±100 cents in 100/8192-cent steps): per channel (a channel mask
///   picks them) 12 offsets in cents added to every key of that pitch class, on top of the key
///   table.
/// - **Master tuning** (universal real-time device control `7F dd 04 03` fine, 14-bit ±100
///   cents, and `04 04` coarse, MSB − 64 semitones): one offset for everything.
///
/// Real-time forms (`7F`) retune the notes that sound; non-real-time forms (`7E`) the notes
/// struck afterwards (`Change.retunesSoundingNotes`). Dump requests (`08 00`, `08 03`) are
/// ignored: timbred has no MIDI output to answer on. The device ID is not checked (the synth
/// answers every ID, as it plays every channel).
public final class TuningTables: @unchecked Sendable {
    /// Tuning programs per bank, and banks (RPN 0,3 and 0,4 select one of each).
    public static let programCount = 128
    public static let bankCount = 128
    public static let keyCount = 128
    /// Key tables for programs of banks 1…127 (bank 0 has one per program).
    public static let extraTableCount = 128
    static let tableCount = programCount + extraTableCount

    /// `[table * 128 + key]`: the key's pitch in semitones (tables 0…127: bank 0's programs).
    private let keys: UnsafeMutablePointer<Double>
    /// `[bank * 128 + program]`: the program's table, −1 while it has none (equal temperament).
    private let tableOf: UnsafeMutablePointer<Int16>
    /// Tables given to banks 1…127 so far.
    private var extraTablesUsed = 0
    /// `[channel * 12 + pitchClass]`: scale/octave offsets in cents.
    private let scale: UnsafeMutablePointer<Double>
    /// Master coarse (semitones) and fine (cents) tuning.
    public private(set) var masterCoarseSemitones: Int = 0
    public private(set) var masterFineCents: Double = 0

    /// What a message changed.
    public enum Change: Sendable, Equatable {
        /// Not a tuning message, or one that changes nothing (a request, a bad checksum).
        case none
        /// The key table of `program` in `bank` changed.
        case keys(bank: Int, program: Int, realTime: Bool)
        /// Some channels' scale/octave offsets changed.
        case scale(realTime: Bool)
        /// Master fine or coarse tuning changed (always real-time).
        case master

        /// True when notes already sounding follow the change (real-time forms and master tuning).
        public var retunesSoundingNotes: Bool {
            switch self {
            case .none: return false
            case .keys(_, _, let realTime), .scale(let realTime): return realTime
            case .master: return true
            }
        }
    }

    public init() {
        keys = .allocate(capacity: Self.tableCount * Self.keyCount)
        tableOf = .allocate(capacity: Self.bankCount * Self.programCount)
        scale = .allocate(capacity: 16 * 12)
        keys.initialize(repeating: 0, count: Self.tableCount * Self.keyCount)
        tableOf.initialize(repeating: -1, count: Self.bankCount * Self.programCount)
        scale.initialize(repeating: 0, count: 16 * 12)
        reset()
    }

    deinit {
        keys.deallocate()
        tableOf.deallocate()
        scale.deallocate()
    }

    /// Power-on state: every program equal-tempered, no scale offsets, master tuning 0.
    /// Real-time safe.
    public func reset() {
        for t in 0..<Self.tableCount {
            for k in 0..<Self.keyCount { keys[t * Self.keyCount + k] = Double(k) }
        }
        tableOf.update(repeating: -1, count: Self.bankCount * Self.programCount)
        for p in 0..<Self.programCount { tableOf[p] = Int16(p) }
        extraTablesUsed = 0
        resetScaleAndMaster()
    }

    /// Takes every table, offset and master tuning of `other` (a new engine carrying on from
    /// the one it replaces). Real-time safe: copies into preallocated memory.
    public func copy(from other: TuningTables) {
        // bank 0's tables and the spare ones in use (the others are not read before being reset)
        keys.update(from: other.keys, count: (Self.programCount + other.extraTablesUsed) * Self.keyCount)
        tableOf.update(from: other.tableOf, count: Self.bankCount * Self.programCount)
        scale.update(from: other.scale, count: 16 * 12)
        extraTablesUsed = other.extraTablesUsed
        masterCoarseSemitones = other.masterCoarseSemitones
        masterFineCents = other.masterFineCents
    }

    /// Clears the scale/octave offsets and master tuning (what a GM / GS / XG reset restores);
    /// the key tables stay. Real-time safe.
    public func resetScaleAndMaster() {
        scale.update(repeating: 0, count: 16 * 12)
        masterCoarseSemitones = 0
        masterFineCents = 0
    }

    /// Master tuning in semitones (coarse + fine). Real-time safe.
    @inlinable
    public var masterSemitones: Double { Double(masterCoarseSemitones) + masterFineCents / 100 }

    /// The key table of `program` in `bank`, −1 while none was written (equal temperament).
    /// Real-time safe.
    @inline(__always)
    public func table(bank: Int, program: Int) -> Int { Int(tableOf[(bank & 0x7F) * Self.programCount + (program & 0x7F)]) }

    /// The table a message writes `program` of `bank` into: its own, or a fresh equal-tempered
    /// one from the spare tables; nil when none is left. Real-time safe.
    private func writableTable(bank: Int, program: Int) -> Int? {
        let t = table(bank: bank, program: program)
        if t >= 0 { return t }
        guard extraTablesUsed < Self.extraTableCount else { return nil }
        let fresh = Self.programCount + extraTablesUsed
        extraTablesUsed += 1
        for k in 0..<Self.keyCount { keys[fresh * Self.keyCount + k] = Double(k) }
        tableOf[(bank & 0x7F) * Self.programCount + (program & 0x7F)] = Int16(fresh)
        return fresh
    }

    /// The pitch of `key` on `channel` playing key table `table` (`table(bank:program:)`; −1:
    /// equal temperament), in semitones: the table plus the channel's scale/octave offset
    /// (without master tuning). Real-time safe.
    @inline(__always)
    public func pitch(key: Int, channel: Int, table: Int) -> Double {
        let k = key & 0x7F
        let base = table >= 0 && table < Self.tableCount ? keys[table * Self.keyCount + k] : Double(k)
        return base + scale[(channel & 0x0F) * 12 + k % 12] / 100
    }

    /// The pitch of `key` on `channel` playing `program` of `bank`, in semitones (see
    /// `pitch(key:channel:table:)`). Real-time safe.
    @inline(__always)
    public func pitch(key: Int, channel: Int, bank: Int = 0, program: Int) -> Double {
        pitch(key: key, channel: channel, table: table(bank: bank, program: program))
    }

    /// The pitch of `key` in the key table of `program` of `bank`, in semitones. Real-time safe.
    public func keyPitch(bank: Int = 0, program: Int, key: Int) -> Double {
        let t = table(bank: bank, program: program)
        return t >= 0 ? keys[t * Self.keyCount + (key & 0x7F)] : Double(key & 0x7F)
    }

    /// Sets one key of a program's table (a non-finite value is ignored, and so is a program of
    /// bank 1…127 when no spare table is left). Real-time safe.
    public func setKeyPitch(bank: Int = 0, program: Int, key: Int, semitones: Double) {
        guard semitones.isFinite, let t = writableTable(bank: bank, program: program) else { return }
        keys[t * Self.keyCount + (key & 0x7F)] = min(max(semitones, -64), 191)
    }

    /// The scale/octave offset of `pitchClass` (0 = C) on `channel`, in cents.
    public func scaleOffsetCents(channel: Int, pitchClass: Int) -> Double { scale[(channel & 0x0F) * 12 + pitchClass % 12] }

    /// Applies a SysEx payload (the bytes between F0 and F7) if it is a tuning message and
    /// returns what changed. Real-time safe.
    @discardableResult
    public func apply(sysExPayload p: UnsafeBufferPointer<UInt8>) -> Change {
        guard p.count >= 4, p[0] == 0x7E || p[0] == 0x7F else { return .none }
        let realTime = p[0] == 0x7F
        if realTime && p[2] == 0x04 && p.count >= 6 {
            let lsb = Int(p[4] & 0x7F), msb = Int(p[5] & 0x7F)
            switch p[3] {
            case 0x03: masterFineCents = Double((msb << 7 | lsb) - 8192) * 100 / 8192
            case 0x04: masterCoarseSemitones = msb - 64
            default: return .none
            }
            return .master
        }
        guard p[2] == 0x08 else { return .none }
        switch p[3] {
        case 0x01 where !realTime:  // bulk dump (bank 0): program, name[16], 128 x (xx yy zz), checksum
            return bulkDump(p, bank: nil, data: 21)
        case 0x04 where !realTime:  // bank bulk dump: bank, program, name[16], 128 x 3, checksum
            return bulkDump(p, bank: 4, data: 22)
        case 0x05 where !realTime:  // scale/octave dump, 1 byte: bank, program, name[16], 12 x ss, checksum
            return scaleOctaveDump(p, bytesPerClass: 1)
        case 0x06 where !realTime:  // scale/octave dump, 2 bytes: bank, program, name[16], 12 x (ss tt), checksum
            return scaleOctaveDump(p, bytesPerClass: 2)
        case 0x02 where realTime:  // single-note tuning change (bank 0): program, count, count x (kk xx yy zz)
            return singleNotes(p, bank: nil, realTime: true)
        case 0x07:  // single-note tuning change with bank: bank, program, count, entries
            return singleNotes(p, bank: 4, realTime: realTime)
        case 0x08:  // scale/octave, 1 byte per pitch class: ff gg hh, 12 x ss (64 = 0 cents)
            guard p.count >= 19 else { return .none }
            forEachChannel(p) { c in
                for i in 0..<12 { scale[c * 12 + i] = Self.cents1Byte(p[7 + i]) }
            }
            return .scale(realTime: realTime)
        case 0x09:  // scale/octave, 2 bytes per pitch class: ff gg hh, 12 x (ss tt) (0x2000 = 0 cents)
            guard p.count >= 31 else { return .none }
            forEachChannel(p) { c in
                for i in 0..<12 { scale[c * 12 + i] = Self.cents2Bytes(p[7 + 2 * i], p[8 + 2 * i]) }
            }
            return .scale(realTime: realTime)
        default:  // dump requests (00, 03): ignored (no MIDI output to answer on)
            return .none
        }
    }

    /// A scale/octave offset of the 1-byte forms (64 = 0 cents, 1-cent steps), in cents.
    @inline(__always)
    static func cents1Byte(_ ss: UInt8) -> Double { Double(Int(ss & 0x7F) - 64) }

    /// A scale/octave offset of the 2-byte forms (14-bit, 0x2000 = 0, ±100 cents), in cents.
    @inline(__always)
    static func cents2Bytes(_ ss: UInt8, _ tt: UInt8) -> Double {
        Double((Int(ss & 0x7F) << 7 | Int(tt & 0x7F)) - 8192) * 100 / 8192
    }

    /// `apply(sysExPayload:)` for an array (off the real-time thread).
    @discardableResult
    public func apply(sysExPayload payload: [UInt8]) -> Change {
        payload.withUnsafeBufferPointer { apply(sysExPayload: $0) }
    }

    /// True for a payload `apply` acts on (key, scale or master tuning). Real-time safe.
    public static func isTuningMessage(_ p: UnsafeBufferPointer<UInt8>) -> Bool {
        guard p.count >= 4, p[0] == 0x7E || p[0] == 0x7F else { return false }
        if p[0] == 0x7F && p[2] == 0x04 { return p[3] == 0x03 || p[3] == 0x04 }
        guard p[2] == 0x08 else { return false }
        switch p[3] {
        case 0x01, 0x04, 0x05, 0x06: return p[0] == 0x7E
        case 0x02: return p[0] == 0x7F
        case 0x07, 0x08, 0x09: return true
        default: return false
        }
    }

    /// An MTS frequency (xx semitone, yy zz the 14-bit fraction of a semitone) in semitones;
    /// nil for 7F 7F 7F ("no change"). Real-time safe.
    @inline(__always)
    static func frequency(_ xx: UInt8, _ yy: UInt8, _ zz: UInt8) -> Double? {
        let x = xx & 0x7F, y = yy & 0x7F, z = zz & 0x7F
        if x == 0x7F && y == 0x7F && z == 0x7F { return nil }
        return Double(x) + Double(Int(y) << 7 | Int(z)) / 16384
    }

    /// True when a dump's checksum (the byte after its last data byte, when sent) is the XOR of
    /// 7E … the last data byte (some senders include F0: either is accepted). Real-time safe.
    private static func checksumMatches(_ p: UnsafeBufferPointer<UInt8>, dataEnd: Int) -> Bool {
        guard p.count > dataEnd else { return true }
        var sum: UInt8 = 0
        for i in 0..<dataEnd { sum ^= p[i] }
        let sent = p[dataEnd] & 0x7F
        return sum & 0x7F == sent || (sum ^ 0xF0) & 0x7F == sent
    }

    /// A bulk dump: the program (after the bank at `bank`, when the form has one) gets 128 keys.
    private func bulkDump(_ p: UnsafeBufferPointer<UInt8>, bank at: Int?, data: Int) -> Change {
        guard p.count >= data + 384, Self.checksumMatches(p, dataEnd: data + 384) else { return .none }
        let bank = at.map { Int(p[$0] & 0x7F) } ?? 0
        let program = Int(p[(at ?? 3) + 1] & 0x7F)
        guard writableTable(bank: bank, program: program) != nil else { return .none }
        for k in 0..<128 {
            let i = data + 3 * k
            if let pitch = Self.frequency(p[i], p[i + 1], p[i + 2]) { setKeyPitch(bank: bank, program: program, key: k, semitones: pitch) }
        }
        return .keys(bank: bank, program: program, realTime: false)
    }

    /// A scale/octave tuning dump (`08 05`, `08 06`): bank, program, name[16], 12 offsets; the
    /// program's key table becomes equal temperament plus the offset of each key's pitch class.
    private func scaleOctaveDump(_ p: UnsafeBufferPointer<UInt8>, bytesPerClass: Int) -> Change {
        let data = 22, end = data + 12 * bytesPerClass
        guard p.count >= end, Self.checksumMatches(p, dataEnd: end) else { return .none }
        let bank = Int(p[4] & 0x7F), program = Int(p[5] & 0x7F)
        guard writableTable(bank: bank, program: program) != nil else { return .none }
        for k in 0..<Self.keyCount {
            let i = data + bytesPerClass * (k % 12)
            let cents = bytesPerClass == 1 ? Self.cents1Byte(p[i]) : Self.cents2Bytes(p[i], p[i + 1])
            setKeyPitch(bank: bank, program: program, key: k, semitones: Double(k) + cents / 100)
        }
        return .keys(bank: bank, program: program, realTime: false)
    }

    /// Single-note tuning changes: the program (after the bank at `bank`, when the form has one),
    /// a count, then count x (kk xx yy zz).
    private func singleNotes(_ p: UnsafeBufferPointer<UInt8>, bank at: Int?, realTime: Bool) -> Change {
        let programAt = (at ?? 3) + 1
        guard p.count > programAt + 1 else { return .none }
        let bank = at.map { Int(p[$0] & 0x7F) } ?? 0
        let program = Int(p[programAt] & 0x7F)
        guard writableTable(bank: bank, program: program) != nil else { return .none }
        let count = Int(p[programAt + 1] & 0x7F)
        var i = programAt + 2
        var n = 0
        while n < count && i + 3 < p.count {
            if let pitch = Self.frequency(p[i + 1], p[i + 2], p[i + 3]) {
                setKeyPitch(bank: bank, program: program, key: Int(p[i] & 0x7F), semitones: pitch)
            }
            i += 4
            n += 1
        }
        return .keys(bank: bank, program: program, realTime: realTime)
    }

    /// Calls `body` with each channel (0…15) of a scale/octave message's mask ff gg hh.
    @inline(__always)
    private func forEachChannel(_ p: UnsafeBufferPointer<UInt8>, _ body: (Int) -> Void) {
        let mask = Int(p[4] & 0x03) << 14 | Int(p[5] & 0x7F) << 7 | Int(p[6] & 0x7F)
        for c in 0..<16 where mask & (1 << c) != 0 { body(c) }
    }
}

/// Builders of tuning SysEx payloads (without F0/F7), for tests, tools and files. Allocate.
public enum MIDITuningMessage {
    /// xx yy zz for a pitch in semitones (clamped to 0 ... 127 + 16383/16384).
    public static func frequencyBytes(_ semitones: Double) -> [UInt8] {
        let clamped = min(max(semitones, 0), 127 + 16383.0 / 16384)
        var x = Int(clamped.rounded(.down))
        var f = Int(((clamped - Double(x)) * 16384).rounded())
        if f >= 16384 { x += 1; f -= 16384 }
        if x > 127 { x = 127; f = 16383 }
        if x == 127 && f == 16383 { f = 16382 }  // 7F 7F 7F means "no change"
        return [UInt8(x), UInt8(f >> 7), UInt8(f & 0x7F)]
    }

    /// Single-note tuning change (real-time `7F 7F 08 02`, or with a bank `08 07`, real-time or not).
    public static func singleNote(program: UInt8, changes: [(key: UInt8, semitones: Double)], bank: UInt8? = nil,
                                  realTime: Bool = true) -> [UInt8] {
        var out: [UInt8] = [realTime ? 0x7F : 0x7E, 0x7F, 0x08]
        if let bank { out += [0x07, bank & 0x7F] } else { out.append(0x02) }
        out += [program & 0x7F, UInt8(changes.count & 0x7F)]
        for c in changes { out.append(c.key & 0x7F); out += frequencyBytes(c.semitones) }
        return out
    }

    /// Bulk tuning dump (`7E 7F 08 01`, or `08 04` with a bank) of 128 key pitches, with its checksum.
    public static func bulkDump(program: UInt8, pitches: [Double], bank: UInt8? = nil, name: String = "timbred") -> [UInt8] {
        precondition(pitches.count == 128)
        var out: [UInt8] = [0x7E, 0x7F, 0x08]
        if let bank { out += [0x04, bank & 0x7F] } else { out.append(0x01) }
        out.append(program & 0x7F)
        let nameBytes = Array(name.utf8.prefix(16)).map { $0 & 0x7F }
        out += nameBytes + [UInt8](repeating: 0x20, count: 16 - nameBytes.count)
        for p in pitches { out += frequencyBytes(p) }
        out.append(out.reduce(0, ^) & 0x7F)
        return out
    }

    /// The channel mask bytes ff gg hh of a set of channels (0…15).
    public static func channelMask(_ channels: [Int]) -> [UInt8] {
        var m = 0
        for c in channels where (0..<16).contains(c) { m |= 1 << c }
        return [UInt8(m >> 14 & 0x03), UInt8(m >> 7 & 0x7F), UInt8(m & 0x7F)]
    }

    /// Scale/octave tuning, 1-byte form (`08 08`): 12 offsets in cents, −64 ... +63.
    public static func scaleOctave1Byte(channels: [Int], cents: [Int], realTime: Bool = true) -> [UInt8] {
        precondition(cents.count == 12)
        return [realTime ? 0x7F : 0x7E, 0x7F, 0x08, 0x08] + channelMask(channels)
            + cents.map { UInt8(min(max($0 + 64, 0), 127)) }
    }

    /// Scale/octave tuning, 2-byte form (`08 09`): 12 offsets in cents, −100 ... +99.99.
    public static func scaleOctave2Byte(channels: [Int], cents: [Double], realTime: Bool = true) -> [UInt8] {
        precondition(cents.count == 12)
        var out: [UInt8] = [realTime ? 0x7F : 0x7E, 0x7F, 0x08, 0x09] + channelMask(channels)
        for c in cents {
            let v = min(max(Int((c * 8192 / 100).rounded()) + 8192, 0), 16383)
            out += [UInt8(v >> 7), UInt8(v & 0x7F)]
        }
        return out
    }

    /// Scale/octave tuning dump (`7E 7F 08 05`, 1 byte per pitch class, or `08 06`, 2 bytes) of
    /// tuning `program` in `bank`: 12 offsets in cents (−64 … +63, or −100 … +99.99), with its
    /// checksum.
    public static func scaleOctaveDump(bank: UInt8, program: UInt8, cents: [Double], twoBytes: Bool,
                                       name: String = "timbred") -> [UInt8] {
        precondition(cents.count == 12)
        var out: [UInt8] = [0x7E, 0x7F, 0x08, twoBytes ? 0x06 : 0x05, bank & 0x7F, program & 0x7F]
        let nameBytes = Array(name.utf8.prefix(16)).map { $0 & 0x7F }
        out += nameBytes + [UInt8](repeating: 0x20, count: 16 - nameBytes.count)
        for c in cents {
            if twoBytes {
                let v = min(max(Int((c * 8192 / 100).rounded()) + 8192, 0), 16383)
                out += [UInt8(v >> 7), UInt8(v & 0x7F)]
            } else {
                out.append(UInt8(min(max(Int(c.rounded()) + 64, 0), 127)))
            }
        }
        out.append(out.reduce(0, ^) & 0x7F)
        return out
    }

    /// Master fine tuning (`7F 7F 04 03 lsb msb`): cents −100 ... +99.99.
    public static func masterFine(cents: Double) -> [UInt8] {
        let v = min(max(Int((cents * 8192 / 100).rounded()) + 8192, 0), 16383)
        return [0x7F, 0x7F, 0x04, 0x03, UInt8(v & 0x7F), UInt8(v >> 7)]
    }

    /// Master coarse tuning (`7F 7F 04 04 00 msb`): semitones −64 ... +63.
    public static func masterCoarse(semitones: Int) -> [UInt8] {
        [0x7F, 0x7F, 0x04, 0x04, 0x00, UInt8(min(max(semitones + 64, 0), 127))]
    }
}
