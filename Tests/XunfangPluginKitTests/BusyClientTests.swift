import Dispatch
import Foundation
import XunfangTestSupport
import NIOCore
import NIOPosix
import Testing
import XunfangBus
import XunfangPluginKit

/// Runs every job it is given late, like a process whose threads are all busy.
final class LateExecutor: TaskExecutor, @unchecked Sendable {
    private let queue = DispatchQueue(label: "late-executor")
    let lateness: DispatchTimeInterval

    init(lateness: DispatchTimeInterval) {
        self.lateness = lateness
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.asyncAfter(deadline: .now() + lateness) { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

@Suite("Busy clients")
struct BusyClientTests {
    /// A broker whose Hello window is shorter than the client's thread hops.
    func impatientBus(windowMilliseconds: UInt64) async throws -> (InProcessBus, MultiThreadedEventLoopGroup, RepeatedTask) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        var settings = BrokerSettings(config: county(dataDirectory: temporaryDirectory()), credentials: ["tester": secret])
        settings.handshakeTimeoutMilliseconds = windowMilliseconds
        let broker = try await loop.submit { UncheckedBroker(Broker(settings: settings, clock: SystemClock(), logger: quiet)) }.get().broker
        let ticking = UncheckedBroker(broker)
        let ticker = loop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(20)) { _ in ticking.broker.tick() }
        return (InProcessBus(broker: broker, eventLoop: loop), group, ticker)
    }

    @Test("a client whose tasks resume late still says Hello within the bus's window, in process and over a socket")
    func lateClient() async throws {
        let (bus, group, ticker) = try await impatientBus(windowMilliseconds: 150)
        let late = LateExecutor(lateness: .milliseconds(400))
        let client = BusClient(transport: .inProcess(bus), manifest: PluginManifest(name: "tester", version: "1.0.0"),
                               credential: secret, logger: quiet)
        try await withTaskExecutorPreference(late) { try await client.start() }
        #expect(client.isConnected)
        await client.close()
        ticker.cancel()
        try await group.shutdownGracefully()

        let harness = try await Harness.start(.socket)
        try await harness.server.withBroker { _ in () }
        let socketClient = BusClient(transport: harness.transport, manifest: PluginManifest(name: "tester", version: "1.0.0"),
                                     credential: secret, logger: quiet)
        try await withTaskExecutorPreference(late) { try await socketClient.start() }
        #expect(socketClient.isConnected)
        await socketClient.close()
        await harness.server.stop()
    }
}

extension BusyClientTests {
    // One mode at a time: each holds one of the task pool's few threads while it runs.
    @Test("a handler that holds its thread does not hold the connection: other calls are answered meanwhile",
          .serialized, arguments: Harness.Mode.allCases)
    func slowHandler(mode: Harness.Mode) async throws {
        let harness = try await Harness.start(mode)
        let quickDone = DispatchSemaphore(value: 0)
        let manifest = PluginManifest(name: "tester", version: "1.0.0", serves: ["/test.Slow/Work", "/test.Quick/Work"])
        let server = BusClient(transport: harness.transport, manifest: manifest, instance: "server", credential: secret, logger: quiet)
        server.serveRaw("/test.Slow/Work") { _, _ in
            // Stands for a long computation; gives up after a minute so a broken build fails instead of hanging.
            let sawQuick = quickDone.wait(timeout: .now() + 60) == .success
            return Data([sawQuick ? 1 : 0])
        }
        server.serveRaw("/test.Quick/Work") { data, _ in data }
        try await server.start()
        let caller = try await harness.client(instance: "caller")
        async let slow = caller.callRaw("/test.Slow/Work", payload: Data(), timeout: .seconds(120))
        let quick = try await caller.callRaw("/test.Quick/Work", payload: Data([7]), timeout: .seconds(120))
        quickDone.signal()
        #expect(quick == Data([7]))
        #expect(try await slow == Data([1]), "the quick call was answered while the slow one ran")
        await caller.close()
        await server.close()
        await harness.server.stop()
    }
}

struct UncheckedBroker: @unchecked Sendable {
    let broker: Broker
    init(_ broker: Broker) { self.broker = broker }
}
