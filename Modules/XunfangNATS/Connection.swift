public import Foundation
public import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Where a NATS server listens: `nats://host:port`, `tls://host:port` or `host:port`.
public struct NATSServerAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var tls: Bool

    public init(host: String, port: Int, tls: Bool = false) {
        self.host = host
        self.port = port
        self.tls = tls
    }

    public init(parsing text: String) throws(NATSError) {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var tls = false
        if rest.hasPrefix("nats://") { rest = rest.dropFirst(7) } else if rest.hasPrefix("tls://") { rest = rest.dropFirst(6); tls = true }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65_535).contains(port),
              !rest[..<colon].isEmpty, !rest[..<colon].contains("/") else {
            throw NATSError(.invalidArgument, "\(text.debugDescription) is not a NATS address (nats://host:port or tls://host:port)")
        }
        self.init(host: String(rest[..<colon]), port: port, tls: tls)
    }

    public var description: String { "\(tls ? "tls" : "nats")://\(host):\(port)" }
}

public struct NATSOptions: Sendable {
    public var servers: [NATSServerAddress]
    public var name: String
    public var user: String?
    public var password: String?
    public var token: String?
    /// A PEM file of roots the servers' certificates are checked against (nil: the system's).
    public var trustRoots: String?
    public var reconnectWait: Duration = .milliseconds(200)
    /// How often the client pings; two unanswered pings close the link and reconnect.
    public var pingInterval: Duration = .seconds(5)
    public var requestTimeout: Duration = .seconds(5)
    /// Messages a plain subscription holds for a slow reader before it drops the newest.
    public var subscriptionBuffer = 65_536

    public init(servers: [NATSServerAddress], name: String, user: String? = nil, password: String? = nil, token: String? = nil,
                trustRoots: String? = nil) {
        self.servers = servers
        self.name = name
        self.user = user
        self.password = password
        self.token = token
        self.trustRoots = trustRoots
    }
}

/// A NATS client connection that keeps itself connected: it tries every configured server
/// (and those the cluster announces) until one answers, re-subscribes after a reconnect,
/// and pings to notice a server that went silent. Operations made while no server is
/// connected fail at once with `.disconnected`; callers that must not lose a message retry.
public final class NATSConnection: Sendable {
    struct State {
        var channel: (any Channel)?
        var info = ServerInfo()
        var subscriptions: [UInt64: Subscriber] = [:]
        var nextSubscription: UInt64 = 1
        /// One slot per PING in flight, in order; a slot whose waiter gave up stays (nil) so
        /// the PONG that answers its PING does not release a later waiter early.
        var pongWaiters: [(id: UInt64, waiter: CheckedContinuation<Void, any Error>?)] = []
        var nextPing: UInt64 = 0
        var closed = false
        var knownServers: [NATSServerAddress] = []
        var reconnects = 0
    }

    struct Subscriber {
        let subject: String
        let queueGroup: String?
        /// Called on the link's event loop, so messages of one subscription stay in order.
        let deliver: @Sendable (NATSMessage) -> Void
        let finish: @Sendable () -> Void
    }

    public let options: NATSOptions
    let logger: Logger
    private let state: Mutex<State>
    private let group: any EventLoopGroup
    private let inbox: String
    private let requests = Mutex<(next: UInt64, waiting: [String: CheckedContinuation<NATSMessage, any Error>])>((0, [:]))
    private let maintainer = Mutex<Task<Void, Never>?>(nil)

    private init(options: NATSOptions, logger: Logger) {
        self.options = options
        self.logger = logger
        state = Mutex(State(knownServers: options.servers))
        group = MultiThreadedEventLoopGroup.singleton
        inbox = "_INBOX." + NATSConnection.randomToken()
    }

    /// Connects to the first server that answers; throws if none does.
    public static func connect(_ options: NATSOptions, logger: Logger = Logger(label: "xunfang.nats")) async throws -> NATSConnection {
        guard !options.servers.isEmpty else { throw NATSError(.invalidArgument, "no NATS server configured") }
        let connection = NATSConnection(options: options, logger: logger)
        try await connection.connectToAnyServer()
        _ = try connection.subscribeInternal("\(connection.inbox).*", queueGroup: nil, deliver: connection.answer)
        connection.maintainer.withLock { $0 = Task { await connection.maintain() } }
        return connection
    }

    public var serverInfo: ServerInfo { state.withLock { $0.info } }
    public var isConnected: Bool { state.withLock { $0.channel != nil } }
    public var reconnects: Int { state.withLock { $0.reconnects } }

