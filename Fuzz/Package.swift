// swift-tools-version:5.10
// libFuzzer harnesses for timbred's parsers. Not part of the main build: scripts/fuzz builds them with
//   swift build --package-path Fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address
// Each harness defines LLVMFuzzerTestOneInput and a @main that runs libFuzzer's driver with it
// (SwiftPM links an executable's main to its module's entry point, so libFuzzer's own main is unused).
import Foundation
import PackageDescription

/// The root package (timbred) is a path dependency; SwiftPM names it after its folder.
let rootFolder = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent()
let harness: [Target.Dependency] = [
    "FuzzerDriver", .product(name: "TimbredParsers", package: rootFolder.lastPathComponent),
]

let package = Package(
    name: "TimbredFuzz",
    dependencies: [.package(path: rootFolder.path)],
    targets: [
        .target(name: "FuzzerDriver"),
        .executableTarget(name: "FuzzMIDIBytes", dependencies: harness),
        .executableTarget(name: "FuzzMIDIFile", dependencies: harness),
        .executableTarget(name: "FuzzPreset", dependencies: harness),
        .executableTarget(name: "FuzzModel", dependencies: harness),
    ]
)
