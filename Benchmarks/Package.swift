// swift-tools-version:6.1
// Baselines for `xunfang bench bus`, kept out of the main package (grpc-swift-2 pulls in
// BoringSSL: minutes of build) and out of CI. Run everything with Benchmarks/run-bus.
import PackageDescription

let package = Package(
    name: "xunfang-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.0"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.0"),
    ],
    targets: [
        // A small NATS-protocol client (plain sockets) driving Debian's nats-server.
        .executableTarget(name: "NatsBench", path: "Sources/NatsBench"),
        // grpc-swift-2 unary echo over loopback, client straight to server (no broker).
        .executableTarget(
            name: "GRPCBench",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            path: "Sources/GRPCBench"
        ),
    ]
)
