/// Why the JACK client could not be opened or set up. Each case prints as one line.
public enum JackError: Error, Equatable, CustomStringConvertible {
    /// No JACK server runs (the client never starts one: JackNoStartServer).
    case serverNotRunning(server: String)
    /// The server refused the client (name taken with JackUseExactName, version mismatch…).
    case openFailed(status: UInt32)
    /// A port could not be registered.
    case portRegistrationFailed(name: String)
    /// jack_set_*_callback failed.
    case callbackRegistrationFailed(name: String)
    /// jack_activate failed.
    case activationFailed

    public var description: String {
        switch self {
        case .serverNotRunning(let server):
            return "no JACK server\(server.isEmpty ? "" : " '\(server)'") is running; start one with `jackd -d alsa` "
                + "(or `jackd -d dummy` without a sound card, or PipeWire's pipewire-jack); retrying every second"
        case .openFailed(let status):
            return "the JACK server refused the client (status 0x\(String(status, radix: 16)))"
        case .portRegistrationFailed(let name):
            return "could not register JACK port \(name)"
        case .callbackRegistrationFailed(let name):
            return "could not register the JACK \(name) callback"
        case .activationFailed:
            return "could not activate the JACK client"
        }
    }
}
