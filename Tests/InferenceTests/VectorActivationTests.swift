import Foundation
import Inference
import XCTest

/// The branch-free activations against the C library's functions, over the ranges the decoder
/// feeds them (gate pre-activations, control logits).
final class VectorActivationTests: XCTestCase {
    /// Largest error of `vector` against `scalar` over `count` points from `lo` to `hi`:
    /// relative (|a-b| / |b|) or absolute.
    func worst(_ lo: Float, _ hi: Float, count: Int = 200_000, relative: Bool,
               _ fast: (Float) -> Float, _ scalar: (Double) -> Double) -> Double {
        var worst = 0.0
        for i in 0...count {
            let x = lo + (hi - lo) * Float(i) / Float(count)
            let want = scalar(Double(x)), got = Double(fast(x))
            worst = max(worst, relative ? abs(got - want) / max(abs(want), 1e-30) : abs(got - want))
        }
        return worst
    }

    func testExpAndLogAreWithinAFewUlp() {
        XCTAssertLessThan(worst(-87, 88, relative: true, VectorActivation.exp, Foundation.exp), 3e-7)
        XCTAssertLessThan(worst(1e-6, 1, relative: false, VectorActivation.log, Foundation.log), 1e-6)  // 4.8e-7 measured
        XCTAssertLessThan(worst(1, 1e6, relative: true, VectorActivation.log, Foundation.log), 2e-7)
    }

    func testGatesAndScalingMatchTheScalarForms() {
        XCTAssertLessThan(worst(-30, 30, relative: true, VectorActivation.sigmoid) { 1 / (1 + Foundation.exp(-$0)) }, 5e-7)
        XCTAssertLessThan(worst(-20, 20, relative: false, VectorActivation.tanh, Foundation.tanh), 3e-7)
        // exp_sigmoid spans 2 down to its 1e-7 floor: relative error where it is above the floor
        let expSigmoid: (Double) -> Double = { 2 * pow(1 / (1 + Foundation.exp(-$0)), 2.302585092994046) + 1e-7 }
        XCTAssertLessThan(worst(-12, 20, relative: true, VectorActivation.expSigmoid, expSigmoid), 3e-6)
        XCTAssertLessThan(worst(-40, -12, relative: false, VectorActivation.expSigmoid, expSigmoid), 1e-9)
    }

    /// Out of range inputs stay finite: exp saturates instead of overflowing, log of 0 is finite.
    func testExtremesStayFinite() {
        for x: Float in [-1e30, -200, -88, 88, 89, 200, 1e30, .greatestFiniteMagnitude] {
            XCTAssertTrue(VectorActivation.exp(x).isFinite, "exp(\(x))")
            XCTAssertTrue(VectorActivation.sigmoid(x).isFinite && VectorActivation.tanh(x).isFinite, "\(x)")
            XCTAssertTrue(VectorActivation.expSigmoid(x).isFinite, "exp_sigmoid(\(x))")
        }
        XCTAssertTrue(VectorActivation.log(0).isFinite)
        XCTAssertEqual(VectorActivation.tanh(100), 1)
        XCTAssertEqual(VectorActivation.expSigmoid(-100), 1e-7, accuracy: 1e-12)
    }

    /// The eight-lane versions (the GRU gates) give each lane the scalar function's exact bits.
    func testEightLanesAreBitIdenticalToScalar() {
        var xs: [Float] = [0, -0.0, 1e-8, -1e-8, 88, 88.5, -87.3, -88, -200, 200, .infinity, -.infinity]
        for i in 0..<40_000 { xs.append(-100 + 200 * Float(i) / 40_000) }
        for i in 0..<8_000 { xs.append(-6 + 12 * Float(i) / 8_000 + 1e-4) }
        while xs.count % 8 != 0 { xs.append(0.25) }
        for start in stride(from: 0, to: xs.count, by: 8) {
            let v = SIMD8<Float>((0..<8).map { xs[start + $0] })
            let e = VectorActivation8.exp(v), s = VectorActivation8.sigmoid(v), t = VectorActivation8.tanh(v)
            for lane in 0..<8 {
                let x = v[lane]
                XCTAssertEqual(e[lane].bitPattern, VectorActivation.exp(x).bitPattern, "exp(\(x))")
                XCTAssertEqual(s[lane].bitPattern, VectorActivation.sigmoid(x).bitPattern, "sigmoid(\(x))")
                XCTAssertEqual(t[lane].bitPattern, VectorActivation.tanh(x).bitPattern, "tanh(\(x))")
            }
        }
    }
}
