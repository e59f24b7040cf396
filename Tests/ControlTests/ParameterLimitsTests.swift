// One table of parameter limits (SoundParameters.ParameterLimits): the settings registry,
// preset files and the OSC requests accept exactly its ranges, and `--help` shows them.
import Control
import Presets
import SoundParameters
import XCTest

final class ParameterLimitsTests: XCTestCase {
    /// (setting, preset key, OSC path, range) for each limited parameter.
    let parameters: [(Setting, String?, String?, ClosedRange<Double>)] = [
        (.reverb, "reverb", "/timbred/reverb", ParameterLimits.reverbMix),
        (.gainDB, "gain_db", "/timbred/gain", ParameterLimits.gainDB),
        (.attackScale, "attack_scale", "/timbred/attack", ParameterLimits.attackScale),
        (.releaseScale, "release_scale", "/timbred/release", ParameterLimits.releaseScale),
        (.pitchBendRange, nil, nil, ParameterLimits.pitchBendSemitones),
    ]

    func testSettingsPresetsAndOSCAcceptTheTablesRanges() throws {
        for (setting, presetKey, path, range) in parameters {
            XCTAssertEqual(setting.spec.kind, .number(range), setting.rawValue)
            XCTAssertTrue(setting.helpText.contains("(\(ParameterLimits.text(range)))"), setting.helpText)
            let below = range.lowerBound - 0.01, above = range.upperBound + 0.01
            for (value, ok) in [(range.lowerBound, true), (range.upperBound, true), (below, false), (above, false)] {
                XCTAssertEqual((try? setting.value(fromText: String(value))) != nil, ok, "\(setting.rawValue) = \(value)")
                if let presetKey {
                    let text = "name = \"A\"\ninstrument = \"x\"\n\(presetKey) = \(value)\n"
                    XCTAssertEqual((try? Preset.parse(text, path: "a.toml")) != nil, ok, "\(presetKey) = \(value)")
                }
                if let path {
                    let request = try? ControlRequest(message: OSCMessage(path, [.float(Float(value))]))
                    XCTAssertEqual(request != nil, ok, "\(path) \(value)")
                }
            }
        }
    }

    func testTheRangesAnEngineerExpects() {
        XCTAssertEqual(ParameterLimits.attackScale, 0.1...10)
        XCTAssertEqual(ParameterLimits.releaseScale, 0.1...10)
        XCTAssertEqual(ParameterLimits.gainDB, -60...12)
        XCTAssertEqual(ParameterLimits.reverbMix, 0...4)
        XCTAssertEqual(ParameterLimits.text(ParameterLimits.attackScale), "0.1...10")
        XCTAssertEqual(ParameterLimits.clamp(30, to: ParameterLimits.releaseScale), 10)
        XCTAssertEqual(ParameterLimits.clamp(0.01, to: ParameterLimits.attackScale), 0.1)
    }
}
