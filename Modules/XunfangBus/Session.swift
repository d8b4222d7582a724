import XunfangConfig
import XunfangProto
import DequeModule
import NIOCore

final class Session {
    let id: SessionID
    let peer: any BrokerPeer
    var isReady = false
    var instance: String?
    var principal: PrincipalConfig?
    var lastHeard: UInt64
    var pingOutstanding = false
    var subscriptions: [UInt64: Subscription] = [:]
    var serves: [String] = []
    var durableConsumers: Set<String> = []
    var outstandingCalls = 0
    var framesIn: UInt64 = 0
    var framesOut: UInt64 = 0
    var bytesIn: UInt64 = 0
    var bytesOut: UInt64 = 0
    var maxFrameBytes = 0
    /// Bytes held across this session's subscriptions for a peer that is not reading.
    var heldBytes = 0
    struct PublishDecision {
        let valid: Bool
        let allowed: Bool
        let durable: Bool
    }
    var publishDecisions: [String: PublishDecision] = [:]
    struct CallDecision {
        let valid: Bool
        let allowed: Bool
    }
    var callDecisions: [String: CallDecision] = [:]
    /// Where the last plain publish went: a publisher mostly repeats its topic.
    var lastRoute: PublishRoute?

    init(id: SessionID, peer: any BrokerPeer, connectedAt: UInt64) {
        self.id = id
        self.peer = peer
        self.lastHeard = connectedAt
    }
}

extension Dictionary where Key == String {
    /// The value for `key`, made and kept on first use. A peer sending endless distinct
    /// names only empties the table now and then: at most 1,024 are kept.
    mutating func remembered(_ key: String, _ make: () -> Value) -> Value {
        if let known = self[key] { return known }
        let value = make()
        if count >= 1_024 { removeAll(keepingCapacity: true) }
        self[key] = value
        return value
    }
}

final class Subscription {
    let id: UInt64
    let pattern: TopicPattern
    let queueGroup: String
    let durableName: String
    /// Plain subscriptions only: deliveries waiting for the peer to become writable.
    var held = HeldDeliveries()
    let queueLimit: Int
    var dropped: UInt64 = 0

    init(id: UInt64, pattern: TopicPattern, queueGroup: String, durableName: String, queueLimit: Int) {
        self.id = id
        self.pattern = pattern
        self.queueGroup = queueGroup
        self.durableName = durableName
        self.queueLimit = queueLimit
    }
}

/// Deliveries waiting for a peer to become writable, oldest first, bounded by the
/// subscription's limit (the oldest is dropped). Peers that write bytes get them as
/// ready-made frames in one buffer: holding a message then allocates nothing and a
/// drain is one copy. Other peers get the messages.
struct HeldDeliveries {
    private var messages = Deque<OutgoingMessage>()
    private var frames = ByteBuffer()
    private var frameLengths = Deque<Int>()

    var count: Int { messages.count + frameLengths.count }
    /// What is held, in bytes: frames as encoded, messages by their shared fields.
    private(set) var bytes = 0
    var isEmpty: Bool { messages.isEmpty && frameLengths.isEmpty }

    mutating func hold(_ message: OutgoingMessage, subscriptionID: UInt64, asFrame: Bool) {
        if asFrame {
            // Space read out is reused once at least half the buffer is dead, so each
            // byte moves O(1) times however large the backlog grows.
            if frameLengths.isEmpty {
                frames.clear()
            } else if frames.readerIndex > frames.readableBytes {
                frames.discardReadBytes()
            }
            let start = frames.writerIndex
            message.writeDeliver(subscriptionID: subscriptionID, attempt: 1, into: &frames)
            frameLengths.append(frames.writerIndex - start)
            bytes += frames.writerIndex - start
        } else {
            message.share()
            messages.append(message)
            bytes += message.sharedSize
        }
    }

    /// Holds a frame made for this subscriber alone (compressed to fit its limit).
    mutating func hold(encodedFrame: ByteBuffer) {
        if frameLengths.isEmpty { frames.clear() }
        frames.writeImmutableBuffer(encodedFrame)
        frameLengths.append(encodedFrame.readableBytes)
        bytes += encodedFrame.readableBytes
    }

    mutating func dropOldest() {
        if let length = frameLengths.popFirst() {
            frames.moveReaderIndex(forwardBy: length)
            bytes -= length
        } else if let message = messages.popFirst() {
            bytes -= message.sharedSize
        }
    }

    mutating func popMessage() -> OutgoingMessage? {
        guard let message = messages.popFirst() else { return nil }
        bytes -= message.sharedSize
        return message
    }

    /// The oldest held frames, about `bytes` of them (at least one), and how many. The
    /// caller copies them out before holding more: the slice shares this buffer.
    mutating func takeFrames(about slice: Int) -> (frames: ByteBuffer, count: Int)? {
        guard !frameLengths.isEmpty else { return nil }
        var total = 0
        var count = 0
        while count < frameLengths.count && (count == 0 || total + frameLengths[count] <= slice) {
            total += frameLengths[count]
            count += 1
        }
        frameLengths.removeFirst(count)
        bytes -= total
        let taken = frames.readSlice(length: total)!
        // A backlog's storage is let go once drained, not kept for the subscription's life.
        if frameLengths.isEmpty && frames.capacity > 1 << 20 { frames = ByteBuffer() }
        return (taken, count)
    }
}

