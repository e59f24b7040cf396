/// Why a model file was refused. Every message starts with the file's path and names the tensor
/// or metadata key at fault, e.g.
/// `models/x.safetensors: tensor decoder.gru.weight_ih: expected shape [576, 384], found [576, 380]`.
public enum ModelError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be read at all (missing, permissions…).
    case unreadable(path: String, reason: String)
    /// The bytes are not a safetensors file (too short, header not JSON, malformed entries).
    case notSafetensors(path: String, reason: String)
    /// The header promises more bytes than the file holds.
    case truncated(path: String, section: String, expectedBytes: Int, foundBytes: Int)
    /// `__metadata__.format` is not `timbred-ddsp` (nil: absent).
    case wrongFormat(path: String, found: String?)
    /// `__metadata__.format_version` is not one this build reads (nil: absent).
    case unknownFormatVersion(path: String, found: String?, supported: Int)
    /// A required metadata key is absent.
    case missingMetadata(path: String, key: String)
    /// A metadata value (or a field of the `config` JSON) is malformed or out of range.
    case badMetadata(path: String, key: String, reason: String)
    /// A tensor the configuration implies is absent.
    case missingTensor(path: String, name: String)
    /// A tensor is not F32.
    case wrongDType(path: String, name: String, found: String)
    /// A tensor's shape differs from the one the configuration implies.
    case wrongShape(path: String, name: String, expected: [Int], found: [Int])
    /// A tensor's data offsets do not fit its shape and dtype.
    case badTensorData(path: String, name: String, reason: String)
    /// A tensor holds NaN or infinity.
    case nonFinite(path: String, name: String, index: Int)

    /// The path of the file at fault.
    public var path: String {
        switch self {
        case .unreadable(let p, _), .notSafetensors(let p, _), .truncated(let p, _, _, _), .wrongFormat(let p, _),
             .unknownFormatVersion(let p, _, _), .missingMetadata(let p, _), .badMetadata(let p, _, _),
             .missingTensor(let p, _), .wrongDType(let p, _, _), .wrongShape(let p, _, _, _),
             .badTensorData(let p, _, _), .nonFinite(let p, _, _):
            return p
        }
    }

    /// One line: the path, then the problem.
    public var description: String {
        switch self {
        case .unreadable(let p, let reason):
            return "\(p): cannot read the file (\(reason))"
        case .notSafetensors(let p, let reason):
            return "\(p): not a safetensors file (\(reason))"
        case .truncated(let p, let section, let expected, let found):
            return "\(p): truncated (header says \(expected) bytes of \(section), file has \(found))"
        case .wrongFormat(let p, let found):
            if let found { return "\(p): format \"\(found)\" is not a timbred model (expected \"timbred-ddsp\")" }
            return "\(p): no \"format\" in the metadata: not a timbred model (expected \"timbred-ddsp\")"
        case .unknownFormatVersion(let p, let found, let supported):
            if let found { return "\(p): unknown format_version \(found) (this timbred reads 1 to \(supported))" }
            return "\(p): no format_version in the metadata (this timbred reads 1 to \(supported))"
        case .missingMetadata(let p, let key):
            return "\(p): metadata \(key) is missing"
        case .badMetadata(let p, let key, let reason):
            return "\(p): metadata \(key): \(reason)"
        case .missingTensor(let p, let name):
            return "\(p): tensor \(name) is missing"
        case .wrongDType(let p, let name, let found):
            return "\(p): tensor \(name): expected dtype F32, found \(found)"
        case .wrongShape(let p, let name, let expected, let found):
            return "\(p): tensor \(name): expected shape \(expected), found \(found)"
        case .badTensorData(let p, let name, let reason):
            return "\(p): tensor \(name): \(reason)"
        case .nonFinite(let p, let name, let index):
            return "\(p): tensor \(name) contains NaN/Inf (first at flat index \(index))"
        }
    }
}
