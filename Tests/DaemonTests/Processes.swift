// Test fixtures that run real processes: a `jackd -d dummy` server and the `timbred` binary.
import CJack
import Foundation
import TestSupport

/// What the daemon tests need beyond `Fixtures` (TestSupport): a free port, jackd.
enum DaemonFixtures {
    /// A free UDP port on 127.0.0.1.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: a.sin_port))
    }

    static var jackdAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/jackd") }
}

/// `jackd -d dummy -r 48000 -p 64` under a unique server name, run synchronously (-S: each cycle
/// waits for every client, so a loaded machine slows the clock instead of dropping audio).
final class JackServer {
    let name: String
    private var process: Process?
    let logPath: String

    /// - Parameter folder: where jackd's log goes (the test's own temporary folder).
    init(name: String, folder: String) throws {
        self.name = name
        logPath = folder + "/jackd.log"
        try start()
    }

    deinit { stop() }

    /// Starts jackd and waits until a client can connect (10 s at most).
    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/jackd")
        p.arguments = ["-n", name, "-S", "--no-realtime", "-t", "5000", "-d", "dummy", "-r", "48000", "-p", "64"]
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        p.standardOutput = log
        p.standardError = log
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            var status = jack_status_t(rawValue: 0)
            if let c = timbred_jack_client_open("probe_ready", jack_options_t(rawValue: JackNoStartServer.rawValue), &status, name) {
                jack_client_close(c)
                return
            }
            usleep(100_000)
        }
        throw ProbeError("jackd -n \(name) did not start: \((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")")
    }

    /// Kills jackd without warning (SIGKILL) and waits for it.
    func kill() {
        guard let p = process else { return }
        Foundation.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    /// Stops jackd (SIGTERM) and waits.
    func stop() {
        guard let p = process else { return }
        p.terminate()
        p.waitUntilExit()
        process = nil
    }
}

/// A `timbred run` process with its own config folder, OSC port and log.
final class TimbredProcess {
    let process = Process()
    let configHome: String
    let oscPort: Int
    let logPath: String
    let clientName: String

    init(server: String, clientName: String = "tb", configHome: String, extraArguments: [String] = [],
         autoconnect: Bool = false, notifySocket: String? = nil) throws {
        self.configHome = configHome
        self.clientName = clientName
        oscPort = DaemonFixtures.freePort()
        logPath = configHome + "/timbred.log"
        try FileManager.default.createDirectory(atPath: configHome + "/timbred/presets", withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: Fixtures.timbredBinary)
        process.arguments = ["run", "--model", Fixtures.smallModel, "--server", server, "--client-name", clientName,
                             "--osc-port", String(oscPort), "--alsa-midi", "false", "--autoconnect", String(autoconnect)] + extraArguments
        var env = ProcessInfo.processInfo.environment
        env["XDG_CONFIG_HOME"] = configHome
        env["JACK_DEFAULT_SERVER"] = server
        env.removeValue(forKey: "JOURNAL_STREAM")
        env.removeValue(forKey: "NOTIFY_SOCKET")
        if let notifySocket { env["NOTIFY_SOCKET"] = notifySocket }
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: configHome)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
    }

    func start() throws { try process.run() }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits for a log line containing `text`. - Returns: false on timeout.
    @discardableResult
    func waitForLog(_ text: String, timeout: Double = 20, after offset: Int = 0) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let l = log
            if l.count > offset, l.dropFirst(offset).contains(text) { return true }
            usleep(20_000)
        }
        return false
    }

    /// Runs `timbred ctl ARGS` against this daemon; returns (exit status, stdout + stderr).
    func ctl(_ arguments: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Fixtures.timbredBinary)
        p.arguments = ["ctl"] + arguments + ["--port", String(oscPort), "--timeout", "3"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Writes a preset file into the daemon's user preset folder.
    func writePreset(_ file: String, _ text: String) throws {
        try text.write(toFile: configHome + "/timbred/presets/" + file, atomically: true, encoding: .utf8)
    }
}

/// A stand-in for systemd's notification socket (an AF_UNIX datagram socket).
final class NotifySocket {
    let path: String
    let fd: Int32

    init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &a.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = b }
        }
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard r == 0 else { throw ProbeError("cannot bind \(path)") }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The next datagram within `timeout` seconds, or nil.
    func receive(timeout: Double) -> String? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }
}
