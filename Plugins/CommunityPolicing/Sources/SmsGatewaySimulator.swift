import Foundation
import Glibc
import NIOCore
import NIOPosix
import NIOHTTP1
import Synchronization
import XunfangPluginKit

/// `xunfang-plugin-community sms-gateway`: a stand-in for a county's SMS gateway, for trials
/// and the out-of-process tests. It speaks what `SmsGatewayNotifier` sends, sends nothing
/// anywhere, and writes each text it takes as one JSON line to its log: the first time a key
/// is seen as `"sent"`, later times as `"repeat"` (the idempotency a real gateway gives,
/// which the tests count on). The keys already in the log are known again after a restart.
enum SmsGatewaySimulator {
    static let usage = """
    usage: xunfang-plugin-community sms-gateway --log FILE [--port N] [--token-file FILE] [--fail-every N]
    Listens on 127.0.0.1 (port 0: any free port, printed), takes POSTed texts with an
    Idempotency-Key, and logs each once as sent. --token-file: a bearer token callers must
    present. --fail-every N: every Nth request is answered 503, as a gateway under load.
    """

    final class Log: Sendable {
        struct State {
            var seen: Set<String>
            var requests = 0
            let descriptor: Int32
        }
        let state: Mutex<State>

        init(path: String) throws {
            let seen = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
                (try? JSONDecoder().decode(Entry.self, from: Data(line.utf8))).flatMap { $0.outcome == "sent" ? $0.id : nil }
            }
            let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw NotifierError("cannot open \(path): \(String(cString: strerror(errno)))") }
            state = Mutex(State(seen: Set(seen), descriptor: descriptor))
        }

        /// Counts the request; nil when it is one to refuse (`--fail-every`).
        func take(_ message: SmsMessage, failEvery: Int) -> String? {
            state.withLock { state in
                state.requests += 1
                if failEvery > 0 && state.requests % failEvery == 0 { return nil }
                let outcome = state.seen.insert(message.id).inserted ? "sent" : "repeat"
                let entry = Entry(id: message.id, to: message.to, text: message.text, outcome: outcome, at: Int64(Date().timeIntervalSince1970 * 1_000))
                var line = (try? JSONEncoder().encode(entry)) ?? Data()
                line.append(0x0A)
                _ = line.withUnsafeBytes { Glibc.write(state.descriptor, $0.baseAddress, $0.count) }
                return outcome
            }
        }
    }

    struct Entry: Codable {
        var id: String
        var to: String
        var text: String
        var outcome: String
        var at: Int64
    }

    static func run(_ arguments: [String]) async -> Int32 {
        guard let options = commandOptions(arguments, allowed: ["--log", "--port", "--token-file", "--fail-every"]), let path = options["--log"],
              let port = Int(options["--port"] ?? "0"), (0...65_535).contains(port), let failEvery = Int(options["--fail-every"] ?? "0"), failEvery >= 0 else {
            FileHandle.standardError.write(Data((usage + "\n").utf8))
            return 2
        }
        do {
            let token = try options["--token-file"].map { try String(contentsOfFile: $0, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
            let log = try Log(path: path)
            let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                    }
                }
            FileHandle.standardOutput.write(Data("sms-gateway listening on 127.0.0.1:\(server.channel.localAddress?.port ?? port), logging to \(path)\n".utf8))
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { try? await serve(connection, log: log, token: token, failEvery: failEvery) }
                    }
                }
            }
            return 0
        } catch {
            FileHandle.standardError.write(Data("sms-gateway: \(error)\n".utf8))
            return 1
        }
    }

    static func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, log: Log, token: String?, failEvery: Int) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let request): head = request; body.clear()
                case .body(var chunk): if body.readableBytes + chunk.readableBytes <= 64 * 1_024 { body.writeBuffer(&chunk) }
                case .end:
                    guard let request = head else { continue }
                    let (status, answer) = respond(request, body: body, log: log, token: token, failEvery: failEvery)
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: "application/json")
                    headers.add(name: "Content-Length", value: "\(answer.utf8.count)")
                    try await outbound.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(string: answer))))
                    try await outbound.write(.end(nil))
                }
            }
        }
    }

    static func respond(_ request: HTTPRequestHead, body: ByteBuffer, log: Log, token: String?, failEvery: Int) -> (HTTPResponseStatus, String) {
        guard request.method == .POST else { return (.methodNotAllowed, #"{"error":"POST a text"}"#) }
        if let token, request.headers.first(name: "Authorization") != "Bearer \(token)" { return (.unauthorized, #"{"error":"bad or missing bearer token"}"#) }
        guard let key = request.headers.first(name: "Idempotency-Key"), let message = try? JSONDecoder().decode(SmsMessage.self, from: Data(body.readableBytesView)),
              message.id == key, !message.to.isEmpty, !message.text.isEmpty else {
            return (.badRequest, #"{"error":"a JSON body with id, to and text, and an Idempotency-Key equal to id"}"#)
        }
        guard let outcome = log.take(message, failEvery: failEvery) else { return (.serviceUnavailable, #"{"error":"busy; send again"}"#) }
        return (.ok, #"{"status":"\#(outcome)"}"#)
    }
}
