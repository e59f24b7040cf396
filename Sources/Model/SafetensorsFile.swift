import Foundation

/// A parsed safetensors file: an 8-byte little-endian header length, a JSON header, tensor data.
///
/// Parsing checks the container only (header, entries, offsets within the file); what the tensors
/// must be is `TimbreModel`'s business.
public struct SafetensorsFile: Sendable {
    /// One tensor's header entry.
    public struct TensorInfo: Sendable, Equatable {
        /// Tensor name.
        public let name: String
        /// Element type as written (`F32`, `F16`, …).
        public let dtype: String
        /// Shape, outermost first.
        public let shape: [Int]
        /// Byte range relative to the start of the data section.
        public let dataOffsets: Range<Int>

        /// Number of elements (product of the shape; 1 for a scalar).
        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// The largest header this reader accepts (100 MB, as the safetensors reference does).
    public static let maxHeaderBytes = 100_000_000

    /// Path used in error messages.
    public let path: String
    /// `__metadata__`: string keys and values.
    public let metadata: [String: String]
    /// Header entries by tensor name.
    public let tensors: [String: TensorInfo]
    /// The whole file.
    let bytes: Data
    /// Offset of the data section in `bytes`.
    let dataStart: Int

    /// Reads and parses the file at `path`.
    public init(path: String) throws(ModelError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "\(error.localizedDescription)" : "no such file"
            throw .unreadable(path: path, reason: reason)
        }
        try self.init(path: path, bytes: data)
    }

    /// Parses `bytes` (the contents of a file); `path` is used in error messages.
    public init(path: String, bytes data: Data) throws(ModelError) {
        let bytes = Data(data)  // rebase indices at 0
        self.path = path
        self.bytes = bytes
        guard bytes.count >= 8 else {
            throw .notSafetensors(path: path, reason: "file is \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw .notSafetensors(path: path, reason: "header length \(headerLength) is implausible")
        }
        let headerCount = Int(headerLength)
        guard headerCount >= 2 else {
            throw .notSafetensors(path: path, reason: "header length \(headerCount) is too short for a JSON object")
        }
        guard bytes.count - 8 >= headerCount else {
            throw .truncated(path: path, section: "header", expectedBytes: headerCount, foundBytes: bytes.count - 8)
        }
        dataStart = 8 + headerCount
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: bytes.subdata(in: 8 ..< dataStart), options: [])
        } catch {
            throw .notSafetensors(path: path, reason: "header is not valid JSON")
        }
        guard let header = json as? [String: Any] else {
            throw .notSafetensors(path: path, reason: "header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var tensors: [String: TensorInfo] = [:]
        var dataEnd = 0
        for (name, value) in header {
            if name == "__metadata__" {
                guard let dict = value as? [String: Any] else {
                    throw .notSafetensors(path: path, reason: "__metadata__ is not a JSON object")
                }
                for (k, v) in dict {
                    guard let s = v as? String else {
                        throw .notSafetensors(path: path, reason: "__metadata__ value \(k) is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any],
                  let dtype = entry["dtype"] as? String,
                  let shapeAny = entry["shape"] as? [Any],
                  let offsetsAny = entry["data_offsets"] as? [Any] else {
                throw .notSafetensors(path: path, reason: "header entry \(name) lacks dtype, shape or data_offsets")
            }
            let shape = shapeAny.compactMap(Self.nonNegativeInt)
            let offsets = offsetsAny.compactMap(Self.nonNegativeInt)
            guard shape.count == shapeAny.count else {
                throw .notSafetensors(path: path, reason: "header entry \(name): shape is not a list of non-negative integers")
            }
            // A shape whose element or byte count overflows describes no data (and would trap in
            // `elementCount` and `floats`).
            var elements = 1
            for extent in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: extent)
                guard !overflow, product <= Int.max / 8 else {
                    throw .notSafetensors(path: path, reason: "header entry \(name): shape \(shape) is too large")
                }
                elements = product
            }
            guard offsets.count == 2, offsets[0] <= offsets[1], offsetsAny.count == 2 else {
                throw .notSafetensors(path: path, reason: "header entry \(name): data_offsets is not [begin, end]")
            }
            tensors[name] = TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: offsets[0] ..< offsets[1])
            dataEnd = max(dataEnd, offsets[1])
        }
        let available = bytes.count - dataStart
        guard dataEnd <= available else {
            throw .truncated(path: path, section: "data", expectedBytes: dataEnd, foundBytes: available)
        }
        self.metadata = metadata
        self.tensors = tensors
    }

    /// A JSON number that is a non-negative integer, else nil.
    private static func nonNegativeInt(_ value: Any) -> Int? {
        if let i = value as? Int { return i >= 0 ? i : nil }
        if let d = value as? Double, d >= 0, d == d.rounded(), d < 1e15 { return Int(d) }
        return nil
    }

    /// Bytes per element of the dtypes safetensors defines (nil: unknown).
    static func elementBytes(_ dtype: String) -> Int? {
        switch dtype {
        case "BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2": return 1
        case "I16", "U16", "F16", "BF16": return 2
        case "I32", "U32", "F32": return 4
        case "I64", "U64", "F64": return 8
        default: return nil
        }
    }

    /// The values of an F32 tensor, decoded from little-endian.
    ///
    /// Throws if the tensor is absent, is not F32, or its byte range does not match its shape.
    public func floats(_ name: String) throws(ModelError) -> [Float] {
        guard let info = tensors[name] else { throw .missingTensor(path: path, name: name) }
        guard info.dtype == "F32" else { throw .wrongDType(path: path, name: name, found: info.dtype) }
        let count = info.elementCount
        guard info.dataOffsets.count == 4 * count else {
            throw .badTensorData(path: path, name: name,
                                 reason: "data_offsets [\(info.dataOffsets.lowerBound), \(info.dataOffsets.upperBound)] "
                                     + "hold \(info.dataOffsets.count) bytes, shape \(info.shape) of F32 needs \(4 * count)")
        }
        let start = dataStart + info.dataOffsets.lowerBound
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBytes { raw in
                for i in 0..<count {
                    let bits = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self))
                    buffer[i] = Float(bitPattern: bits)
                }
            }
            initialized = count
        }
    }
}
