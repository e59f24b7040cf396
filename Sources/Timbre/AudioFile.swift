// Reading whole audio files for offline analysis (`timbred encode`). Not real-time.
import CSndFile
import DSP

/// A sound read from a file: mono samples (channels averaged) at the file's sample rate.
public struct MonoAudio: Sendable {
    /// Samples, channels averaged.
    public var samples: [Float]
    /// Sample rate of `samples` in Hz.
    public var sampleRate: Double

    public init(samples: [Float], sampleRate: Double) {
        self.samples = samples
        self.sampleRate = sampleRate
    }

    /// Reads any format libsndfile reads (WAV, FLAC, AIFF, OGG...), mixing channels to mono.
    /// - Throws: `AnalysisError` naming the file when it cannot be opened, is empty or is longer
    ///   than `maxSeconds`.
    public static func read(path: String, maxSeconds: Double = 600) throws(AnalysisError) -> MonoAudio {
        var info = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &info) else {
            throw AnalysisError(path: path, message: "unreadable audio (\(String(cString: sf_strerror(nil))))")
        }
        defer { sf_close(file) }
        let channels = Int(info.channels), frames = Int(info.frames)
        guard channels > 0, info.samplerate > 0 else { throw AnalysisError(path: path, message: "no audio channels") }
        guard frames > 0 else { throw AnalysisError(path: path, message: "empty audio file") }
        guard Double(frames) <= maxSeconds * Double(info.samplerate) else {
            throw AnalysisError(path: path, message: "longer than \(Int(maxSeconds)) s: give one note per file")
        }
        var interleaved = [Float](repeating: 0, count: frames * channels)
        let got = interleaved.withUnsafeMutableBufferPointer { sf_readf_float(file, $0.baseAddress, sf_count_t(frames)) }
        guard got > 0 else { throw AnalysisError(path: path, message: "unreadable audio (no frames decoded)") }
        var mono = [Float](repeating: 0, count: Int(got))
        let scale = 1 / Float(channels)
        for i in 0..<Int(got) {
            var s: Float = 0
            for c in 0..<channels { s += interleaved[i * channels + c] }
            mono[i] = s * scale
        }
        return MonoAudio(samples: mono, sampleRate: Double(info.samplerate))
    }

    /// Writes the sound as a mono 32-bit float WAV file.
    /// - Throws: `AnalysisError` naming the file when it cannot be written.
    public func writeWAV(path: String) throws(AnalysisError) {
        try writeFloatWAV(path: path, interleaved: samples, channels: 1, sampleRate: Int(sampleRate.rounded()))
    }

    /// This sound at another sample rate (band-limited resampling; a copy when the rate matches).
    public func resampled(to rate: Double) -> MonoAudio {
        MonoAudio(samples: resample(signal: samples, from: sampleRate, to: rate), sampleRate: rate)
    }
}

/// Writes interleaved float samples to a 32-bit float WAV file through libsndfile (the one WAV
/// writer: `timbred render` and `timbred encode`'s tests use it). The same samples give the same
/// bytes (no time-stamped PEAK chunk).
/// - Throws: `AnalysisError` naming the file when it cannot be written.
public func writeFloatWAV(path: String, interleaved: [Float], channels: Int, sampleRate: Int) throws(AnalysisError) {
    var info = SF_INFO()
    info.samplerate = Int32(sampleRate)
    info.channels = Int32(channels)
    info.format = Int32(SF_FORMAT_WAV | SF_FORMAT_FLOAT)
    guard let file = sf_open(path, Int32(SFM_WRITE), &info) else {
        throw AnalysisError(path: path, message: "cannot write (\(String(cString: sf_strerror(nil))))")
    }
    // no PEAK chunk: libsndfile stamps it with the time of writing, so two writes of the same
    // samples would differ in their header
    sf_command(file, Int32(SFC_SET_ADD_PEAK_CHUNK), nil, Int32(SF_FALSE))
    let frames = interleaved.count / channels
    let written = interleaved.withUnsafeBufferPointer { sf_writef_float(file, $0.baseAddress, sf_count_t(frames)) }
    sf_close(file)
    guard written == frames else { throw AnalysisError(path: path, message: "short write (\(written) of \(frames) frames)") }
}

/// A recording that cannot be analysed, naming the file and the problem.
public struct AnalysisError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}
