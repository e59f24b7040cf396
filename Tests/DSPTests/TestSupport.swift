// Helpers shared by the DSP tests: fixture loading, reference implementations, measurements.
import DSP
import Foundation
import TestSupport
import XCTest

/// Float32 tensors of a safetensors file (enough of the format for the test fixtures).
struct SafeTensors {
    let tensors: [String: (shape: [Int], values: [Float])]

    init(contentsOf url: URL) throws {
        let data = try Data(contentsOf: url)
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        let headerData = data.subdata(in: 8..<(8 + headerLength))
        let header = try JSONSerialization.jsonObject(with: headerData) as! [String: Any]
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        let dataStart = 8 + headerLength
        for (name, entry) in header where name != "__metadata__" {
            let info = entry as! [String: Any]
            guard info["dtype"] as? String == "F32" else { continue }
            let shape = info["shape"] as! [Int]
            let offsets = info["data_offsets"] as! [Int]
            let bytes = data.subdata(in: (dataStart + offsets[0])..<(dataStart + offsets[1]))
            let values = bytes.withUnsafeBytes { raw in
                (0..<(bytes.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            }
            tensors[name] = (shape, values)
        }
        self.tensors = tensors
    }

    subscript(_ name: String) -> [Float] {
        guard let tensor = tensors[name] else {
            XCTFail("fixture has no tensor \(name)")
            return []
        }
        return tensor.values
    }

    func shape(_ name: String) -> [Int] { tensors[name]?.shape ?? [] }

    /// The model's band limit (`band_limit_hz`, half its rate): 16 kHz for a fixture without it.
    var bandLimitHz: Float { tensors["band_limit_hz"]?.values.first ?? 16_000 }

    /// Rows of a 2-D tensor.
    func rows(_ name: String) -> [[Float]] {
        let shape = self.shape(name)
        let values = self[name]
        return (0..<shape[0]).map { Array(values[($0 * shape[1])..<(($0 + 1) * shape[1])]) }
    }

    static func fixture(_ name: String) throws -> SafeTensors {
        let url = Fixtures.directory.appendingPathComponent(name)
        return try SafeTensors(contentsOf: url)
    }
}

/// Root mean square of a signal.
func rms(_ x: [Float]) -> Double {
    guard !x.isEmpty else { return 0 }
    return (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)).squareRoot()
}

/// Largest absolute difference between two equally long signals.
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "lengths \(a.count) and \(b.count) differ")
    return zip(a, b).reduce(0.0) { max($0, abs(Double($1.0) - Double($1.1))) }
}

/// Renders frames of harmonic controls with a fresh bank, splitting each frame at `splits`
/// (positions inside the frame) so tests can compare block layouts. The last frame is held.
/// `inharmonicity` gives each frame's B (none: every frame harmonic, the bank's default).
func renderHarmonics(sampleRate: Double, hop: Int, f0Hz: [Double], amplitudes: [[Float]],
                     splits: [Int] = [], inharmonicity: [Double] = [],
                     bank existing: HarmonicOscillatorBank? = nil) -> [Float] {
    let k = amplitudes.first?.count ?? 0
    let bank = existing ?? HarmonicOscillatorBank(sampleRate: sampleRate, hop: hop, maxHarmonics: k)
    var output = [Float](repeating: 0, count: f0Hz.count * hop)
    let bounds = [0] + splits.filter { $0 > 0 && $0 < hop }.sorted() + [hop]
    output.withUnsafeMutableBufferPointer { out in
        for n in 0..<f0Hz.count {
            let next = min(n + 1, f0Hz.count - 1)
            amplitudes[n].withUnsafeBufferPointer { a0 in
                amplitudes[next].withUnsafeBufferPointer { a1 in
                    for s in 0..<(bounds.count - 1) where bounds[s] < bounds[s + 1] {
                        if inharmonicity.isEmpty {
                            bank.render(f0Hz: f0Hz[n], nextF0Hz: f0Hz[next], amplitudes: a0, nextAmplitudes: a1,
                                        samples: bounds[s]..<bounds[s + 1],
                                        addingInto: out.baseAddress! + n * hop + bounds[s])
                        } else {
                            bank.render(f0Hz: f0Hz[n], nextF0Hz: f0Hz[next], amplitudes: a0, nextAmplitudes: a1,
                                        inharmonicity: inharmonicity[n], samples: bounds[s]..<bounds[s + 1],
                                        addingInto: out.baseAddress! + n * hop + bounds[s])
                        }
                    }
                }
            }
        }
    }
    return output
}

