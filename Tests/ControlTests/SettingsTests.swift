import Control
import XCTest

final class SettingsTests: XCTestCase {
    func testDefaultsComeFromTheRegistry() {
        let s = DaemonSettings(configPath: "/nonexistent/timbred.toml")
        XCTAssertEqual(s.string(.clientName), "timbred")
        XCTAssertEqual(s.integer(.oscPort), 9123)
        XCTAssertEqual(s.number(.gainDB), -6)
        XCTAssertTrue(s.bool(.autoconnect))
        XCTAssertEqual(s.integer(.channel), 0)
        for setting in Setting.allCases {
            XCTAssertEqual(s[setting], setting.spec.defaultValue)
            XCTAssertTrue(setting.helpText.contains("default"), "\(setting) help lacks its default")
            XCTAssertTrue(setting.flag.hasPrefix("--") && !setting.flag.contains("_"))
        }
    }

    func testConfigFileOverridesDefaultsAndReadsTheCCTable() throws {
        var s = DaemonSettings(configPath: "x.toml")
        try s.merge(configText: """
            client_name = "synth"   # comment
            gain_db = -12
            polyphony = 16
            autoconnect = false
            typo_setting = 3
            [cc]
            74 = "latent 2"
            pressure = "loudness 0 6"
            """, path: "x.toml")
        XCTAssertEqual(s.string(.clientName), "synth")
        XCTAssertEqual(s.number(.gainDB), -12)
        XCTAssertEqual(s.integer(.polyphony), 16)
        XCTAssertFalse(s.bool(.autoconnect))
        XCTAssertEqual(s.controllerMap, ["74": "latent 2", "pressure": "loudness 0 6"])
        XCTAssertEqual(s.unknownKeys, ["typo_setting"])
    }

    func testOutOfRangeAndMistypedValuesNameTheFileAndSetting() {
        var s = DaemonSettings(configPath: "c.toml")
        XCTAssertThrowsError(try s.merge(configText: "polyphony = 1000\n", path: "c.toml")) { e in
            XCTAssertEqual("\(e)", "c.toml: polyphony = 1000 is outside 1...128")
        }
        XCTAssertThrowsError(try s.merge(configText: "autoconnect = \"yes\"\n", path: "c.toml")) { e in
            XCTAssertEqual("\(e)", "c.toml: autoconnect must be true or false")
        }
        XCTAssertThrowsError(try s.merge(configText: "log_level = \"loud\"\n", path: "c.toml")) { e in
            XCTAssertTrue("\(e)".contains("log_level must be one of error, warning"))
        }
        XCTAssertThrowsError(try s.merge(configText: "gain_db = \n", path: "c.toml")) { e in
            XCTAssertTrue("\(e)".hasPrefix("c.toml: line 1"))
        }
    }

    func testFlagsParseTextWithTheSameChecks() throws {
        XCTAssertEqual(try Setting.autoconnect.value(fromText: "false"), .bool(false))
        XCTAssertEqual(try Setting.gainDB.value(fromText: "-3.5"), .number(-3.5))
        XCTAssertEqual(try Setting.channel.value(fromText: "10"), .integer(10))
        XCTAssertThrowsError(try Setting.channel.value(fromText: "17")) { e in
            XCTAssertEqual("\(e)", "command line: channel = 17 is outside 0...16")
        }
        XCTAssertThrowsError(try Setting.oscPort.value(fromText: "x")) { e in
            XCTAssertEqual("\(e)", "command line: --osc-port must be an integer, not x")
        }
    }

    func testConfigFileEditorSetsLearnedMappingsAndKeepsTheRest() {
        let empty = ConfigFileEditor.settingControllerMapping(key: "74", target: "latent 2", in: "")
        XCTAssertTrue(empty.contains("[cc]") && empty.contains("74 = \"latent 2\""))
        let text = """
            # my synth
            gain_db = -3
            [cc]
            1 = "morph"
            74 = "latent 0"   # old
            [other]
            x = 1
            """
        let replaced = ConfigFileEditor.settingControllerMapping(key: "74", target: "reverb", in: text)
        XCTAssertTrue(replaced.contains("74 = \"reverb\""))
        XCTAssertFalse(replaced.contains("latent 0"))
        XCTAssertTrue(replaced.contains("# my synth") && replaced.contains("1 = \"morph\"") && replaced.contains("[other]"))
        let added = ConfigFileEditor.settingControllerMapping(key: "21", target: "pad_x", in: text)
        let lines = added.split(separator: "\n").map(String.init)
        let i = lines.firstIndex(of: "21 = \"pad_x\"")
        XCTAssertNotNil(i)
        XCTAssertLessThan(i!, lines.firstIndex(of: "[other]")!, "added outside the [cc] table")
        var s = DaemonSettings(configPath: "c.toml")
        XCTAssertNoThrow(try s.merge(configText: added, path: "c.toml"))
        XCTAssertEqual(s.controllerMap["21"], "pad_x")
    }
}
