public import Logging
public import NIOCore
import NIOPosix
public import XunfangBus
public import XunfangConfig
import XunfangProto

/// A bus inside this process, with the same broker and semantics as the socket bus but
/// no sockets and no encoding: for tests and for embedding plugins in one binary.
///
/// ```swift
/// let bus = InProcessBus(config: county, credentials: secrets, logger: logger)
/// let client = try await BusClient.connect(.inProcess(bus), manifest: manifest, credential: secret, logger: logger)
/// ```
public final class InProcessBus: @unchecked Sendable {
    let loop: any EventLoop
    private let group: MultiThreadedEventLoopGroup?
    let broker: Broker

    /// A new broker on its own event loop.
    public init(config: CountyConfig, credentials: [String: String], logger: Logger) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        self.loop = group.next()
        let settings = BrokerSettings(config: config, credentials: credentials)
        self.broker = try! loop.submit { UncheckedSendable(Broker(settings: settings, clock: SystemClock(), log: nil, logger: logger)) }.wait().value
        let box = UncheckedSendable(broker)
        _ = loop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) { _ in box.value.tick() }
    }

    /// Attaches to a broker that already runs on `eventLoop` (a `BusServer`'s, say).
    public init(broker: Broker, eventLoop: any EventLoop) {
        self.group = nil
        self.loop = eventLoop
        self.broker = broker
    }

    public func shutdown() async {
        try? await group?.shutdownGracefully()
    }

    func connect(sink: any FrameSink) async throws -> InProcessLink {
        let link = InProcessLink(bus: self, sink: sink)
        try await loop.submit { [link] in link.attach() }.get()
        return link
    }
}

/// The client's side: frames go to the broker on its loop, untouched.
final class InProcessLink: FrameLink, @unchecked Sendable {
    private let bus: InProcessBus
    private let peer: InProcessPeer
    private var session: SessionID?

    init(bus: InProcessBus, sink: any FrameSink) {
        self.bus = bus
        self.peer = InProcessPeer(sink: sink)
    }

    /// On the bus loop.
    func attach() {
        session = bus.broker.connect(peer)
    }

    func send(_ frame: Frame) {
        bus.loop.execute { [self] in
            guard let session, !peer.closed else { return }
            bus.broker.receive(frame, from: session)
        }
    }

    func close() {
        bus.loop.execute { [self] in
            guard let session else { return }
            self.session = nil
            bus.broker.disconnect(session)
            peer.close()
        }
    }
}

/// The broker's side: frames are handed to the client as they are.
final class InProcessPeer: BrokerPeer {
    private let sink: any FrameSink
    var closed = false

    init(sink: any FrameSink) {
        self.sink = sink
    }

    func send(_ frame: Frame) {
        guard !closed else { return }
        sink.received(frame)
    }

    var isWritable: Bool { !closed }

    func close() {
        guard !closed else { return }
        closed = true
        sink.linkClosed()
    }
}

struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
