import Foundation
import Synchronization
import XunfangGeo
import XunfangPluginKit
import CheckpointControlContract
import DispatchContract

typealias LiveContainment = Xunfang_Checkpoint_V1_LiveContainment

/// Live containment rings: each recomputed as the suspect's head start grows and units
/// move, from the latest "unit.position" of every unit (fresh within 10 minutes) and the
/// registry's staffed checkpoints (holding their own node at once). Running containments
/// are kept in the store, so a restart carries on with them.
final class LiveContainments: Sendable {
    let registry: Registry
    private let positions = Mutex<[String: (point: GeoPoint, at: Int64)]>([:])
    static let positionLifetime: Int64 = 10 * 60_000

    init(registry: Registry) {
        self.registry = registry
    }

    var rings: RingService { registry.roads }
    var now: Int64 { registry.now() }

    /// A terminal's position; an older one than that known is ignored.
    func position(_ report: Xunfang_Dispatch_V1_UnitPosition) {
        guard (1...64).contains(report.callSign.utf8.count), (-180...180).contains(report.position.longitude),
              (-90...90).contains(report.position.latitude) else { return }
        let at = report.at == 0 ? now : report.at
        positions.withLock { known in
            if let previous = known[report.callSign], previous.at > at { return }
            known[report.callSign] = (GeoPoint(longitude: report.position.longitude, latitude: report.position.latitude), at)
        }
    }

    func contain(_ request: Xunfang_Checkpoint_V1_ContainRequest, caller: String) throws -> LiveContainment {
        try Registry.checkOfficer(request.officer)
        guard request.ring.metric != .distance else { throw BusClientError(.invalidArgument, "a live containment runs on time: metric must be time") }
        guard request.ring.units.isEmpty else { throw BusClientError(.invalidArgument, "a live containment takes its units live: give none") }
        let start = now
        let left = request.suspectLeftAt != 0 ? request.suspectLeftAt : start - Int64(request.ring.headStart * 1_000)
        guard left <= start + 60_000 else { throw BusClientError(.invalidArgument, "suspect_left_at is in the future") }
        var containment = LiveContainment.with {
            $0.active = true
            $0.startedAt = start
            $0.startedBy = Registry.who(caller, request.officer)
            $0.suspectLeftAt = left
            $0.request = request.ring
        }
        // The first ring must be computable: a bad incident or boundary is the caller's error.
        try compute(&containment, at: start)
        return try registry.transact { changes in
            containment.id = "CT-\(try registry.store.containmentCount() + 1)"
            changes.containments.append(containment)
            try Self.order(from: [], containment, into: &changes)
            return containment
        }
    }

    func get(_ id: String) throws -> LiveContainment {
        guard let containment = try registry.store.containment(id) else {
            throw BusClientError(.notFound, id.isEmpty ? "no containment has been started" : "no containment \(id.prefix(64))")
        }
        return containment
    }

    func stop(_ id: String, caller: String) throws -> LiveContainment {
        try registry.transact { changes in
            var containment = try get(id)
            guard containment.active else { throw BusClientError(.failedPrecondition, "containment \(containment.id) has already stopped") }
            let held = containment.ring.ring
            containment.active = false
            containment.endedReason = "stopped by \(caller)"
            changes.containments.append(containment)
            try Self.order(from: held, containment, into: &changes)
            return containment
        }
    }

    /// Recomputes every running containment at the current time; one whose suspect may be
    /// beyond its boundary stops, saying so. Returns what changed, to publish.
    func recompute() throws -> [LiveContainment] {
        let running = try registry.store.runningContainments()
        guard !running.isEmpty else { return [] }
        let time = now
        var updated: [(before: [Xunfang_Checkpoint_V1_RingPoint], after: LiveContainment)] = []
        for var containment in running {
            let before = containment.ring.ring
            do {
                try compute(&containment, at: time)
            } catch {
                containment.active = false
                containment.endedReason = "\(error)"
            }
            updated.append((before, containment))
        }
        return try registry.transact { changes in
            // A stop that came in meanwhile stands.
            let stillRunning = Set(try registry.store.runningContainments().map(\.id))
            for (before, containment) in updated where stillRunning.contains(containment.id) {
                changes.containments.append(containment)
                try Self.order(from: before, containment, into: &changes)
            }
            return changes.containments
        }
    }

