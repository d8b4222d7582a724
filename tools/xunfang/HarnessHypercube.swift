import DispatchContract
import Foundation
import GridModelContract
import PatrolContract
import Synchronization
import XunfangHarness
import XunfangPluginKit

/// The dispatcher and observer of a hypercube case: it places the atoms on the roads by the
/// stations' houses, picks one car on duty from each station as the calls begin, measures
/// each one's road time to each atom, sends each call to the first free unit of its atom's
/// preference (nearest first) and closes a call that finds every unit busy; it follows
/// every unit's status to measure when each was busy.
final class HypercubeDesk: Sendable {
    struct State {
        var places: [(longitude: Double, latitude: Double)] = []
        var units: [String] = []
        var preference: [[Int]] = []
        var busy: [Bool] = []
        var observation = HypercubeObservation(units: [], travel: [], from: 0, to: 0)
    }

    let hypercube: HypercubeCase
    let client: BusClient
    let clock: PluginClock
    private let state = Mutex(State())

    init(_ hypercube: HypercubeCase, client: BusClient, clock: PluginClock) {
        self.hypercube = hypercube
        self.client = client
        self.clock = clock
    }

    /// The atoms at the road junctions nearest their places, and their Poisson calls.
    func calls(from: Int64, to: Int64, seed: UInt64) async throws -> [Call] {
        // The stack is starting: GridModel may not serve yet.
        for _ in 0..<120 {
            do {
                return try await callsNow(from: from, to: to, seed: seed)
            } catch let error as BusClientError where error.code == .unavailable {
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        return try await callsNow(from: from, to: to, seed: seed)
    }

    func callsNow(from: Int64, to: Int64, seed: UInt64) async throws -> [Call] {
        var sites = Xunfang_GridModel_V1_ListSitesRequest()
        sites.kind = .stationHouse
        let houses = try await client.call("/xunfang.grid_model.v1.GridModel/ListSites", sites, as: Xunfang_GridModel_V1_ListSitesResponse.self).sites
        let roads = try await client.call("/xunfang.grid_model.v1.GridModel/Roads", Xunfang_GridModel_V1_RoadsRequest(), as: Xunfang_GridModel_V1_RoadsResponse.self)
        let byStation = Dictionary(houses.map { ($0.stationID, (longitude: $0.position.longitude, latitude: $0.position.latitude)) }, uniquingKeysWith: { first, _ in first })
        let places = try hypercube.places(houses: byStation).map { place in
            guard let junction = HypercubeCase.nearestJunction(to: place, coordinates: roads.coordinates) else { throw HarnessError("hypercube: the county has no roads") }
            return junction
        }
        state.withLock {
            $0.places = places
            $0.observation.from = from
            $0.observation.to = to
        }
        return hypercube.calls(at: places, from: from, to: to, seed: seed)
    }

    /// As the calls begin: the first car on duty of each station, where it waits, and its
    /// road time to each atom (GridModel's estimate from the unit's reported place).
    func prepare() async throws {
        let onDuty = Set(try await client.call("/xunfang.patrol.v1.Patrol/OnDuty", Xunfang_Patrol_V1_OnDutyRequest(), as: Xunfang_Patrol_V1_OnDutyResponse.self).onDuty.map(\.callSign))
        let listed = try await client.call("/xunfang.dispatch.v1.Dispatch/ListUnits", Xunfang_Dispatch_V1_ListUnitsRequest(), as: Xunfang_Dispatch_V1_ListUnitsResponse.self).units
        let units = try hypercube.stations.map { station in
            guard let unit = listed.filter({ $0.homeStation == station && $0.kind == .car && onDuty.contains($0.callSign) && $0.status == .available && $0.hasPosition })
                .min(by: { $0.callSign < $1.callSign }) else {
                throw HarnessError("hypercube: no car of station \(station) is on duty, free and reporting where it is as the calls begin")
            }
            return unit
        }
        let places = state.withLock { $0.places }
        var travel = [[Double]](repeating: [Double](repeating: 0, count: places.count), count: units.count)
        for (atom, place) in places.enumerated() {
            var request = Xunfang_GridModel_V1_EtaRequest()
            request.target.longitude = place.longitude
            request.target.latitude = place.latitude
            request.units = units.map { unit in Xunfang_GridModel_V1_Unit.with { $0.id = unit.callSign; $0.position = unit.position; $0.mode = unit.kind.travelMode ?? .car } }
            let etas = try await client.call("/xunfang.grid_model.v1.GridModel/Eta", request, as: Xunfang_GridModel_V1_EtaResponse.self).etas
            for (index, unit) in units.enumerated() {
                guard let eta = etas.first(where: { $0.unitID == unit.callSign && $0.reachable }) else { throw HarnessError("hypercube: \(unit.callSign) cannot reach atom \(atom) by road") }
                travel[index][atom] = eta.seconds
            }
        }
        let model = try hypercube.model(travel: travel, acknowledgeSeconds: 0)
        state.withLock {
            $0.units = units.map(\.callSign)
            $0.busy = units.map { _ in false }
            $0.preference = model.atoms.map(\.preference)
            $0.observation.units = $0.units
            $0.observation.travel = travel
        }
    }

    /// Every status change of the case's units, stamped when it arrives.
    func follow() async throws {
        try await client.consume("unit.status", as: Xunfang_Dispatch_V1_Unit.self) { unit, _ in
            let now = clock.now()
            state.withLock { state in
                guard let index = state.units.firstIndex(of: unit.callSign) else { return }
                let busy = unit.status != .available
                guard busy != state.busy[index] else { return }
                state.busy[index] = busy
                state.observation.changes.append(HypercubeObservation.Change(unit: index, busy: busy, at: now))
            }
        }
    }

    /// The call to the first free unit of its atom's preference; when Dispatch refuses one
    /// (its status moved on meanwhile), the next. None: lost, and closed. Returns the refusal.
    func dispatch(_ call: Call, incident: String) async -> String {
        let (atom, candidates) = state.withLock { state -> (Int, [(Int, String)]) in
            let atom = state.places.firstIndex { $0.longitude == call.longitude && $0.latitude == call.latitude } ?? 0
            return (atom, state.preference[atom].filter { !state.busy[$0] }.map { ($0, state.units[$0]) })
        }
        for (index, callSign) in candidates {
            var assign = Xunfang_Dispatch_V1_AssignRequest()
            assign.incidentID = incident
            assign.callSign = callSign
            guard (try? await client.call("/xunfang.dispatch.v1.Dispatch/Assign", assign, as: Xunfang_Dispatch_V1_AssignResponse.self)) != nil else { continue }
            state.withLock {
                // Busy from the order: its status message may come after the call's next neighbour.
                if !$0.busy[index] {
                    $0.busy[index] = true
                    $0.observation.changes.append(HypercubeObservation.Change(unit: index, busy: true, at: clock.now()))
                }
                $0.observation.dispatches.append(HypercubeObservation.Dispatch(at: call.at, incident: incident, atom: atom, unit: index))
            }
            return ""
        }
        state.withLock { $0.observation.dispatches.append(HypercubeObservation.Dispatch(at: call.at, incident: incident, atom: atom, unit: nil)) }
        var clear = Xunfang_Dispatch_V1_ClearRequest()
        clear.incidentID = incident
        clear.close = true
        _ = try? await client.call("/xunfang.dispatch.v1.Dispatch/Clear", clear, as: Xunfang_Dispatch_V1_Incident.self)
        return "lost: every unit of the hypercube case was busy (zero line capacity)"
    }

    /// What was seen, each answered call's acknowledgement and travel read from Dispatch's incidents.
    func observation(incidents: [Xunfang_Dispatch_V1_Incident]) -> HypercubeObservation {
        let times = Dictionary(incidents.map { ($0.id, $0.times) }, uniquingKeysWith: { first, _ in first })
        return state.withLock { state in
            var observation = state.observation
            for index in observation.dispatches.indices where observation.dispatches[index].unit != nil {
                guard let time = times[observation.dispatches[index].incident], time.acknowledged > 0, time.onScene >= time.acknowledged else { continue }
                observation.dispatches[index].acknowledgeSeconds = Double(time.acknowledged - time.dispatched) / 1_000
                observation.dispatches[index].travelSeconds = Double(time.onScene - time.acknowledged) / 1_000
            }
            return observation
        }
    }
}
