import Control
import Foundation
import XCTest

final class OSCTests: XCTestCase {
    func testMessagesRoundTripThroughLiblo() {
        let m = OSCMessage("/timbred/pad", [.float(0.25), .int(-3), .string("flute"), .double(1.5), .bool(true)])
        XCTAssertEqual(OSCMessage(packet: m.encoded()), m)
        XCTAssertNil(OSCMessage(packet: [1, 2, 3]))
        XCTAssertNil(OSCMessage(packet: Array("#bundle\0".utf8) + [UInt8](repeating: 0, count: 8)))
    }

    func testServerBindsLoopbackAndAnswers() throws {
        let server = try OSCServer(port: 0)
        XCTAssertGreaterThan(server.port, 0)
        let reply = Thread {
            for _ in 0..<200 {
                for request in server.receiveAll() {
                    server.send(OSCMessage("/timbred/ok", [.string(request.message.path)]), to: request.sender)
                    return
                }
                usleep(5000)
            }
        }
        reply.start()
        let answer = try OSCClient.request(OSCMessage("/timbred/status"), port: server.port, timeoutSeconds: 2)
        XCTAssertEqual(answer, OSCMessage("/timbred/ok", [.string("/timbred/status")]))
        XCTAssertThrowsError(try OSCServer(port: server.port), "the port is taken")
        XCTAssertThrowsError(try OSCClient.request(OSCMessage("/x"), port: server.port, timeoutSeconds: 0.2), "nobody answers")
    }
}
