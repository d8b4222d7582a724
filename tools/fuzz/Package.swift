// swift-tools-version:6.1
// libFuzzer targets: the frame decoder and the broker behind it (FrameFuzzer), and the
// durable log's recovery of damaged segment files (LogFuzzer). Not built by CI;
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
        .executableTarget(
            name: "LogFuzzer",
            dependencies: [.product(name: "XunfangBusServer", package: "xunfang")],
            path: "Sources/LogFuzzer"
        ),
    ]
)
