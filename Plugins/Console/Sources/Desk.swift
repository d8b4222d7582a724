import Foundation
import SwiftProtobuf
import XunfangPluginKit
import CheckpointControlContract
import CommunityPolicingContract
import DispatchContract
import GridModelContract
import PatrolContract
import SituationAnalysisContract

/// What the console asks of the plugins, each through the plugin's own service on the bus:
/// the console keeps no domain logic and no state of its own but sessions and its audit.
/// Answers go to the page as the contracts' JSON.
struct Desk: Sendable {
    let bus: BusClient

    static let dispatch = "/xunfang.dispatch.v1.Dispatch/"
    static let gridModel = "/xunfang.grid_model.v1.GridModel/"
    static let situation = "/xunfang.situation.v1.Situation/"
    static let checkpoint = "/xunfang.checkpoint.v1.Checkpoint/"
    static let patrol = "/xunfang.patrol.v1.Patrol/"
    static let community = "/xunfang.community.v1.Community/"
    static let calls = ["Intake", "Recommend", "Assign", "ListIncidents", "ListUnits", "ReadPersonal", "MajorIncident", "AcceptMoveUp"].map { dispatch + $0 }
        + ["ListAreas", "ListSites", "Roads", "Coverage", "Locate"].map { gridModel + $0 }
        + [situation + "Colours", situation + "Emerging"] + ["Board", "ListPlans", "Activate", "StandDown"].map { checkpoint + $0 } + [patrol + "Cameras", patrol + "Compliance"]
        + ["ListTips", "UpdateTip", "ListAlerts", "ListWatches"].map { community + $0 }

    static let json: JSONEncodingOptions = {
        var options = JSONEncodingOptions()
        options.alwaysPrintInt64sAsNumbers = true
        return options
    }()

    /// The county as the map draws it: areas (grids with outlines, stations, branches by
    /// name) and every site (station houses, posts, police rooms, checkpoints, must-patrol
    /// points and lines).
    func map() async throws -> String {
        var areas = Xunfang_GridModel_V1_ListAreasRequest()
        areas.withOutlines = true
        let listed = try await bus.call(Self.gridModel + "ListAreas", areas, as: Xunfang_GridModel_V1_ListAreasResponse.self)
        let sites = try await bus.call(Self.gridModel + "ListSites", Xunfang_GridModel_V1_ListSitesRequest(), as: Xunfang_GridModel_V1_ListSitesResponse.self)
        return "{\"areas\":\(try listed.jsonString(options: Self.json)),\"sites\":\(try sites.jsonString(options: Self.json))}"
    }

    /// The roads, each piece once, in micro-degrees.
    func roads() async throws -> String {
        try await bus.call(Self.gridModel + "Roads", Xunfang_GridModel_V1_RoadsRequest(), as: Xunfang_GridModel_V1_RoadsResponse.self).jsonString(options: Self.json)
    }

    /// The units; a station chief's (`station` not empty) only their station's.
    func units(station: String = "") async throws -> String {
        var answer = try await bus.call(Self.dispatch + "ListUnits", Xunfang_Dispatch_V1_ListUnitsRequest(), as: Xunfang_Dispatch_V1_ListUnitsResponse.self)
        if !station.isEmpty { answer.units.removeAll { $0.homeStation != station } }
        return try answer.jsonString(options: Self.json)
    }

    /// The latest 200 incidents; a station chief's only their station's.
    func incidents(station: String = "") async throws -> String {
        var request = Xunfang_Dispatch_V1_ListIncidentsRequest()
        request.limit = 200
        request.stationID = station
        return try await bus.call(Self.dispatch + "ListIncidents", request, as: Xunfang_Dispatch_V1_ListIncidentsResponse.self).jsonString(options: Self.json)
    }

    /// The station an incident belongs to, for a station chief's action on it.
    func station(ofIncident id: String) async throws -> String {
        var request = Xunfang_Dispatch_V1_ListIncidentsRequest()
        request.ids = [id]
        guard let incident = try await bus.call(Self.dispatch + "ListIncidents", request, as: Xunfang_Dispatch_V1_ListIncidentsResponse.self).incidents.first else {
            throw BusClientError(.notFound, "no incident \(id.prefix(64))")
        }
        return incident.stationID
    }

