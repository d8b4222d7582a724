public import NIOCore
public import XunfangProto
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
public import XunfangWire

public typealias Frame = Xunfang_Bus_V1_Frame

/// One connected peer as the broker sees it: somewhere to put frames.
///
/// The transport owns the socket. `send` must not block; the transport batches writes
/// and flushes once per read burst. `isWritable` going false makes the broker hold
/// deliveries in the subscription's bounded queue instead of the socket's buffer;
/// the transport calls `Broker.peerBecameWritable` when it drains.
public protocol BrokerPeer: AnyObject {
    func send(_ frame: Frame)
    /// One delivery of a message that may go to many subscribers. Transports that write
    /// bytes override it to reuse the message's shared encoding.
    func deliver(_ message: OutgoingMessage, subscriptionID: UInt64, attempt: UInt32)
    var isWritable: Bool { get }
    /// Sends what is queued, then closes.
    func close()
    /// Whether the peer writes bytes: the broker then hands it encoded frames through
    /// `writeEncoded` (held deliveries, calls passed through) instead of `Frame`s.
    var takesFrames: Bool { get }
    /// Lets `body` append whole encoded frames to what the peer sends next.
    func writeEncoded(_ body: (inout ByteBuffer) -> Void)
}

/// The frames in `buffer`, which the bus encoded itself (so they decode).
public func decodeFrames(_ buffer: ByteBuffer) -> [Frame] {
    var rest = buffer
    var frames: [Frame] = []
    let decoder = FrameDecoder(limits: WireLimits(maxFrameBytes: .max, maxDecompressedBytes: .max))
    while let payload = try? decoder.next(from: &rest), let frame = try? FrameDecoder.decode(Frame.self, from: payload) {
        frames.append(frame)
    }
    return frames
}

/// Milliseconds on a monotonic clock; injected so tests control time.
public protocol BrokerClock: Sendable {
    func nowMilliseconds() -> UInt64
    func unixMilliseconds() -> Int64
}

extension BrokerPeer {
    public var takesFrames: Bool { false }

    /// For peers that take frames but keep the default: decoded and sent one by one.
    public func writeEncoded(_ body: (inout ByteBuffer) -> Void) {
        var frames = ByteBuffer()
        body(&frames)
        for frame in decodeFrames(frames) { send(frame) }
    }

    public func deliver(_ message: OutgoingMessage, subscriptionID: UInt64, attempt: UInt32) {
        send(message.deliverFrame(subscriptionID: subscriptionID, attempt: attempt))
    }
}

/// A message on its way to subscribers. Everything but the subscription id and the
/// attempt is the same for each of them.
///
/// It comes in one of three forms and makes the others on first use: socket peers
/// write `plain` parts or the `sharedFields` bytes; in-process peers and the durable
/// log want the `message`.
public final class OutgoingMessage {
    private var decoded: Xunfang_Bus_V1_Deliver?
    private var encoded: ByteBuffer?
    /// Parts still pointing into a publisher's read buffer; see `share()`.
    public private(set) var plain: PlainMessage?

    public init(_ message: Xunfang_Bus_V1_Deliver) {
        self.decoded = message
    }

    public init(plain: PlainMessage) {
        self.plain = plain
    }

    /// The message with `subscriptionID` and `deliveryAttempt` unset.
    public var message: Xunfang_Bus_V1_Deliver {
        if let decoded { return decoded }
        // The bytes were encoded by the bus itself, so they always decode.
        let message = (try? Xunfang_Bus_V1_Deliver(serializedBytes: sharedFields)) ?? Xunfang_Bus_V1_Deliver()
        decoded = message
        return message
    }

    /// `Deliver` fields 2–7 and 9 as protobuf bytes (fields 1 and 8 are added per delivery).
    public var sharedFields: ByteBuffer {
        if let encoded { return encoded }
        let bytes: ByteBuffer = plain?.sharedFields ?? (try? decoded?.serializedBytes()) ?? ByteBuffer()
        encoded = bytes
        return bytes
    }

    /// Bytes of the shared fields; a `Frame{deliver}` adds at most `deliverOverhead`.
    public var sharedSize: Int {
        if encoded == nil, let plain { return plain.sharedFieldsSize }
        return sharedFields.readableBytes
    }

    /// The 5-byte prefix, the frame's field tag and length, subscription id and attempt.
    public static let deliverOverhead = 32

    /// The `Frame{deliver}` for one subscriber, for peers that take frames as messages.
    public func deliverFrame(subscriptionID: UInt64, attempt: UInt32) -> Frame {
        var frame = Frame()
        frame.deliver = message
        frame.deliver.subscriptionID = subscriptionID
        frame.deliver.deliveryAttempt = attempt
        return frame
    }

    /// Appends the whole `Frame{deliver}` for one subscriber: from the publisher's parts,
    /// or from the shared encoding once `share()` made it (a copy of the same bytes).
    public func writeDeliver(subscriptionID: UInt64, attempt: UInt32, into out: inout ByteBuffer) {
        if encoded == nil, let plain {
            FrameEncoder.writeDeliver(plain, subscriptionID: subscriptionID, attempt: attempt, into: &out)
        } else {
            FrameEncoder.writeDeliver(sharedFields: sharedFields, subscriptionID: subscriptionID, attempt: attempt, into: &out)
        }
    }

    /// Encodes the shared fields once: for a message bound for several subscribers (each
    /// socket peer then copies the same bytes) or for a queue. A payload that is a slice
    /// of a publisher's read is let go, since a queued 128-byte message must not keep a
    /// 64 KiB read alive; an in-process payload stays for in-process peers.
    public func share() {
        guard let plain, encoded == nil else { return }
        _ = sharedFields
        if case .received = plain.payload { self.plain = nil }
    }
}

/// When a transport read a burst of frames: one clock reading for all of them.
public struct ArrivalTime: Sendable {
    public let monotonicMilliseconds: UInt64
    public let unixMilliseconds: Int64

    public init(_ clock: any BrokerClock) {
        monotonicMilliseconds = clock.nowMilliseconds()
        unixMilliseconds = clock.unixMilliseconds()
    }
}

public struct SystemClock: BrokerClock {
    public init() {}
    public func nowMilliseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000 + UInt64(spec.tv_nsec) / 1_000_000
    }
    public func unixMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

public struct SessionID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public var description: String { "s\(rawValue)" }
}

/// A broker failure with a code that is the wire status.
public typealias BusError = StatusError
