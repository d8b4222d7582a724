import Foundation
import XunfangBus
import XunfangWire
import XunfangProto

/// One established connection to a bus, in either transport. The client writes frames
/// into it; the link hands incoming frames to the client's `FrameSink`.
protocol FrameLink: AnyObject, Sendable {
    func send(_ frame: Frame)
    /// False once the connection has closed (its sink's `linkClosed` has been or will be called).
    var isOpen: Bool { get }
    /// Suspends while the link's bounded send queue is full.
    func waitForRoom() async
    /// Queues a header-free publish if there is room now, encoding it straight into the
    /// send queue; false means the caller waits for room and sends the general way.
    func sendPlainPublish(topic: String, payload: Data, messageID: String, receiptRef: UInt64) -> Bool
    /// A call or an answer without metadata, encoded straight into the send queue; false
    /// means the caller sends the general way.
    func sendPlainRequest(callID: UInt64, method: String, payload: Data, timeoutMs: UInt64) -> Bool
    func sendPlainResponse(_ response: Xunfang_Bus_V1_Response) -> Bool
    /// Closes the link when the bus stays silent; a no-op where a dead peer cannot happen.
    func watchLiveness(everyMilliseconds interval: UInt32)
    func close()
}

/// Where a link delivers what arrives. Called on the link's thread; must not block.
protocol FrameSink: AnyObject, Sendable {
    func received(_ frame: Frame)
    /// Deliveries in arrival order, between `received(_: Frame)` calls.
    func received(_ deliveries: [Delivery])
    /// Calls, answers and receipts read in place by a socket link.
    func received(_ request: PlainRequest)
    func received(_ response: PlainResponse)
    func received(_ receipt: PlainReceipt)
    /// The end of a burst of `received` calls: hand over what was gathered.
    func receivedBurstEnded()
    func linkClosed()
    /// The client durable deliveries are acknowledged through.
    var client: BusClient? { get }
}

extension FrameLink {
    func sendPlainPublish(topic: String, payload: Data, messageID: String, receiptRef: UInt64) -> Bool { false }
    func sendPlainRequest(callID: UInt64, method: String, payload: Data, timeoutMs: UInt64) -> Bool { false }
    func sendPlainResponse(_ response: Xunfang_Bus_V1_Response) -> Bool { false }
    func watchLiveness(everyMilliseconds interval: UInt32) {}
}
