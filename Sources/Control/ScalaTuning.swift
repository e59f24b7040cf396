import Foundation

/// A problem in a Scala file: prints as one line naming the file (and line) and the problem.
public struct TuningFileError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let line: Int?
    public let problem: String
    public init(path: String, line: Int? = nil, problem: String) {
        self.path = path
        self.line = line
        self.problem = problem
    }
    public var description: String { "tuning: \(path)\(line.map { ": line \($0)" } ?? ""): \(problem)" }
}

/// A Scala tuning (https://www.huygens-fokker.org/scala/scl_format.html): a `.scl` scale and an
/// optional `.kbm` keyboard mapping, turned into the pitch (semitones, MIDI numbering) of each
/// of the 128 keys, which the engine plays as its key table.
///
/// - `.scl`: `!` comment lines; a description line; the number of notes N; N pitches, each in
///   cents (a number with a period: `701.955`) or a ratio (`3/2`, or a whole number `2`), the
///   last one the period (usually 2/1); text after a value is ignored. Degree 0 (1/1) is implied.
/// - `.kbm`: map size (0 = every key takes the next degree), first and last key retuned, the
///   middle key (degree 0), the reference key and its frequency in Hz, the formal octave (the
///   degree one repetition of the map spans), then one degree per map entry (`x` = unmapped).
/// - Without a `.kbm`: degree 0 on key 60, which keeps its equal-tempered pitch (261.626 Hz).
///
/// Keys outside the mapping's first...last and unmapped keys keep their equal-tempered pitch.
public struct ScalaTuning: Sendable, Equatable {
    /// The scale's description line.
    public let description: String
    /// Cents of degrees 1 ... N (the last is the period).
    public let cents: [Double]
    /// Each key's pitch in semitones (MIDI numbering: 69 = 440 Hz).
    public let keyPitches: [Double]

    /// Reads `sclPath` (and `kbmPath`). Throws `TuningFileError` (one line) for a file that
    /// cannot be read or parsed.
    public init(sclPath: String, kbmPath: String? = nil) throws(TuningFileError) {
        let scale = try Self.parseScale(try Self.read(sclPath), path: sclPath)
        let mapping = try kbmPath.map { (p: String) throws(TuningFileError) -> KeyboardMapping in
            try Self.parseMapping(try Self.read(p), path: p)
        } ?? .standard
        description = scale.description
        cents = scale.cents
        keyPitches = try Self.keyPitches(cents: scale.cents, mapping: mapping, kbmPath: kbmPath ?? sclPath)
    }

    /// The `tuning` setting: empty (nil: 12-tone equal temperament), `FILE.scl` or
    /// `FILE.scl, FILE.kbm`; `~` is expanded, relative paths are taken from `base` when given.
    public static func load(setting: String, relativeTo base: String? = nil) throws(TuningFileError) -> ScalaTuning? {
        let parts = setting.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let scl = parts.first else { return nil }
        guard parts.count <= 2 else {
            throw TuningFileError(path: setting, problem: "the tuning setting takes a .scl file and at most one .kbm file, comma-separated")
        }
        func resolve(_ p: String) -> String {
            let expanded = (p as NSString).expandingTildeInPath
            guard !expanded.hasPrefix("/"), let base else { return expanded }
            return (base as NSString).appendingPathComponent(expanded)
        }
        return try ScalaTuning(sclPath: resolve(scl), kbmPath: parts.count > 1 ? resolve(parts[1]) : nil)
    }

    // MARK: - parsing

    struct KeyboardMapping {
        var size: Int
        var first: Int
        var last: Int
        var middle: Int
        var reference: Int
        var referenceHz: Double
        var octaveDegree: Int
        var degrees: [Int?]
        /// Degree 0 on key 60 at its equal-tempered pitch, every key the next degree.
        static let standard = KeyboardMapping(size: 0, first: 0, last: 127, middle: 60, reference: 60,
                                              referenceHz: 440 * pow(2, -9.0 / 12), octaveDegree: 0, degrees: [])
    }

