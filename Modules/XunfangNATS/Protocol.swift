public import Foundation

/// The NATS client protocol (text control lines, length-prefixed payloads), without I/O:
/// `ClientOperation` writes what a client sends, `ServerParser` reads what a server sends,
/// so both are tested byte for byte without a socket.

/// A message as the server delivers it (`MSG` or `HMSG`).
public struct NATSMessage: Sendable, Equatable {
    public var subject: String
    public var subscription: UInt64
    public var replyTo: String?
    public var headers: NATSHeaders
    public var payload: Data

    public init(subject: String, subscription: UInt64 = 0, replyTo: String? = nil, headers: NATSHeaders = NATSHeaders(), payload: Data = Data()) {
        self.subject = subject
        self.subscription = subscription
        self.replyTo = replyTo
        self.headers = headers
        self.payload = payload
    }
}

/// NATS headers: an HTTP-like block after a `NATS/1.0` line that may carry a status
/// (`NATS/1.0 404 No Messages`), as JetStream's pull requests and `no_responders` use.
public struct NATSHeaders: Sendable, Equatable {
    public var fields: [(name: String, value: String)] = []
    public var status: Int?
    public var statusDescription = ""

    public init(_ fields: [(String, String)] = []) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    public var isEmpty: Bool { fields.isEmpty && status == nil }

    /// The first value of a header, its name compared without case.
    public subscript(name: String) -> String? {
        fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public mutating func set(_ name: String, _ value: String) {
        fields.removeAll { $0.name.caseInsensitiveCompare(name) == .orderedSame }
        fields.append((name: name, value: value))
    }

    public static func == (left: NATSHeaders, right: NATSHeaders) -> Bool {
        left.status == right.status && left.statusDescription == right.statusDescription
            && left.fields.map(\.name) == right.fields.map(\.name) && left.fields.map(\.value) == right.fields.map(\.value)
    }

    func encoded() throws(NATSError) -> Data {
        var text = "NATS/1.0\r\n"
        for field in fields {
            guard Self.isToken(field.name), !field.value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) else {
                throw NATSError(.invalidArgument, "header \(field.name.debugDescription) has a name or value NATS cannot carry")
            }
            text += "\(field.name): \(field.value)\r\n"
        }
        return Data((text + "\r\n").utf8)
    }

    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { $0.value > 32 && $0.value < 127 && $0 != ":" }
    }

    static func decode(_ data: Data) throws(NATSError) -> NATSHeaders {
        guard let text = String(data: data, encoding: .utf8) else { throw NATSError(.protocolViolation, "headers are not UTF-8") }
        var lines = text.components(separatedBy: "\r\n")
        guard let first = lines.first, first.hasPrefix("NATS/1.0") else {
            throw NATSError(.protocolViolation, "headers do not start with NATS/1.0")
        }
        lines.removeFirst()
        var headers = NATSHeaders()
        let statusPart = first.dropFirst("NATS/1.0".count).trimmingCharacters(in: .whitespaces)
        if !statusPart.isEmpty {
            let code = statusPart.prefix { $0.isNumber }
            headers.status = Int(code)
            headers.statusDescription = statusPart.dropFirst(code.count).trimmingCharacters(in: .whitespaces)
        }
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw NATSError(.protocolViolation, "header line without a colon") }
            headers.fields.append((name: String(line[..<colon]), value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return headers
    }
}

/// What a client sends.
public enum ClientOperation: Sendable {
    case connect(ConnectOptions)
    case publish(subject: String, replyTo: String?, headers: NATSHeaders, payload: Data)
    case subscribe(subject: String, queueGroup: String?, id: UInt64)
    case unsubscribe(id: UInt64, after: Int?)
    case ping
    case pong

    /// The bytes on the wire; subjects are checked here so a bad one never reaches the server.
    public func encoded() throws(NATSError) -> Data {
        switch self {
        case .connect(let options):
            let json = (try? JSONEncoder.sorted.encode(options)) ?? Data("{}".utf8)
            return Data("CONNECT ".utf8) + json + Data("\r\n".utf8)
        case .publish(let subject, let replyTo, let headers, let payload):
            try Subject.validate(subject, wildcards: false)
            if let replyTo { try Subject.validate(replyTo, wildcards: false) }
            let reply = replyTo.map { " \($0)" } ?? ""
            if headers.isEmpty {
                return Data("PUB \(subject)\(reply) \(payload.count)\r\n".utf8) + payload + Data("\r\n".utf8)
            }
            let head = try headers.encoded()
            return Data("HPUB \(subject)\(reply) \(head.count) \(head.count + payload.count)\r\n".utf8) + head + payload + Data("\r\n".utf8)
        case .subscribe(let subject, let queueGroup, let id):
            try Subject.validate(subject, wildcards: true)
            let queue = queueGroup.map { " \($0)" } ?? ""
            return Data("SUB \(subject)\(queue) \(id)\r\n".utf8)
        case .unsubscribe(let id, let after):
            return Data("UNSUB \(id)\(after.map { " \($0)" } ?? "")\r\n".utf8)
        case .ping: return Data("PING\r\n".utf8)
        case .pong: return Data("PONG\r\n".utf8)
        }
    }
}

