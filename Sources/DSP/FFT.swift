// Single-precision real FFTs over FFTW, with buffers and plans owned by the wrapper.
import CFFTW
import Synchronization

/// FFTW's planner (plan creation and destruction) is not thread-safe; every wrapper takes this
/// lock while it plans or destroys. Never taken on the audio thread: `forward`/`inverse` only
/// execute existing plans, which FFTW allows from any thread.
let fftwPlannerLock = Mutex<Void>(())

/// A real-input FFT of one fixed size, with its own SIMD-aligned buffers and FFTW plans.
///
/// Plans are made once in `init` (the only place that may be slow or take the planner lock);
/// ``forward()`` and ``inverse()`` execute them on the wrapper's buffers and are real-time safe.
/// One instance must be used by one thread at a time.
///
/// Conventions (FFTW's, unnormalised): ``forward()`` computes
/// `X[j] = Σ_i x[i] e^{-2πi·ij/N}` for `j = 0...N/2`; ``inverse()`` computes
/// `x[i] = Σ_j X[j] e^{+2πi·ij/N}` over the full Hermitian spectrum, i.e. `N` times the true
/// inverse. Divide by ``size`` to normalise like numpy's `irfft`.
public final class RealFFT {
    /// Transform length N (any positive integer; FFTW is fastest for products of 2, 3, 5, 7).
    public let size: Int
    /// Number of complex bins in the spectrum, `N/2 + 1`.
    public let binCount: Int
    /// Time-domain buffer, `size` floats.
    public let samples: UnsafeMutableBufferPointer<Float>
    /// Spectrum buffer, `binCount` complex values interleaved as (re, im): `2 · binCount` floats.
    public let spectrum: UnsafeMutableBufferPointer<Float>

    private let forwardPlan: fftwf_plan
    private let inversePlan: fftwf_plan

    /// Allocates the buffers (zeroed) and plans both directions.
    /// - Parameters:
    ///   - size: transform length N, at least 2.
    ///   - measure: plan with `FFTW_MEASURE` (slower init, sometimes faster transforms) instead
    ///     of `FFTW_ESTIMATE`.
    public init(size: Int, measure: Bool = false) {
        precondition(size >= 2, "FFT size must be at least 2")
        self.size = size
        self.binCount = size / 2 + 1
        let timePointer = fftwf_alloc_real(size)!
        let spectrumPointer = fftwf_alloc_complex(size / 2 + 1)!
        let spectrumFloats = UnsafeMutableRawPointer(spectrumPointer).bindMemory(to: Float.self, capacity: 2 * (size / 2 + 1))
        samples = UnsafeMutableBufferPointer(start: timePointer, count: size)
        spectrum = UnsafeMutableBufferPointer(start: spectrumFloats, count: 2 * (size / 2 + 1))
        let flags = UInt32(measure ? FFTW_MEASURE : FFTW_ESTIMATE)
        let n = Int32(size)
        (forwardPlan, inversePlan) = fftwPlannerLock.withLock { _ in
            let f = fftwf_plan_dft_r2c_1d(n, timePointer, spectrumPointer, flags)!
            let i = fftwf_plan_dft_c2r_1d(n, spectrumPointer, timePointer, flags | UInt32(FFTW_DESTROY_INPUT))!
            return (f, i)
        }
        // FFTW_MEASURE scribbles on the buffers while planning.
        samples.update(repeating: 0)
        spectrum.update(repeating: 0)
    }

    deinit {
        fftwPlannerLock.withLock { _ in
            fftwf_destroy_plan(forwardPlan)
            fftwf_destroy_plan(inversePlan)
        }
        fftwf_free(samples.baseAddress)
        fftwf_free(spectrum.baseAddress)
    }

    /// Transforms ``samples`` into ``spectrum`` (unnormalised). ``samples`` is preserved.
    /// Real-time safe.
    public func forward() {
        fftwf_execute(forwardPlan)
    }

    /// Transforms ``spectrum`` into ``samples``, `size` times the true inverse. The imaginary
    /// parts of bin 0 (and of bin N/2 for even N) are ignored. ``spectrum`` is destroyed.
    /// Real-time safe.
    public func inverse() {
        fftwf_execute(inversePlan)
    }
}

/// Allocates `count` floats with FFTW's SIMD alignment, zero-filled. Not real-time safe.
func allocateAlignedFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
    let pointer = fftwf_alloc_real(max(count, 1))!
    pointer.initialize(repeating: 0, count: max(count, 1))
    return pointer
}

/// Frees a buffer from ``allocateAlignedFloats(_:)``.
func freeAlignedFloats(_ pointer: UnsafeMutablePointer<Float>) {
    fftwf_free(pointer)
}
