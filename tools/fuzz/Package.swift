// swift-tools-version:6.1
// libFuzzer target for the frame decoder and the broker behind it. Not built by CI;
// run with tools/fuzz/run (it builds with -sanitize=fuzzer,address).
import PackageDescription

let package = Package(
    name: "xunfang-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "xunfang", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.90.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
    ],
    targets: [
        .executableTarget(
            name: "FrameFuzzer",
            dependencies: [
                .product(name: "XunfangCore", package: "xunfang"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/FrameFuzzer"
        ),
    ]
)
