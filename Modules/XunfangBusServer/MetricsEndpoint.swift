import NIOCore
import NIOHTTP1
import Prometheus
import XunfangBus

/// `GET /metrics` in Prometheus text format. Runs on the broker's own event loop, so it
/// reads the counters directly, without locks.
final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let broker: Broker
    private let registry: PrometheusCollectorRegistry
    private var request: HTTPRequestHead?

    init(broker: Broker, registry: PrometheusCollectorRegistry) {
        self.broker = broker
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            let (status, body): (HTTPResponseStatus, String)
            if head.method != .GET {
                (status, body) = (.methodNotAllowed, "only GET\n")
            } else if head.uri.split(separator: "?").first != "/metrics" {
                (status, body) = (.notFound, "see /metrics\n")
            } else {
                var stats = broker.stats
                stats.durableRetainedBytes = broker.durableRetained.bytes
                (status, body) = (.ok, PrometheusText.render(stats: stats, sessions: broker.sessionSnapshots(),
                                                              durable: broker.durableSnapshots(), appending: registry.emitToString()))
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: status == .ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain")
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