    public func publish(_ subject: String, payload: Data = Data(), headers: NATSHeaders = NATSHeaders(), replyTo: String? = nil) throws {
        let info = serverInfo
        guard payload.count <= info.maxPayload else {
            throw NATSError(.invalidArgument, "payload of \(payload.count) bytes is over the server's max_payload \(info.maxPayload)")
        }
        try write(.publish(subject: subject, replyTo: replyTo, headers: headers, payload: payload))
    }

    /// Waits until the server has processed everything sent before (a PING answered by PONG).
    public func flush(timeout: Duration? = nil) async throws {
        let id = state.withLock { state in state.nextPing += 1; return state.nextPing }
        try await withDeadline(timeout ?? options.requestTimeout, what: "PONG") {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let channel = self.state.withLock { state -> (any Channel)? in
                    guard let channel = state.channel else { return nil }
                    state.pongWaiters.append((id, continuation))
                    return channel
                }
                guard let channel else { return continuation.resume(throwing: NATSError(.disconnected, "not connected")) }
                channel.writeAndFlush(ByteBuffer(bytes: (try? ClientOperation.ping.encoded()) ?? Data()), promise: nil)
            }
        } onTimeout: {
            let waiter = self.state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.pongWaiters.firstIndex(where: { $0.id == id }) else { return nil }
                defer { state.pongWaiters[index].waiter = nil }
                return state.pongWaiters[index].waiter
            }
            waiter?.resume(throwing: NATSError(.timeout, "no PONG in time"))
        }
    }

    /// One request and the first answer, on the connection's own inbox.
    public func request(_ subject: String, payload: Data = Data(), headers: NATSHeaders = NATSHeaders(),
                        timeout: Duration? = nil) async throws -> NATSMessage {
        let token = requests.withLock { requests in requests.next += 1; return String(requests.next) }
        let answer = try await withDeadline(timeout ?? options.requestTimeout, what: "an answer from \(subject)") {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<NATSMessage, any Error>) in
                self.requests.withLock { $0.waiting[token] = continuation }
                do {
                    try self.publish(subject, payload: payload, headers: headers, replyTo: "\(self.inbox).\(token)")
                } catch {
                    if let waiting = self.requests.withLock({ $0.waiting.removeValue(forKey: token) }) { waiting.resume(throwing: error) }
                }
            }
        } onTimeout: {
            if let waiting = self.requests.withLock({ $0.waiting.removeValue(forKey: token) }) {
                waiting.resume(throwing: NATSError(.timeout, "no answer from \(subject) in time"))
            }
        }
        if answer.headers.status == 503 { throw NATSError(.noResponders, "no one serves \(subject)") }
        return answer
    }

    /// A subscription whose messages arrive in order; it ends when cancelled or the connection closes.
    public func subscribe(_ subject: String, queueGroup: String? = nil) throws -> NATSSubscription {
        let (stream, continuation) = AsyncStream.makeStream(of: NATSMessage.self, bufferingPolicy: .bufferingOldest(options.subscriptionBuffer))
        let id = try subscribeInternal(subject, queueGroup: queueGroup, deliver: { continuation.yield($0) }, finish: { continuation.finish() })
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        return NATSSubscription(id: id, messages: stream)
    }

    public func unsubscribe(_ id: UInt64) {
        let removed = state.withLock { $0.subscriptions.removeValue(forKey: id) }
        removed?.finish()
        try? write(.unsubscribe(id: id, after: nil))
    }

    public func close() async {
        let (channel, subscribers, waiters) = state.withLock { state in
            state.closed = true
            defer { state.subscriptions = [:]; state.pongWaiters = [] }
            return (state.channel, Array(state.subscriptions.values), state.pongWaiters)
        }
        maintainer.withLock { $0?.cancel() }
        for subscriber in subscribers { subscriber.finish() }
        for waiter in waiters.compactMap(\.waiter) { waiter.resume(throwing: NATSError(.disconnected, "connection closed")) }
        let waiting = requests.withLock { requests -> [CheckedContinuation<NATSMessage, any Error>] in
            defer { requests.waiting = [:] }
            return Array(requests.waiting.values)
        }
        for request in waiting { request.resume(throwing: NATSError(.disconnected, "connection closed")) }
        try? await channel?.close()
    }

    // MARK: - Internals

    private func subscribeInternal(_ subject: String, queueGroup: String?, deliver: @escaping @Sendable (NATSMessage) -> Void,
                                   finish: @escaping @Sendable () -> Void = {}) throws -> UInt64 {
        try Subject.validate(subject, wildcards: true)
        let id = state.withLock { state in
            defer { state.nextSubscription += 1 }
            state.subscriptions[state.nextSubscription] = Subscriber(subject: subject, queueGroup: queueGroup, deliver: deliver, finish: finish)
            return state.nextSubscription
        }
        // Not connected: the maintainer subscribes it with the others once a server answers.
        try? write(.subscribe(subject: subject, queueGroup: queueGroup, id: id))
        return id
    }

    private func answer(_ message: NATSMessage) {
        let token = String(message.subject.dropFirst(inbox.count + 1))
        requests.withLock { $0.waiting.removeValue(forKey: token) }?.resume(returning: message)
    }

    private func write(_ operation: ClientOperation) throws {
        let bytes = try operation.encoded()
        guard let channel = state.withLock({ $0.channel }) else { throw NATSError(.disconnected, "not connected to a NATS server") }
        channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
    }

    func received(_ operation: ServerOperation, on channel: any Channel) {
        switch operation {
        case .message(let message):
            state.withLock { $0.subscriptions[message.subscription]?.deliver }?(message)
        case .ping:
            channel.writeAndFlush(ByteBuffer(bytes: (try? ClientOperation.pong.encoded()) ?? Data()), promise: nil)
        case .pong:
            let waiter = state.withLock { state in state.pongWaiters.isEmpty ? nil : state.pongWaiters.removeFirst().waiter }
            waiter?.resume()
        case .info(let info):
            state.withLock { state in
                state.info = info
                let announced = info.connectURLs.compactMap { try? NATSServerAddress(parsing: $0) }
                    .map { NATSServerAddress(host: $0.host, port: $0.port, tls: options.servers.first?.tls ?? false) }
                for address in announced where !state.knownServers.contains(address) { state.knownServers.append(address) }
            }
        case .error(let text):
            logger.warning("NATS server error", metadata: ["nats.error": "\(text)"])
        case .ok:
            break
        }
    }

    private func linkLost(_ channel: any Channel) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            guard state.channel === channel else { return [] }
            state.channel = nil
            defer { state.pongWaiters = [] }
            return state.pongWaiters.compactMap(\.waiter)
        }
        for waiter in waiters { waiter.resume(throwing: NATSError(.disconnected, "link to the NATS server lost")) }
    }

    /// Reconnects whenever the link is lost and pings while it is up.
    private func maintain() async {
        while !Task.isCancelled {
            if isConnected {
                do {
                    try await Task.sleep(for: options.pingInterval)
                    try await flush(timeout: options.pingInterval * 2)
                } catch is CancellationError {
                    return
                } catch {
                    if let channel = state.withLock({ $0.channel }) {
                        logger.warning("NATS server silent; reconnecting", metadata: ["nats.error": "\(error)"])
                        try? await channel.close()
                        linkLost(channel)
                    }
                }
                continue
            }
            do {
                try await connectToAnyServer()
                // Subscriptions are made again before the reconnect is counted: whoever sees the
                // count and publishes finds them on the new link (writes go out in order).
                resubscribeAll()
                state.withLock { $0.reconnects += 1 }
            } catch {
                try? await Task.sleep(for: options.reconnectWait)
            }
        }
    }

    private func resubscribeAll() {
        let subscriptions = state.withLock { $0.subscriptions }
        for (id, subscriber) in subscriptions.sorted(by: { $0.key < $1.key }) {
            try? write(.subscribe(subject: subscriber.subject, queueGroup: subscriber.queueGroup, id: id))
        }
    }

    private func connectToAnyServer() async throws {
        let servers = state.withLock { $0.knownServers }
        var failures: [String] = []
        for server in servers {
            if state.withLock({ $0.closed }) { throw NATSError(.disconnected, "connection closed") }
            do {
                try await connect(to: server)
                logger.info("connected to NATS", metadata: ["nats.server": "\(server)"])
                return
            } catch {
                failures.append("\(server): \(error)")
            }
        }
        throw NATSError(.disconnected, "no NATS server answered (\(failures.joined(separator: "; ")))")
    }

    private func connect(to server: NATSServerAddress) async throws {
        let handshake = group.next().makePromise(of: Void.self)
        let channel: any Channel
        do {
            let tls = try server.tls ? NIOSSLContext(configuration: clientTLS()) : nil
            let handler = ClientHandler(connection: self, handshake: handshake, connect: connectOptions(tls: server.tls),
                                        tls: tls.map { ($0, server.host) }, maxPayload: 64 * 1_048_576)
            channel = try await ClientBootstrap(group: group)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .connectTimeout(.seconds(3))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
                }
                .connect(host: server.host, port: server.port).get()
        } catch {
            // No channel came up (refused, no TLS context): the promise must still be completed.
            handshake.fail(error)
            throw error
        }
        channel.closeFuture.whenComplete { [weak self] _ in
            handshake.fail(NATSError(.disconnected, "closed during the handshake"))
            self?.linkLost(channel)
        }
        do {
            // A server that takes the connection and then says nothing (frozen) fails the
            // handshake here, which is what the waiting body is released by.
            try await withDeadline(.seconds(5), what: "the NATS handshake", { try await handshake.futureResult.get() },
                                   onTimeout: { handshake.fail(NATSError(.timeout, "no NATS handshake within 5 s")) })
        } catch {
            try? await channel.close()
            throw error
        }
        state.withLock { $0.channel = channel }
        // Closed between the handshake and now: its close found no link to drop.
        if !channel.isActive { linkLost(channel) }
    }

    private func clientTLS() -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let roots = options.trustRoots { configuration.trustRoots = .file(roots) }
        return configuration
    }

    private func connectOptions(tls: Bool) -> ConnectOptions {
        ConnectOptions(name: options.name, user: options.user, pass: options.password, authToken: options.token, tlsRequired: tls)
    }

    static func randomToken() -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        return String((0..<22).map { _ in alphabet.randomElement()! })
    }
}

