public import Logging
public import NIOCore
import NIOPosix
public import XunfangBus
public import XunfangConfig
import Synchronization
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

/// The client's side: frames go to the broker on its loop, untouched, in batches: one
/// loop task hands over everything sent since the last one. The queue is bounded like
/// the socket link's.
final class InProcessLink: FrameLink, @unchecked Sendable {
    struct Queue {
        var frames: [Frame] = []
        var drainScheduled = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    static let queueLimit = 65_536
    private let bus: InProcessBus
    private let peer: InProcessPeer
    private var session: SessionID?
    private let queue = Mutex(Queue())

    init(bus: InProcessBus, sink: any FrameSink) {
        self.bus = bus
        self.peer = InProcessPeer(sink: sink, loop: bus.loop)
    }

    /// On the bus loop.
    func attach() {
        session = bus.broker.connect(peer)
    }

    func send(_ frame: Frame) {
        let schedule = queue.withLock { queue in
            queue.frames.append(frame)
            defer { queue.drainScheduled = true }
            return !queue.drainScheduled
        }
        guard schedule else { return }
        bus.loop.execute { [self] in
            let (frames, waiters) = queue.withLock { queue in
                queue.drainScheduled = false
                defer {
                    queue.frames.removeAll(keepingCapacity: true)
                    queue.waiters.removeAll()
                }
                return (queue.frames, queue.waiters)
            }
            for waiter in waiters { waiter.resume() }
            guard let session, !peer.closed else { return }
            for frame in frames { bus.broker.receive(frame, from: session) }
        }
    }

    var isOpen: Bool { !peer.closed }

    func waitForRoom() async {
        if queue.withLock({ $0.frames.count < Self.queueLimit }) { return }
        await withCheckedContinuation { continuation in
            let ready = queue.withLock { queue in
                if queue.frames.count < Self.queueLimit { return true }
                queue.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
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
final class InProcessPeer: BrokerPeer, @unchecked Sendable {
    private let sink: any FrameSink
    private let loop: any EventLoop
    /// Loop-confined, like everything the broker touches.
    private var burstEndScheduled = false
    /// Written on the loop, read by the client's tasks too (`isOpen`).
    private let closedFlag = Atomic<Bool>(false)
    var closed: Bool { closedFlag.load(ordering: .acquiring) }

    init(sink: any FrameSink, loop: any EventLoop) {
        self.sink = sink
        self.loop = loop
    }

    func send(_ frame: Frame) {
        guard !closed else { return }
        sink.received(frame)
        guard !burstEndScheduled else { return }
        burstEndScheduled = true
        // Everything the broker sends in this loop turn is one burst.
        loop.execute { [self] in
            burstEndScheduled = false
            sink.receivedBurstEnded()
        }
    }

    var isWritable: Bool { !closed }

    func close() {
        guard closedFlag.exchange(true, ordering: .acquiringAndReleasing) == false else { return }
        sink.linkClosed()
    }
}

struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
