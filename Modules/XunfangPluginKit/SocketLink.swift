import Logging
import NIOCore
import NIOPosix
import XunfangBus
import XunfangProto
import XunfangWire

/// Where to find the bus.
public enum BusEndpoint: Sendable, Hashable, CustomStringConvertible {
    case unixSocket(String)
    case tcp(host: String, port: Int)

    public var description: String {
        switch self {
        case .unixSocket(let path): "unix:\(path)"
        case .tcp(let host, let port): "tcp:\(host):\(port)"
        }
    }
}

/// A link over a socket: frames are encoded on the caller's thread, written without a
/// flush, and one flush per event-loop turn sends everything queued in that turn.
final class SocketLink: FrameLink, @unchecked Sendable {
    private let channel: any Channel
    /// Touched only on the channel's event loop.
    private var flushScheduled = false
    private let logger: Logger

    private init(channel: any Channel, logger: Logger) {
        self.channel = channel
        self.logger = logger
    }

    static func connect(_ endpoint: BusEndpoint, group: any EventLoopGroup, sink: any FrameSink, logger: Logger) async throws -> SocketLink {
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ClientFrameHandler(sink: sink, logger: logger))
                }
            }
        let channel: any Channel
        switch endpoint {
        case .unixSocket(let path):
            channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
        case .tcp(let host, let port):
            channel = try await bootstrap.channelOption(.tcpOption(.tcp_nodelay), value: 1).connect(host: host, port: port).get()
        }
        return SocketLink(channel: channel, logger: logger)
    }

    func send(_ frame: Frame) {
        var buffer = channel.allocator.buffer(capacity: 0)
        do {
            try FrameEncoder.write(frame, into: &buffer, compressAbove: 64 * 1024)
        } catch {
            logger.error("cannot encode frame", metadata: ["xunfang.error": "\(error)"])
            return
        }
        // Write and flush decisions both happen on the loop, so a flush task always runs
        // after every write that saw it scheduled: nothing is left unflushed.
        channel.eventLoop.execute { [self] in
            channel.write(buffer, promise: nil)
            guard !flushScheduled else { return }
            flushScheduled = true
            channel.eventLoop.execute { [self] in
                flushScheduled = false
                channel.flush()
            }
        }
    }

    func close() {
        channel.eventLoop.execute { [channel] in
            channel.flush()
            channel.close(promise: nil)
        }
    }
}

/// Decodes frames from the bus (limits grow after Welcome) and hands them to the sink.
final class ClientFrameHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private var reader = FrameReader(limits: WireLimits())
    private let sink: any FrameSink
    private let logger: Logger

    init(sink: any FrameSink, logger: Logger) {
        self.sink = sink
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        reader.append(&incoming)
        do {
            while let payload = try reader.next() {
                let frame = try FrameDecoder.decode(Frame.self, from: payload)
                if case .welcome(let welcome) = frame.kind {
                    reader.limits = WireLimits(maxFrameBytes: Int(welcome.maxFrameBytes), maxDecompressedBytes: Int(welcome.maxDecompressedBytes))
                }
                sink.received(frame)
            }
        } catch {
            logger.error("bad frame from the bus; closing", metadata: ["xunfang.error": "\(error)"])
            context.close(promise: nil)
            return
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        sink.linkClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
