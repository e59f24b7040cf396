// Why a Standard MIDI File was refused.

/// Why `StandardMIDIFile(bytes:)` refused its input. Byte offsets count from the start of the file.
public enum MIDIFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The data does not start with an "MThd" header chunk.
    case notAMIDIFile
    /// The header chunk is shorter than the 6 bytes it must hold.
    case badHeaderLength(byteCount: Int)
    /// The chunk at `byteOffset` needs `neededByteCount` bytes (header + declared length) but only
    /// `availableByteCount` remain in the file.
    case truncatedChunk(byteOffset: Int, neededByteCount: Int, availableByteCount: Int)
    /// A variable-length quantity at `byteOffset` does not end within 4 bytes.
    case badVariableLengthQuantity(byteOffset: Int)
    /// The event at `byteOffset` runs past the end of its track chunk.
    case truncatedEvent(byteOffset: Int)
    /// A data byte at `byteOffset` starts an event, but no running status is in effect.
    case missingRunningStatus(byteOffset: Int)
    /// A status byte that cannot appear there (System Common or Real-Time as an event, or a byte with
    /// the top bit set where a data byte belongs).
    case unexpectedStatusByte(UInt8, byteOffset: Int)
    /// Format 2 (independent sequences) is not supported.
    case format2Unsupported
    /// A format number other than 0, 1 or 2.
    case unsupportedFormat(Int)
    /// The header's division field is 0 ticks per quarter, or an SMPTE rate other than 24, 25, 29, 30
    /// frames per second, or 0 ticks per frame.
    case invalidDivision(UInt16)
    /// The header declares no tracks, or the file holds no "MTrk" chunk.
    case noTracks
    /// The header declares more tracks than the file holds.
    case missingTracks(declaredCount: Int, foundCount: Int)

    public var description: String {
        switch self {
        case .notAMIDIFile:
            return "not a Standard MIDI File: it does not start with an 'MThd' header chunk"
        case let .badHeaderLength(byteCount):
            return "bad MIDI file header: 'MThd' chunk is \(byteCount) bytes long, expected at least 6"
        case let .truncatedChunk(byteOffset, needed, available):
            return "truncated chunk at byte \(byteOffset): it needs \(needed) bytes but only \(available) remain"
        case let .badVariableLengthQuantity(byteOffset):
            return "bad variable-length quantity at byte \(byteOffset): longer than 4 bytes"
        case let .truncatedEvent(byteOffset):
            return "truncated event at byte \(byteOffset): it runs past the end of its track chunk"
        case let .missingRunningStatus(byteOffset):
            return "data byte at byte \(byteOffset) with no running status in effect"
        case let .unexpectedStatusByte(status, byteOffset):
            let hex = String(status, radix: 16, uppercase: true)
            return "unexpected status byte 0x\(hex.count < 2 ? "0" + hex : hex) at byte \(byteOffset)"
        case .format2Unsupported:
            return "MIDI file format 2 (independent sequences) is not supported; convert it to format 0 or 1"
        case let .unsupportedFormat(format):
            return "unsupported MIDI file format \(format): only formats 0 and 1 are read"
        case let .invalidDivision(division):
            return "invalid time division \(division) in the MIDI file header"
        case .noTracks:
            return "MIDI file has no tracks"
        case let .missingTracks(declared, found):
            return "MIDI file is missing tracks: the header declares \(declared), the file holds \(found)"
        }
    }
}
