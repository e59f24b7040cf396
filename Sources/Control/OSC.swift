import CLO
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One OSC argument.
public enum OSCArgument: Sendable, Equatable, CustomStringConvertible {
    case int(Int32)
    case float(Float)
    case string(String)
    case double(Double)
    case bool(Bool)

    /// The value as a number, for int, float and double arguments.
    public var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .float(let f): return Double(f)
        case .double(let d): return d
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .float(let f): return String(f)
        case .string(let s): return s
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        }
    }
}

/// An OSC message (path and arguments).
public struct OSCMessage: Sendable, Equatable {
    public var path: String
    public var arguments: [OSCArgument]

    public init(_ path: String, _ arguments: [OSCArgument] = []) {
        self.path = path
        self.arguments = arguments
    }

    /// The packet bytes, serialised by liblo.
    public func encoded() -> [UInt8] {
        guard let message = lo_message_new() else { return [] }
        defer { lo_message_free(message) }
        for argument in arguments {
            switch argument {
            case .int(let i): lo_message_add_int32(message, i)
            case .float(let f): lo_message_add_float(message, f)
            case .string(let s): lo_message_add_string(message, s)
            case .double(let d): lo_message_add_double(message, d)
            case .bool(let b): if b { lo_message_add_true(message) } else { lo_message_add_false(message) }
            }
        }
        var size = 0
        guard let data = lo_message_serialise(message, path, nil, &size) else { return [] }
        defer { free(data) }
        return Array(UnsafeRawBufferPointer(start: data, count: size))
    }

    /// Parses a packet with liblo; nil for anything that is not a well-formed OSC message
    /// (bundles included).
    public init?(packet: [UInt8]) {
        guard packet.count >= 4, packet.count % 4 == 0 else { return nil }
        var bytes = packet
        let parsed: OSCMessage? = bytes.withUnsafeMutableBytes { raw -> OSCMessage? in
            guard let base = raw.baseAddress, let pathPointer = lo_get_path(base, raw.count) else { return nil }
            let path = String(cString: pathPointer)
            guard path.hasPrefix("/") else { return nil }
            var result: Int32 = 0
            guard let message = lo_message_deserialise(base, raw.count, &result) else { return nil }
            defer { lo_message_free(message) }
            let count = Int(lo_message_get_argc(message))
            guard let types = lo_message_get_types(message), let argv = lo_message_get_argv(message) else {
                return OSCMessage(path, [])
            }
            var arguments: [OSCArgument] = []
            for i in 0..<count {
                let type = UInt8(bitPattern: types[i])
                if type == UInt8(ascii: "T") || type == UInt8(ascii: "F") {  // no data
                    arguments.append(.bool(type == UInt8(ascii: "T")))
                    continue
                }
                guard let arg = argv[i] else { return nil }
                switch type {
                case UInt8(ascii: "i"): arguments.append(.int(arg.pointee.i))
                case UInt8(ascii: "h"): arguments.append(.int(Int32(truncatingIfNeeded: arg.pointee.h)))
                case UInt8(ascii: "f"): arguments.append(.float(arg.pointee.f))
                case UInt8(ascii: "d"): arguments.append(.double(arg.pointee.d))
                case UInt8(ascii: "s"), UInt8(ascii: "S"):
                    let text = UnsafeRawPointer(arg).assumingMemoryBound(to: CChar.self)
                    arguments.append(.string(String(cString: text)))
                default: return nil
                }
            }
            return OSCMessage(path, arguments)
        }
        guard let parsed else { return nil }
        self = parsed
    }
}

/// An OSC transport error. Prints as one line.
public struct OSCError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// The OSC control server: a UDP socket bound to 127.0.0.1 only (liblo 0.31 cannot bind one
/// interface, so the socket is ours and liblo parses and writes the messages). Replies go back
/// to the sender's address from the same socket.
public final class OSCServer {
    /// The socket (non-blocking), for poll().
    public let fileDescriptor: Int32
    /// The port bound (useful when 0 was asked for).
    public let port: Int

    /// Binds 127.0.0.1:`port` (0 = any free port). - Throws: `OSCError` when the port is taken.
    public init(port: Int) throws(OSCError) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw OSCError("cannot create a UDP socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian  // 127.0.0.1
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw OSCError("cannot bind the OSC port 127.0.0.1:\(port): \(reason)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        fileDescriptor = fd
        self.port = Int(UInt16(bigEndian: actual.sin_port))
    }

    deinit { close(fileDescriptor) }

    /// A received message and where to send the reply.
    public struct Request {
        public var message: OSCMessage
        public var sender: sockaddr_in
    }

    /// Every message waiting on the socket (never blocks). Malformed packets are skipped.
    public func receiveAll() -> [Request] {
        var out: [Request] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            var sender = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &sender) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fileDescriptor, raw.baseAddress, raw.count, 0, $0, &length)
                    }
                }
            }
            if n <= 0 { break }
            if let message = OSCMessage(packet: Array(buffer[0..<n])) { out.append(Request(message: message, sender: sender)) }
        }
        return out
    }

    /// Sends `message` to `address` (best effort: UDP).
    public func send(_ message: OSCMessage, to address: sockaddr_in) {
        let bytes = message.encoded()
        var target = address
        _ = bytes.withUnsafeBytes { raw in
            withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fileDescriptor, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }
}

/// The client side of the control API (`timbred ctl`): sends one message to 127.0.0.1:port and
/// waits for the reply.
public enum OSCClient {
    /// Sends `message` and returns the first reply within `timeoutSeconds`.
    /// - Throws: `OSCError` when nothing answers in time.
    public static func request(_ message: OSCMessage, port: Int, host: String = "127.0.0.1",
                               timeoutSeconds: Double = 1) throws(OSCError) -> OSCMessage {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw OSCError("cannot create a UDP socket") }
        defer { close(fd) }
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &target.sin_addr) == 1 else { throw OSCError("not an IPv4 address: \(host)") }
        let bytes = message.encoded()
        let sent = bytes.withUnsafeBytes { raw in
            withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard sent == bytes.count else { throw OSCError("cannot send to \(host):\(port): \(String(cString: strerror(errno)))") }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let waitMs = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&p, 1, waitMs) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0, let reply = OSCMessage(packet: Array(buffer[0..<n])) { return reply }
        }
        throw OSCError("no answer from timbred on \(host):\(port) within \(timeoutSeconds) s (is `timbred run` running, with OSC on that port?)")
    }
}
