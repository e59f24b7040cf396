import Foundation
import Model
import TestSupport
import XCTest

final class ModelLoadingTests: XCTestCase {
    func testLoadsTheSmallModel() throws {
        let model = try TimbreModel(contentsOf: Fixtures.smallModel)
        let c = model.config
        XCTAssertEqual(c.sampleRate, 32000)
        XCTAssertEqual(c.frameRate, 100)
        XCTAssertEqual(c.harmonicCount, 24)
        XCTAssertEqual(c.noiseBandCount, 17)
        XCTAssertEqual(c.zDim, 4)
        XCTAssertEqual(c.mlpUnits, 16)
        XCTAssertEqual(c.mlpLayers, 2)
        XCTAssertEqual(c.gruUnits, 24)
        XCTAssertEqual(c.encUnits, 16)
        XCTAssertEqual(c.encFeatureCount, 580)
        XCTAssertEqual(c.envPitches, [36, 60, 84])
        XCTAssertEqual(c.envVelocities, [40, 120])
        XCTAssertEqual(c.holdFrameCount, 50)
        XCTAssertEqual(c.releaseFrameCount, 30)
        XCTAssertEqual(c.reverbLength, 1600)
        XCTAssertEqual(c.leakyReLUSlope, 0.2)
        XCTAssertEqual(c.layerNormEpsilon, 1e-5)
        XCTAssertEqual(c.noiseBias, -5)
        XCTAssertEqual(c.dbRange, 120)
        XCTAssertEqual(c.bandLimitHz, 16000)
        XCTAssertEqual(model.instrumentNames, ["a", "b", "c"])
        XCTAssertEqual(model.latentMeans.count, 3)
        XCTAssertEqual(model.latentMeans[0].count, 4)
        XCTAssertEqual(model.latentLogvars.count, 3)
        XCTAssertEqual(model.reverbIR.count, 1600)
        XCTAssertEqual(model.reverbIR[0], 0)
        XCTAssertEqual(model.envelopeBlendScale, 1.6247472763061523)
        XCTAssertEqual(model.unexpectedTensorNames, [])
        XCTAssertEqual(model.provenance, "{\"fixture\": true}")
        XCTAssertEqual(model.decoderWeights.rawCount, 42)
        XCTAssertEqual(model.encoderWeights.zDim, 4)
        XCTAssertEqual(model.instrumentIndex(named: "b"), 1)

        // The model's reverb IR is the one the reference used.
        let reference = try Reference(Fixtures.smallReference)
        XCTAssertEqual(model.reverbIR, try reference.values("reverb.ir"))
    }

    func testExpectedTensorsAreExactlyTheExportedOnes() throws {
        let file = try SafetensorsFile(path: Fixtures.smallModel)
        let model = try TimbreModel(file: file)
        let expected = TimbreModel.expectedTensors(for: model.config)
        XCTAssertEqual(Set(expected.map(\.name)), Set(file.tensors.keys))
        XCTAssertEqual(expected.count, file.tensors.count)
        for spec in expected { XCTAssertEqual(file.tensors[spec.name]?.shape, spec.shape, spec.name) }
    }

    func testConfigDefaultsMatchTheDocument() throws {
        let c = try ModelConfig(json: "{\"instruments\": [\"piano\"]}", path: "x")
        XCTAssertEqual(c.sampleRate, 32000)
        XCTAssertEqual(c.harmonicCount, 100)
        XCTAssertEqual(c.noiseBandCount, 65)
        XCTAssertEqual(c.zDim, 8)
        XCTAssertEqual(c.gruUnits, 192)
        XCTAssertEqual(c.rawCount, 166)
        XCTAssertEqual(c.encBins, 144)
        XCTAssertEqual(c.encFeatureCount, 580)
        XCTAssertEqual(c.holdFrameCount, 300)
        XCTAssertEqual(c.envVelocities, [16, 40, 80, 120, 127])
        XCTAssertEqual(c.noteInputCount, 12)
        XCTAssertEqual(c.releaseFrameCount, 100)
        XCTAssertEqual(c.reverbLength, 32000)
        XCTAssertEqual(c.hopSamples, 320)
    }

    func testDefaultModelLoadsIfPresent() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.defaultModel) else {
            throw XCTSkip("models/default.safetensors is absent (the shipped model is exported later): skipped")
        }
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        XCTAssertFalse(model.instrumentNames.isEmpty)
        XCTAssertEqual(model.latentMeans.count, model.instrumentNames.count)
        XCTAssertEqual(model.unexpectedTensorNames, [])
    }
}