    /// A call the duty officer takes: an incident at a place on the map.
    func create(type: String, longitude: Double, latitude: Double, externalID: String) async throws -> Xunfang_Dispatch_V1_IntakeResponse {
        var request = Xunfang_Dispatch_V1_IntakeRequest()
        request.typeCode = type
        request.source = .call110
        request.location.longitude = longitude
        request.location.latitude = latitude
        request.externalID = externalID
        return try await bus.call(Self.dispatch + "Intake", request, as: Xunfang_Dispatch_V1_IntakeResponse.self)
    }

    func recommend(_ incident: String) async throws -> String {
        var request = Xunfang_Dispatch_V1_RecommendRequest()
        request.incidentID = incident
        return try await bus.call(Self.dispatch + "Recommend", request, as: Xunfang_Dispatch_V1_RecommendResponse.self).jsonString(options: Self.json)
    }

    /// The best recommendation, or the unit the officer chose.
    func assign(_ incident: String, unit: String) async throws -> Xunfang_Dispatch_V1_AssignResponse {
        var request = Xunfang_Dispatch_V1_AssignRequest()
        request.incidentID = incident
        request.callSign = unit
        return try await bus.call(Self.dispatch + "Assign", request, as: Xunfang_Dispatch_V1_AssignResponse.self)
    }

    /// 一键处置: a major incident in one step. Dispatch orders the nearest units, activates
    /// the seal plan (after the units are ordered) and asks the community to watch nearby.
    func majorIncident(_ incident: String, units: UInt32, sealPlan: String, drill: Bool, watchHours: UInt32) async throws -> Xunfang_Dispatch_V1_MajorIncidentResponse {
        var request = Xunfang_Dispatch_V1_MajorIncidentRequest()
        request.incidentID = incident
        request.units = units
        request.sealPlan = sealPlan
        request.sealDrill = drill
        request.watchHours = watchHours
        return try await bus.call(Self.dispatch + "MajorIncident", request, as: Xunfang_Dispatch_V1_MajorIncidentResponse.self)
    }

    /// A move-up plan accepted: Dispatch orders the moves (all, or those named) that are still possible.
    func acceptMoveUp(plan: String, callSigns: [String]) async throws -> Xunfang_Dispatch_V1_AcceptMoveUpResponse {
        var request = Xunfang_Dispatch_V1_AcceptMoveUpRequest()
        request.planID = plan
        request.callSigns = callSigns
        return try await bus.call(Self.dispatch + "AcceptMoveUp", request, as: Xunfang_Dispatch_V1_AcceptMoveUpResponse.self)
    }

    /// What the caller said and their number: personal data, read in the officer's name for
    /// a stated purpose (Dispatch keeps its own audit of it too).
    func readPersonal(_ incident: String, officer: String, purpose: String) async throws -> String {
        var request = Xunfang_Dispatch_V1_ReadPersonalRequest()
        request.incidentID = incident
        request.purpose = purpose
        request.onBehalfOf = officer
        return try await bus.call(Self.dispatch + "ReadPersonal", request, as: Xunfang_Dispatch_V1_PersonalRecord.self).jsonString(options: Self.json)
    }

    /// Yesterday's four colours of every station and grid (Situation's daily run).
    func colours() async throws -> String {
        try await bus.call(Self.situation + "Colours", Xunfang_Situation_V1_ColoursRequest(), as: Xunfang_Situation_V1_ColoursResponse.self).jsonString(options: Self.json)
    }

    /// How much of the county the available units reach within 1, 3 and 5 minutes by road
    /// (GridModel's Coverage, each unit in its own mode): overall and grid by grid.
    func coverage() async throws -> String {
        let units = try await bus.call(Self.dispatch + "ListUnits", Xunfang_Dispatch_V1_ListUnitsRequest(), as: Xunfang_Dispatch_V1_ListUnitsResponse.self).units
        var request = Xunfang_GridModel_V1_CoverageRequest()
        request.thresholdSeconds = [60, 180, 300]
        request.units = units.compactMap { unit in
            guard unit.status == .available, unit.hasPosition, let mode = unit.kind.travelMode else { return nil }
            return .with {
                $0.id = unit.callSign
                $0.position = unit.position
                $0.mode = mode
            }
        }
        let answer = try await bus.call(Self.gridModel + "Coverage", request, as: Xunfang_GridModel_V1_CoverageResponse.self)
        return "{\"units\":\(request.units.count),\"coverage\":\(try answer.jsonString(options: Self.json))}"
    }

