import Foundation
import XunfangPluginKit
import BridgeContract
import DispatchContract
import Logging
import Synchronization
import XunfangNATS

/// Headers a bridged message carries across, on JetStream and on the receiving bus.
enum BridgeHeader {
    static let county = "Xunfang-County"
    static let topic = "Xunfang-Topic"
    static let publisher = "Xunfang-Publisher"
    static let publishedAt = "Xunfang-Published-At"
    /// On the receiving bus: where a message came from (the county's token).
    static let originCounty = "xunfang-origin-county"
    static let originPublisher = "xunfang-origin-publisher"
}

/// One bus topic pattern mirrored out. A delivery is acknowledged to the bus only once
/// JetStream has stored it (or it can never be sent), so a bridge killed at any moment
/// sends it again after its restart, with the same `Nats-Msg-Id`.
struct ExportMirror: Sendable {
    let pattern: String
    let settings: BridgeSettings
    let instance: String
    let jetStream: JetStream
    let state: BridgeState
    let logger: Logger

    var durableName: String {
        "bridge.export." + pattern.replacingOccurrences(of: ">", with: "all").replacingOccurrences(of: "*", with: "any").lowercased()
    }

    func run(on bus: BusClient) async throws {
        let (subscription, durable) = try await subscribe(bus)
        state.exportStarted(pattern, durable: durable)
        var outbound = Outbound(lentUnits: settings.lentUnits, positionEverySeconds: settings.positionEverySeconds)
        for await delivery in subscription {
            // What this bridge brought in goes no further: no echo between counties.
            if delivery.publisher == instance {
                delivery.ack()
                continue
            }
            switch outbound.decide(topic: delivery.topic, payload: delivery.payload) {
            case .send(let payload):
                try await export(delivery, payload: payload)
            case .thin:
                state.update(export: pattern) { $0.thinned += 1 }
            case .refuse(let reason):
                state.update(export: pattern) { $0.refused += 1 }
                logger.error("not exported", metadata: ["bridge.topic": "\(delivery.topic)", "bridge.id": "\(delivery.messageID)", "bridge.reason": "\(reason)"])
            }
            delivery.ack()
        }
    }

    private func export(_ delivery: Delivery, payload: Data) async throws {
        var headers = NATSHeaders()
        headers.set(BridgeHeader.county, settings.county)
        headers.set(BridgeHeader.topic, delivery.topic)
        headers.set(BridgeHeader.publisher, delivery.publisher)
        headers.set(BridgeHeader.publishedAt, String(Int64(delivery.publishedAt.timeIntervalSince1970 * 1_000)))
        let subject = BridgeSettings.subject(county: settings.county, topic: delivery.topic)
        let messageID = "\(settings.county):\(delivery.messageID)"
        do {
            var retried = false
            let stored = try await untilDone(onRetry: { _ in
                retried = true
                state.update(export: pattern) { $0.retries += 1 }
            }, isPermanent: { ($0 as? NATSError)?.code == .invalidArgument }) {
                try await jetStream.publish(subject, payload: payload, messageID: messageID, headers: headers)
            }
            // A duplicate answered to a retry is this export's own first try, stored while its
            // PubAck was lost; only a replay the bus delivered again counts as a duplicate.
            let replay = stored.duplicate && !retried
            state.update(export: pattern) { replay ? ($0.duplicates += 1) : ($0.exported += 1) }
        } catch let error as NATSError {
            state.update(export: pattern) { $0.refused += 1 }
            logger.error("not exported", metadata: ["bridge.topic": "\(delivery.topic)", "bridge.error": "\(error)"])
        }
    }