/// The doc's harmonic synthesis evaluated directly in double precision (slow reference).
func referenceHarmonics(sampleRate: Double, hop: Int, f0Hz: [Double], amplitudes: [[Float]]) -> [Double] {
    var output = [Double](repeating: 0, count: f0Hz.count * hop)
    var phase = 0.0
    for n in 0..<f0Hz.count {
        let next = min(n + 1, f0Hz.count - 1)
        for m in 0..<hop {
            let fraction = Double(m) / Double(hop)
            var sum = 0.0
            for k in 0..<amplitudes[n].count {
                let a = Double(amplitudes[n][k]) + fraction * (Double(amplitudes[next][k]) - Double(amplitudes[n][k]))
                sum += a * sin(Double(k + 1) * phase)
            }
            output[n * hop + m] = sum
            phase += 2 * Double.pi * (f0Hz[n] + fraction * (f0Hz[next] - f0Hz[n])) / sampleRate
        }
    }
    return output
}

/// The stretched synthesis (docs/model-format.md, "Inharmonicity") evaluated directly in double
/// precision: partial k's phase accumulates `k sqrt(1 + B_n k²) f0(i) / R` with B of the sample's frame.
func referenceStretched(sampleRate: Double, hop: Int, f0Hz: [Double], amplitudes: [[Float]],
                        inharmonicity: [Double]) -> [Double] {
    var output = [Double](repeating: 0, count: f0Hz.count * hop)
    let k = amplitudes.first?.count ?? 0
    var phases = [Double](repeating: 0, count: k)  // cycles
    for n in 0..<f0Hz.count {
        let next = min(n + 1, f0Hz.count - 1)
        var ratios = [Double](repeating: 0, count: k)
        for j in 0..<k {
            let kd = Double(j + 1)
            ratios[j] = kd * (1 + inharmonicity[n] * kd * kd).squareRoot()
        }
        for m in 0..<hop {
            let fraction = Double(m) / Double(hop)
            var sum = 0.0
            for j in 0..<k {
                let a = Double(amplitudes[n][j]) + fraction * (Double(amplitudes[next][j]) - Double(amplitudes[n][j]))
                sum += a * sin(2 * Double.pi * phases[j])
            }
            output[n * hop + m] = sum
            let f0 = f0Hz[n] + fraction * (f0Hz[next] - f0Hz[n])
            for j in 0..<k {
                phases[j] += ratios[j] * f0 / sampleRate
                phases[j] -= phases[j].rounded(.down)
            }
        }
    }
    return output
}

/// Frequency of the dominant sinusoid near `nominalHz`, from the phase advance between the
/// Hann-weighted demodulations of the two halves of `x`.
func measureFrequency(_ x: [Float], sampleRate: Double, nominalHz: Double) -> Double {
    let half = x.count / 2
    func demodulate(_ start: Int) -> (Double, Double) {
        var re = 0.0, im = 0.0
        for i in 0..<half {
            let w = 0.5 - 0.5 * cos(2 * Double.pi * (Double(i) + 0.5) / Double(half))
            let angle = -2 * Double.pi * nominalHz * Double(start + i) / sampleRate
            re += w * Double(x[start + i]) * cos(angle)
            im += w * Double(x[start + i]) * sin(angle)
        }
        return (re, im)
    }
    let (ar, ai) = demodulate(0)
    let (br, bi) = demodulate(half)
    // Phase of B · conj(A).
    let delta = atan2(bi * ar - br * ai, br * ar + bi * ai)
    return nominalHz + delta / (2 * Double.pi) * sampleRate / Double(half)
}

/// Power spectrum (|X|², normalised so a full-scale bin of a unit sine reads 1) of `x` with a
/// Kaiser window, computed with the DSP module's FFT.
func kaiserPowerSpectrum(_ x: [Float], beta: Double = 16) -> [Double] {
    let n = x.count
    let fft = RealFFT(size: n)
    func i0(_ v: Double) -> Double {
        var sum = 1.0, term = 1.0, k = 1.0
        while term > 1e-17 * sum { term *= v * v / 4 / (k * k); sum += term; k += 1 }
        return sum
    }
    let norm = i0(beta)
    var windowSum = 0.0
    for i in 0..<n {
        let r = 2 * Double(i) / Double(n - 1) - 1
        let w = i0(beta * max(0, 1 - r * r).squareRoot()) / norm
        windowSum += w
        fft.samples[i] = Float(w * Double(x[i]))
    }
    fft.forward()
    let scale = 2 / windowSum
    return (0..<fft.binCount).map { j in
        let re = Double(fft.spectrum[2 * j]) * scale, im = Double(fft.spectrum[2 * j + 1]) * scale
        return re * re + im * im
    }
}