    /// The members' tips still open (submitted, being verified, verified), newest first, without
    /// who sent them: the desk needs what was seen and where, not the reporter (Community audits the read).
    /// A station chief's (`station` not empty) only those seen in their station (GridModel `Locate`).
    func tips(station: String = "") async throws -> String {
        var answer = try await latestTips()
        answer.tips.removeAll { ![.submitted, .verifying, .verified].contains($0.status) }
        for index in answer.tips.indices { answer.tips[index].memberID = "" }
        if !station.isEmpty {
            var stations: [String] = []
            for tip in answer.tips { stations.append(try await self.station(longitude: tip.longitude, latitude: tip.latitude)) }
            answer.tips = zip(answer.tips, stations).filter { $0.1 == station }.map(\.0)
        }
        return try answer.jsonString(options: Self.json)
    }

    /// The newest 500 tips, whatever their status (Community's most per answer).
    private func latestTips() async throws -> Xunfang_Community_V1_ListTipsResponse {
        var request = Xunfang_Community_V1_ListTipsRequest()
        request.limit = 500
        return try await bus.call(Self.community + "ListTips", request, as: Xunfang_Community_V1_ListTipsResponse.self)
    }

    /// The station whose grids hold a point, or the nearest grid's when outside them all.
    func station(longitude: Double, latitude: Double) async throws -> String {
        var request = Xunfang_GridModel_V1_LocateRequest()
        request.position.longitude = longitude
        request.position.latitude = latitude
        let answer = try await bus.call(Self.gridModel + "Locate", request, as: Xunfang_GridModel_V1_LocateResponse.self)
        return answer.found ? answer.station.id : answer.nearestStation.id
    }

    /// The station an open tip was seen in, for a station chief's action on it.
    func station(ofTip id: String) async throws -> String {
        guard let tip = try await latestTips().tips.first(where: { $0.id == id }) else {
            throw BusClientError(.notFound, "no open tip \(id.prefix(64))")
        }
        return try await station(longitude: tip.longitude, latitude: tip.latitude)
    }

    static let tipStates: [String: Xunfang_Community_V1_TipStatus] = ["verifying": .verifying, "verified": .verified, "forwarded": .forwarded, "dismissed": .dismissed]

    /// A tip moved on in the officer's name: verifying, verified, forwarded (Community makes it Dispatch's incident) or dismissed.
    func updateTip(_ id: String, to status: String, officer: String, why: String, typeCode: String) async throws -> Xunfang_Community_V1_TipResponse {
        guard let state = Self.tipStates[status] else { throw BusClientError(.invalidArgument, "a tip moves to verifying, verified, forwarded or dismissed") }
        var request = Xunfang_Community_V1_UpdateTipRequest()
        request.tipID = id
        request.status = state
        request.by = officer
        request.why = why
        request.typeCode = typeCode
        var answer = try await bus.call(Self.community + "UpdateTip", request, as: Xunfang_Community_V1_TipResponse.self)
        answer.tip.memberID = ""
        return answer
    }

    /// Video patrol's cameras with their grades in force (key, attention, general) and why.
    func cameras() async throws -> String {
        var request = Xunfang_Patrol_V1_CamerasRequest()
        request.limit = 20_000
        return try await bus.call(Self.patrol + "Cameras", request, as: Xunfang_Patrol_V1_CamerasResponse.self).jsonString(options: Self.json)
    }