    /// Durable when the county's bus keeps the topic (bus.durable_topics); otherwise best
    /// effort, said once in the log, as a plain subscription would lose messages while down.
    private func subscribe(_ bus: BusClient) async throws -> (Subscription, Bool) {
        do {
            return (try await bus.subscribe(pattern, durable: durableName, maxInFlight: 512), true)
        } catch let error as BusClientError where error.code == .invalidArgument || error.code == .unavailable {
            logger.warning("exported best effort: the bus keeps no durable log for this topic",
                           metadata: ["bridge.pattern": "\(pattern)", "bridge.reason": "\(error.message)"])
            return (try await bus.subscribe(pattern), false)
        }
    }
}

/// One JetStream subject pattern mirrored in through a durable pull consumer: a message is
/// acknowledged to JetStream only once this bus has confirmed it, so a bridge (or bus) that
/// was down resumes where its consumer stopped.
struct ImportMirror: Sendable {
    let rule: BridgeSettings.ImportRule
    let settings: BridgeSettings
    let jetStream: JetStream
    let state: BridgeState
    let logger: Logger

    static let batch = 256

    func run(on bus: BusClient) async throws {
        let consumer = rule.consumer(for: settings.county)
        state.importStarted(rule.subject, consumer: consumer)
        _ = try await untilDone(onRetry: { _ in }) {
            try await jetStream.ensureConsumer(stream: settings.stream, .init(durable: consumer, filterSubject: rule.subject, maxAckPending: 4 * Self.batch))
        }
        while true {
            try Task.checkCancellation()
            do {
                let count = try await jetStream.pull(stream: settings.stream, durable: consumer, batch: Self.batch, wait: .seconds(5)) { message in
                    try await bring(message, on: bus)
                    state.update(import: rule.subject) { $0.pending = message.metadata?.pending ?? 0 }
                }
                if count == 0 { state.update(import: rule.subject) { $0.pending = 0 } }
                try await jetStream.connection.flush()
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                try await Task.sleep(for: .milliseconds(200))   // the link is down; the connection reconnects by itself
            }
        }
    }

    private func bring(_ message: JetStreamMessage, on bus: BusClient) async throws {
        guard let (origin, topic) = Self.origin(of: message.subject), origin != settings.county else {
            state.update(import: rule.subject) { $0.skipped += 1 }
            try? message.ack()
            return
        }
        var headers = [BridgeHeader.originCounty: origin]
        if let publisher = message.headers[BridgeHeader.publisher] { headers[BridgeHeader.originPublisher] = publisher }
        let messageID = message.headers["Nats-Msg-Id"] ?? "\(origin):js-\(message.metadata?.streamSequence ?? 0)"
        do {
            _ = try await untilDone(onRetry: { _ in }, isPermanent: Self.isPermanent) {
                try await bus.publishConfirmed(topic, payload: message.payload, headers: headers, messageID: messageID)
            }
            state.update(import: rule.subject) { $0.imported += 1 }
        } catch let error as BusClientError {
            // The county's ACL does not let the bridge publish this topic: it never will.
            state.update(import: rule.subject) { $0.skipped += 1 }
            logger.error("not imported", metadata: ["bridge.subject": "\(message.subject)", "bridge.error": "\(error)"])
        }
        try? message.ack()
    }

    static func isPermanent(_ error: any Error) -> Bool {
        guard let error = error as? BusClientError else { return false }
        return error.code == .permissionDenied || error.code == .invalidArgument
    }

    /// `xunfang.<county>.<topic>` → (county, topic).
    static func origin(of subject: String) -> (String, String)? {
        let tokens = subject.split(separator: ".", maxSplits: 2)
        guard tokens.count == 3, tokens[0] == "xunfang" else { return nil }
        return (String(tokens[1]), String(tokens[2]))
    }
}

/// What may leave the county, message by message. Personal data never does: messages of
/// the types that can carry it are decoded and the fields cleared; one that cannot be
/// decoded is refused. Unit positions leave only for units lent across the border, and at
/// most once per `positionEvery` seconds each (by the position's own time).
struct Outbound: Sendable {
    enum Decision: Equatable {
        case send(Data)
        case refuse(String)
        case thin
    }

