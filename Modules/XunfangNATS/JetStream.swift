public import Foundation
import Synchronization

/// The part of JetStream's API (JSON requests on `$JS.API.>`) a bridge needs: streams,
/// de-duplicated publishing, durable pull consumers and acknowledgements.
public struct JetStream: Sendable {
    public let connection: NATSConnection
    public var timeout: Duration

    public init(_ connection: NATSConnection, timeout: Duration = .seconds(5)) {
        self.connection = connection
        self.timeout = timeout
    }

    /// Waits until JetStream answers (a cluster needs a meta leader first).
    public func waitUntilReady(within limit: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + limit
        while true {
            do {
                _ = try await api("INFO", as: Success.self)
                return
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    // MARK: Streams

    public struct StreamConfig: Codable, Sendable, Equatable {
        public var name: String
        public var subjects: [String]
        public var retention = "limits"
        public var storage = "file"
        public var numReplicas: Int
        /// Nanoseconds within which a repeated `Nats-Msg-Id` is stored once.
        public var duplicateWindow: Int64
        public var maxAge: Int64
        public var maxBytes: Int64 = -1
        public var discard = "old"

        public init(name: String, subjects: [String], replicas: Int = 1, duplicateWindow: Duration = .seconds(120), maxAge: Duration = .seconds(7 * 86_400)) {
            self.name = name
            self.subjects = subjects
            numReplicas = replicas
            self.duplicateWindow = duplicateWindow.nanoseconds
            self.maxAge = maxAge.nanoseconds
        }

        enum CodingKeys: String, CodingKey {
            case name, subjects, retention, storage, discard
            case numReplicas = "num_replicas", duplicateWindow = "duplicate_window", maxAge = "max_age", maxBytes = "max_bytes"
        }
    }

    public struct StreamState: Decodable, Sendable {
        public var messages: UInt64
        public var firstSequence: UInt64
        public var lastSequence: UInt64

        enum CodingKeys: String, CodingKey {
            case messages, firstSequence = "first_seq", lastSequence = "last_seq"
        }
    }

    struct StreamInfo: Decodable {
        var config: StreamConfig
        var state: StreamState
    }

    /// Creates the stream, or leaves an existing one of that name as it is.
    @discardableResult
    public func ensureStream(_ config: StreamConfig) async throws -> StreamState {
        do {
            return try await api("STREAM.INFO.\(config.name)", as: StreamInfo.self).state
        } catch let error as NATSError where error.apiCode == 10059 {
            // 10059: stream not found.
        }
        do {
            return try await api("STREAM.CREATE.\(config.name)", body: config, as: StreamInfo.self).state
        } catch let error as NATSError where error.apiCode == 10058 {
            // 10058: created meanwhile by another bridge.
            return try await api("STREAM.INFO.\(config.name)", as: StreamInfo.self).state
        }
    }

    public func streamState(_ name: String) async throws -> StreamState {
        try await api("STREAM.INFO.\(name)", as: StreamInfo.self).state
    }

    public func deleteStream(_ name: String) async throws {
        _ = try await api("STREAM.DELETE.\(name)", as: Success.self)
    }

    // MARK: Publishing

    public struct PublishAck: Decodable, Sendable, Equatable {
        public var stream: String
        public var sequence: UInt64
        /// True when the id was already stored within the window: nothing new was stored.
        public var duplicate: Bool

        enum CodingKeys: String, CodingKey { case stream, sequence = "seq", duplicate }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            stream = try container.decode(String.self, forKey: .stream)
            sequence = try container.decode(UInt64.self, forKey: .sequence)
            duplicate = try container.decodeIfPresent(Bool.self, forKey: .duplicate) ?? false
        }
    }

    /// Publishes and waits until the stream has stored it (replicated, on a cluster).
    public func publish(_ subject: String, payload: Data, messageID: String, headers: NATSHeaders = NATSHeaders()) async throws -> PublishAck {
        var headers = headers
        headers.set("Nats-Msg-Id", messageID)
        let answer = try await connection.request(subject, payload: payload, headers: headers, timeout: timeout)
        return try Self.decodeAnswer(answer.payload, as: PublishAck.self, what: "publish to \(subject)")
    }

    // MARK: Consumers

    public struct ConsumerConfig: Codable, Sendable, Equatable {
        public var durableName: String
        public var filterSubject: String
        public var ackPolicy = "explicit"
        public var deliverPolicy = "all"
        /// Nanoseconds before an unacknowledged message is delivered again.
        public var ackWait: Int64
        public var maxAckPending: Int
        public var maxDeliver = -1

        public init(durable: String, filterSubject: String, ackWait: Duration = .seconds(30), maxAckPending: Int = 1_024) {
            durableName = durable
            self.filterSubject = filterSubject
            self.ackWait = ackWait.nanoseconds
            self.maxAckPending = maxAckPending
        }

        enum CodingKeys: String, CodingKey {
            case durableName = "durable_name", filterSubject = "filter_subject", ackPolicy = "ack_policy"
            case deliverPolicy = "deliver_policy", ackWait = "ack_wait", maxAckPending = "max_ack_pending", maxDeliver = "max_deliver"
        }
    }

    struct ConsumerCreate: Encodable {
        var streamName: String
        var config: ConsumerConfig
        enum CodingKeys: String, CodingKey { case streamName = "stream_name", config }
    }

    public struct ConsumerInfo: Decodable, Sendable {
        public var name: String
        public var numPending: UInt64
        public var numAckPending: UInt64

        enum CodingKeys: String, CodingKey { case name, numPending = "num_pending", numAckPending = "num_ack_pending" }
    }

    /// Creates a durable pull consumer, or finds the one of that name (a bridge that was
    /// down resumes from where its consumer stopped).
    @discardableResult
    public func ensureConsumer(stream: String, _ config: ConsumerConfig) async throws -> ConsumerInfo {
        do {
            return try await api("CONSUMER.INFO.\(stream).\(config.durableName)", as: ConsumerInfo.self)
        } catch let error as NATSError where error.apiCode == 10014 {
            // 10014: consumer not found.
        }
        return try await api("CONSUMER.DURABLE.CREATE.\(stream).\(config.durableName)",
                             body: ConsumerCreate(streamName: stream, config: config), as: ConsumerInfo.self)
    }

    public func consumerInfo(stream: String, durable: String) async throws -> ConsumerInfo {
        try await api("CONSUMER.INFO.\(stream).\(durable)", as: ConsumerInfo.self)
    }

    struct NextRequest: Encodable {
        var batch: Int
        var expires: Int64
    }

    /// Up to `batch` messages, waiting at most `wait` for them. Each must be acknowledged
    /// (`ack`) or it comes again after the consumer's ack wait.
    public func fetch(stream: String, durable: String, batch: Int, wait: Duration) async throws -> [JetStreamMessage] {
        let messages = Mutex<[JetStreamMessage]>([])
        _ = try await pull(stream: stream, durable: durable, batch: batch, wait: wait) { message in messages.withLock { $0.append(message) } }
        return messages.withLock { $0 }
    }

    /// One pull request: `handle` runs for each message as it arrives (not when the batch
    /// is full), so a quiet stream costs no latency; returns how many came. The server ends
    /// the request after `batch` messages or `wait` (status 408); should the link die
    /// meanwhile, the request is given up `wait` + 5 s after it was made.
    @discardableResult
    public func pull(stream: String, durable: String, batch: Int, wait: Duration,
                     _ handle: (JetStreamMessage) async throws -> Void) async throws -> Int {
        let inbox = "_INBOX." + NATSConnection.randomToken()
        let subscription = try connection.subscribe(inbox)
        defer { connection.unsubscribe(subscription.id) }
        let body = try JSONEncoder.sorted.encode(NextRequest(batch: batch, expires: wait.nanoseconds))
        try connection.publish("$JS.API.CONSUMER.MSG.NEXT.\(stream).\(durable)", payload: body, replyTo: inbox)
        let watchdog = Task { [connection] in
            try await Task.sleep(for: wait + .seconds(5))
            connection.unsubscribe(subscription.id)
        }
        defer { watchdog.cancel() }
        var count = 0
        for await message in subscription.messages {
            if let status = message.headers.status {
                // 100: idle heartbeat; 404/408/409: nothing (more) to give now.
                if status == 100 { continue }
                break
            }
            try await handle(JetStreamMessage(message: message, connection: connection))
            count += 1
            if count == batch { break }
        }
        return count
    }

    // MARK: The API

    struct APIError: Decodable {
        var code: Int
        var errCode: Int?
        var description: String?
        enum CodingKeys: String, CodingKey { case code, errCode = "err_code", description }
    }

    struct Success: Decodable {}

    struct ErrorEnvelope: Decodable { var error: APIError? }

    private func api<Answer: Decodable>(_ path: String, body: (any Encodable)? = nil, as type: Answer.Type) async throws -> Answer {
        let payload = try body.map { try JSONEncoder.sorted.encode($0) } ?? Data()
        let answer = try await connection.request("$JS.API.\(path)", payload: payload, timeout: timeout)
        return try Self.decodeAnswer(answer.payload, as: type, what: path)
    }

    static func decodeAnswer<Answer: Decodable>(_ payload: Data, as type: Answer.Type, what: String) throws -> Answer {
        if let error = (try? JSONDecoder().decode(ErrorEnvelope.self, from: payload))?.error {
            throw NATSError(.jetStream, "\(what): \(error.description ?? "error") (\(error.code))", apiCode: error.errCode)
        }
        do {
            return try JSONDecoder().decode(type, from: payload)
        } catch {
            throw NATSError(.jetStream, "\(what): an answer JetStream does not give: \(String(decoding: payload.prefix(200), as: UTF8.self))")
        }
    }
}

/// A message from a pull consumer, with where it stands in the stream.
public struct JetStreamMessage: Sendable {
    public let message: NATSMessage
    let connection: NATSConnection

    public var subject: String { message.subject }
    public var payload: Data { message.payload }
    public var headers: NATSHeaders { message.headers }

    /// The stream sequence and the delivery count, read from the ack subject
    /// (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ms>.<pending>`, or
    /// the longer form with a domain and account hash).
    public var metadata: (streamSequence: UInt64, delivered: UInt64, pending: UInt64)? {
        guard let reply = message.replyTo else { return nil }
        let tokens = reply.split(separator: ".")
        guard tokens.count >= 9, tokens[0] == "$JS", tokens[1] == "ACK" else { return nil }
        let offset = tokens.count >= 12 ? 4 : 2
        guard let delivered = UInt64(tokens[offset + 2]), let sequence = UInt64(tokens[offset + 3]),
              let pending = UInt64(tokens[offset + 6]) else { return nil }
        return (sequence, delivered, pending)
    }

    /// Acknowledges; `NATSConnection.flush()` after a batch of these waits until the server has them.
    public func ack() throws {
        guard let reply = message.replyTo else { return }
        try connection.publish(reply, payload: Data("+ACK".utf8))
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
