// swift-tools-version:6.1
// Xunfang: one package. The core lives in Modules/, each plugin in Plugins/<Name>/ as a
// library plus a thin executable product `xunfang-plugin-<name>`. A county build picks
// plugins by product (`swift build --product xunfang-plugin-x`), never by traits.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// The message path (wire, broker, SDK). No unsafe flags anywhere: SwiftPM refuses them
/// in a package taken as a versioned dependency, and plugin authors take this one so.
let hotPath: [SwiftSetting] = swiftSettings

let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let protobuf = Target.Dependency.product(name: "SwiftProtobuf", package: "swift-protobuf")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let nioSSL = Target.Dependency.product(name: "NIOSSL", package: "swift-nio-ssl")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let metrics = Target.Dependency.product(name: "CoreMetrics", package: "swift-metrics")

let package = Package(
    name: "xunfang",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "xunfang", targets: ["XunfangCLI"]),
        .executable(name: "xunfang-plugin-template", targets: ["TemplatePluginMain"]),
        .executable(name: "xunfang-plugin-bridge", targets: ["BridgePluginMain"]),
        .library(name: "BridgeContract", targets: ["BridgeContract"]),
        .executable(name: "xunfang-plugin-patrol", targets: ["PatrolPluginMain"]),
        .executable(name: "xunfang-plugin-terminal", targets: ["TerminalPluginMain"]),
        .executable(name: "xunfang-plugin-console", targets: ["ConsolePluginMain"]),
        .library(name: "PatrolContract", targets: ["PatrolContract"]),
        .executable(name: "xunfang-plugin-checkpoint", targets: ["CheckpointControlPluginMain"]),
        .library(name: "CheckpointControlContract", targets: ["CheckpointControlContract"]),
        .executable(name: "xunfang-plugin-community", targets: ["CommunityPolicingPluginMain"]),
        .library(name: "CommunityPolicingContract", targets: ["CommunityPolicingContract"]),
        .executable(name: "xunfang-plugin-situation", targets: ["SituationAnalysisPluginMain"]),
        .executable(name: "xunfang-plugin-dispatch", targets: ["DispatchPluginMain"]),
        .executable(name: "xunfang-plugin-grid-model", targets: ["GridModelPluginMain"]),
        .library(name: "XunfangPluginKit", targets: ["XunfangPluginKit"]),
        // Each plugin's published contract (its generated protobuf types and descriptor set),
        // for plugins and clients that talk to it; it lives beside the plugin, not in the core.
        .library(name: "GridModelContract", targets: ["GridModelContract"]),
        .library(name: "DispatchContract", targets: ["DispatchContract"]),
        .library(name: "SituationAnalysisContract", targets: ["SituationAnalysisContract"]),
        .library(name: "TemplateContract", targets: ["TemplateContract"]),
        // Geography for plugins: datums, polygons, road graphs, searches (shared by design).
        .library(name: "XunfangGeo", targets: ["XunfangGeo"]),
        // The wire, the generated protocol, the config and the broker logic, for tools
        // that work below the SDK (tools/fuzz, alternative transports).
        .library(name: "XunfangCore", targets: ["XunfangCodec", "XunfangWire", "XunfangProto", "XunfangConfig", "XunfangBus"]),
        // The bus with its sockets and durable log, for embedding it and for tools/fuzz.
        .library(name: "XunfangBusServer", targets: ["XunfangBusServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.90.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0", traits: []),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.0"),
    ],
    targets: [
        // MARK: - Core

        .target(
            name: "XunfangCodec",
            dependencies: [nioCore, protobuf, .product(name: "CompressNIO", package: "compress-nio")],
            path: "Modules/XunfangCodec",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "XunfangWire",
            dependencies: ["XunfangCodec", nioCore, protobuf],
            path: "Modules/XunfangWire",
            swiftSettings: hotPath
        ),
        .testTarget(
            name: "XunfangWireTests",
            dependencies: ["XunfangWire", "XunfangCodec", "XunfangProto", nioCore, protobuf],
            path: "Tests/XunfangWireTests",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "XunfangProto",
            dependencies: [protobuf],
            path: "Modules/XunfangProto",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),

        .target(
            name: "XunfangGeo",
            dependencies: ["XunfangCodec", nioCore, protobuf],
            path: "Modules/XunfangGeo",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "XunfangGeoTests",
            dependencies: ["XunfangGeo", "XunfangCodec", nioCore, protobuf],
            path: "Tests/XunfangGeoTests",
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),

        // GLPK (Debian's libglpk-dev) for proving post placements optimal; only GridModel and
        // the CLI link it, so the SDK and XunfangGeo stay free of system libraries.
        .systemLibrary(name: "CGLPK", path: "Modules/CGLPK", providers: [.apt(["libglpk-dev"])]),
        .target(
            name: "XunfangExact",
            dependencies: ["CGLPK", "XunfangGeo"],
            path: "Modules/XunfangExact",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "XunfangExactTests",
            dependencies: ["XunfangExact", "XunfangGeo"],
            path: "Tests/XunfangExactTests",
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "XunfangConfig",
            dependencies: [.product(name: "Yams", package: "Yams"), .product(name: "TOMLKit", package: "TOMLKit")],
            path: "Modules/XunfangConfig",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "XunfangConfigTests",
            dependencies: ["XunfangConfig"],
            path: "Tests/XunfangConfigTests",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "XunfangBus",
            dependencies: ["XunfangProto", "XunfangConfig", "XunfangWire", nioCore, protobuf, logging,
                           .product(name: "DequeModule", package: "swift-collections")],
            path: "Modules/XunfangBus",
            swiftSettings: hotPath
        ),
        .testTarget(
            name: "XunfangBusTests",
            dependencies: ["XunfangBus", "XunfangProto", "XunfangConfig", "XunfangWire", nioCore, protobuf],
            path: "Tests/XunfangBusTests",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "XunfangBusServer",
            dependencies: ["XunfangBus", "XunfangCodec", "XunfangWire", "XunfangProto", "XunfangConfig", nioCore, nioPosix, protobuf, logging, lifecycle,
                           .product(name: "NIOHTTP1", package: "swift-nio"), nioSSL, metrics,
                           .product(name: "Prometheus", package: "swift-prometheus")],
            path: "Modules/XunfangBusServer",
            swiftSettings: hotPath
        ),

        .target(
            name: "XunfangPluginKit",
            dependencies: ["XunfangWire", "XunfangProto", "XunfangBus", "XunfangConfig", nioCore, nioPosix, nioSSL, protobuf, logging, lifecycle,
                           .product(name: "DequeModule", package: "swift-collections"), .product(name: "Crypto", package: "swift-crypto")],
            path: "Modules/XunfangPluginKit",
            swiftSettings: hotPath
        ),
        // A plugin's SQLite file opened one way, and its transactional outbox (Dispatch,
        // SituationAnalysis, CheckpointControl).
        .target(
            name: "XunfangOutbox",
            dependencies: ["XunfangPluginKit", logging, .product(name: "GRDB", package: "GRDB.swift")],
            path: "Modules/XunfangOutbox",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "XunfangPluginKitTests",
            dependencies: ["XunfangTestSupport", "XunfangPluginKit", "XunfangBusServer", "XunfangBus", "XunfangConfig", "XunfangProto", "TemplatePlugin", "TemplateContract", "GridModelContract", "DispatchContract", protobuf, metrics],
            path: "Tests/XunfangPluginKitTests",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "XunfangSupervisor",
            dependencies: ["XunfangConfig", logging, lifecycle, metrics],
            path: "Modules/XunfangSupervisor",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "XunfangSupervisorTests",
            dependencies: ["XunfangSupervisor", logging, lifecycle],
            path: "Tests/XunfangSupervisorTests",
            swiftSettings: swiftSettings
        ),

        // MARK: - CLI

        .executableTarget(
            name: "XunfangCLI",
            dependencies: [
                "XunfangGeo", "XunfangExact", "XunfangHarness", "DispatchContract", "SituationAnalysisContract", "GridModelContract", "CheckpointControlContract", "PatrolContract",
                "XunfangBusServer", "XunfangBus", "XunfangPluginKit", "XunfangSupervisor", "XunfangConfig", "XunfangProto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), logging, lifecycle, protobuf,
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "tools/xunfang",
            swiftSettings: swiftSettings
        ),

        // MARK: - Plugins

        .target(
            name: "TemplateContract",
            dependencies: [protobuf],
            path: "Plugins/_Template/Contract",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .target(
            name: "TemplatePlugin",
            dependencies: ["XunfangPluginKit", "TemplateContract", protobuf, logging],
            path: "Plugins/_Template/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "TemplatePluginMain",
            dependencies: ["TemplatePlugin"],
            path: "Plugins/_Template/Main",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "GridModelContract",
            dependencies: ["XunfangPluginKit", "XunfangGeo", protobuf],
            path: "Plugins/GridModel/Contract",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .target(
            name: "GridModelPlugin",
            dependencies: ["XunfangPluginKit", "GridModelContract", "XunfangGeo", "XunfangExact", protobuf, logging, .product(name: "GRDB", package: "GRDB.swift")],
            path: "Plugins/GridModel/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "GridModelPluginMain",
            dependencies: ["GridModelPlugin"],
            path: "Plugins/GridModel/Main",
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "GridModelTests",
            dependencies: ["XunfangTestSupport", "GridModelPlugin", "GridModelContract", "XunfangGeo", "XunfangPluginKit", "XunfangBus", "XunfangConfig", logging],
            path: "Tests/GridModelTests",
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "DispatchContract",
            dependencies: ["GridModelContract", protobuf],
            path: "Plugins/Dispatch/Contract",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .target(
            name: "DispatchPlugin",
            dependencies: ["XunfangPluginKit", "XunfangOutbox", "DispatchContract", "GridModelContract", "CheckpointControlContract", "CommunityPolicingContract", "XunfangGeo", protobuf, logging,
                           .product(name: "GRDB", package: "GRDB.swift")],
            path: "Plugins/Dispatch/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "DispatchPluginMain",
            dependencies: ["DispatchPlugin", "DispatchContract", "GridModelContract", "XunfangPluginKit", "XunfangGeo", protobuf, logging,
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Plugins/Dispatch/Main",
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "DispatchTests",
            dependencies: ["XunfangTestSupport", "DispatchPlugin", "DispatchContract", "GridModelPlugin", "GridModelContract", "XunfangGeo", "XunfangPluginKit", "XunfangBus",
                           "XunfangBusServer", "XunfangConfig", logging, .product(name: "GRDB", package: "GRDB.swift")],
            path: "Tests/DispatchTests",
            // Stores written by the previous release, for the upgrade tests.
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "SituationAnalysisContract",
            dependencies: [protobuf],
            path: "Plugins/SituationAnalysis/Contract",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .target(
            name: "SituationAnalysisPlugin",
            dependencies: ["XunfangPluginKit", "XunfangGeo", "XunfangOutbox", "SituationAnalysisContract", "GridModelContract", "DispatchContract", protobuf, logging, .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "GRDBSQLite", package: "GRDB.swift")],
            path: "Plugins/SituationAnalysis/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "SituationAnalysisPluginMain",
            dependencies: ["SituationAnalysisPlugin"],
            path: "Plugins/SituationAnalysis/Main",
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "CheckpointControlTests",
            dependencies: ["CheckpointControlPlugin", "CheckpointControlContract", "GridModelContract", "DispatchContract", "XunfangGeo", "XunfangPluginKit", "XunfangBus", "XunfangBusServer", "XunfangConfig",
                           logging, protobuf],
            path: "Tests/CheckpointControlTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SituationAnalysisTests",
            dependencies: ["XunfangTestSupport", "SituationAnalysisPlugin", "SituationAnalysisContract", "DispatchContract", "GridModelContract", "XunfangGeo", "XunfangPluginKit", "XunfangBus", "XunfangBusServer", "XunfangConfig", logging,
                           .product(name: "GRDB", package: "GRDB.swift")],
            path: "Tests/SituationAnalysisTests",
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "CheckpointControlContract",
            dependencies: [protobuf],
            path: "Plugins/CheckpointControl/Contract",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .target(
            name: "CheckpointControlPlugin",
            dependencies: ["XunfangPluginKit", "XunfangGeo", "XunfangOutbox", "CheckpointControlContract", "GridModelContract", "DispatchContract",
                           protobuf, logging,
                           .product(name: "GRDB", package: "GRDB.swift")],
            path: "Plugins/CheckpointControl/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "CheckpointControlPluginMain",
            dependencies: ["CheckpointControlPlugin"],
            path: "Plugins/CheckpointControl/Main",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "CommunityPolicingContract",
            dependencies: ["SituationAnalysisContract", protobuf],
            path: "Plugins/CommunityPolicing/Contract",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .target(
            name: "CommunityPolicingPlugin",
            dependencies: ["XunfangPluginKit", "XunfangOutbox", "XunfangGeo", "CommunityPolicingContract", "SituationAnalysisContract", "GridModelContract", "DispatchContract", protobuf, logging,
                           nioCore, nioPosix, .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto")],
            path: "Plugins/CommunityPolicing/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "CommunityPolicingPluginMain",
            dependencies: ["CommunityPolicingPlugin"],
            path: "Plugins/CommunityPolicing/Main",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CommunityPolicingTests",
            dependencies: ["CommunityPolicingPlugin", "CommunityPolicingContract", "SituationAnalysisContract", "DispatchContract", "GridModelPlugin", "XunfangGeo", "XunfangPluginKit", "XunfangOutbox", "GridModelContract", "XunfangWire", "XunfangBus", "XunfangBusServer", "XunfangConfig",
                           protobuf, logging, .product(name: "Crypto", package: "swift-crypto"), .product(name: "GRDB", package: "GRDB.swift")],
            path: "Tests/CommunityPolicingTests",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "PatrolContract",
            dependencies: ["GridModelContract", protobuf],
            path: "Plugins/Patrol/Contract",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .target(
            name: "PatrolPlugin",
            dependencies: ["XunfangPluginKit", "XunfangOutbox", "XunfangGeo", "PatrolContract", "DispatchContract", "GridModelContract", "SituationAnalysisContract", "CheckpointControlContract",
                           protobuf, logging, .product(name: "GRDB", package: "GRDB.swift")],
            path: "Plugins/Patrol/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "PatrolPluginMain",
            dependencies: ["PatrolPlugin"],
            path: "Plugins/Patrol/Main",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PatrolTests",
            dependencies: ["PatrolPlugin", "PatrolContract", "DispatchContract", "DispatchPlugin", "GridModelContract", "SituationAnalysisContract", "CheckpointControlContract", "XunfangGeo", "XunfangPluginKit", "XunfangBusServer",
                           "XunfangConfig", "XunfangWire", protobuf, logging],
            path: "Tests/PatrolTests",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "TerminalPlugin",
            dependencies: ["XunfangPluginKit", "XunfangGeo", "PatrolContract", "DispatchContract", "GridModelContract", "CheckpointControlContract", protobuf, logging],
            path: "Plugins/Terminal/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "TerminalPluginMain",
            dependencies: ["TerminalPlugin"],
            path: "Plugins/Terminal/Main",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConsolePlugin",
            dependencies: [.product(name: "HummingbirdTLS", package: "hummingbird"), .product(name: "HummingbirdCore", package: "hummingbird"), nioSSL, "XunfangPluginKit", "XunfangOutbox", "XunfangGeo", "DispatchContract", "GridModelContract", "PatrolContract",
                           "SituationAnalysisContract", "CheckpointControlContract", "CommunityPolicingContract", protobuf, logging,
                           .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                           .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "_CryptoExtras", package: "swift-crypto")],
            path: "Plugins/Console/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ConsolePluginMain",
            dependencies: ["ConsolePlugin", "XunfangBrowser", "XunfangPluginKit", "XunfangGeo", "DispatchContract", "GridModelContract", logging],
            path: "Plugins/Console/Main",
            swiftSettings: swiftSettings
        ),
        // What several test suites need (certificates), not shipped.
        .target(name: "XunfangTestSupport", path: "Tests/Support", swiftSettings: swiftSettings),
        .testTarget(
            name: "ConsoleTests",
            dependencies: ["XunfangTestSupport", .product(name: "HummingbirdTLS", package: "hummingbird"), "ConsolePlugin", "XunfangPluginKit", "DispatchContract", "DispatchPlugin", "GridModelContract", "XunfangBusServer", "XunfangConfig", logging,
                           .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird")],
            path: "Tests/ConsoleTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TerminalTests",
            dependencies: ["TerminalPlugin", "XunfangGeo", "XunfangPluginKit"],
            path: "Tests/TerminalTests",
            swiftSettings: swiftSettings
        ),

        // MARK: - Integration

        // A NATS and JetStream client (text protocol over NIO), for the bridge between county buses.
        .target(
            name: "XunfangNATS",
            dependencies: [nioCore, nioPosix, nioSSL, logging],
            path: "Modules/XunfangNATS",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "XunfangNATSTests",
            dependencies: ["XunfangNATS", "XunfangTestSupport", logging],
            path: "Tests/XunfangNATSTests",
            swiftSettings: swiftSettings
        ),
        // The bridge: county buses linked into a city through JetStream (Plugins/Bridge).
        .target(
            name: "BridgeContract",
            dependencies: [protobuf],
            path: "Plugins/Bridge/Contract",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .target(
            name: "BridgePlugin",
            dependencies: ["XunfangPluginKit", "XunfangWire", "XunfangNATS", "BridgeContract", "DispatchContract", protobuf, logging],
            path: "Plugins/Bridge/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "BridgePluginMain",
            dependencies: ["BridgePlugin", "XunfangPluginKit", "XunfangNATS", "DispatchContract", logging],
            path: "Plugins/Bridge/Main",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BridgeTests",
            dependencies: ["BridgePlugin", "BridgeContract", "XunfangNATS", "XunfangPluginKit", "XunfangBusServer", "XunfangConfig",
                           "DispatchContract", protobuf, logging],
            path: "Tests/BridgeTests",
            swiftSettings: swiftSettings
        ),

        // The integration harness's logic: scenarios, calls, checks (the CLI runs it; no plugin links it).
        .target(
            name: "XunfangHarness",
            dependencies: ["XunfangPluginKit", "XunfangGeo", .product(name: "Yams", package: "Yams")],
            path: "Modules/XunfangHarness",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "XunfangHarnessTests",
            dependencies: ["XunfangHarness", "XunfangPluginKit"],
            path: "Tests/XunfangHarnessTests",
            swiftSettings: swiftSettings
        ),
        // Headless Chromium over the DevTools protocol, for the console's tests and benchmark.
        .target(
            name: "XunfangBrowser",
            dependencies: [.product(name: "HummingbirdWSClient", package: "hummingbird-websocket"), logging, nioCore],
            path: "Modules/XunfangBrowser",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["XunfangTestSupport", "XunfangBrowser", "XunfangNATS", "BridgeContract", "CheckpointControlContract", "XunfangPluginKit", "XunfangProto", "XunfangConfig", "GridModelContract", "DispatchContract", "TemplateContract",
                           "CommunityPolicingContract", "SituationAnalysisContract", protobuf, logging,
                           .product(name: "Crypto", package: "swift-crypto"), .product(name: "HummingbirdWSClient", package: "hummingbird-websocket")],
            path: "Tests/IntegrationTests",
            swiftSettings: swiftSettings
        ),
    ]
)