/// The `CONNECT` options a client sends after the server's `INFO`.
public struct ConnectOptions: Codable, Sendable, Equatable {
    public var verbose = false
    public var pedantic = false
    public var tlsRequired = false
    public var name: String
    public var lang = "swift"
    public var version = "0.1.0"
    public var `protocol` = 1
    public var headers = true
    public var noResponders = true
    public var user: String?
    public var pass: String?
    public var authToken: String?

    public init(name: String, user: String? = nil, pass: String? = nil, authToken: String? = nil, tlsRequired: Bool = false) {
        self.name = name
        self.user = user
        self.pass = pass
        self.authToken = authToken
        self.tlsRequired = tlsRequired
    }

    enum CodingKeys: String, CodingKey {
        case verbose, pedantic, name, lang, version, `protocol`, headers, user, pass
        case tlsRequired = "tls_required", noResponders = "no_responders", authToken = "auth_token"
    }
}

/// The server's `INFO`: only what a client acts on.
public struct ServerInfo: Decodable, Sendable, Equatable {
    public var serverID = ""
    public var serverName = ""
    public var version = ""
    public var maxPayload = 1_048_576
    public var headers = false
    public var jetStream = false
    public var tlsRequired = false
    public var authRequired = false
    /// Other members of the cluster a client may reconnect to (`host:port`).
    public var connectURLs: [String] = []

    enum CodingKeys: String, CodingKey {
        case version, headers
        case serverID = "server_id", serverName = "server_name", maxPayload = "max_payload", jetStream = "jetstream"
        case tlsRequired = "tls_required", authRequired = "auth_required", connectURLs = "connect_urls"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        serverID = try container.decodeIfPresent(String.self, forKey: .serverID) ?? ""
        serverName = try container.decodeIfPresent(String.self, forKey: .serverName) ?? ""
        version = try container.decodeIfPresent(String.self, forKey: .version) ?? ""
        maxPayload = try container.decodeIfPresent(Int.self, forKey: .maxPayload) ?? 1_048_576
        headers = try container.decodeIfPresent(Bool.self, forKey: .headers) ?? false
        jetStream = try container.decodeIfPresent(Bool.self, forKey: .jetStream) ?? false
        tlsRequired = try container.decodeIfPresent(Bool.self, forKey: .tlsRequired) ?? false
        authRequired = try container.decodeIfPresent(Bool.self, forKey: .authRequired) ?? false
        connectURLs = try container.decodeIfPresent([String].self, forKey: .connectURLs) ?? []
    }
}

/// What a server sends.
public enum ServerOperation: Sendable, Equatable {
    case info(ServerInfo)
    case message(NATSMessage)
    case ping
    case pong
    case ok
    case error(String)
}

/// Reads server operations from bytes as they arrive, in any split. Control lines and
/// payloads are bounded, so a hostile or broken server cannot make the client buffer
/// without limit.
public struct ServerParser: Sendable {
    public static let maxControlLine = 4_096
    private var buffer = Data()
    /// Where unread bytes start: operations are consumed by moving it, and the buffer is
    /// compacted only when new bytes arrive, so a read of many small messages stays linear.
    private var position = 0
    /// Payloads larger than this are a violation (the server's `max_payload`, plus headers).
    public var maxPayload: Int

    public init(maxPayload: Int = 8 * 1_048_576) {
        self.maxPayload = maxPayload
    }

    public mutating func feed(_ bytes: Data) {
        if position > 0 {
            buffer = position == buffer.count ? Data() : Data(buffer[position...])
            position = 0
        }
        buffer.append(bytes)
    }

    /// The next complete operation, or nil when more bytes are needed.
    public mutating func next() throws(NATSError) -> ServerOperation? {
        guard let lineEnd = buffer.firstRange(of: Data("\r\n".utf8), in: position..<buffer.endIndex) else {
            if buffer.count - position > Self.maxControlLine { throw NATSError(.protocolViolation, "control line longer than \(Self.maxControlLine) bytes") }
            return nil
        }
        let lineLength = lineEnd.lowerBound - position
        guard lineLength <= Self.maxControlLine else { throw NATSError(.protocolViolation, "control line longer than \(Self.maxControlLine) bytes") }
        guard let line = String(data: buffer[position..<lineEnd.lowerBound], encoding: .utf8) else {
            throw NATSError(.protocolViolation, "control line is not UTF-8")
        }
        let afterLine = lineEnd.upperBound
        let (verb, rest) = Self.split(line)
        switch verb.uppercased() {
        case "MSG", "HMSG":
            guard let (message, end) = try message(verb: verb.uppercased(), arguments: rest, bodyStart: afterLine) else { return nil }
            consume(upTo: end)
            return .message(message)
        case "INFO":
            consume(upTo: afterLine)
            do {
                return .info(try JSONDecoder().decode(ServerInfo.self, from: Data(rest.utf8)))
            } catch {
                throw NATSError(.protocolViolation, "INFO is not the JSON NATS sends: \(error)")
            }
        case "PING": consume(upTo: afterLine); return .ping
        case "PONG": consume(upTo: afterLine); return .pong
        case "+OK": consume(upTo: afterLine); return .ok
        case "-ERR":
            consume(upTo: afterLine)
            return .error(rest.trimmingCharacters(in: CharacterSet(charactersIn: "' ")))
        default:
            throw NATSError(.protocolViolation, "unknown operation \(verb.prefix(16).debugDescription)")
        }
    }