    /// The community's last 24 hours: alerts sent to members, counted by station (no member
    /// named), and the community watches still open, each where it was called.
    func community(now: Int64) async throws -> String {
        var request = Xunfang_Community_V1_ListAlertsRequest()
        request.since = now - 86_400_000
        request.limit = 10_000
        let alerts = try await bus.call(Self.community + "ListAlerts", request, as: Xunfang_Community_V1_ListAlertsResponse.self).alerts
        var watches = Xunfang_Community_V1_ListWatchesRequest()
        watches.openOnly = true
        let open = try await bus.call(Self.community + "ListWatches", watches, as: Xunfang_Community_V1_ListWatchesResponse.self)
        let stations = Dictionary(grouping: alerts, by: \.stationID).map { station, alerts in
            let newest = alerts.max { $0.createdAt < $1.createdAt }!
            return ["station": station, "alerts": alerts.count, "delivered": alerts.count { $0.deliveredAt > 0 },
                    "headline": newest.headline, "newest": newest.createdAt] as [String: Any]
        }.sorted { ($0["alerts"] as! Int) > ($1["alerts"] as! Int) }
        let digest = String(decoding: try JSONSerialization.data(withJSONObject: stations), as: UTF8.self)
        return "{\"stations\":\(digest),\"watches\":\(try open.jsonString(options: Self.json))}"
    }

    /// The shift under way so far (Patrol `Compliance`): each unit on patrol with its
    /// must-patrol points visited of those assigned and its lines' share driven; a station
    /// chief's only their station's.
    func patrol(station: String = "") async throws -> String {
        var request = Xunfang_Patrol_V1_ComplianceRequest()
        request.stationID = station
        var answer: Xunfang_Patrol_V1_ComplianceResponse
        do {
            answer = try await bus.call(Self.patrol + "Compliance", request, as: Xunfang_Patrol_V1_ComplianceResponse.self)
        } catch let error as BusClientError where error.code == .failedPrecondition || error.code == .notFound {
            // No one on duty, or no assignments yet: an empty board that says why.
            return "{\"units\":[],\"note\":\(ConsolePlugin.quoted(error.message))}"
        }
        answer.units.removeAll { !$0.onPatrol }
        for index in answer.units.indices {
            answer.units[index].stops = []
            answer.units[index].presence = []
        }
        return try answer.jsonString(options: Self.json)
    }

    /// The last eight weeks' hot spots on Situation's 250 m lattice (new, intensifying,
    /// persistent, diminishing, sporadic), as its emerging hot-spot analysis finds them.
    func hotCells() async throws -> String {
        try await bus.call(Self.situation + "Emerging", Xunfang_Situation_V1_EmergingRequest(), as: Xunfang_Situation_V1_EmergingResponse.self).jsonString(options: Self.json)
    }

    /// The checkpoints' board (status, today's counts) and the seal plans ready to activate.
    func checkpoints() async throws -> String {
        let board = try await bus.call(Self.checkpoint + "Board", Xunfang_Checkpoint_V1_BoardRequest(), as: Xunfang_Checkpoint_V1_BoardResponse.self)
        let plans = try await bus.call(Self.checkpoint + "ListPlans", Xunfang_Checkpoint_V1_ListPlansRequest(), as: Xunfang_Checkpoint_V1_ListPlansResponse.self)
        return "{\"board\":\(try board.jsonString(options: Self.json)),\"plans\":\(try plans.jsonString(options: Self.json))}"
    }

    /// A seal plan activated (or drilled) in the officer's name: CheckpointControl orders
    /// every position and keeps the timer.
    func activate(plan: String, drill: Bool, officer: String, reason: String) async throws -> Xunfang_Checkpoint_V1_SealActivation {
        var request = Xunfang_Checkpoint_V1_ActivateRequest()
        request.plan = plan
        request.drill = drill
        request.officer = officer
        request.reason = reason
        return try await bus.call(Self.checkpoint + "Activate", request, as: Xunfang_Checkpoint_V1_SealActivation.self)
    }

    /// A seal stood down in the officer's name, with the reason: every responder told.
    func standDown(activation: String, officer: String, reason: String) async throws -> Xunfang_Checkpoint_V1_SealActivation {
        var request = Xunfang_Checkpoint_V1_StandDownRequest()
        request.activation = activation
        request.officer = officer
        request.reason = reason
        return try await bus.call(Self.checkpoint + "StandDown", request, as: Xunfang_Checkpoint_V1_SealActivation.self)
    }
}
