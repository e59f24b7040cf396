import Foundation

/// One-line logs on stderr, journald-friendly.
///
/// Under systemd (stderr connected to the journal: `$JOURNAL_STREAM` set) every line carries
/// the sd-daemon priority prefix (`<6>timbred: …`), which journald turns into the entry's
/// priority; in a terminal the lines are plain (`timbred: …`, warnings and errors say so).
/// Never call from the real-time thread: it formats strings and writes to a file descriptor.
public enum Log {
    /// syslog priorities (sd-daemon.h).
    public enum Level: Int, Sendable {
        case error = 3, warning = 4, notice = 5, info = 6, debug = 7
    }

    /// Prefix lines with `<N>` (default: when stderr is the journal).
    nonisolated(unsafe) public static var usePriorityPrefix = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil
    /// Lines above this level are dropped.
    nonisolated(unsafe) public static var maximumLevel = Level.info
    /// Sees every line that passes `maximumLevel` (level and text) before it is written; tests
    /// read the log through it.
    nonisolated(unsafe) public static var observer: ((Level, String) -> Void)?
    private static let lock = NSLock()

    /// Writes one line (newlines inside `message` are replaced by spaces).
    public static func write(_ level: Level, _ message: String) {
        guard level.rawValue <= maximumLevel.rawValue else { return }
        let text = message.replacingOccurrences(of: "\n", with: " ")
        observer?(level, text)
        let line: String
        if usePriorityPrefix {
            line = "<\(level.rawValue)>timbred: \(text)\n"
        } else {
            switch level {
            case .error: line = "timbred: error: \(text)\n"
            case .warning: line = "timbred: warning: \(text)\n"
            default: line = "timbred: \(text)\n"
            }
        }
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardError.write(Data(line.utf8))
    }

    public static func error(_ message: String) { write(.error, message) }
    public static func warning(_ message: String) { write(.warning, message) }
    public static func notice(_ message: String) { write(.notice, message) }
    public static func info(_ message: String) { write(.info, message) }
    public static func debug(_ message: String) { write(.debug, message) }
}
