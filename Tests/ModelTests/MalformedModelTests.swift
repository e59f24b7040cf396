import Foundation
import Model
import TestSupport
import XCTest

/// Malformed variants of small.safetensors, written to a temporary directory and loaded by path:
/// each must be refused with a message that names the file and the problem.
final class MalformedModelTests: XCTestCase {
    var directory: URL!
    var original = Data()

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("timbred-model-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.smallModel))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Helpers

    /// Writes `bytes` as `name` in the temporary directory and returns the load error's message.
    func refusal(_ name: String, _ bytes: Data, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let url = directory.appendingPathComponent(name)
        try bytes.write(to: url)
        do {
            _ = try TimbreModel(contentsOf: url.path)
            XCTFail("\(name) was accepted", file: file, line: line)
            return ""
        } catch {
            XCTAssertEqual(error.path, url.path, file: file, line: line)
            let text = error.description
            XCTAssertTrue(text.hasPrefix(url.path + ": "), "message does not start with the path: \(text)",
                          file: file, line: line)
            return String(text.dropFirst(url.path.count + 2))
        }
    }

    var headerLength: Int {
        var n = 0
        for i in 0..<8 { n |= Int(original[i]) << (8 * i) }
        return n
    }

    /// The small model with its JSON header rewritten by `edit` (data section unchanged).
    func editedHeader(_ edit: (inout [String: Any]) -> Void) throws -> Data {
        let n = headerLength
        var header = try XCTUnwrap(JSONSerialization.jsonObject(with: original.subdata(in: 8 ..< 8 + n)) as? [String: Any])
        edit(&header)
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(original.subdata(in: 8 + n ..< original.count))
        return out
    }

    /// Edits one entry of the `__metadata__`.
    func editedMetadata(_ key: String, _ value: String?) throws -> Data {
        try editedHeader { header in
            var meta = header["__metadata__"] as! [String: Any]
            meta[key] = value
            header["__metadata__"] = meta
        }
    }

    // MARK: Cases

    func testTheUneditedCopyLoads() throws {
        // Sanity: the rewriting itself yields a valid model.
        let url = directory.appendingPathComponent("same.safetensors")
        try editedHeader { _ in }.write(to: url)
        XCTAssertNoThrow(try TimbreModel(contentsOf: url.path))
    }

    func testTruncatedFile() throws {
        let cut = original.prefix(original.count - 264)
        let dataBytes = original.count - 8 - headerLength
        XCTAssertEqual(try refusal("truncated.safetensors", cut),
                       "truncated (header says \(dataBytes) bytes of data, file has \(dataBytes - 264))")
        XCTAssertEqual(try refusal("header-cut.safetensors", original.prefix(100)),
                       "truncated (header says \(headerLength) bytes of header, file has 92)")
    }

    func testWrongShape() throws {
        let bytes = try editedHeader { header in
            var entry = header["decoder.gru.weight_ih"] as! [String: Any]
            let offsets = entry["data_offsets"] as! [Int]
            entry["shape"] = [72, 47]
            entry["data_offsets"] = [offsets[0], offsets[0] + 72 * 47 * 4]
            header["decoder.gru.weight_ih"] = entry
        }
        XCTAssertEqual(try refusal("shape.safetensors", bytes),
                       "tensor decoder.gru.weight_ih: expected shape [72, 64], found [72, 47]")
    }

    func testShapeThatDisagreesWithItsData() throws {
        let bytes = try editedHeader { header in
            var entry = header["decoder.out.bias"] as! [String: Any]
            let offsets = entry["data_offsets"] as! [Int]
            entry["data_offsets"] = [offsets[0], offsets[0] + 40]
            header["decoder.out.bias"] = entry
        }
        let message = try refusal("offsets.safetensors", bytes)
        XCTAssertTrue(message.hasPrefix("tensor decoder.out.bias: data_offsets"), message)
        XCTAssertTrue(message.hasSuffix("hold 40 bytes, shape [42] of F32 needs 168"), message)
    }

    func testNaNWeight() throws {
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: original.subdata(in: 8 ..< 8 + headerLength))
            as? [String: Any])
        let entry = try XCTUnwrap(json["decoder.out.bias"] as? [String: Any])
        let start = 8 + headerLength + (entry["data_offsets"] as! [Int])[0]
        var bytes = original
        let index = 5
        for (i, b) in [UInt8](arrayLiteral: 0x00, 0x00, 0xC0, 0x7F).enumerated() { bytes[start + 4 * index + i] = b }
        XCTAssertEqual(try refusal("nan.safetensors", bytes),
                       "tensor decoder.out.bias contains NaN/Inf (first at flat index 5)")
        // Infinity too.
        for (i, b) in [UInt8](arrayLiteral: 0x00, 0x00, 0x80, 0xFF).enumerated() { bytes[start + 4 * index + i] = b }
        XCTAssertEqual(try refusal("inf.safetensors", bytes),
                       "tensor decoder.out.bias contains NaN/Inf (first at flat index 5)")
    }

    func testUnknownFormatVersion() throws {
        XCTAssertEqual(try refusal("v7.safetensors", try editedMetadata("format_version", "7")),
                       "unknown format_version 7 (this timbred reads 1 to 2)")
        XCTAssertEqual(try refusal("v-none.safetensors", try editedMetadata("format_version", nil)),
                       "no format_version in the metadata (this timbred reads 1 to 2)")
    }

    func testWrongFormatName() throws {
        XCTAssertEqual(try refusal("format.safetensors", try editedMetadata("format", "something-else")),
                       "format \"something-else\" is not a timbred model (expected \"timbred-ddsp\")")
    }

    func testWrongDType() throws {
        let bytes = try editedHeader { header in
            var entry = header["decoder.z_mlp.layers.0.dense.weight"] as! [String: Any]
            entry["dtype"] = "F16"
            header["decoder.z_mlp.layers.0.dense.weight"] = entry
        }
        XCTAssertEqual(try refusal("dtype.safetensors", bytes),
                       "tensor decoder.z_mlp.layers.0.dense.weight: expected dtype F32, found F16")
    }

    func testMissingTensor() throws {
        let bytes = try editedHeader { $0["latent.means"] = nil }
        XCTAssertEqual(try refusal("missing.safetensors", bytes), "tensor latent.means is missing")
    }

    func testGarbageHeader() throws {
        var bytes = original
        for i in 8 ..< 8 + 64 { bytes[i] = UInt8(truncatingIfNeeded: i &* 37) }
        XCTAssertEqual(try refusal("garbage.safetensors", bytes), "not a safetensors file (header is not valid JSON)")
        XCTAssertEqual(try refusal("tiny.safetensors", Data([1, 2, 3])),
                       "not a safetensors file (file is 3 bytes, shorter than the 8-byte header length)")
        var huge = original
        for i in 0..<8 { huge[i] = 0x7F }
        XCTAssertEqual(try refusal("huge.safetensors", huge),
                       "not a safetensors file (header length 9187201950435737471 is implausible)")
    }

    func testMissingFile() throws {
        let path = directory.appendingPathComponent("absent.safetensors").path
        XCTAssertThrowsError(try TimbreModel(contentsOf: path)) { error in
            XCTAssertEqual((error as? ModelError)?.description, "\(path): cannot read the file (no such file)")
        }
    }

    func testBadConfig() throws {
        XCTAssertEqual(try refusal("config-json.safetensors", try editedMetadata("config", "{not json")),
                       "metadata config: not valid JSON")
        XCTAssertEqual(try refusal("config-none.safetensors", try editedMetadata("config", nil)),
                       "metadata config is missing")
        // A config that implies other sizes than the tensors have: the first tensor that differs is named.
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: original.subdata(in: 8 ..< 8 + headerLength))
            as? [String: Any])
        let configText = try XCTUnwrap((json["__metadata__"] as? [String: Any])?["config"] as? String)
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(configText.utf8)) as? [String: Any])
        config["gru_units"] = 32
        let text = String(decoding: try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]), as: UTF8.self)
        XCTAssertEqual(try refusal("config-gru.safetensors", try editedMetadata("config", text)),
                       "tensor decoder.gru.weight_ih: expected shape [96, 64], found [72, 64]")
        config["gru_units"] = 0
        let zero = String(decoding: try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]), as: UTF8.self)
        XCTAssertEqual(try refusal("config-zero.safetensors", try editedMetadata("config", zero)),
                       "metadata config.gru_units: must be ≥ 1, found 0")
        XCTAssertEqual(try refusal("scale.safetensors", try editedMetadata("envelope_blend_scale", "-1")),
                       "metadata envelope_blend_scale: expected a positive number, found \"-1\"")
        XCTAssertEqual(try refusal("rule.safetensors", try editedMetadata("envelope_blend", "cubic")),
                       "metadata envelope_blend: expected \"gaussian\" or \"inverse_distance\", found \"cubic\"")
    }

    /// The small model with its `config` JSON edited by `edit`.
    func editedConfig(_ edit: (inout [String: Any]) -> Void) throws -> Data {
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: original.subdata(in: 8 ..< 8 + headerLength))
            as? [String: Any])
        let configText = try XCTUnwrap((json["__metadata__"] as? [String: Any])?["config"] as? String)
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(configText.utf8)) as? [String: Any])
        edit(&config)
        let text = String(decoding: try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]), as: UTF8.self)
        return try editedMetadata("config", text)
    }

    /// Sizes that overflowed Int (trap) or asked for billions of tensor names (out of memory) before
    /// the loader bounded them; found with the model fuzzer's harness (Fuzz/corpus/model/crash-*, oom-*).
    func testHugeConfigSizesAreRefusedNotTrapped() throws {
        XCTAssertEqual(try refusal("reverb.safetensors", try editedConfig { $0["reverb_seconds"] = 1e300 }),
                       "metadata config.reverb_seconds: gives more than 16777216 samples or frames")
        XCTAssertEqual(try refusal("hold.safetensors", try editedConfig { $0["env_hold_s"] = 1e300 }),
                       "metadata config.env_hold_s: gives more than 16777216 samples or frames")
        XCTAssertEqual(try refusal("release.safetensors", try editedConfig { $0["env_release_s"] = 1e18 }),
                       "metadata config.env_release_s: gives more than 16777216 samples or frames")
        XCTAssertEqual(try refusal("bins.safetensors", try editedConfig {
            $0["enc_bins_per_octave"] = 999_999_999_999
            $0["enc_octaves_above"] = 999_999_999_999
        }), "metadata config.enc_bins_per_octave: must be ≤ 16777216, found 999999999999")
        XCTAssertEqual(try refusal("bins2.safetensors", try editedConfig {
            $0["enc_bins_per_octave"] = 1 << 24
            $0["enc_octaves_above"] = 1 << 24
        }), "metadata config.enc_octaves_below: octave counts must be ≥ 0 and give 1...16777216 bins")
        XCTAssertEqual(try refusal("layers.safetensors", try editedConfig { $0["mlp_layers"] = 100_000 }),
                       "metadata config.mlp_layers: must be ≤ 1024, found 100000")
        XCTAssertEqual(try refusal("units.safetensors", try editedConfig { $0["gru_units"] = 999_999_999_999 }),
                       "metadata config.gru_units: must be ≤ 16777216, found 999999999999")
    }

    /// A tensor shape whose element count overflows Int trapped in `SafetensorsFile.floats`.
    func testShapeWhoseSizeOverflowsIsRefused() throws {
        let bytes = try editedHeader { header in
            header["extra"] = ["dtype": "F32", "shape": [4_294_967_296, 4_294_967_296], "data_offsets": [0, 4]]
        }
        XCTAssertEqual(try refusal("shape.safetensors", bytes),
                       "not a safetensors file (header entry extra: shape [4294967296, 4294967296] is too large)")
    }
}
