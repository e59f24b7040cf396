// Helpers every test target shares (a regular target under Tests/, used only by test targets):
// where the fixtures, the shipped model and the built binary are, and temporary folders.
import Foundation

/// Paths of the test fixtures (Tests/Fixtures, written by training/timbred_train/export.py), of
/// the shipped model (models/) and of the `timbred` binary built with the tests.
public enum Fixtures {
    /// Tests/Fixtures, found from this file's path (Tests/TestSupport/Fixtures.swift).
    public static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// The repository root.
    public static let repository = directory.deletingLastPathComponent().deletingLastPathComponent()

    /// The small test model.
    public static let smallModel = directory.appendingPathComponent("small.safetensors").path
    /// The small model's reference outputs (inputs, activations, outputs).
    public static let smallReference = directory.appendingPathComponent("small-reference.safetensors").path
    /// The trainer's analysis of three held-out notes (`write_analysis_fixture`).
    public static let analysisReference = directory.appendingPathComponent("analysis-reference.safetensors").path
    /// The shipped model's reference outputs; `TIMBRED_DEFAULT_REFERENCE` overrides the path.
    public static let defaultReference = ProcessInfo.processInfo.environment["TIMBRED_DEFAULT_REFERENCE"]
        ?? directory.appendingPathComponent("default-reference.safetensors").path
    /// The shipped model (tests that need it skip when it is absent); `TIMBRED_DEFAULT_MODEL`
    /// overrides the path, e.g. to check a candidate model before it ships.
    public static let defaultModel = ProcessInfo.processInfo.environment["TIMBRED_DEFAULT_MODEL"]
        ?? repository.appendingPathComponent("models/default.safetensors").path

    /// The timbred binary built with the tests (the test bundle lives in the build folder next to
    /// it); `TIMBRED_BINARY` overrides.
    public static var timbredBinary: String {
        if let given = ProcessInfo.processInfo.environment["TIMBRED_BINARY"] { return given }
        var folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("timbred").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return repository.path + "/.build/debug/timbred"
    }

    /// Runs the built `timbred` with `arguments`, its config home `configHome` (no config file
    /// unless the test wrote one there) and working folder `workingFolder`, and returns its exit
    /// status and everything it printed (stdout and stderr together).
    public static func runTimbred(_ arguments: [String], configHome: String,
                                  workingFolder: String? = nil) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: timbredBinary)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["XDG_CONFIG_HOME"] = configHome
        p.environment = env
        if let workingFolder { p.currentDirectoryURL = URL(fileURLWithPath: workingFolder) }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, output)
    }

    /// A fresh temporary folder, created (`prefix`, then a UUID).
    public static func temporaryFolder(prefix: String = "timbre-tests-") -> String {
        let path = NSTemporaryDirectory() + prefix + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
