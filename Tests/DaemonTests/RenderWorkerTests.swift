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
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Fixtures.timbredBinary)
            p.arguments = ["render", midi, "-o", wav, "--model", Fixtures.smallModel, "--period", String(period),
                           "--rate", "48000", "--tail", "1", "--decoder-thread", worker ? "true" : "false"]
            var env = ProcessInfo.processInfo.environment
            env["XDG_CONFIG_HOME"] = folder.path  // no config file
            p.environment = env
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = pipe
            try p.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, output)
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
