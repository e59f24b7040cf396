// swift-tools-version:5.10
// timbred: a real-time neural (DDSP) synthesizer daemon for Linux.
import PackageDescription

/// Release builds target a real CPU on x86-64 (AVX2 + FMA): the default x86-64 target lowers Swift
/// SIMD to per-lane calls, 25-50x slower. Other architectures use the toolchain's default.
#if arch(x86_64)
let cpuFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"], .when(configuration: .release))]
let cpuCFlags: [CSetting] = [.unsafeFlags(["-march=haswell"], .when(configuration: .release))]
#else
let cpuFlags: [SwiftSetting] = []
let cpuCFlags: [CSetting] = []
#endif
let optimize: [SwiftSetting] = cpuFlags + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
/// The decoder's kernels (Swift SIMD) are optimized in debug builds too, keeping Swift's checks
/// (-O, not -Ounchecked): unoptimized they run 20-50x slower, and the tests, the sanitizer's build
/// and the morph knob's profile (`MorphProfile`: 1800 decoded frames per corner change, 7 s
/// unoptimized) all decode with them.
#if arch(x86_64)
let debugKernels: [SwiftSetting] = [.unsafeFlags(["-O", "-target-cpu", "haswell"], .when(configuration: .debug))]
#else
let debugKernels: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]
#endif

let package = Package(
    name: "timbred",
    products: [
        .executable(name: "timbred", targets: ["timbred"]),
        // The parsers, for the libFuzzer harnesses of Fuzz/ (a separate package, built by scripts/fuzz).
        .library(name: "TimbredParsers", targets: ["MIDI", "Presets", "ModelCore", "Model"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.2.0"),
    ],
    targets: [
        // System-library shims (module map + header, pkg-config names).
        .systemLibrary(name: "CFFTW", path: "Sources/CFFTW", pkgConfig: "fftw3f",
                       providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CSndFile", path: "Sources/CSndFile", pkgConfig: "sndfile",
                       providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CJack", path: "Sources/CJack", pkgConfig: "jack",
                       providers: [.apt(["libjack-jackd2-dev"])]),
        .systemLibrary(name: "CALSA", path: "Sources/CALSA", pkgConfig: "alsa",
                       providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CLO", path: "Sources/CLO", pkgConfig: "liblo",
                       providers: [.apt(["liblo-dev"])]),
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo",
                       providers: [.apt(["libcairo2-dev"])]),
        .systemLibrary(name: "CSystemd", path: "Sources/CSystemd", pkgConfig: "libsystemd",
                       providers: [.apt(["libsystemd-dev"])]),
        // Real-time helpers in C: RealtimeSanitizer region markers, denormal flushing.
        .target(name: "CRealtime", path: "Sources/CRealtime", cSettings: cpuCFlags),
        // The AVX-512 kernel of DenseLayer, chosen at run time (__builtin_cpu_supports).
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O2"])]),
        // Test-only malloc interposer that counts heap allocations.
        .target(name: "CAllocCounter", path: "Sources/CAllocCounter"),

        .target(name: "DSP", dependencies: ["CFFTW"], swiftSettings: optimize),
        .target(name: "Inference", dependencies: ["DSP", "CKernels"], swiftSettings: optimize + debugKernels),
        // The model's values (config, weights, envelope tables): what the real-time core reads. No Foundation.
        .target(name: "ModelCore", dependencies: ["Inference"], swiftSettings: optimize),
        // Reading and validating model files (Foundation); re-exports ModelCore.
        .target(name: "Model", dependencies: ["ModelCore", "Inference"], swiftSettings: optimize),
        .target(name: "MIDI", swiftSettings: optimize),
        // The limits of the sound's parameters (reverb, gain, envelope scales, bend range): one
        // table for settings, presets, OSC and the engine. No Foundation.
        .target(name: "SoundParameters", swiftSettings: optimize),
        .target(name: "Presets", dependencies: ["SoundParameters"]),
        .target(name: "Engine", dependencies: ["DSP", "Inference", "ModelCore", "MIDI", "SoundParameters", "CRealtime",
                                               .product(name: "Atomics", package: "swift-atomics")],
                swiftSettings: optimize),
        // The live daemon's OS backends and control side.
        .target(name: "JackBackend", dependencies: ["CJack", "CRealtime", "Engine", "MIDI",
                                                    .product(name: "Atomics", package: "swift-atomics")],
                swiftSettings: optimize),
        .target(name: "ALSASequencer", dependencies: ["CALSA", "MIDI"]),
        // Offline timbre tools: the trainer's note analysis, the encoder, timbre-space geometry, maps.
        .target(name: "Timbre", dependencies: ["DSP", "Inference", "Model", "Presets", "CSndFile", "CCairo"], swiftSettings: optimize),
        .target(name: "Control", dependencies: ["Engine", "Inference", "Model", "MIDI", "Presets", "SoundParameters", "CLO", "CSystemd"]),
        // The live daemon's control thread: JACK, ALSA sequencer, OSC and signals around a SoundController.
        .target(name: "Daemon", dependencies: ["Control", "Engine", "Model", "JackBackend", "ALSASequencer"]),
        // `timbred bench`'s measurements of the engine alone (stages, chord onsets, the soak load).
        .target(name: "Bench", dependencies: ["Control", "Engine", "Model", "MIDI", "Inference", "CKernels"], swiftSettings: optimize),
        .executableTarget(name: "timbred", dependencies: [
            "Engine", "Model", "MIDI", "Presets", "SoundParameters", "CRealtime",
            "JackBackend", "Control", "Daemon", "Bench", "Timbre",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: optimize),

        // What the test targets share (fixture and binary paths, temporary folders, a seeded
        // random generator); a plain target under Tests/, used only by test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "DSPTests", dependencies: ["DSP", "TestSupport"]),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "Model", "CAllocCounter", "TestSupport"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "DSP", "TestSupport"]),
        .testTarget(name: "MIDITests", dependencies: ["MIDI", "CAllocCounter", "TestSupport"]),
        .testTarget(name: "PresetsTests", dependencies: ["Presets", "TestSupport"]),
        // Depends on the executable so that `timbred render --morph` is built with the tests.
        .testTarget(name: "TimbreTests", dependencies: ["timbred", "Timbre", "Model", "DSP", "Presets", "TestSupport"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "DSP", "Model", "MIDI", "CAllocCounter", "CRealtime", "TestSupport"]),
        .testTarget(name: "ControlTests", dependencies: ["Control", "DSP", "Engine", "MIDI", "Model", "Presets", "SoundParameters", "TestSupport"]),
        // The OS backends' logic without a device: JACK MIDI decoding (no server), ALSA sequencer
        // event conversion (no /dev/snd).
        .testTarget(name: "JackBackendTests", dependencies: ["JackBackend", "MIDI", "CAllocCounter", "TestSupport"]),
        .testTarget(name: "ALSASequencerTests", dependencies: ["ALSASequencer", "CALSA", "MIDI"]),
        // End-to-end tests of `timbred run` against a real jackd -d dummy (depends on the
        // executable so that it is built with the tests).
        .testTarget(name: "DaemonTests", dependencies: ["timbred", "JackBackend", "Engine", "Model", "MIDI", "CJack",
                                                        "CAllocCounter", "Control", "TestSupport",
                                                        .product(name: "Atomics", package: "swift-atomics")]),
    ]
)
