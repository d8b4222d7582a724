public import Foundation
import CommunityPolicingContract
import XunfangPluginKit
import NIOCore
import NIOPosix
import NIOHTTP1

/// Where an SMS gateway listens: `http://host:port/path` (`COMMUNITY_SMS_GATEWAY`). Plain
/// HTTP on the county's own network or the same machine; a bearer token from a 0600 file
/// (`COMMUNITY_SMS_TOKEN_FILE`) says the sender is the stack.
public struct SmsGatewayEndpoint: Sendable, Equatable {
    public let host: String
    public let port: Int
    public let path: String

    public init(_ address: String) throws {
        guard let url = URLComponents(string: address), url.scheme == "http", let host = url.host, !host.isEmpty else {
            throw SettingError("COMMUNITY_SMS_GATEWAY is \"\(address)\"; use http://host:port/path")
        }
        let port = url.port ?? 80
        guard (1...65_535).contains(port) else { throw SettingError("COMMUNITY_SMS_GATEWAY has no valid port: \(address)") }
        self.host = host
        self.port = port
        path = url.path.isEmpty ? "/" : url.path
    }
}

/// One text message for the gateway: the alert's id is its idempotency key, so a batch
/// handed over again after a crash is accepted once and answered "already sent".
struct SmsMessage: Codable, Equatable {
    var id: String
    var to: String
    var text: String
}

/// Sends alerts as text messages through an HTTP SMS gateway: `POST <path>` with a JSON
/// body (`id`, `to`, `text`) and the header `Idempotency-Key: <alert id>`, one connection a
/// batch. A 2xx answer (200 for a repeat included) counts as sent; a busy answer is retried
/// a few times; anything else fails the batch, which is handed over again later, the sent
/// ones then deduplicated by the gateway.
/// Members' phones are personal data: `phones` unseals them for the batch and audits each
/// read. A member with no phone on file gets no text (the CAP document still records it).
public struct SmsGatewayNotifier: AlertNotifier {
    let endpoint: SmsGatewayEndpoint
    let token: String?
    let phones: @Sendable ([Xunfang_Community_V1_Alert]) throws -> [String: String]

    init(endpoint: SmsGatewayEndpoint, token: String?, phones: @escaping @Sendable ([Xunfang_Community_V1_Alert]) throws -> [String: String]) {
        self.endpoint = endpoint
        self.token = token
        self.phones = phones
    }

    public func deliver(_ batch: [DeliverableAlert]) async throws {
        let alerts = batch.map(\.alert)
        let phones = try phones(alerts)
        let messages = alerts.compactMap { alert in phones[alert.memberID].map { SmsMessage(id: alert.id, to: $0, text: Self.text(alert)) } }
        guard !messages.isEmpty else { return }
        let endpoint = self.endpoint, token = self.token
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            var responses = inbound.makeAsyncIterator()
            for message in messages {
                let body = try JSONEncoder().encode(message)
                var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: endpoint.path)
                head.headers.add(name: "Host", value: "\(endpoint.host):\(endpoint.port)")
                head.headers.add(name: "Content-Type", value: "application/json")
                head.headers.add(name: "Content-Length", value: "\(body.count)")
                head.headers.add(name: "Idempotency-Key", value: message.id)
                if let token { head.headers.add(name: "Authorization", value: "Bearer \(token)") }
                // A busy gateway (429, 5xx) is asked again a few times before the batch fails:
                // one refusal must not send a thousand texts back to the queue.
                for attempt in 1...Self.attempts {
                    try await outbound.write(.head(head))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                    try await outbound.write(.end(nil))
                    var status: HTTPResponseStatus?
                    while let part = try await responses.next() {
                        if case .head(let response) = part { status = response.status }
                        if case .end = part { break }
                    }
                    guard let status else { throw NotifierError("the SMS gateway closed the connection before answering \(message.id)") }
                    if (200..<300).contains(status.code) { break }
                    guard (status.code == 429 || status.code >= 500) && attempt < Self.attempts else {
                        throw NotifierError("the SMS gateway answered \(status.code) \(status.reasonPhrase) for \(message.id)")
                    }
                    try await Task.sleep(for: .milliseconds(100 << attempt))
                }
            }
        }
    }

    static let attempts = 4

    /// The text: the headline and the hot windows, within one long message (≤ 200 characters).
    static func text(_ alert: Xunfang_Community_V1_Alert) -> String {
        let windows = alert.windows.prefix(3).map { "\(ChinaTime.hourMinute(milliseconds: $0.start))-\(ChinaTime.hourMinute(milliseconds: $0.end)) \($0.segment)" }.joined(separator: "；")
        let text = "【巡防】\(alert.headline)。\(windows)。发现可疑情况请立即报告，不要自行处置。"
        return text.count <= 200 ? text : String(text.prefix(199)) + "…"
    }
}

/// Each alert through every notifier in turn: the CAP documents to the outbox directory,
/// then the texts; a failure of either hands the batch over again (both are idempotent).
public struct NotifierChain: AlertNotifier {
    let notifiers: [any AlertNotifier]

    public func deliver(_ batch: [DeliverableAlert]) async throws {
        for notifier in notifiers { try await notifier.deliver(batch) }
    }
}
