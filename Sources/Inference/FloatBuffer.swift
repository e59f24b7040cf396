/// A fixed-size, zero-initialised, 64-byte aligned float buffer owned by a layer or a workspace.
///
/// Allocated once at init; the real-time path only reads and writes through `pointer`.
final class FloatBuffer: @unchecked Sendable {
    /// Number of floats.
    let count: Int
    /// The storage (valid while the buffer lives).
    let pointer: UnsafeMutablePointer<Float>

    /// Allocates `count` zeroed floats (allocates; not real-time).
    init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    /// Allocates a copy of `values` (allocates; not real-time).
    convenience init(_ values: [Float]) {
        self.init(count: values.count)
        for (i, v) in values.enumerated() { pointer[i] = v }
    }

    deinit { pointer.deallocate() }

    /// A copy of floats `range` (allocates; for tests and diagnostics).
    func copy(_ range: Range<Int>) -> [Float] {
        Array(UnsafeBufferPointer(start: pointer + range.lowerBound, count: range.count))
    }
}
