import TestSupport
import XCTest
@testable import Presets

final class PresetTests: XCTestCase {
    func testParsesAShippedStylePreset() throws {
        let text = """
        # comment
        name = "Flute"   # trailing comment
        model = "default"
        instrument = "flute"
        program = 7
        latent = [0.5, -1.25,
                  2e-1]
        reverb = 0.3
        """
        let p = try Preset.parse(text, path: "flute.toml")
        XCTAssertEqual(p.name, "Flute")
        XCTAssertEqual(p.instrument, "flute")
        XCTAssertEqual(p.program, 7)
        XCTAssertEqual(p.latent, [0.5, -1.25, 0.2])
        XCTAssertEqual(p.reverbMix, 0.3)
    }

    func testInstrumentResolvesToItsComponentMean() throws {
        let p = Preset(name: "Cello", model: "default", instrument: "cello")
        XCTAssertEqual(try p.latentPoint(instruments: ["flute", "cello"], means: [[1, 2], [3, 4]]), [3, 4])
        XCTAssertThrowsError(try Preset(name: "X", model: "m", instrument: "kazoo")
            .latentPoint(instruments: ["flute"], means: [[1, 2]])) { e in
            XCTAssertTrue("\(e)".contains("kazoo"))
        }
        XCTAssertThrowsError(try Preset(name: "X", model: "m", latent: [1, 2, 3])
            .latentPoint(instruments: ["flute"], means: [[1, 2]])) { e in
            XCTAssertTrue("\(e)".contains("3 values"), "\(e)")
        }
    }

    func testErrorsNameTheFileAndTheProblem() {
        let cases: [(String, String)] = [
            ("name = \"A\"\nlatent = [1, \"x\"]", "latent must be an array of finite numbers"),
            ("latent = [1, 2]", "missing name"),
            ("name = \"A\"\nlatent = [1, 2", "unterminated array"),
            ("name = \"A\"\ninstrument = \"x\"\nreverb = 9", "reverb = 9.0 is outside"),
            ("name = \"A\"\nname = \"B\"\ninstrument = \"x\"", "duplicate key name"),
            ("name = \"A\"", "needs a latent point or an instrument name"),
            ("name = \"A\nlatent = [1]", "unterminated string"),
            ("\u{0}\u{1}garbage", "line 1"),
        ]
        for (text, needle) in cases {
            XCTAssertThrowsError(try Preset.parse(text, path: "bad.toml")) { e in
                let msg = "\(e)"
                XCTAssertTrue(msg.hasPrefix("bad.toml: "), msg)
                XCTAssertTrue(msg.contains(needle), "\(msg) should contain \(needle)")
            }
        }
    }

    func testRandomBytesNeverCrashTheParser() {
        var rng = SeededGenerator(seed: 0x7153)
        let alphabet = Array("name=\"[]#,.0123456789e-+_ \n\tabc'\\truefalse")
        for _ in 0..<3000 {
            let n = Int.random(in: 0..<80, using: &rng)
            let text = String((0..<n).map { _ in alphabet.randomElement(using: &rng)! })
            _ = try? Preset.parse(text, path: "fuzz.toml")
        }
    }
}
