import Foundation
import Model

/// Paths of the test fixtures (Tests/Fixtures) and of the shipped model (models/).
enum Fixtures {
    /// Tests/Fixtures, found from this file's path.
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// The repository root.
    static let repository = directory.deletingLastPathComponent().deletingLastPathComponent()
    static let smallModel = directory.appendingPathComponent("small.safetensors").path
    static let smallReference = directory.appendingPathComponent("small-reference.safetensors").path
    /// The shipped model's reference outputs; `TIMBRED_DEFAULT_REFERENCE` overrides the path.
    static let defaultReference = ProcessInfo.processInfo.environment["TIMBRED_DEFAULT_REFERENCE"]
        ?? directory.appendingPathComponent("default-reference.safetensors").path
    /// The shipped model (tests that need it skip when it is absent); `TIMBRED_DEFAULT_MODEL`
    /// overrides the path, e.g. to check a candidate model before it ships.
    static let defaultModel = ProcessInfo.processInfo.environment["TIMBRED_DEFAULT_MODEL"]
        ?? repository.appendingPathComponent("models/default.safetensors").path
}

/// Reference tensors written by training/timbred_train/export.py.
struct Reference {
    let file: SafetensorsFile

    init(_ path: String) throws {
        file = try SafetensorsFile(path: path)
    }

    /// The tensor's values (row-major).
    func values(_ name: String) throws -> [Float] { try file.floats(name) }

    /// The tensor's shape.
    func shape(_ name: String) -> [Int] { file.tensors[name]?.shape ?? [] }
}

/// Largest `|a - b| / max(1, |b|)` over the two arrays (infinity if their lengths differ).
func maxScaledError(_ a: [Float], _ b: [Float]) -> Double {
    guard a.count == b.count else { return .infinity }
    var worst = 0.0
    for (x, y) in zip(a, b) {
        let e = abs(Double(x) - Double(y)) / max(1, abs(Double(y)))
        worst = max(worst, e.isNaN ? .infinity : e)
    }
    return worst
}
