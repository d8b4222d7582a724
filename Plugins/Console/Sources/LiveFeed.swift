import Foundation
import Synchronization

/// What the bus says, passed on to every open page: each event a JSON text. A page that
/// cannot keep up loses its oldest events, never slows the bus down.
final class LiveFeed: Sendable {
    private let listeners = Mutex<[UUID: AsyncStream<String>.Continuation]>([:])
    static let buffered = 4_096

    func listen() -> (id: UUID, events: AsyncStream<String>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(Self.buffered))
        listeners.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in self?.stop(id) }
        return (id, stream)
    }

    func stop(_ id: UUID) {
        listeners.withLock { $0.removeValue(forKey: id) }?.finish()
    }

    func send(_ event: String) {
        for listener in listeners.withLock({ Array($0.values) }) { listener.yield(event) }
    }

    func finish() {
        for listener in listeners.withLock({ listeners in defer { listeners.removeAll() }; return Array(listeners.values) }) { listener.finish() }
    }
}
