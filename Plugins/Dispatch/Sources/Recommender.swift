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
    /// How long to wait for GridModel before ranking by straight line.
    let wait: Duration
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

    /// - Parameter units: every unit of the roster; those that may not go are left out
    ///   here and named by `passedOver`.
    func recommend(incident: Incident, units: [Unit]) async -> Result {
        let eligible = units.filter { Dispatcher.skipReason($0, for: incident) == nil }
        let positioned = eligible.filter { $0.position != nil }
        var notes: [String] = []
        if positioned.count < eligible.count { notes.append("\(eligible.count - positioned.count) available unit(s) have not reported a position") }
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

    /// The units nearer the scene (straight line) than the farthest one `shown` that were
    /// left out, nearest first, each with why; with nothing shown, every unit that might
    /// have gone: the own station's and all that reported a position. `ranked` is every
    /// unit the ranking reached (shown or not), `considered` every one with a road answer.
    /// `distance` is `straightLine(units, to:)`.
    static func passedOver(incident: Incident, units: [Unit], distance: [String: Double], shown: [Recommendation], ranked: Set<String>,
                           considered: Set<String>) -> [PassedOver] {
        let farthest = shown.compactMap { distance[$0.candidate.callSign] }.max()
        var passed: [PassedOver] = []
        for unit in units where !ranked.contains(unit.callSign) {
            let metres = distance[unit.callSign]
            if let farthest {
                guard let metres, metres < farthest else { continue }
            } else if metres == nil && unit.homeStation != incident.stationID {
                continue
            }
            let (reason, detail): (SkipReason, String) = if let skip = Dispatcher.skipReason(unit, for: incident) {
                skip
            } else if metres == nil {
                (.noPosition, "no position reported")
            } else if !considered.contains(unit.callSign) {
                (.unreachable, "no road route to the scene")
            } else {
                (.outsideZone, "outside the zones searched: a nearer zone meets the response circle")
            }
            passed.append(PassedOver(callSign: unit.callSign, reason: reason, detail: detail, metres: metres))
        }
        return passed.sorted { ($0.metres ?? .infinity, $0.callSign) < ($1.metres ?? .infinity, $1.callSign) }
    }

    /// Metres in a straight line from each unit that reported a position to `point`.
    static func straightLine(_ units: [Unit], to point: GeoPoint) -> [String: Double] {
        Dictionary(uniqueKeysWithValues: units.compactMap { unit in unit.position.map { (unit.callSign, Haversine.metres($0, point)) } })
    }

    /// One line: how many were passed over, by reason ("26 nearer unit(s) passed over: 24 lack
    /// armed, 2 busy", or with nothing to recommend "no unit can go: ...").
    static func summary(_ passed: [PassedOver], incident: Incident, anyShown: Bool) -> String {
        guard !passed.isEmpty else { return "" }
        func words(_ reason: SkipReason) -> String {
            switch reason {
            case .lacksCapability: "lack " + incident.type.capabilities.sorted().joined(separator: ", ")
            case .busy: "busy"
            case .offDuty: "off duty"
            case .outOfService: "out of service"
            case .noPosition: "without a position"
            case .unreachable: "unreachable by road"
            case .outsideZone: "outside the zones searched"
            }
        }
        let counts = Dictionary(grouping: passed, by: \.reason).sorted { ($1.value.count, $0.key.rawValue) < ($0.value.count, $1.key.rawValue) }
        return (anyShown ? "\(passed.count) nearer unit(s) passed over: " : "no unit can go: ") + counts.map { "\($0.value.count) \(words($0.key))" }.joined(separator: ", ")
    }

    /// A recommendation's line with the nearer units it passed over named (at most three).
    static func explain(_ recommendation: Recommendation, passed: [PassedOver], distance: Double?) -> String {
        guard let distance else { return recommendation.explanation }
        let nearer = passed.filter { ($0.metres ?? .infinity) < distance }
        guard !nearer.isEmpty else { return recommendation.explanation }
        let named = nearer.prefix(3).map { "\($0.callSign) (\($0.detail), \(String(format: "%.1f", ($0.metres ?? 0) / 1_000)) km)" }
        return recommendation.explanation + "; passes over nearer " + named.joined(separator: ", ")
            + (nearer.count > 3 ? " and \(nearer.count - 3) more" : "")
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
                                       timeout: wait)
            async let etas = bus.call(DispatchPlugin.gridModel + "Eta", etaRequest, as: Xunfang_GridModel_V1_EtaResponse.self, timeout: wait)
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