    private static func read(_ path: String) throws(TuningFileError) -> [(Int, String)] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TuningFileError(path: path, problem: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) ?? String(data: data, encoding: .isoLatin1) else {
            throw TuningFileError(path: path, problem: "not a text file")
        }
        var lines: [(Int, String)] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.hasPrefix("!") { continue }
            lines.append((i + 1, line))
        }
        return lines
    }

    private static func parseScale(_ lines: [(Int, String)], path: String) throws(TuningFileError) -> (description: String, cents: [Double]) {
        guard let descriptionLine = lines.first else { throw TuningFileError(path: path, problem: "empty: no description line") }
        let rest = lines.dropFirst().filter { !$0.1.isEmpty }
        guard let countLine = rest.first else { throw TuningFileError(path: path, problem: "no note count after the description") }
        guard let count = Int(firstWord(countLine.1)), count >= 0 else {
            throw TuningFileError(path: path, line: countLine.0, problem: "the note count must be a whole number, not \"\(countLine.1)\"")
        }
        guard count >= 1, count <= 1024 else {
            throw TuningFileError(path: path, line: countLine.0, problem: "the note count must be 1...1024, not \(count)")
        }
        let pitchLines = Array(rest.dropFirst())
        guard pitchLines.count >= count else {
            throw TuningFileError(path: path, problem: "the scale announces \(count) notes but has \(pitchLines.count)")
        }
        var cents: [Double] = []
        for (number, text) in pitchLines.prefix(count) {
            let word = firstWord(text)
            let value: Double?
            if word.contains(".") {
                value = Double(word)
            } else if let slash = word.firstIndex(of: "/") {
                if let n = Double(word[..<slash]), let d = Double(word[word.index(after: slash)...]), n > 0, d > 0 {
                    value = 1200 * log2(n / d)
                } else {
                    value = nil
                }
            } else if let n = Double(word), n > 0 {
                value = 1200 * log2(n)
            } else {
                value = nil
            }
            guard let value, value.isFinite else {
                throw TuningFileError(path: path, line: number, problem: "not a pitch in cents (701.955) or a positive ratio (3/2): \"\(text)\"")
            }
            guard abs(value) <= 12_000 else { throw TuningFileError(path: path, line: number, problem: "pitch \(value) cents is beyond 10 octaves") }
            cents.append(value)
        }
        guard cents.last! > 0 else {
            throw TuningFileError(path: path, line: pitchLines[count - 1].0, problem: "the period (last pitch) must be above 1/1")
        }
        return (descriptionLine.1, cents)
    }

    private static func parseMapping(_ lines: [(Int, String)], path: String) throws(TuningFileError) -> KeyboardMapping {
        let entries = lines.filter { !$0.1.isEmpty }
        let names = ["map size", "first key", "last key", "middle key", "reference key", "reference frequency", "formal octave degree"]
        guard entries.count >= 7 else {
            throw TuningFileError(path: path, problem: "a keyboard mapping needs 7 header lines (\(names.joined(separator: ", "))), found \(entries.count)")
        }
        var ints: [Int] = []
        for i in [0, 1, 2, 3, 4, 6] {
            guard let v = Int(firstWord(entries[i].1)) else {
                throw TuningFileError(path: path, line: entries[i].0, problem: "\(names[i]) must be a whole number, not \"\(entries[i].1)\"")
            }
            ints.append(v)
        }
        guard let hz = Double(firstWord(entries[5].1)), hz > 0, hz.isFinite else {
            throw TuningFileError(path: path, line: entries[5].0, problem: "reference frequency must be a positive number of Hz, not \"\(entries[5].1)\"")
        }
        let (size, first, last, middle, reference, octave) = (ints[0], ints[1], ints[2], ints[3], ints[4], ints[5])
        guard (0...128).contains(size) else { throw TuningFileError(path: path, line: entries[0].0, problem: "map size must be 0...128, not \(size)") }
        for (i, v) in [(1, first), (2, last), (3, middle), (4, reference)] where !(0...127).contains(v) {
            throw TuningFileError(path: path, line: entries[i].0, problem: "\(names[i]) must be a MIDI key 0...127, not \(v)")
        }
        guard first <= last else { throw TuningFileError(path: path, line: entries[2].0, problem: "last key \(last) is below first key \(first)") }
        guard octave >= 0 else { throw TuningFileError(path: path, line: entries[6].0, problem: "formal octave degree must be 0 or more") }
        var degrees: [Int?] = []
        for (number, text) in entries.dropFirst(7).prefix(size) {
            let word = firstWord(text)
            if word.lowercased() == "x" {
                degrees.append(nil)
            } else if let d = Int(word), d >= 0 {
                degrees.append(d)
            } else {
                throw TuningFileError(path: path, line: number, problem: "a mapping entry must be a scale degree or x, not \"\(text)\"")
            }
        }
        // missing entries at the end are unmapped (Scala's rule)
        while degrees.count < size { degrees.append(nil) }
        return KeyboardMapping(size: size, first: first, last: last, middle: middle, reference: reference, referenceHz: hz,
                               octaveDegree: octave, degrees: degrees)
    }

    /// Cents of scale degree `d` (any integer): whole periods plus the degree within one.
    private static func degreeCents(_ d: Int, _ cents: [Double]) -> Double {
        let n = cents.count
        let periods = Int((Double(d) / Double(n)).rounded(.down))
        let within = d - periods * n
        return Double(periods) * cents[n - 1] + (within == 0 ? 0 : cents[within - 1])
    }

    /// Cents of `key` above the middle key, or nil when unmapped.
    private static func keyCents(_ key: Int, cents: [Double], mapping m: KeyboardMapping) -> Double? {
        let offset = key - m.middle
        if m.size == 0 { return degreeCents(offset, cents) }
        let repeats = Int((Double(offset) / Double(m.size)).rounded(.down))
        let index = offset - repeats * m.size
        guard let degree = m.degrees[index] else { return nil }
        let octave = m.octaveDegree > 0 ? m.octaveDegree : cents.count
        return Double(repeats) * degreeCents(octave, cents) + degreeCents(degree, cents)
    }

    static func keyPitches(cents: [Double], mapping m: KeyboardMapping, kbmPath: String) throws(TuningFileError) -> [Double] {
        guard let referenceCents = keyCents(m.reference, cents: cents, mapping: m) else {
            throw TuningFileError(path: kbmPath, problem: "the reference key \(m.reference) is unmapped")
        }
        let referencePitch = 69 + 12 * log2(m.referenceHz / 440)
        return (0..<128).map { key -> Double in
            guard key >= m.first, key <= m.last, let c = keyCents(key, cents: cents, mapping: m) else { return Double(key) }
            return referencePitch + (c - referenceCents) / 100
        }
    }

    private static func firstWord(_ text: String) -> String {
        String(text.split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
    }
}