public struct NATSSubscription: Sendable {
    public let id: UInt64
    public let messages: AsyncStream<NATSMessage>
}

/// Runs `body` and gives up after `limit`, running `onTimeout` to release what it waits on.
func withDeadline<T: Sendable>(_ limit: Duration, what: String, _ body: @escaping @Sendable () async throws -> T,
                               onTimeout: @escaping @Sendable () -> Void = {}) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        while let result = try await group.next() {
            if let result { return result }
            onTimeout()
            throw NATSError(.timeout, "no \(what) within \(limit)")
        }
        throw NATSError(.timeout, "no \(what) within \(limit)")
    }
}

/// Reads server operations on the event loop: INFO starts the handshake (TLS first when
/// the server asks for it), CONNECT + PING follow, and the first PONG completes it.
final class ClientHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private weak var connection: NATSConnection?
    private let handshake: EventLoopPromise<Void>
    private let connect: ConnectOptions
    private let tls: (NIOSSLContext, String)?
    private var parser: ServerParser
    private var greeted = false
    private var established = false

    init(connection: NATSConnection, handshake: EventLoopPromise<Void>, connect: ConnectOptions, tls: (NIOSSLContext, String)?, maxPayload: Int) {
        self.connection = connection
        self.handshake = handshake
        self.connect = connect
        self.tls = tls
        parser = ServerParser(maxPayload: maxPayload)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        parser.feed(Data(bytes.readBytes(length: bytes.readableBytes) ?? []))
        do {
            while let operation = try parser.next() {
                try handle(operation, context: context)
            }
        } catch {
            connection?.logger.error("NATS protocol error; closing", metadata: ["nats.error": "\(error)"])
            handshake.fail(error)
            context.close(promise: nil)
        }
    }

    private func handle(_ operation: ServerOperation, context: ChannelHandlerContext) throws {
        if case .info(let info) = operation, !greeted {
            greeted = true
            parser.maxPayload = info.maxPayload + 65_536
            if info.tlsRequired || tls != nil {
                guard let (sslContext, host) = tls else {
                    throw NATSError(.authentication, "the server requires TLS; configure a tls:// address")
                }
                try context.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: host), position: .first)
            }
            var greeting = try ClientOperation.connect(connect).encoded()
            greeting.append(try ClientOperation.ping.encoded())
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: greeting)), promise: nil)
        } else if !established, case .pong = operation {
            established = true
            handshake.succeed(())
            return
        } else if !established, case .error(let text) = operation {
            throw NATSError(text.lowercased().contains("authorization") ? .authentication : .serverError, text)
        }
        connection?.received(operation, on: context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        handshake.fail(error)
        context.close(promise: nil)
    }
}