    private static func split(_ line: String) -> (String, String) {
        guard let space = line.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return (line, "") }
        return (String(line[..<space]), String(line[line.index(after: space)...]).trimmingCharacters(in: .whitespaces))
    }

    private func message(verb: String, arguments: String, bodyStart: Data.Index) throws(NATSError) -> (NATSMessage, Data.Index)? {
        let parts = arguments.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let withHeaders = verb == "HMSG"
        let counts = withHeaders ? 2 : 1
        guard parts.count == 2 + counts || parts.count == 3 + counts else {
            throw NATSError(.protocolViolation, "\(verb) with \(parts.count) arguments")
        }
        guard let subscription = UInt64(parts[1]) else { throw NATSError(.protocolViolation, "\(verb) subscription id is not a number") }
        let sizes = parts.suffix(counts).compactMap { Int($0) }
        guard sizes.count == counts, let total = sizes.last, total >= 0, total <= maxPayload,
              let headerBytes = withHeaders ? sizes.first : 0, headerBytes >= 0, headerBytes <= total else {
            throw NATSError(.protocolViolation, "\(verb) sizes \(parts.suffix(counts)) are not sizes within \(maxPayload) bytes")
        }
        let end = bodyStart + total + 2
        guard buffer.endIndex >= end else { return nil }
        guard buffer[bodyStart + total] == 0x0D, buffer[bodyStart + total + 1] == 0x0A else {
            throw NATSError(.protocolViolation, "\(verb) payload is not followed by CRLF")
        }
        let headers = withHeaders ? try NATSHeaders.decode(buffer[bodyStart..<(bodyStart + headerBytes)]) : NATSHeaders()
        let message = NATSMessage(subject: parts[0], subscription: subscription, replyTo: parts.count == 3 + counts ? parts[2] : nil,
                                  headers: headers, payload: Data(buffer[(bodyStart + headerBytes)..<(bodyStart + total)]))
        return (message, end)
    }

    private mutating func consume(upTo index: Data.Index) {
        position = index
    }
}

/// NATS subjects: dot-separated tokens without whitespace; `*` and a final `>` in subscriptions.
public enum Subject {
    public static let maxLength = 1_024

    public static func validate(_ subject: String, wildcards: Bool) throws(NATSError) {
        guard !subject.isEmpty, subject.utf8.count <= maxLength else {
            throw NATSError(.invalidArgument, "subject must be 1-\(maxLength) bytes")
        }
        let tokens = subject.split(separator: ".", omittingEmptySubsequences: false)
        for (index, token) in tokens.enumerated() {
            guard !token.isEmpty, !token.contains(where: { $0.isWhitespace }) else {
                throw NATSError(.invalidArgument, "subject \(subject.debugDescription) has an empty token or whitespace")
            }
            if token == "*" || token == ">" {
                guard wildcards else { throw NATSError(.invalidArgument, "subject \(subject.debugDescription) has a wildcard where none is allowed") }
                guard token == "*" || index == tokens.count - 1 else {
                    throw NATSError(.invalidArgument, "subject \(subject.debugDescription): > only as the last token")
                }
            }
        }
    }

    /// Whether `subject` matches `pattern` (`*` one token, `>` one or more at the end).
    public static func matches(_ pattern: String, _ subject: String) -> Bool {
        let wanted = pattern.split(separator: ".", omittingEmptySubsequences: false)
        let tokens = subject.split(separator: ".", omittingEmptySubsequences: false)
        for (index, token) in wanted.enumerated() {
            if token == ">" { return tokens.count > index }
            guard index < tokens.count, token == "*" || token == tokens[index] else { return false }
        }
        return wanted.count == tokens.count
    }
}

/// Errors with codes the bridge maps to the bus's status codes.
public struct NATSError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidArgument, protocolViolation, disconnected, timeout, noResponders, serverError, jetStream, authentication
    }

    public let code: Code
    public let message: String
    /// JetStream's own error code (`err_code`), when the API answered one.
    public let apiCode: Int?

    public init(_ code: Code, _ message: String, apiCode: Int? = nil) {
        self.code = code
        self.message = message
        self.apiCode = apiCode
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