    /// Orders on the durable "checkpoint.order.<unit>" for what changed in a ring: a unit
    /// with a new point is ordered there (a staffed checkpoint: to seal its own); a unit
    /// no longer in the ring, or every unit once the containment has stopped, stands down.
    static func order(from before: [Xunfang_Checkpoint_V1_RingPoint], _ containment: LiveContainment,
                      into changes: inout CheckpointStore.Changes) throws {
        let after = containment.active ? containment.ring.ring : []
        let held = Dictionary(before.map { ($0.unit, $0.node) }, uniquingKeysWith: { first, _ in first })
        let kept = Set(after.map(\.unit))
        var orders: [(String, Xunfang_Checkpoint_V1_SealOrder)] = []
        func order(_ point: Xunfang_Checkpoint_V1_RingPoint, standDown: Bool) -> Xunfang_Checkpoint_V1_SealOrder {
            .with {
                $0.activation = containment.id
                $0.planName = "围堵 \(containment.id)"
                $0.standDown = standDown
                $0.position = .with {
                    $0.id = "\(containment.id)-\(point.node)"
                    $0.name = point.roadName.isEmpty ? "node \(point.node)" : point.roadName
                    $0.node = point.node
                    $0.longitude = point.longitude
                    $0.latitude = point.latitude
                    $0.responder = point.unit
                    $0.orderedAt = containment.computedAt
                    $0.deadline = containment.computedAt + Int64(point.police * 1_000)
                    $0.etaSeconds = point.police
                }
            }
        }
        for point in after where held[point.unit] != point.node { orders.append((point.unit, order(point, standDown: false))) }
        for point in before where !kept.contains(point.unit) { orders.append((point.unit, order(point, standDown: true))) }
        let stamp = "\(containment.id)-\(containment.computedAt)-\(containment.active ? "ring" : "end")"
        for (index, (unit, order)) in orders.enumerated() {
            changes.outbox.append(("checkpoint.order.\(Topic.token(unit))", try order.serializedData(), "\(stamp)-\(index)"))
        }
    }

    private func compute(_ containment: inout LiveContainment, at time: Int64) throws {
        var request = containment.request
        request.headStart = Double(time - containment.suspectLeftAt) / 1_000
        guard request.headStart < request.boundary else {
            throw BusClientError(.outOfRange, "the suspect may be beyond the boundary: \(Int(request.headStart)) s since leaving, boundary \(Int(request.boundary)) s")
        }
        request.units = try liveUnits(at: time)
        containment.units = Int32(request.units.count)
        containment.ring = try rings.ring(request)
        containment.computedAt = time
    }

    /// Fresh unit positions, and the staffed checkpoints as fixed units at their node.
    func liveUnits(at time: Int64) throws -> [Xunfang_Checkpoint_V1_RingUnit] {
        let fresh = positions.withLock { known in known.filter { time - $0.value.at <= Self.positionLifetime } }
        var units: [Xunfang_Checkpoint_V1_RingUnit] = fresh.sorted { $0.value.at > $1.value.at }.map { callSign, report in
            .with {
                $0.id = callSign
                $0.longitude = report.point.longitude
                $0.latitude = report.point.latitude
            }
        }
        let callSigns = Set(fresh.keys)
        for checkpoint in try registry.store.checkpoints() where [.open, .alert, .sealed].contains(checkpoint.status) && !callSigns.contains(checkpoint.id) {
            units.append(.with {
                $0.id = checkpoint.id
                $0.node = checkpoint.node
                $0.fixed = true
            })
        }
        return Array(units.prefix(RingService.maxUnits))
    }
}
