public import Logging
public import ServiceLifecycle
public import XunfangBus
public import XunfangConfig
import Foundation
public import NIOCore
public import Prometheus
import CoreMetrics
import NIOPosix
import NIOHTTP1
import NIOSSL
import XunfangWire
#if canImport(Glibc)
import Glibc
#endif

/// Where a started bus listens.
public struct BusAddresses: Sendable {
    public var socketPath: String
    /// The TCP port actually bound (useful with port 0), if TCP is configured.
    public var tcpPort: Int?
    /// The Prometheus endpoint's port, if `bus.metrics` is configured.
    public var metricsPort: Int?
}

/// The bus as a long-running service: the broker on one event loop, a Unix socket
/// (mode 0600) and optional loopback TCP, the durable log, and the tick timer.
///
/// ```swift
/// let bus = BusServer(config: county, credentials: secrets, logger: logger)
/// try await ServiceGroup(services: [bus], logger: logger).run()
/// ```
public final class BusServer: Service, @unchecked Sendable {
    private let config: CountyConfig
    private let credentials: [String: String]
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let pool: NIOThreadPool
    private var channels: [any Channel] = []
    private var ticker: RepeatedTask?
    private var log: FileDurableLog?
    private let lock = NSLock()
    private var started: BusAddresses?
    /// The broker; touch it only on `eventLoop`.
    public private(set) var broker: Broker?
    public var eventLoop: any EventLoop { group.next() }

