import Foundation
import Model
import TestSupport
import Timbre
import XCTest

final class TimbreSpaceTests: XCTestCase {
    func testCombiningPosteriorsIsTheirPrecisionWeightedMean() {
        // two encodings: one sure (var 0.01) at 1, one unsure (var 1) at 0 → mean 1/1.01·(100·1) / 101
        let (mean, variance) = TimbreSpace.combine(means: [[1, 2], [0, 2]], logvars: [[log(0.01), 0], [0, 0]])
        XCTAssertEqual(Double(mean[0]), 100.0 / 101.0, accuracy: 1e-6)
        XCTAssertEqual(Double(variance[0]), 1 / 101.0, accuracy: 1e-7)
        XCTAssertEqual(mean[1], 2, accuracy: 1e-6)
        XCTAssertEqual(variance[1], 0.5, accuracy: 1e-6)
    }

    func testNeighboursAndFarOutside() throws {
        let model = try TimbreModel(contentsOf: Fixtures.defaultModel)
        let space = TimbreSpace(model: model)
        for (k, mean) in model.latentMeans.enumerated() {
            let near = space.neighbours(of: mean)
            XCTAssertEqual(near[0].instrument, model.instrumentNames[k])
            XCTAssertEqual(near[0].distance, 0, accuracy: 1e-6)
            XCTAssertFalse(space.isFarOutside(mean))
        }
        let far = model.latentMeans[0].map { $0 + Float(3 * space.typicalSpacing) }
        XCTAssertTrue(space.isFarOutside(far))
    }

    func testProjectionKeepsTheMostSpreadAndIsDeterministic() throws {
        // points spread along (1, 1, 0) most, then along (0, 0, 1)
        let points: [[Double]] = [[2, 2, 0], [-2, -2, 0], [0, 0, 1], [0, 0, -1]]
        let p = Projection(points: points)
        XCTAssertEqual(p.axes[0][0], 1 / 2.0.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(p.axes[0][1], 1 / 2.0.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(abs(p.axes[1][2]), 1, accuracy: 1e-9)
        XCTAssertEqual(p.explained[0], 16.0 / 18.0, accuracy: 1e-9)
        let xy = p.project([2, 2, 0])
        XCTAssertEqual(xy.x, 8.0.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(xy.y, 0, accuracy: 1e-9)
    }
}
