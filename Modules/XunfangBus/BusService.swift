import Foundation
import XunfangWire

/// Methods the bus serves itself under `/xunfang.bus.v1.Bus/`. Payloads are JSON so
/// that scripts and `xunfang ctl` can read them without generated code.
enum BusService {
    static let prefix = "/xunfang.bus.v1.Bus/"
    static let stats = "/xunfang.bus.v1.Bus/Stats"
    static let consumers = "/xunfang.bus.v1.Bus/Consumers"
    static let deleteConsumer = "/xunfang.bus.v1.Bus/DeleteConsumer"
    static let dropSession = "/xunfang.bus.v1.Bus/DropSession"

    struct DeleteConsumerRequest: Codable {
        var name: String
    }
    struct DropSessionRequest: Codable {
        var instance: String
    }
    struct StatsReply: Codable {
        var bus: BrokerStats
        var sessions: [SessionSnapshot]
        var durableConsumers: [DurableSnapshot]
        var services: [String: [String]]
    }

    static func handle(method: String, payload: Data, caller: String, broker: Broker) -> (StatusCode, String, Data) {
        switch method {
        case stats:
            var services: [String: [String]] = [:]
            for snapshot in broker.sessionSnapshots() {
                for method in snapshot.serves { services[method, default: []].append(snapshot.instance) }
            }
            let reply = StatsReply(bus: broker.stats, sessions: broker.sessionSnapshots(),
                                   durableConsumers: broker.durableSnapshots(), services: services)
            return (.ok, "", json(reply))
        case consumers:
            return (.ok, "", json(broker.durableSnapshots()))
        case deleteConsumer:
            guard let request = try? JSONDecoder().decode(DeleteConsumerRequest.self, from: payload) else {
                return (.invalidArgument, "expected {\"name\": \"<durable name>\"}", Data())
            }
            if let error = broker.deleteDurableConsumer(request.name) { return (error.code, error.message, Data()) }
            return (.ok, "", json(["deleted": request.name]))
        case dropSession:
            guard let request = try? JSONDecoder().decode(DropSessionRequest.self, from: payload), (1...128).contains(request.instance.utf8.count) else {
                return (.invalidArgument, "expected {\"instance\": \"<plugin instance>\"}", Data())
            }
            guard broker.dropSession(instance: request.instance, by: caller) else { return (.notFound, "no session of \(request.instance)", Data()) }
            return (.ok, "", json(["dropped": request.instance]))
        default:
            return (.unimplemented, "the bus has no method \(method)", Data())
        }
    }

    static func json<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data()
    }
}
