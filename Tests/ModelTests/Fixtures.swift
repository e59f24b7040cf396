import Foundation
import Model

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
