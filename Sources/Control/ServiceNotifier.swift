import CSystemd

/// systemd's notification protocol (sd_notify): READY=1 once the daemon plays, STATUS= lines
/// for `systemctl --user status timbred`, STOPPING=1 on the way out. Does nothing when the
/// process was not started by systemd (no $NOTIFY_SOCKET).
public enum ServiceNotifier {
    /// Tells systemd the service is ready, with a status line.
    public static func ready(status: String) {
        send("READY=1\nSTATUS=\(status)")
    }

    /// Updates the status line.
    public static func status(_ text: String) {
        send("STATUS=\(text)")
    }

    /// Tells systemd the service is stopping.
    public static func stopping() {
        send("STOPPING=1\nSTATUS=stopping")
    }

    /// Sends raw assignments; returns true when systemd got them.
    @discardableResult
    public static func send(_ assignments: String) -> Bool {
        sd_notify(0, assignments) > 0
    }
}
