import Foundation
import XunfangPluginKit
import BridgeContract
import Logging
import Synchronization
import XunfangNATS
import XunfangWire

/// Calls between counties, as NATS request and reply: the asking county's bridge serves
/// `Bridge/Call` and sends the request; the answering county's bridge calls the method on its
/// own bus, if its `BRIDGE_ANSWER` allows it, and sends back the answer or the error's status.
enum CrossCounty {
    static let methodHeader = "Xunfang-Method"
    static let statusHeader = "Xunfang-Status"
    static let messageHeader = "Xunfang-Message"
    static let defaultTimeoutMs: UInt32 = 5_000
    static let maxTimeoutMs: UInt32 = 30_000
    /// Calls answered at once; more wait in NATS's queue for the next free slot.
    static let maxInFlight = 32

    /// The asking side: `/xunfang.bridge.v1.Bridge/Call`.
    static func call(_ request: Xunfang_Bridge_V1_CallRequest, settings: BridgeSettings, connection: NATSConnection?) async throws -> Xunfang_Bridge_V1_CallResponse {
        guard BridgeSettings.isCountyToken(request.county), request.county != settings.county else {
            throw BusClientError(.invalidArgument, "county \"\(request.county.prefix(40))\" is not another county's token")
        }
        guard request.method.hasPrefix("/"), request.method.utf8.count <= 256, !request.method.contains(where: { $0.isNewline }) else {
            throw BusClientError(.invalidArgument, "method must be a path /package.Service/Method of at most 256 bytes")
        }
        let timeoutMs = request.timeoutMs == 0 ? defaultTimeoutMs : request.timeoutMs
        guard timeoutMs <= maxTimeoutMs else { throw BusClientError(.invalidArgument, "timeout_ms at most \(maxTimeoutMs)") }
        guard let connection, connection.isConnected else { throw BusClientError(.unavailable, "the bridge is not linked to NATS now") }
        var headers = NATSHeaders()
        headers.set(methodHeader, request.method)
        let answer: NATSMessage
        do {
            answer = try await connection.request(BridgeSettings.callSubject(from: settings.county, to: request.county), payload: request.payload,
                                                  headers: headers, timeout: .milliseconds(Int(timeoutMs)))
        } catch let error as NATSError {
            switch error.code {
            case .noResponders: throw BusClientError(.unavailable, "county \(request.county) has no bridge listening")
            case .timeout: throw BusClientError(.deadlineExceeded, "county \(request.county) did not answer within \(timeoutMs) ms")
            case .invalidArgument: throw BusClientError(.invalidArgument, error.message)
            default: throw BusClientError(.unavailable, "\(error)")
            }
        }
        if let status = answer.headers[statusHeader].flatMap(UInt32.init), status != 0 {
            throw BusClientError(StatusCode(rawValue: status), "county \(request.county): \(answer.headers[messageHeader] ?? "")")
        }
        var response = Xunfang_Bridge_V1_CallResponse()
        response.payload = answer.payload
        response.answeredBy = request.county
        return response
    }

    /// The answering side: requests on `xunfang-call.<any county>.<this county>`, shared by
    /// every bridge instance of the county (a queue group), until cancelled.
    static func answer(settings: BridgeSettings, connection: NATSConnection, bus: BusClient, logger: Logger) async throws {
        let subscription = try connection.subscribe("xunfang-call.*.\(settings.county)", queueGroup: "bridge-\(settings.county)")
        let inFlight = InFlight()
        try await withThrowingDiscardingTaskGroup { group in
            for await request in subscription.messages {
                guard let reply = request.replyTo else { continue }
                guard inFlight.count.add(1, ordering: .relaxed).newValue <= maxInFlight else {
                    inFlight.count.subtract(1, ordering: .relaxed)
                    respond(connection, reply, status: .resourceExhausted, message: "county \(settings.county) is answering \(maxInFlight) calls; try again")
                    continue
                }
                group.addTask {
                    defer { inFlight.count.subtract(1, ordering: .relaxed) }
                    await answerOne(request, reply: reply, settings: settings, connection: connection, bus: bus, logger: logger)
                }
            }
        }
    }

    private static func answerOne(_ request: NATSMessage, reply: String, settings: BridgeSettings, connection: NATSConnection, bus: BusClient, logger: Logger) async {
        let caller = request.subject.split(separator: ".").dropFirst().first.map(String.init) ?? "?"
        let method = request.headers[methodHeader] ?? ""
        guard settings.answers(method) else {
            logger.warning("refused a call from another county", metadata: ["bridge.caller": "\(caller)", "bridge.method": "\(method)"])
            return respond(connection, reply, status: .permissionDenied, message: "county \(settings.county) does not answer \(method) for other counties")
        }
        do {
            let answer = try await bus.callRaw(method, payload: request.payload, metadata: ["xunfang-origin-county": caller], timeout: .seconds(Int64(maxTimeoutMs / 1_000)))
            logger.info("answered a call from another county", metadata: ["bridge.caller": "\(caller)", "bridge.method": "\(method)"])
            try? connection.publish(reply, payload: answer)
        } catch let error as BusClientError {
            respond(connection, reply, status: error.code, message: error.message)
        } catch {
            respond(connection, reply, status: .internal, message: "\(error)")
        }
    }

    private static func respond(_ connection: NATSConnection, _ reply: String, status: StatusCode, message: String) {
        var headers = NATSHeaders()
        headers.set(statusHeader, String(status.rawValue))
        headers.set(messageHeader, String(message.prefix(512)).replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " "))
        try? connection.publish(reply, headers: headers)
    }
}

final class InFlight: Sendable {
    let count = Atomic<Int>(0)
}
