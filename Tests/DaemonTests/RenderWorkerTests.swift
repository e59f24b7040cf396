import Foundation
import TestSupport
import XCTest

/// `timbred render` writes the same file with and without the decode worker (`--decoder-thread`),
/// at JACK-like and larger periods, for music with notes, pedals, bends, controllers and program
/// changes (LiveEqualsOfflineTests' file).
final class RenderWorkerTests: XCTestCase {
    func testRenderWritesTheSameFileWithAndWithoutTheWorker() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: Fixtures.timbredBinary), "timbred binary not built")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("timbred-render-worker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let midi = folder.appendingPathComponent("music.mid").path
        try Data(LiveEqualsOfflineTests.midiFile()).write(to: URL(fileURLWithPath: midi))
        func render(period: Int, worker: Bool) throws -> Data {
            let wav = folder.appendingPathComponent("out-\(period)-\(worker).wav").path
            let (status, output) = try Fixtures.runTimbred(
                ["render", midi, "-o", wav, "--model", Fixtures.smallModel, "--period", String(period),
                 "--rate", "48000", "--tail", "1", "--decoder-thread", worker ? "true" : "false"],
                configHome: folder.path)  // no config file
            XCTAssertEqual(status, 0, output)
            return try Data(contentsOf: URL(fileURLWithPath: wav))
        }
        for period in [64, 256, 1024] {
            let off = try render(period: period, worker: false)
            let on = try render(period: period, worker: true)
            XCTAssertGreaterThan(off.count, 100_000)
            XCTAssertEqual(on, off, "\(period)-frame blocks: the worker changed the rendered file")
        }
    }
}

/// `timbred render --latent` takes a point whose first value is negative, as typed.
final class RenderLatentOptionTests: XCTestCase {
    func testALatentPointMayStartWithAMinusSign() throws {
        let folder = URL(fileURLWithPath: Fixtures.temporaryFolder())
        defer { try? FileManager.default.removeItem(at: folder) }
        func render(_ latent: [String]) throws -> Data {
            let wav = folder.appendingPathComponent("latent-\(latent.joined()).wav").path
            let (status, output) = try Fixtures.runTimbred(
                ["render", "--note", "60", "--seconds", "0.3", "--tail", "0", "-o", wav, "--model", Fixtures.smallModel] + latent,
                configHome: folder.path)  // no config file
            XCTAssertEqual(status, 0, output)
            return (try? Data(contentsOf: URL(fileURLWithPath: wav))) ?? Data()
        }
        let spaced = try render(["--latent", "-0.8,0.3,-1.2,0.5"])
        XCTAssertGreaterThan(spaced.count, 10_000)
        XCTAssertEqual(spaced, try render(["--latent=-0.8,0.3,-1.2,0.5"]))
        XCTAssertNotEqual(spaced, try render(["--latent", "0.8,0.3,-1.2,0.5"]), "the sign must reach the engine")
    }
}
