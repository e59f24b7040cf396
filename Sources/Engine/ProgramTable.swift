import MIDI

/// What a bank select + program change plays, worked out by the control side (`SoundController`)
/// for every bank and program and handed to the engine, which applies a program change at its
/// own sample from it: the same sample live (the JACK period the event arrives in) and offline.
///
/// Immutable once built; the engine reads it through an unretained reference, so the builder
/// keeps it alive until the engine reports (`EngineStatus.programTable`) that it took a newer one.
/// Every table is inline memory allocated in `init`: reading it never allocates or locks.
public final class ProgramTable: @unchecked Sendable {
    /// A sound a program change switches to: a preset's timbre point, its sound settings and its
    /// controller map (`mappings`: an entry for every source any preset or the configured map
    /// uses, `ControllerMapping.unmapped` where this preset leaves it free).
    public struct Sound: Sendable {
        public var timbre: [Float]
        public var reverbMix: Float
        public var gainDB: Float
        public var attackScale: Float
        public var releaseScale: Float
        public var mappings: [(source: ControllerSource, mapping: ControllerMapping)]

        public init(timbre: [Float], reverbMix: Float, gainDB: Float, attackScale: Float, releaseScale: Float,
                    mappings: [(source: ControllerSource, mapping: ControllerMapping)]) {
            self.timbre = timbre
            self.reverbMix = reverbMix
            self.gainDB = gainDB
            self.attackScale = attackScale
            self.releaseScale = releaseScale
            self.mappings = mappings
        }
    }

    /// What a program change on a channel picks (`choose`).
    public enum Choice: Sendable, Equatable {
        /// The channel keeps its preset (`keep_preset`, `--keep-preset`).
        case kept
        /// The channel plays drums (the drum channel, or a drum or effect bank): nothing.
        case drums
        /// A bank of the user's own presets: its preset for that program.
        case bankPreset(sound: Int)
        /// A bank of the user's own presets without one for that program: nothing.
        case bankEmpty
        /// General MIDI (bank 0 or a variation bank nobody's presets use): the preset standing
        /// for the program (`exact`), else the nearest of its GM family.
        case generalMIDI(sound: Int, exact: Bool)
        /// General MIDI, no preset in the program's family: nothing.
        case noGeneralMIDIPreset

        /// The sound it switches to, if any.
        @inlinable
        public var sound: Int? {
            switch self {
            case .bankPreset(let s), .generalMIDI(let s, _): return s
            default: return nil
            }
        }
    }

    /// Counts the tables a builder made (the engine reports the one it plays).
    public let generation: Int
    public let soundCount: Int
    /// The drum channel (0…15, -1 none) whose program changes pick nothing.
    public let drumChannel: Int
    private let keepAll: Bool
    private let keepChannels: UInt16

    @usableFromInline struct SoundValues {
        var timbre: LatentPoint
        var reverbMix: Float, gainDB: Float, attackScale: Float, releaseScale: Float
        var mapStart: Int, mapCount: Int
    }

    private let sounds: UnsafeMutablePointer<SoundValues>
    private let mapSources: UnsafeMutablePointer<ControllerSource>
    private let mapMappings: UnsafeMutablePointer<ControllerMapping>
    private let mapCount: Int
    /// Per GM program: sound index (-1 none), exact.
    private let generalMIDI: UnsafeMutablePointer<Int32>
    private let generalMIDIExact: UnsafeMutablePointer<Bool>
    private let bankNumbers: UnsafeMutablePointer<Int>
    private let bankCount: Int
    /// `bankCount × 128`: sound index per bank and program, -1 none.
    private let bankPrograms: UnsafeMutablePointer<Int32>

