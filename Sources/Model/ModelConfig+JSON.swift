import Foundation
import ModelCore

extension ModelConfig {
    /// Decodes the `config` JSON text; `path` is used in error messages.
    public init(json text: String, path: String) throws(ModelError) {
        self.init()
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [])
        } catch {
            throw .badMetadata(path: path, key: "config", reason: "not valid JSON")
        }
        guard let dict = object as? [String: Any] else {
            throw .badMetadata(path: path, key: "config", reason: "not a JSON object")
        }
        var reader = ConfigReader(dict: dict, path: path)
        try reader.int("sample_rate", &sampleRate)
        try reader.int("frame_rate", &frameRate)
        try reader.int("n_harmonics", &harmonicCount)
        try reader.int("n_noise_bands", &noiseBandCount)
        try reader.int("z_dim", &zDim)
        try reader.int("mlp_units", &mlpUnits)
        try reader.int("mlp_layers", &mlpLayers)
        try reader.int("gru_units", &gruUnits)
        try reader.double("leaky_relu_slope", &leakyReLUSlope)
        try reader.double("layer_norm_eps", &layerNormEpsilon)
        try reader.double("noise_bias", &noiseBias)
        try reader.double("db_range", &dbRange)
        try reader.double("reverb_seconds", &reverbSeconds)
        try reader.doubles("note_on_taus_s", &noteOnTausSeconds)
        try reader.doubles("note_off_taus_s", &noteOffTausSeconds)
        try reader.int("enc_bins_per_octave", &encBinsPerOctave)
        try reader.int("enc_octaves_below", &encOctavesBelow)
        try reader.int("enc_octaves_above", &encOctavesAbove)
        try reader.int("enc_n_fft", &encFFTSize)
        try reader.doubles("enc_segments_s", &encSegmentsSeconds)
        try reader.int("enc_units", &encUnits)
        try reader.doubles("env_pitches", &envPitches)
        try reader.doubles("env_velocities", &envVelocities)
        try reader.double("env_hold_s", &envHoldSeconds)
        try reader.double("env_release_s", &envReleaseSeconds)
        try reader.strings("instruments", &instruments)
        try validate(path: path)
    }
}

/// Reads typed fields from the decoded `config` object, keeping defaults for absent keys.
private struct ConfigReader {
    let dict: [String: Any]
    let path: String

    func fail(_ key: String, _ reason: String) -> ModelError {
        .badMetadata(path: path, key: "config.\(key)", reason: reason)
    }

    static func number(_ value: Any) -> Double? {
        if let i = value as? Int { return Double(i) }
        if let d = value as? Double { return d }
        return nil
    }

    func int(_ key: String, _ out: inout Int) throws(ModelError) {
        guard let value = dict[key] else { return }
        guard let d = Self.number(value), d == d.rounded(), abs(d) < 1e12 else {
            throw fail(key, "expected an integer, found \(value)")
        }
        out = Int(d)
    }

    func double(_ key: String, _ out: inout Double) throws(ModelError) {
        guard let value = dict[key] else { return }
        guard let d = Self.number(value) else { throw fail(key, "expected a number, found \(value)") }
        out = d
    }

    func doubles(_ key: String, _ out: inout [Double]) throws(ModelError) {
        guard let value = dict[key] else { return }
        guard let list = value as? [Any] else { throw fail(key, "expected a list of numbers") }
        let values = list.compactMap(Self.number)
        guard values.count == list.count else { throw fail(key, "expected a list of numbers") }
        out = values
    }

    func strings(_ key: String, _ out: inout [String]) throws(ModelError) {
        guard let value = dict[key] else { return }
        guard let list = value as? [Any] else { throw fail(key, "expected a list of strings") }
        let values = list.compactMap { $0 as? String }
        guard values.count == list.count else { throw fail(key, "expected a list of strings") }
        out = values
    }
}