    let lentUnits: Set<String>
    let positionEvery: Int64
    /// When each lent unit's position last left, in the positions' Unix milliseconds.
    private var lastSent: [String: Int64] = [:]

    init(lentUnits: Set<String>, positionEverySeconds: Double) {
        self.lentUnits = lentUnits
        positionEvery = Int64(positionEverySeconds * 1_000)
    }

    mutating func decide(topic: String, payload: Data) -> Decision {
        if topic.hasPrefix("incident.") {
            guard var incident = try? Xunfang_Dispatch_V1_Incident(serializedBytes: payload) else {
                return .refuse("not an incident: personal data cannot be stripped")
            }
            incident.report = ""
            return (try? incident.serializedData()).map(Decision.send) ?? .refuse("cannot encode")
        }
        if topic == "unit.position" {
            guard let position = try? Xunfang_Dispatch_V1_UnitPosition(serializedBytes: payload) else { return .refuse("not a unit position") }
            guard lentUnits.contains(position.callSign) else { return .thin }
            if let last = lastSent[position.callSign], position.at - last < positionEvery, position.at >= last { return .thin }
            lastSent[position.callSign] = position.at
            return .send(payload)
        }
        return .send(payload)
    }
}

/// The bridge's link and what it has done, for `Status`, `Call` and the logs: one entry per export pattern and
/// per import rule, in the order they started (a handful: looked up by scanning).
final class BridgeState: Sendable {
    struct Values {
        var county = ""
        var connection: NATSConnection?
        var exports: [Xunfang_Bridge_V1_Export] = []
        var imports: [Xunfang_Bridge_V1_Import] = []
    }

    private let values = Mutex(Values())

    var connection: NATSConnection? { values.withLock { $0.connection } }

    func attach(_ connection: NATSConnection, county: String) {
        values.withLock { $0.connection = connection; $0.county = county }
    }

    func exportStarted(_ pattern: String, durable: Bool) {
        let entry = Xunfang_Bridge_V1_Export.with { $0.pattern = pattern; $0.durable = durable }
        values.withLock { Self.start(entry, key: \.pattern, in: &$0.exports) }
    }

    func importStarted(_ subject: String, consumer: String) {
        let entry = Xunfang_Bridge_V1_Import.with { $0.subject = subject; $0.consumer = consumer }
        values.withLock { Self.start(entry, key: \.subject, in: &$0.imports) }
    }

    func update(export pattern: String, _ change: (inout Xunfang_Bridge_V1_Export) -> Void) {
        values.withLock { Self.update(pattern, key: \.pattern, in: &$0.exports, change) }
    }

    func update(import subject: String, _ change: (inout Xunfang_Bridge_V1_Import) -> Void) {
        values.withLock { Self.update(subject, key: \.subject, in: &$0.imports, change) }
    }

    /// A mirror that starts again (the bus or NATS came back) starts its counts afresh.
    private static func start<Entry>(_ entry: Entry, key: KeyPath<Entry, String>, in list: inout [Entry]) {
        if let index = list.firstIndex(where: { $0[keyPath: key] == entry[keyPath: key] }) { list[index] = entry } else { list.append(entry) }
    }

    private static func update<Entry>(_ value: String, key: KeyPath<Entry, String>, in list: inout [Entry], _ change: (inout Entry) -> Void) {
        if let index = list.firstIndex(where: { $0[keyPath: key] == value }) { change(&list[index]) }
    }

    func status() -> Xunfang_Bridge_V1_StatusResponse {
        let snapshot = values.withLock { $0 }
        var status = Xunfang_Bridge_V1_StatusResponse()
        status.county = snapshot.county
        if let connection = snapshot.connection {
            status.connected = connection.isConnected
            status.server = status.connected ? connection.serverInfo.serverName : ""
            status.reconnects = UInt32(clamping: connection.reconnects)
        }
        status.exports = snapshot.exports
        status.imports = snapshot.imports
        return status
    }
}
