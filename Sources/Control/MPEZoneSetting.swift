/// The `mpe` setting: the MPE zones (RP-053) set from the start, as an MPE Configuration Message
/// (RPN 0,6) would set them: `lower` (channel 1 manages member channels 2-16), `upper` (channel
/// 16 manages 1-15), `lower N` / `upper N` (N member channels, 1-15), both comma-separated
/// (`lower 7, upper 7`: together at most 14 members), or empty / `off` for none.
public struct MPEZoneSetting: Sendable, Equatable {
    public var lower = 0
    public var upper = 0

    public init(lower: Int = 0, upper: Int = 0) {
        self.lower = lower
        self.upper = upper
    }

    /// Reads the setting's text. Throws `SettingError` (one line) for anything else.
    public init(_ text: String, source: String = "settings") throws(SettingError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if trimmed.isEmpty || trimmed == "off" || trimmed == "none" { return }
        func fail() -> SettingError {
            SettingError(source: source, message: "mpe must be \"lower\", \"upper\", \"lower N\", \"upper N\" (N member channels 1-15) or both as \"lower 7, upper 7\", not \"\(text)\"")
        }
        for part in trimmed.split(separator: ",") {
            let words = part.split(separator: " ").map(String.init)
            guard let zone = words.first, words.count <= 2 else { throw fail() }
            var members = 15
            if words.count == 2 {
                guard let n = Int(words[1]), (1...15).contains(n) else { throw fail() }
                members = n
            }
            switch zone {
            case "lower" where lower == 0: lower = members
            case "upper" where upper == 0: upper = members
            default: throw fail()
            }
        }
        if lower > 0 && upper > 0 && lower + upper > 14 {
            throw SettingError(source: source, message: "mpe: the lower and upper zones share 14 member channels at most (\(lower) + \(upper) asked)")
        }
    }
}