    /// What the bus process records through swift-metrics; served on the metrics endpoint
    /// after the broker's own counters. Give `metricsFactory` to components in this process.
    public let metricsRegistry = PrometheusCollectorRegistry()
    public var metricsFactory: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: metricsRegistry) }

    /// The durable log's file layer: the system's, or a test's that injects faults.
    private let segmentFiles: any SegmentFiles

    public init(config: CountyConfig, credentials: [String: String], logger: Logger, segmentFiles: any SegmentFiles = SystemSegmentFiles()) {
        self.segmentFiles = segmentFiles
        self.config = config
        self.credentials = credentials
        self.logger = logger
        // One loop owns the broker: no locks on the hot path; clients get the other core.
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.pool = NIOThreadPool(numberOfThreads: 1)
    }

    public var socketPath: String {
        config.bus.socketPath.hasPrefix("/") ? config.bus.socketPath : "\(config.dataDirectory)/\(config.bus.socketPath)"
    }

    /// The data directory holds credentials, personal data and the durable log: only its
    /// owner may enter it. One made earlier with a looser mode (mkdir under umask 022) is
    /// tightened, with a warning, rather than left readable by every local user.
    static func makePrivate(directory: String, logger: Logger) {
        guard let mode = (try? FileManager.default.attributesOfItem(atPath: directory))?[.posixPermissions] as? Int, mode & 0o077 != 0 else { return }
        logger.warning("the data directory was readable by others; made it 0700",
                       metadata: ["xunfang.path": "\(directory)", "xunfang.mode": "\(String(mode, radix: 8))"])
        chmod(directory, 0o700)
    }

    /// Binds the sockets and opens the log; returns once clients can connect.
    public func start() async throws -> BusAddresses {
        if let started = lock.withLock({ started }) { return started }
        // Loaded first: a county that asked for TLS never gets a bus listening in the clear.
        let tls = try Self.tlsContext(certificate: config.bus.tlsCertificate, privateKey: config.bus.tlsPrivateKey)
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        Self.makePrivate(directory: config.dataDirectory, logger: logger)
        pool.start()
        let loop = group.next()
        let syncTimer = CoreMetrics.Timer(label: "xunfang_durable_sync_seconds", preferredDisplayUnit: .seconds, factory: metricsFactory)
        let settings = BrokerSettings(config: config, credentials: credentials)
        let logDirectory = "\(config.dataDirectory)/bus-log"
        let segmentBytes = config.bus.segmentBytes
        let logger = self.logger
        let pool = self.pool
        let config = self.config
        let segmentFiles = self.segmentFiles
        let (broker, log) = try await loop.submit {
            let log = config.bus.durableTopics.isEmpty ? nil :
                try FileDurableLog(directory: logDirectory, segmentBytes: segmentBytes, eventLoop: loop, pool: pool, logger: logger,
                                   syncTimer: syncTimer, files: segmentFiles)
            let broker = Broker(settings: settings, clock: SystemClock(), log: log, logger: logger)
            log?.broker = broker
            if let damage = log?.damage { broker.recordDurableDamage(corruptRanges: damage.corruptRanges, quarantinedBytes: damage.quarantinedBytes) }
            return UncheckedBox((broker, log))
        }.get().value
        self.broker = broker
        self.log = log
        let batcher = try await loop.submit { UncheckedBox(FlushBatcher(eventLoop: loop)) }.get().value
        let limits = WireLimits(maxFrameBytes: config.bus.maxFrameBytes, maxDecompressedBytes: config.bus.maxDecompressedBytes)

        let shared = UncheckedBox((broker, batcher))
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Void> = { channel in
            channel.eventLoop.makeCompletedFuture {
                let (broker, batcher) = shared.value
                let handler = ConnectionHandler(broker: broker, batcher: batcher, limits: limits, logger: logger)
                try channel.pipeline.syncOperations.addHandler(handler)
            }
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer(initializer)

        let path = socketPath
        try removeStaleSocket(path)
        let unixChannel = try await bootstrap.bind(unixDomainSocketPath: path).get()
        chmod(path, 0o600)
        var addresses = BusAddresses(socketPath: path, tcpPort: nil)
        var bound = [unixChannel]
        if let listen = config.bus.tcpListen {
            let (host, port) = try Self.split(listen)
            let tcpInitializer: @Sendable (any Channel) -> EventLoopFuture<Void> = { channel in
                guard let tls else { return initializer(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                }.flatMap { initializer(channel) }
            }
            let tcpChannel = try await bootstrap
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer(tcpInitializer)
                .bind(host: host, port: port).get()
            addresses.tcpPort = tcpChannel.localAddress?.port
            bound.append(tcpChannel)
        }
        if let listen = config.bus.metricsListen {
            let (host, port) = try Self.split(listen)
            let registry = metricsRegistry
            do {
                let metrics = try await ServerBootstrap(group: group)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                            try channel.pipeline.syncOperations.addHandler(MetricsHandler(broker: shared.value.0, registry: registry))
                        }
                    }
                    .bind(host: host, port: port).get()
                addresses.metricsPort = metrics.localAddress?.port
                bound.append(metrics)
            } catch {
                // Metrics are for operators; a taken port must not keep the bus down.
                logger.error("cannot serve metrics; the bus runs without them", metadata: ["xunfang.metrics": "\(listen)", "xunfang.error": "\(error)"])
            }
        }
        channels = bound
        let brokerBox = UncheckedBox(broker)
        ticker = loop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) { _ in
            brokerBox.value.tick()
        }
        logger.info("bus listening", metadata: ["xunfang.socket": "\(path)", "xunfang.tcp": "\(addresses.tcpPort.map(String.init) ?? "off")",
                                                "xunfang.county": "\(config.county)"])
        lock.withLock { started = addresses }
        return addresses
    }

    /// Runs the bus until graceful shutdown (SIGTERM / SIGINT through the ServiceGroup).
    public func run() async throws {
        _ = try await start()
        try? await gracefulShutdown()
        await stop()
    }

    /// Stops accepting, says Goodbye to every session and closes the log.
    public func stop() async {
        ticker?.cancel()
        for channel in channels { try? await channel.close() }
        channels = []
        let loop = eventLoop
        if let broker {
            let box = UncheckedBox(broker)
            try? await loop.submit { box.value.shutdown(reason: "the bus is stopping") }.get()
        }
        let log = UncheckedBox(self.log)
        try? await loop.flatSubmit { log.value?.close() ?? loop.makeSucceededVoidFuture() }.get()
        try? FileManager.default.removeItem(atPath: socketPath)
        try? await pool.shutdownGracefully()
        try? await group.shutdownGracefully()
    }

    /// Runs `body` with the broker on its event loop (stats, tests).
    public func withBroker<T: Sendable>(_ body: @escaping @Sendable (Broker) -> T) async throws -> T {
        guard let broker else { throw BusError(.unavailable, "bus not started") }
        let box = UncheckedBox(broker)
        return try await eventLoop.submit { body(box.value) }.get()
    }

    private func removeStaleSocket(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw BusError(.failedPrecondition, "\(path) exists and is not a socket; refusing to replace it")
        }
        // A live bus answers on it; a stale file from a crash does not.
        if Self.isListening(on: path) { throw BusError(.alreadyExists, "another bus is already listening on \(path)") }
        unlink(path)
    }

    /// Whether something accepts connections on the Unix socket at `path`.
    public static func isListening(on path: String) -> Bool {
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { return false }
        defer { Glibc.close(probe) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return connected == 0
    }

    /// The server's TLS context from PEM files, or nil when TLS is not configured.
    static func tlsContext(certificate: String?, privateKey: String?) throws -> NIOSSLContext? {
        guard let certificate, let privateKey else { return nil }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: privateKey, format: .pem)
            var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            configuration.minimumTLSVersion = .tlsv12
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw BusError(.failedPrecondition, "cannot load bus.tls_certificate / bus.tls_private_key: \(error)")
        }
    }

    static func split(_ listen: String) throws -> (String, Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw ConfigError("expected host:port", key: "bus.tcp")
        }
        return (String(listen[..<colon]), port)
    }
}

/// Moves a loop-confined value across a `submit` boundary; only touched on that loop.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
