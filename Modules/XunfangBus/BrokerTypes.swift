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
    var isWritable: Bool { get }
    /// Sends what is queued, then closes.
    func close()
}

/// Milliseconds on a monotonic clock; injected so tests control time.
public protocol BrokerClock: Sendable {
    func nowMilliseconds() -> UInt64
    func unixMilliseconds() -> Int64
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
