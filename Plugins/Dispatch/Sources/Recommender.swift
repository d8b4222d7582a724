import Foundation
import Logging
import XunfangGeo
import XunfangPluginKit
import GridModelContract

/// Ranks units for an incident by road ETA from GridModel (one many-to-one search for all
/// of them) and the four zones around the scene; without GridModel, by straight-line
/// estimates, and says so.
struct Recommender {
    let bus: BusClient?
    let logger: Logger

    struct Result {
        var list: [Recommendation]
        /// Every candidate, before zone widening (for a major incident's one-key start).
        var all: [Candidate]
        var widenedTo: Zone
        var straightLine: Bool
        var note: String
    }

    /// Speeds for straight-line estimates, km/h, and the detour factor that turns a
    /// straight line into a typical road distance in a Chinese county town.
    static let straightLineSpeeds: [UnitKind: Double] = [.car: 40, .specialPolice: 45, .motorcycle: 35, .eBike: 20, .foot: 5, .drone: 60]
    static let detourFactor = 1.3
    /// The response circle assumed when GridModel cannot say which applies (urban, 3 minutes).
    static let fallbackTargetSeconds = 180.0

    func recommend(incident: Incident, units: [Unit]) async -> Result {
        let positioned = units.filter { $0.position != nil }
        var notes: [String] = []
        if positioned.count < units.count { notes.append("\(units.count - positioned.count) available unit(s) have not reported a position") }
        if let road = await roadCandidates(incident: incident, units: positioned) {
            let (list, widened) = Dispatcher.rank(road.candidates, targetSeconds: road.target)
            return Result(list: list, all: road.candidates, widenedTo: widened, straightLine: false, note: notes.joined(separator: "; "))
        }
        let candidates = positioned.map { unit in
            let metres = Haversine.metres(unit.position!, incident.location) * (unit.kind == .drone ? 1 : Self.detourFactor)
            let speed = (Self.straightLineSpeeds[unit.kind] ?? 30) / 3.6
            return Candidate(callSign: unit.callSign, etaSeconds: metres / speed, metres: metres,
                             zone: unit.homeStation == incident.stationID ? .own : .city)
        }
        let (list, widened) = Dispatcher.rank(candidates, targetSeconds: Self.fallbackTargetSeconds)
        notes.insert("GridModel did not answer: straight-line estimates (×\(Self.detourFactor) for roads), zones other than the own station unknown", at: 0)
        return Result(list: list, all: candidates, widenedTo: widened, straightLine: true, note: notes.joined(separator: "; "))
    }

    /// Road ETAs and zones from GridModel, or nil when it is not there.
    private func roadCandidates(incident: Incident, units: [Unit]) async -> (candidates: [Candidate], target: Double)? {
        guard let bus else { return nil }
        var zonesRequest = Xunfang_GridModel_V1_LocateRequest()
        zonesRequest.position = Wire.position(incident.location)
        var etaRequest = Xunfang_GridModel_V1_EtaRequest()
        etaRequest.target = Wire.position(incident.location)
        etaRequest.units = units.map { unit in
            var entry = Xunfang_GridModel_V1_Unit()
            entry.id = unit.callSign
            entry.position = Wire.position(unit.position!)
            entry.mode = Wire.mode(unit.travelMode)
            return entry
        }
        do {
            async let zones = bus.call(DispatchPlugin.gridModel + "FourZones", zonesRequest, as: Xunfang_GridModel_V1_FourZonesResponse.self,
                                       timeout: .seconds(2))
            async let etas = bus.call(DispatchPlugin.gridModel + "Eta", etaRequest, as: Xunfang_GridModel_V1_EtaResponse.self, timeout: .seconds(2))
            let (fourZones, answer) = try await (zones, etas)
            var zoneOf: [String: Zone] = [:]
            for (zone, list) in [(Zone.own, fourZones.own), (.adjacent, fourZones.adjacent), (.branch, fourZones.branchSupport), (.city, fourZones.citySupport)] {
                for station in list.stations { zoneOf[station.id] = zone }
            }
            let home = Dictionary(uniqueKeysWithValues: units.map { ($0.callSign, $0.homeStation) })
            let candidates = answer.etas.filter(\.reachable).map { eta in
                Candidate(callSign: eta.unitID, etaSeconds: eta.seconds, metres: eta.metres, zone: zoneOf[home[eta.unitID] ?? ""] ?? .city)
            }
            let target = fourZones.location.found ? Double(fourZones.location.responseTargetSeconds) : Self.fallbackTargetSeconds
            return (candidates, target)
        } catch {
            logger.warning("GridModel did not answer; recommending by straight line", metadata: ["xunfang.error": "\(error)"])
            return nil
        }
    }
}
