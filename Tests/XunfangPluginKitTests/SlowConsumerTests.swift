import Foundation
import NIOCore
import Testing
import XunfangBus
import XunfangBusServer
import XunfangPluginKit

import XunfangWire
#if canImport(Glibc)
import Glibc
#endif

/// A subscriber that connects, subscribes and then never reads: the bus must hold back
/// only what its budgets allow.
struct SilentSubscriber {
    let descriptor: Int32

    init(socketPath: String, instance: String, pattern: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(socketPath.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(connected == 0)
        var hello = Frame()
        hello.hello.minProtocol = 1
        hello.hello.maxProtocol = 1
        hello.hello.plugin = "tester"
        hello.hello.instance = instance
        hello.hello.version = "1.0.0"
        hello.hello.credential = secret
        var subscribe = Frame()
        subscribe.subscribe.subscriptionID = 1
        subscribe.subscribe.pattern = pattern
        var bytes = ByteBuffer()
        try FrameEncoder.write(hello, into: &bytes)
        try FrameEncoder.write(subscribe, into: &bytes)
        let written = bytes.withUnsafeReadableBytes { write(descriptor, $0.baseAddress, $0.count) }
        try #require(written == bytes.readableBytes)
    }

    func close() { _ = Glibc.close(descriptor) }
}

@Suite("Slow consumers")
struct SlowConsumerTests {
    @Test("subscribers that never read while 64 KB messages flood are held to the session and bus byte budgets, drops counted per subscriber")
    func byteBudgets() async throws {
        let harness = try await Harness.start(.socket) { config in
            config.bus.sessionBufferBytes = 4 * 1024 * 1024
            config.bus.totalBufferBytes = 6 * 1024 * 1024
            // The silent subscribers never answer a ping: on a busy machine the flood may outlast
            // three default intervals, and a dropped peer holds nothing.
            config.bus.pingIntervalMilliseconds = 600_000
        }
        let path = "\(harness.directory)/bus.sock"
        let silent = try (1...2).map { try SilentSubscriber(socketPath: path, instance: "silent-\($0)", pattern: "template.>") }
        let publisher = try await harness.client(instance: "pub")
        // Both silent sessions are in before the flood starts.
        let deadline = ContinuousClock.now + .seconds(60)
        var sessions = 0
        while sessions < 3 && ContinuousClock.now < deadline {
            sessions = try await harness.server.withBroker { $0.sessionSnapshots().count }
        }
        try #require(sessions == 3)
        let payload = Data(repeating: 0x5A, count: 64 * 1024)
        for index in 0..<1_000 { try await publisher.publish("template.flood", payload: payload, messageID: "f\(index)") }
        _ = try await publisher.callRaw("/xunfang.bus.v1.Bus/Stats", payload: Data())  // every publish has been routed
        let (held, snapshots) = try await harness.server.withBroker { ($0.stats.heldBytes, $0.sessionSnapshots()) }
        #expect(held <= 6 * 1024 * 1024, "held \(held) bytes")
        #expect(held > 0)
        for name in ["silent-1", "silent-2"] {
            let snapshot = try #require(snapshots.first { $0.instance == name })
            #expect(snapshot.dropped > 500, "\(name) dropped \(snapshot.dropped)")
        }
        silent.forEach { $0.close() }
        await publisher.close()
        // A subscriber that leaves gives its held bytes back.
        var left = held
        while left > 0 && ContinuousClock.now < deadline + .seconds(60) {
            try await Task.sleep(for: .milliseconds(10))
            left = try await harness.server.withBroker { $0.stats.heldBytes }
        }
        #expect(left == 0)
        await harness.server.stop()
    }
}
