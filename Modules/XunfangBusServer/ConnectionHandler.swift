import Logging
import NIOCore
import SwiftProtobuf
import XunfangBus
import XunfangProto
import XunfangWire

/// Collects the connections that were written to during one event-loop turn and flushes
/// each once at its end: many frames, one syscall.
final class FlushBatcher {
    private var dirty: [ConnectionHandler] = []
    private var scheduled = false
    private let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func markDirty(_ connection: ConnectionHandler) {
        dirty.append(connection)
        guard !scheduled else { return }
        scheduled = true
        eventLoop.assumeIsolatedUnsafeUnchecked().execute { [self] in
            scheduled = false
            let connections = dirty
            dirty.removeAll(keepingCapacity: true)
            for connection in connections { connection.flushIfNeeded() }
        }
    }
}

/// One socket connection: decodes frames (with the negotiated limits) into the broker,
/// and is the broker's `BrokerPeer` for writing back.
final class ConnectionHandler: ChannelInboundHandler, BrokerPeer {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let broker: Broker
    private let batcher: FlushBatcher
    private let logger: Logger
    private let negotiatedLimits: WireLimits
    private var reader = FrameReader(limits: .handshake)
    private var intake = ByteIntake()
    /// Whether the handshake is done and the negotiated limits apply.
    private var welcomed = false
    private var context: ChannelHandlerContext?
    private var session: SessionID?
    private var needsFlush = false
    private var outgoing = ByteBuffer()
    private var closing = false

    init(broker: Broker, batcher: FlushBatcher, limits: WireLimits, logger: Logger) {
        self.broker = broker
        self.batcher = batcher
        self.negotiatedLimits = limits
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        session = broker.connect(self)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let session { broker.disconnect(session) }
        session = nil
        self.context = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if let session { broker.recordBytes(session, received: incoming.readableBytes) }
        reader.append(&incoming)
        intake.startRead()
        do throws(WireError) {
            while !closing, let session, let payload = try reader.next() {
                try broker.receive(payload: payload, from: session, intake: &intake)
                if !welcomed, broker.isReady(session) {
                    welcomed = true
                    reader.limits = negotiatedLimits
                }
            }
        } catch {
            fatal(code: StatusCode(rawValue: error.code.status), message: error.message)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let session { broker.peerBecameWritable(session) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error", metadata: ["xunfang.error": "\(error)"])
        context.close(promise: nil)
    }

    private func fatal(code: StatusCode, message: String) {
        logger.warning("protocol violation; closing connection", metadata: ["xunfang.reason": "\(message)"])
        var frame = Frame()
        frame.error.code = code.rawValue
        frame.error.message = message
        frame.error.fatal = true
        send(frame)
        close()
        if let session { broker.disconnect(session) }
        session = nil
    }

    // MARK: BrokerPeer

    func send(_ frame: Frame) {
        guard context != nil, !closing else { return }
        do {
            try FrameEncoder.write(frame, into: &outgoing)
        } catch {
            logger.error("cannot encode frame", metadata: ["xunfang.error": "\(error)"])
            return
        }
        scheduleFlush()
    }

    /// Frames written in one loop turn share one buffer and go out in one write and flush.
    private func scheduleFlush() {
        if !needsFlush {
            needsFlush = true
            batcher.markDirty(self)
        }
    }

    /// Written from the publisher's bytes when the message passed through untouched, else
    /// from one encoding shared by every subscriber: see `FrameEncoder.writeDeliver`.
    func deliver(_ message: OutgoingMessage, subscriptionID: UInt64, attempt: UInt32) {
        guard context != nil, !closing else { return }
        message.writeDeliver(subscriptionID: subscriptionID, attempt: attempt, into: &outgoing)
        scheduleFlush()
    }

    var isWritable: Bool { context?.channel.isWritable ?? false }

    var takesFrames: Bool { true }

    func writeEncoded(_ body: (inout ByteBuffer) -> Void) {
        guard context != nil, !closing else { return }
        body(&outgoing)
        scheduleFlush()
    }

    func close() {
        guard let context, !closing else { return }
        closing = true
        needsFlush = false
        let last = outgoing
        outgoing = ByteBuffer()
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(last)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        let batch = outgoing
        if let session { broker.recordBytes(session, sent: batch.readableBytes) }
        outgoing = context.channel.allocator.buffer(capacity: min(batch.capacity, 256 * 1024))
        context.writeAndFlush(wrapOutboundOut(batch), promise: nil)
    }
}

