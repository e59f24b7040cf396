import Control
import Foundation
import Model
import TestSupport
import XCTest

final class PresetLibraryTests: XCTestCase {
    var folder = ""
    var model: TimbreModel!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "presets-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        model = try TimbreModel(contentsOf: Fixtures.smallModel)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
    }

    func testInvalidPresetsAreSkippedWithOneLineNamingTheFile() throws {
        try write("a.toml", "name = \"A\"\ninstrument = \"a\"\nprogram = 0\n")
        try write("c.toml", "name = \"C\"\ninstrument = \"c\"\nprogram = 3\nbank = 1\n[cc]\n74 = \"latent 1\"\n")
        try write("x.toml", "name = \"X\"\ninstrument = \"kazoo\"\n")
        try write("y.toml", "name = \"Y\"\nlatent = [1, 2]\n")
        try write("z.toml", "name = \"Z\"\ninstrument = \"a\"\n[cc]\n74 = \"latent 9\"\n")
        try write("w.toml", "name = Z\n")
        let library = PresetLibrary(folders: [folder], model: model)
        let problems = library.reload()
        XCTAssertEqual(library.presets.map(\.name), ["A", "C"])
        XCTAssertEqual(problems.count, 4, "\(problems)")
        for file in ["x.toml", "y.toml", "z.toml", "w.toml"] {
            XCTAssertEqual(problems.filter { $0.contains(file) }.count, 1, "\(file): \(problems)")
        }
        XCTAssertTrue(problems.contains { $0.contains("kazoo") })
        XCTAssertTrue(problems.contains { $0.contains("latent has 2 values") })
        XCTAssertEqual(library.preset(bank: 0, program: 0)?.name, "A")
        XCTAssertEqual(library.preset(bank: 1, program: 3)?.name, "C")
        XCTAssertEqual(library.preset(bank: 1, program: 0)?.name, "C", "program N = N-th preset of the bank when none has that number")
        XCTAssertNil(library.preset(bank: 0, program: 5))
        XCTAssertEqual(library.find("c")?.controllerMap, ["74": "latent 1"])
    }

    func testInstrumentsServeAsPresetsWhenNoFileIsUsable() {
        let library = PresetLibrary(folders: [folder], model: model)
        library.reload()
        XCTAssertEqual(library.presets.map(\.name), model.instrumentNames)
        XCTAssertTrue(library.presets.allSatisfy(\.isBuiltIn))
        XCTAssertEqual(library.preset(bank: 0, program: 2)?.point, model.latentMeans[2])
    }

    func testChangesAreDetected() throws {
        try write("a.toml", "name = \"A\"\ninstrument = \"a\"\n")
        let library = PresetLibrary(folders: [folder], model: model)
        library.reload()
        XCTAssertFalse(library.hasChanged())
        try write("b.toml", "name = \"B\"\ninstrument = \"b\"\n")
        XCTAssertTrue(library.hasChanged())
        library.reload()
        XCTAssertEqual(library.presets.count, 2)
    }
}