    /// - Parameters:
    ///   - generalMIDI: 128 entries (program 0…127): the sound and whether it stands for exactly
    ///     that program, or nil.
    ///   - banks: the banks (≠ 0) of the user's own presets, each with 128 entries (sound or nil).
    ///   - keepChannels: channels (0…15) whose program changes are ignored; `keepAll`: every one.
    public init(generation: Int, sounds: [Sound], generalMIDI: [(sound: Int, exact: Bool)?], banks: [Int: [Int?]],
                keepAll: Bool, keepChannels: Set<Int>, drumChannel: Int) {
        self.generation = generation
        soundCount = sounds.count
        self.keepAll = keepAll
        self.keepChannels = keepChannels.reduce(0) { $1 >= 0 && $1 < 16 ? $0 | UInt16(1) << UInt16($1) : $0 }
        self.drumChannel = drumChannel
        self.sounds = .allocate(capacity: max(sounds.count, 1))
        let entries = sounds.reduce(0) { $0 + $1.mappings.count }
        mapCount = entries
        mapSources = .allocate(capacity: max(entries, 1))
        mapMappings = .allocate(capacity: max(entries, 1))
        var k = 0
        for (i, s) in sounds.enumerated() {
            (self.sounds + i).initialize(to: SoundValues(timbre: LatentPoint(Array(s.timbre.prefix(LatentPoint.capacity))),
                                                         reverbMix: s.reverbMix, gainDB: s.gainDB, attackScale: s.attackScale,
                                                         releaseScale: s.releaseScale, mapStart: k, mapCount: s.mappings.count))
            for m in s.mappings {
                (mapSources + k).initialize(to: m.source)
                (mapMappings + k).initialize(to: m.mapping)
                k += 1
            }
        }
        func index(_ s: Int?) -> Int32 { s.map { $0 >= 0 && $0 < sounds.count ? Int32($0) : -1 } ?? -1 }
        self.generalMIDI = .allocate(capacity: 128)
        generalMIDIExact = .allocate(capacity: 128)
        for p in 0..<128 {
            let entry = p < generalMIDI.count ? generalMIDI[p] : nil
            (self.generalMIDI + p).initialize(to: index(entry?.sound))
            (generalMIDIExact + p).initialize(to: entry?.exact ?? false)
        }
        let bankList = banks.keys.filter { $0 != 0 }.sorted()
        bankCount = bankList.count
        bankNumbers = .allocate(capacity: max(bankCount, 1))
        bankPrograms = .allocate(capacity: max(bankCount, 1) * 128)
        for (b, bank) in bankList.enumerated() {
            (bankNumbers + b).initialize(to: bank)
            let programs = banks[bank]!
            for p in 0..<128 { (bankPrograms + b * 128 + p).initialize(to: index(p < programs.count ? programs[p] : nil)) }
        }
    }

    deinit {
        sounds.deallocate()
        mapSources.deallocate()
        mapMappings.deallocate()
        generalMIDI.deallocate()
        generalMIDIExact.deallocate()
        bankNumbers.deallocate()
        bankPrograms.deallocate()
    }

    /// What a program change on `channel` picks, with `bank` (CC 0 · 128 + CC 32) selected there
    /// and `isDrum` when the channel plays drums now, in this order: nothing on a channel whose
    /// preset is kept or that plays drums; in a bank of the user's own presets, that bank's
    /// preset; otherwise the General MIDI choice. Real-time safe.
    public func choose(channel: UInt8, bank: Int, program: UInt8, isDrum: Bool) -> Choice {
        let c = Int(channel & 0x0F), p = Int(program & 0x7F)
        if keepAll || keepChannels & (UInt16(1) << UInt16(c)) != 0 { return .kept }
        if isDrum { return .drums }
        if bank != 0 {
            var b = 0
            while b < bankCount {
                if bankNumbers[b] == bank {
                    let s = bankPrograms[b * 128 + p]
                    return s >= 0 ? .bankPreset(sound: Int(s)) : .bankEmpty
                }
                b += 1
            }
        }
        let s = generalMIDI[p]
        return s >= 0 ? .generalMIDI(sound: Int(s), exact: generalMIDIExact[p]) : .noGeneralMIDIPreset
    }

    /// Sound `index`'s values (index < `soundCount`). Real-time safe.
    @inline(__always)
    func values(_ index: Int) -> SoundValues { sounds[index] }

    /// Controller-map entry `k` (of a sound's `mapStart ..< mapStart + mapCount`). Real-time safe.
    @inline(__always)
    func mapEntry(_ k: Int) -> (ControllerSource, ControllerMapping) { (mapSources[k], mapMappings[k]) }

    /// Sound `index`'s timbre point (tests and the control side).
    public func timbre(ofSound index: Int) -> [Float] { sounds[index].timbre.array }
}
