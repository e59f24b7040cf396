// Proves that the real-time paths of the MIDI module do not allocate. Needs the CAllocCounter
// malloc interposer; compiled only when MIDITests can import it.
#if canImport(CAllocCounter)
import CAllocCounter
import MIDI
import TestSupport
import XCTest

final class AllocationTests: XCTestCase {
    func testDecodingAndControllerUpdatesDoNotAllocate() {
        var generator = SeededGenerator(seed: 99)
        var bytes = (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes += [0xF0, 1, 2, 3, 0xF7, 0xE0, 0, 0x40, 0xB0, 101, 0, 100, 0, 6, 12, 121, 0]
        var decoder = MIDIByteDecoder(maximumSysExByteCount: 512)
        var states = [ControllerState](repeating: ControllerState(), count: 16)
        var eventCount = 0
        var payloadByteCount = 0
        bytes.withUnsafeBufferPointer { buffer in
            func decode(_ bytes: UnsafeBufferPointer<UInt8>) {
                states.withUnsafeMutableBufferPointer { channels in
                    decoder.feed(bytes) { event, payload in
                        eventCount += 1
                        payloadByteCount += payload.count
                        if let channel = event.channel {
                            _ = channels[Int(channel)].apply(event)
                        }
                    }
                }
            }
            // Warm up (generic metadata is instantiated on first use), then measure.
            let warmUp: [UInt8] = [0x90, 60, 100, 0xF0, 1, 0xF7, 0xB0, 101, 0, 6, 1, 121, 0, 0xE0, 0, 0x40]
            warmUp.withUnsafeBufferPointer { decode($0) }
            eventCount = 0
            payloadByteCount = 0
            let before = timbred_alloc_count_thread()
            decode(buffer)
            XCTAssertEqual(timbred_alloc_count_thread() - before, 0, "allocations while decoding")
        }
        XCTAssertGreaterThan(eventCount, 1000)
        XCTAssertGreaterThan(payloadByteCount, 0)
    }
}
#endif