/// The plain subscriptions a topic reaches, resolved to objects; valid while the route
/// table's generation is unchanged (any subscribe, unsubscribe or disconnect changes it).
final class PublishRoute {
    let topic: String
    let generation: UInt64
    let individual: [(Session, Subscription)]
    let groups: [[SubscriptionRef]]

    init(topic: String, generation: UInt64, individual: [(Session, Subscription)], groups: [[SubscriptionRef]]) {
        self.topic = topic
        self.generation = generation
        self.individual = individual
        self.groups = groups
    }
}

struct SubscriptionRef: Hashable {
    let session: SessionID
    let subscription: UInt64
}

final class ServiceEntry {
    var servers: [SessionID] = []
    var cursor: UInt64 = 0
}

struct PendingCall {
    let caller: SessionID
    let callerCallID: UInt64
    let server: SessionID
    let method: String
    let deadline: UInt64
    let timeout: UInt64
    let startedAt: UInt64
}

/// What `xunfang ctl stats` shows per connected plugin.
public struct SessionSnapshot: Sendable, Codable, Hashable {
    public var instance: String
    public var plugin: String
    public var framesIn: UInt64
    public var framesOut: UInt64
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var subscriptions: Int
    public var queuedDeliveries: Int
    public var dropped: UInt64
    public var serves: [String]

    public init(instance: String, plugin: String, framesIn: UInt64, framesOut: UInt64, bytesIn: UInt64, bytesOut: UInt64,
                subscriptions: Int, queuedDeliveries: Int, dropped: UInt64, serves: [String]) {
        self.instance = instance
        self.plugin = plugin
        self.framesIn = framesIn
        self.framesOut = framesOut
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.subscriptions = subscriptions
        self.queuedDeliveries = queuedDeliveries
        self.dropped = dropped
        self.serves = serves
    }
}

/// Counters for the whole bus; exported to Prometheus by the server.
public struct BrokerStats: Sendable, Codable, Hashable {
    public var connections: UInt64 = 0
    public var framesIn: UInt64 = 0
    public var framesOut: UInt64 = 0
    public var published: UInt64 = 0
    public var delivered: UInt64 = 0
    public var dropped: UInt64 = 0
    /// Deliveries larger than their receiver's limits even compressed: refused to it.
    public var oversizeRefused: UInt64 = 0
    /// Bytes held now for subscribers that are not reading (bounded by `bus.total_buffer_bytes`).
    public var heldBytes = 0
    /// Durable messages dropped by a retention rule (age, count or bytes; discard old).
    public var durableDiscarded: UInt64 = 0
    /// Durable publishes refused at a retention limit (discard new).
    public var durableRefusedByRetention: UInt64 = 0
    /// Bytes of the durable messages kept now (filled in when the metrics are read).
    public var durableRetainedBytes = 0
    public var redelivered: UInt64 = 0
    public var requests: UInt64 = 0
    public var unavailable: UInt64 = 0
    public var deadlinesExceeded: UInt64 = 0
    public var lateResponses: UInt64 = 0
    public var denials: UInt64 = 0
    public var authFailures: UInt64 = 0
    public var rejects: UInt64 = 0
    public var deadPeers: UInt64 = 0
    public var durableAppended: UInt64 = 0
    /// Writes or fdatasyncs of the durable log that failed (their publishers were refused).
    public var durableWriteFailures: UInt64 = 0
    /// Damaged ranges found in the durable log at start, set aside to `quarantine/`.
    public var durableCorruptRanges: UInt64 = 0
    public var durableQuarantinedBytes: UInt64 = 0
    /// Request round trips through the bus, by upper bound in milliseconds.
    public var latencyBuckets: [UInt64] = Array(repeating: 0, count: BrokerStats.latencyBoundsMs.count + 1)
    public static let latencyBoundsMs: [UInt64] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 5_000]

    public init() {}

    mutating func recordLatency(_ milliseconds: UInt64) {
        let index = Self.latencyBoundsMs.firstIndex { milliseconds <= $0 } ?? Self.latencyBoundsMs.count
        latencyBuckets[index] += 1
    }
}

/// MAJOR.MINOR.PATCH with optional pre-release / build suffixes.
public struct SemanticVersion: Hashable, Sendable {
    public let major: Int, minor: Int, patch: Int
    public init?(_ text: String) {
        let core = text.split(whereSeparator: { $0 == "-" || $0 == "+" }).first.map(String.init) ?? ""
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let major = Int(parts[0]), let minor = Int(parts[1]), let patch = Int(parts[2]),
              major >= 0, minor >= 0, patch >= 0 else { return nil }
        self.major = major
        self.minor = minor
        self.patch = patch
    }
}
