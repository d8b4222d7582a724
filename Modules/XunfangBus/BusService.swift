import Foundation
import XunfangWire

/// Methods the bus serves itself under `/xunfang.bus.v1.Bus/`. Payloads are JSON so
/// that scripts and `xunfang ctl` can read them without generated code.
enum BusService {
    static let prefix = "/xunfang.bus.v1.Bus/"
    static let stats = "/xunfang.bus.v1.Bus/Stats"
    static let consumers = "/xunfang.bus.v1.Bus/Consumers"
    static let deleteConsumer = "/xunfang.bus.v1.Bus/DeleteConsumer"

    struct DeleteConsumerRequest: Codable {
        var name: String
    }
    struct StatsReply: Codable {
        var bus: BrokerStats
        var sessions: [SessionSnapshot]
        var durableConsumers: [DurableSnapshot]
        var services: [String: [String]]
    }

    static func handle(method: String, payload: Data, broker: Broker) -> (StatusCode, String, Data) {
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
