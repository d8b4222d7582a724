import Foundation
import XunfangWire

/// Methods the bus serves itself under `/xunfang.bus.v1.Bus/`. Payloads are JSON so
/// that scripts and `xunfang ctl` can read them without generated code.
enum BusService {
    static let prefix = "/xunfang.bus.v1.Bus/"
    static let stats = "/xunfang.bus.v1.Bus/Stats"

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
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = (try? encoder.encode(reply)) ?? Data()
            return (.ok, "", data)
        default:
            return (.unimplemented, "the bus has no method \(method)", Data())
        }
    }
}
