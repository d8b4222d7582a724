import Foundation
import Synchronization

/// What the bus says, passed on to every open page: each event a JSON text. A page that
/// cannot keep up loses its oldest events, never slows the bus down. A station chief's page
/// hears only what is the county's or their station's.
final class LiveFeed: Sendable {
    /// Who may hear an event.
    enum Audience: Sendable, Equatable {
        case everyone
        /// The county's officers and this station's chief; "" (a station not known) the county's only.
        case station(String)
    }

    private struct Listener {
        /// "" for a county-wide officer.
        let station: String
        let continuation: AsyncStream<String>.Continuation

        func hears(_ audience: Audience) -> Bool {
            station.isEmpty || audience == .everyone || audience == .station(station)
        }
    }

    private let listeners = Mutex<[UUID: Listener]>([:])
    static let buffered = 4_096

    func listen(station: String = "") -> (id: UUID, events: AsyncStream<String>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(Self.buffered))
        listeners.withLock { $0[id] = Listener(station: station, continuation: continuation) }
        continuation.onTermination = { [weak self] _ in self?.stop(id) }
        return (id, stream)
    }

    func stop(_ id: UUID) {
        listeners.withLock { $0.removeValue(forKey: id) }?.continuation.finish()
    }

    func send(_ event: String, to audience: Audience = .everyone) {
        for listener in listeners.withLock({ Array($0.values) }) where listener.hears(audience) { listener.continuation.yield(event) }
    }

    func finish() {
        for listener in listeners.withLock({ listeners in defer { listeners.removeAll() }; return Array(listeners.values) }) { listener.continuation.finish() }
    }
}

/// Each unit's station, for the feed's audience of a position (which names only the unit):
/// from Dispatch's units, kept current by their status changes.
final class UnitStations: Sendable {
    private let stations = Mutex<[String: String]>([:])

    func station(of callSign: String) -> String? { stations.withLock { $0[callSign] } }

    func note(callSign: String, station: String) { stations.withLock { $0[callSign] = station } }

    func replace(with pairs: [(String, String)]) {
        let fresh = Dictionary(pairs, uniquingKeysWith: { _, last in last })
        stations.withLock { $0 = fresh }
    }
}
