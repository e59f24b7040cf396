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
