import CAllocCounter
import CRealtime
import DSP
import Foundation
import XCTest

/// The reverb's convolver alone, with a long impulse response whose every segment (64, 256 and
/// 1024-sample partitions) is in use: its real-time calls allocate nothing.
final class ReverbAllocationTests: XCTestCase {
    func testNonUniformConvolverDoesNotAllocate() {
        var noise = WhiteNoise(seed: 2)
        let ir = (0..<48_000).map { noise.next() * Float(exp(-5 * Double($0) / 48_000)) }
        let convolver = PartitionedConvolver(impulseResponse: ir, partitionSize: 64)
        XCTAssertEqual(convolver.segments.map(\.partitionSamples), [64, 256, 1_024])
        let capacity = 1_024
        let input = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
        let output = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
        defer { input.deallocate(); output.deallocate() }
        for i in 0..<capacity { input[i] = noise.next() }
        let sizes = [64, 1, 333, 1_024, 37, 64, 129]
        // warm up (first calls of every path), then count
        for k in 0..<100 { convolver.process(input, output: output, count: sizes[k % sizes.count]) }
        let before = timbred_alloc_count_thread()
        timbred_rt_enter()
        for k in 0..<1_200 {
            if k % 2 == 0 {
                convolver.process(input, output: output, count: sizes[k % sizes.count])
            } else {
                convolver.process(input, addingTo: output, count: sizes[k % sizes.count], gain: 0.5)
            }
            if k == 600 { convolver.reset() }
        }
        timbred_rt_exit()
        XCTAssertEqual(Int64(timbred_alloc_count_thread() - before), 0, "heap allocations in process/reset")
        XCTAssertTrue(output[0].isFinite)
        XCTAssertGreaterThan(timbred_alloc_count(), 0, "the allocation counter is not linked in")
    }
}
