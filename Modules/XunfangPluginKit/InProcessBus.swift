import Foundation
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

    /// Attaches a client and hands the broker its `greeting` in the same loop turn.
    func connect(sink: any FrameSink, greeting: Frame) async throws -> InProcessLink {
        let link = InProcessLink(bus: self, sink: sink)
        let hello = UncheckedSendable(greeting)
        try await loop.submit { [link] in link.attach(greeting: hello.value) }.get()
        return link
    }
}

/// The client's side: what the client sends goes to the broker on its loop in
/// batches (one loop task hands over everything sent since the last one), plain
/// publishes as their parts, with no `Frame`. The queue is bounded like the socket link's.
final class InProcessLink: FrameLink, @unchecked Sendable {
    enum Item {
        case frame(Frame)
        case publish(topic: String, payload: Data, messageID: String)
    }

    struct Queue {
        var items: [Item] = []
        var drainScheduled = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    static let queueLimit = 65_536
    private let bus: InProcessBus
    private let peer: InProcessPeer
    private var session: SessionID?
    private let queue = Mutex(Queue())
    /// The drained batch, kept to reuse its storage (on the loop only).
    private var spare: [Item] = []

    init(bus: InProcessBus, sink: any FrameSink) {
        self.bus = bus
        self.peer = InProcessPeer(sink: sink, loop: bus.loop)
    }

    /// On the bus loop.
    func attach(greeting: Frame) {
        let session = bus.broker.connect(peer)
        self.session = session
        bus.broker.receive(greeting, from: session)
    }

    func send(_ frame: Frame) {
        enqueue(.frame(frame))
    }

    func sendPlainPublish(topic: String, payload: Data, messageID: String, receiptRef: UInt64) -> Bool {
        // Receipts are answered by the general path here, which has them.
        guard receiptRef == 0 else { return false }
        let (sent, schedule) = queue.withLock { queue -> (Bool, Bool) in
            guard queue.items.count < Self.queueLimit else { return (false, false) }
            queue.items.append(.publish(topic: topic, payload: payload, messageID: messageID))
            defer { queue.drainScheduled = true }
            return (true, !queue.drainScheduled)
        }
        if schedule { scheduleDrain() }
        return sent
    }

    private func enqueue(_ item: Item) {
        let schedule = queue.withLock { queue in
            queue.items.append(item)
            defer { queue.drainScheduled = true }
            return !queue.drainScheduled
        }
        if schedule { scheduleDrain() }
    }

    private func scheduleDrain() {
        bus.loop.execute { [self] in drain() }
    }

    /// On the loop: everything queued so far, in order.
    private func drain() {
        var items = spare
        let waiters = queue.withLock { queue in
            queue.drainScheduled = false
            swap(&items, &queue.items)
            defer { queue.waiters.removeAll() }
            return queue.waiters
        }
        for waiter in waiters { waiter.resume() }
        defer {
            items.removeAll(keepingCapacity: true)
            spare = items
        }
        guard let session, !peer.closed else { return }
        let broker = bus.broker
        let time = ArrivalTime(broker.clock)
        for item in items {
            switch item {
            case .frame(let frame):
                broker.receive(frame, from: session)
            case .publish(let topic, let payload, let messageID):
                // Refusals and durable topics take the general path, which answers them.
                if broker.receiveLocalPublish(topic: topic, payload: payload, messageID: messageID, from: session, at: time) { continue }
                var frame = Frame()
                frame.publish.topic = topic
                frame.publish.payload = payload
                frame.publish.messageID = messageID
                broker.receive(frame, from: session)
            }
        }
    }

    var isOpen: Bool { !peer.closed }

    func waitForRoom() async {
        if queue.withLock({ $0.items.count < Self.queueLimit }) { return }
        await withCheckedContinuation { continuation in
            let ready = queue.withLock { queue in
                if queue.items.count < Self.queueLimit { return true }
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

/// The broker's side: frames are handed to the client as they are, and plain messages
/// as deliveries built straight from their parts, gathered over one loop turn.
final class InProcessPeer: BrokerPeer, @unchecked Sendable {
    private let sink: any FrameSink
    private let client: BusClient?
    private let loop: any EventLoop
    /// Loop-confined, like everything the broker touches.
    private var burstEndScheduled = false
    private var deliveries: [Delivery] = []
    /// Written on the loop, read by the client's tasks too (`isOpen`).
    private let closedFlag = Atomic<Bool>(false)
    var closed: Bool { closedFlag.load(ordering: .acquiring) }

    init(sink: any FrameSink, loop: any EventLoop) {
        self.sink = sink
        self.client = sink.client
        self.loop = loop
    }

    func send(_ frame: Frame) {
        guard !closed else { return }
        handOverDeliveries()
        sink.received(frame)
        scheduleBurstEnd()
    }

    func deliver(_ message: OutgoingMessage, subscriptionID: UInt64, attempt: UInt32) {
        guard !closed else { return }
        guard let plain = message.plain else {
            send(message.deliverFrame(subscriptionID: subscriptionID, attempt: attempt))
            return
        }
        deliveries.append(Delivery(plain, subscriptionID: subscriptionID, attempt: attempt))
        scheduleBurstEnd()
    }

    private func handOverDeliveries() {
        guard !deliveries.isEmpty else { return }
        sink.received(deliveries)
        deliveries.removeAll(keepingCapacity: true)
    }

    /// Everything the broker sends in this loop turn is one burst.
    private func scheduleBurstEnd() {
        guard !burstEndScheduled else { return }
        burstEndScheduled = true
        loop.execute { [self] in
            burstEndScheduled = false
            guard !closed else { return }
            handOverDeliveries()
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
