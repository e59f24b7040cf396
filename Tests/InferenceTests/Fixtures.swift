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

    /// Row `row` of a 2-D tensor.
    func row(_ name: String, _ row: Int) throws -> [Float] {
        let width = shape(name).dropFirst().reduce(1, *)
        return Array(try values(name)[row * width ..< (row + 1) * width])
    }
}

/// Largest `|a - b| / max(1, |b|)` over the two arrays (infinity if their lengths differ or NaN).
func maxScaledError(_ a: [Float], _ b: [Float]) -> Double {
    guard a.count == b.count else { return .infinity }
    var worst = 0.0
    for (x, y) in zip(a, b) {
        let e = abs(Double(x) - Double(y)) / max(1, abs(Double(y)))
        worst = max(worst, e.isNaN ? .infinity : e)
    }
    return worst
}

/// Largest `|a - b| / (|b| + floor)`: relative error, with `floor` for values near 0.
func maxRelativeError(_ a: [Float], _ b: [Float], floor: Double = 1e-6) -> Double {
    guard a.count == b.count else { return .infinity }
    var worst = 0.0
    for (x, y) in zip(a, b) {
        let e = abs(Double(x) - Double(y)) / (abs(Double(y)) + floor)
        worst = max(worst, e.isNaN ? .infinity : e)
    }
    return worst
}
