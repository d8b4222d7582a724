import Foundation
import Logging
import SwiftProtobuf
import XunfangGeo
import XunfangOutbox
import XunfangPluginKit
import GridModelContract
import DispatchContract
import CheckpointControlContract
import CommunityPolicingContract

/// The plugin's working half: turns requests into `Dispatcher` calls under one lock,
/// asks GridModel for places and travel times (outside the lock), stores every change
/// with its announcements, and drains the outbox onto the bus.
final class Desk: @unchecked Sendable {
    private let lock = NSLock()
    private let dispatcher: Dispatcher
    private let store: DispatchStore
    private let clock: any DispatchClock
    private let logger: Logger
    private var bus: BusClient?
    private let wake = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    /// Move-up plans that may still be accepted, by plan id.
    private var moveUpPlans: [String: Xunfang_Dispatch_V1_MoveUpResponse] = [:]
    private var moveUpSerial = 0
    private let autoMoveUp: Bool
    private var moveUpRunning = false
    private var moveUpQueued: String?
    /// Start of the shift the last tick fell in; KPIs are published when it changes.
    private var shiftStart: Int64
    /// How long personal fields outlive the incident's end.
    private let retentionMilliseconds: Int64
    /// Calls up to this far outside every grid are taken as a neighbouring county's
    /// incident; farther ones are refused (`DISPATCH_ACCEPT_OUTSIDE_METRES`).
    private let acceptOutsideMetres: Double
    /// How long a call waits for GridModel (`Dispatcher.Settings.gridModelWaitMilliseconds`).
    private let gridModelWait: Duration
    private var lastRetentionSweep: Int64 = 0

    /// - Parameter roster: the county's roster (`DISPATCH_ROSTER`), merged into the stored
    ///   units at start; without one an empty store gets the demo roster.
    init(store: DispatchStore, clock: any DispatchClock, logger: Logger, demoCars: Int = 126, settings: Dispatcher.Settings = .init(),
         autoMoveUp: Bool = true, roster: [Unit]? = nil, retentionDays: Int = 180, acceptOutsideMetres: Double = 0) throws {
        self.store = store
        self.acceptOutsideMetres = acceptOutsideMetres
        gridModelWait = .milliseconds(settings.gridModelWaitMilliseconds)
        self.clock = clock
        self.logger = logger
        self.autoMoveUp = autoMoveUp
        retentionMilliseconds = Int64(retentionDays) * 86_400_000
        shiftStart = Measures.shiftStart(containing: clock.now())
        dispatcher = Dispatcher(settings: settings, clock: clock)
        var (incidents, units) = try store.load()
        if let roster {
            let (merged, unlisted) = Roster.merge(stored: units, roster: roster)
            units = merged
            try store.save(incidents: [], units: units, outbox: [])
            if !unlisted.isEmpty {
                logger.warning("units in the store but not in the roster are kept", metadata: ["xunfang.units": "\(unlisted.joined(separator: ","))"])
            }
        } else if units.isEmpty {
            units = DemoRoster.units(cars: demoCars)
            try store.save(incidents: [], units: units, outbox: [])
        }
        dispatcher.restore(incidents: incidents, units: units)
    }

    func attach(_ bus: BusClient) {
        lock.withLock { self.bus = bus }
        Task { [self] in await drainOutbox() }
    }

    // MARK: - Requests

    func intake(_ request: Xunfang_Dispatch_V1_IntakeRequest, caller: String) async throws -> Xunfang_Dispatch_V1_IntakeResponse {
        guard request.externalID.utf8.count <= Self.maxExternalIDBytes else {
            throw BusClientError(.invalidArgument, "external_id: \(request.externalID.utf8.count) bytes is longer than \(Self.maxExternalIDBytes)")
        }
        let personal = try Self.personalFields(request)
        let location: GeoPoint
        let place: Place
        if request.placeID.isEmpty {
            location = try Wire.point(request.location, field: "location")
            place = await locate(location)
            if let outside = place.outside, outside.metres > acceptOutsideMetres {
                throw BusClientError(.invalidArgument, String(format: "location is %.1f km outside the county (nearest grid %@, station %@); ",
                                                              outside.metres / 1_000, outside.nearestGrid, place.station ?? "")
                    + "hand the call to the county it is in, or set DISPATCH_ACCEPT_OUTSIDE_METRES to take calls near the border")
            }
        } else {
            guard !request.hasLocation else { throw BusClientError(.invalidArgument, "give a location or a place_id, not both") }
            (location, place) = try await locate(placeID: request.placeID)
        }
        let source = IncidentSource(rawValue: request.source.rawValue) ?? .call110
        let neighbourhood = lock.withLock { dispatcher.alertsNeighbours(request.typeCode) } ? await self.neighbourhood(location) : nil
        let (incident, linked) = try apply(personal: personal.map { ($0, caller) }) { dispatcher in
            let (incident, linked, events) = try dispatcher.intake(
                typeCode: request.typeCode, source: source, location: location, report: "",
                externalID: request.externalID.isEmpty ? nil : request.externalID, gridID: place.grid,
                stationID: place.station, responseTargetSeconds: place.target, outsideCountyMetres: place.outside?.metres,
                neighbourhood: neighbourhood)
            return ((incident, linked), events)
        }
        var response = Xunfang_Dispatch_V1_IntakeResponse()
        response.incident = Wire.incident(incident)
        response.linked = linked
        return response
    }

    func recommend(_ request: Xunfang_Dispatch_V1_RecommendRequest) async throws -> Xunfang_Dispatch_V1_RecommendResponse {
        let (incident, units) = try snapshot(for: request.incidentID)
        let limit = request.limit == 0 ? 10 : Int(min(request.limit, 100))
        let result = await Recommender(bus: currentBus, wait: gridModelWait, logger: logger).recommend(incident: incident, units: units)
        try remember(ranking: result.list.prefix(Self.rankingKept).map(\.candidate.callSign), for: incident.id)
        let shown = Array(result.list.prefix(limit))
        let distance = Recommender.straightLine(units, to: incident.location)
        let passed = Recommender.passedOver(incident: incident, units: units, distance: distance, shown: shown,
                                            ranked: Set(result.list.map(\.candidate.callSign)), considered: Set(result.all.map(\.callSign)))
        var response = Xunfang_Dispatch_V1_RecommendResponse()
        response.units = shown.map { recommendation in
            var line = recommendation
            line.explanation = Recommender.explain(recommendation, passed: passed, distance: distance[recommendation.candidate.callSign])
            return Wire.recommendation(line)
        }
        response.passedOver = passed.prefix(Self.maxPassedOverListed).map(Wire.passedOver)
        response.straightLineEstimates = result.straightLine
        response.widenedTo = Xunfang_Dispatch_V1_Zone(rawValue: result.widenedTo.rawValue) ?? .city
        response.note = [result.note, Recommender.summary(passed, incident: incident, anyShown: !shown.isEmpty)].filter { !$0.isEmpty }.joined(separator: "; ")
        return response
    }

    /// How much of a ranking is stored for passing on: pass-ons stop at 20 at most, so the
    /// first 50 leave room for units that became busy meanwhile, and a county-wide list of
    /// thousands is not rewritten at every recommendation.
    static let rankingKept = 50

    /// Stores the ranking with the incident (no announcement), so an unacknowledged order
    /// passes down it even after a restart.
    private func remember(ranking: [String], for incidentID: String) throws {
        try lock.withLock {
            guard let incident = dispatcher.recordRanking(ranking, for: incidentID) else { return }
            do {
                try store.save(incidents: [incident], units: [], outbox: [])
            } catch {
                logger.error("cannot store a ranking", metadata: ["xunfang.incident": "\(incidentID)", "xunfang.error": "\(error)"])
                throw BusClientError(.internal, "cannot store the ranking of \(incidentID): \(error)")
            }
        }
    }

    /// A county-wide "no unit can go" lists this many units at most; the note counts them all.
    static let maxPassedOverListed = 50

    /// The incident, if it still takes units, and the whole roster as they stand now.
    private func snapshot(for incidentID: String) throws -> (incident: Incident, units: [Unit]) {
        try lock.withLock {
            do {
                return (try dispatcher.openIncident(incidentID), dispatcher.units.values.sorted { $0.callSign < $1.callSign })
            } catch let error as DispatchError {
                throw error.busError
            }
        }
    }

    func assign(_ request: Xunfang_Dispatch_V1_AssignRequest) async throws -> Xunfang_Dispatch_V1_AssignResponse {
        var callSign = request.callSign
        if callSign.isEmpty {
            var recommend = Xunfang_Dispatch_V1_RecommendRequest()
            recommend.incidentID = request.incidentID
            guard let best = try await self.recommend(recommend).units.first else {
                throw BusClientError(.failedPrecondition, "no available unit has what \(request.incidentID) needs")
            }
            callSign = best.callSign
        }
        let answer = try apply { dispatcher in
            let events = try dispatcher.assign(request.incidentID, to: callSign)
            return (Self.answer(dispatcher, request.incidentID, callSign), events)
        }
        suggestMoveUp(after: request.incidentID)
        return answer
    }

    func acknowledge(_ request: Xunfang_Dispatch_V1_AcknowledgeRequest) async throws -> Xunfang_Dispatch_V1_AssignResponse {
        try apply { dispatcher in
            let events = try dispatcher.acknowledge(request.incidentID, by: request.callSign, at: request.at)
            return (Self.answer(dispatcher, request.incidentID, request.callSign), events)
        }
    }

    func updateUnit(_ request: Xunfang_Dispatch_V1_UpdateUnitRequest) async throws -> Xunfang_Dispatch_V1_Unit {
        guard let status = UnitStatus(rawValue: request.status.rawValue) else { throw BusClientError(.invalidArgument, "unknown status") }
        return try apply { dispatcher in
            let events = try dispatcher.updateUnit(request.callSign, to: status, at: request.at)
            return (Wire.unit(dispatcher.units[request.callSign]!), events)
        }
    }

    func clear(_ request: Xunfang_Dispatch_V1_ClearRequest) async throws -> Xunfang_Dispatch_V1_Incident {
        try apply { dispatcher in
            let events = try dispatcher.clear(request.incidentID, close: request.close)
            return (Wire.incident(dispatcher.incidents[request.incidentID]!), events)
        }
    }

    func listIncidents(_ request: Xunfang_Dispatch_V1_ListIncidentsRequest) -> Xunfang_Dispatch_V1_ListIncidentsResponse {
        let limit = request.limit == 0 ? 100 : Int(min(request.limit, 10_000))
        let wanted = request.ids.prefix(1_000)
        return lock.withLock {
            var response = Xunfang_Dispatch_V1_ListIncidentsResponse()
            let newestFirst = wanted.isEmpty ? dispatcher.incidentOrder.reversed() : Array(wanted)
            response.incidents = newestFirst.lazy
                .compactMap { self.dispatcher.incidents[$0] }
                .filter { (!request.openOnly || $0.status.isOpen) && (request.stationID.isEmpty || ($0.stationID ?? "") == request.stationID) }
                .prefix(limit).map(Wire.incident)
            return response
        }
    }

    func kpis(_ request: Xunfang_Dispatch_V1_KpisRequest) -> Xunfang_Dispatch_V1_KpisResponse {
        let now = clock.now()
        let to = request.to == 0 ? now : request.to
        let from = request.from == 0 ? Measures.shiftStart(containing: to - 1) : request.from
        let report = lock.withLock { Measures.kpis(incidents: Array(dispatcher.incidents.values), units: Array(dispatcher.units.values), from: from, to: to) }
        return Wire.kpis(report)
    }

    /// The incident as EIDO JSON; with `include_personal` the report goes in as a note, a read that is audited.
    func exportEido(_ request: Xunfang_Dispatch_V1_ExportRequest, caller: String) throws -> Xunfang_Dispatch_V1_ExportResponse {
        var report = ""
        if request.includePersonal {
            let audit = try auditRecord(action: "export", incidentID: request.incidentID, purpose: request.purpose, onBehalfOf: request.onBehalfOf, caller: caller)
            if case .fields(let fields)? = try readSealed(audit) { report = fields.report }
        }
        let object: [String: Any] = try lock.withLock {
            guard var incident = dispatcher.incidents[request.incidentID] else { throw BusClientError(.notFound, "no incident \(request.incidentID)") }
            incident.report = report
            return Measures.eido(incident, units: dispatcher.units, agency: "xunfang")
        }
        var response = Xunfang_Dispatch_V1_ExportResponse()
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        response.json = String(decoding: data, as: UTF8.self)
        return response
    }

    func majorIncident(_ request: Xunfang_Dispatch_V1_MajorIncidentRequest) async throws -> Xunfang_Dispatch_V1_MajorIncidentResponse {
        let count = request.units == 0 ? 6 : Int(min(request.units, 200))
        let snapshot = try snapshot(for: request.incidentID)
        let result = await Recommender(bus: currentBus, wait: gridModelWait, logger: logger).recommend(incident: snapshot.incident, units: snapshot.units)
        let chosen = Dispatcher.majorSelection(result.all, count: count)
        var response = Xunfang_Dispatch_V1_MajorIncidentResponse()
        var refused: [String] = []
        for candidate in chosen {
            do {
                var assign = Xunfang_Dispatch_V1_AssignRequest()
                assign.incidentID = request.incidentID
                assign.callSign = candidate.callSign
                response.orders.append(try await self.assign(assign))
            } catch {
                refused.append("\(candidate.callSign): \(error)")
            }
        }
        let zones = Set(chosen.map(\.zone)).count
        response.note = "\(response.orders.count) of \(count) units ordered across \(zones) zone(s)"
            + (result.straightLine ? "; straight-line estimates" : "") + (refused.isEmpty ? "" : "; refused: " + refused.joined(separator: "; "))
        if !request.sealPlan.isEmpty { await seal(request, snapshot.incident, into: &response) }
        if request.watchHours > 0 { await watch(request, snapshot.incident, into: &response) }
        return response
    }

    /// Watch and report with the major incident: CommunityPolicing alerts the volunteers
    /// and information officers on the roads around it for `watch_hours`. A watch that
    /// fails is reported in the note; the units' orders stand.
    private func watch(_ request: Xunfang_Dispatch_V1_MajorIncidentRequest, _ incident: Incident, into response: inout Xunfang_Dispatch_V1_MajorIncidentResponse) async {
        do {
            guard let bus = currentBus else { throw BusClientError(.unavailable, "not connected") }
            guard request.watchHours <= 12 else { throw BusClientError(.invalidArgument, "watch_hours \(request.watchHours) is above 12") }
            let watch = try await bus.call(DispatchPlugin.requestWatch, Xunfang_Community_V1_WatchRequest.with {
                $0.incidentID = incident.id
                $0.typeCode = incident.type.code
                $0.typeName = incident.type.name
                $0.stationID = incident.stationID ?? ""
                $0.longitude = incident.location.longitude
                $0.latitude = incident.location.latitude
                $0.description_p = String(incident.report.prefix(500))
                $0.hours = request.watchHours
                $0.requestedBy = "dispatch"
            }, as: Xunfang_Community_V1_WatchResponse.self, timeout: .seconds(30))
            response.watchID = watch.watch.id
            response.note += "; watch \(watch.watch.id): \(watch.alerts.alerts.count) members alerted on \(watch.watch.roadSegments) road segments"
                + (watch.alerts.note.isEmpty ? "" : " (\(watch.alerts.note))")
        } catch {
            response.note += "; watch and report not requested: \(error)"
        }
    }

    /// The "close the city gates" seal with the major incident: CheckpointControl's
    /// Activate, after the incident's units are ordered so it sends only units left free.
    /// A seal that fails is reported in the note; the units' orders stand.
    private func seal(_ request: Xunfang_Dispatch_V1_MajorIncidentRequest, _ incident: Incident, into response: inout Xunfang_Dispatch_V1_MajorIncidentResponse) async {
        do {
            guard let bus = currentBus else { throw BusClientError(.unavailable, "not connected") }
            let activation = try await bus.call(DispatchPlugin.activateSeal, Xunfang_Checkpoint_V1_ActivateRequest.with {
                $0.plan = request.sealPlan
                $0.drill = request.sealDrill
                $0.officer = "dispatch"
                $0.reason = "major incident \(incident.id) \(incident.type.name)"
            }, as: Xunfang_Checkpoint_V1_SealActivation.self, timeout: .seconds(15))
            response.sealActivation = activation.id
            response.note += "; seal \(activation.id) activated: \(activation.positions.count) positions ordered"
        } catch {
            response.note += "; seal plan \(request.sealPlan.prefix(64)) not activated: \(error)"
        }
    }

    /// Move-up suggestions after `incidentID` took units away, from GridModel's Coverage
    /// (core-area roads and must-patrol points within 3 minutes) and PlacePosts (the best
    /// gap to fill), kept for `moveUpLifetime` so the duty officer can accept them.
    func moveUp(_ request: Xunfang_Dispatch_V1_MoveUpRequest) async throws -> Xunfang_Dispatch_V1_MoveUpResponse {
        guard let bus = currentBus else { throw BusClientError(.unavailable, "not connected") }
        let (sent, idle): ([Unit], [Unit]) = try lock.withLock {
            guard let incident = dispatcher.incidents[request.incidentID] else { throw BusClientError(.notFound, "no incident \(request.incidentID)") }
            let sent = incident.units.compactMap { dispatcher.units[$0] }.filter { $0.position != nil }
            let idle = dispatcher.units.values.filter { $0.status == .available && $0.position != nil }.sorted { $0.callSign < $1.callSign }
            return (sent, idle)
        }
        let modes = Dictionary(uniqueKeysWithValues: (sent + idle).map { ($0.callSign, $0.travelMode) })
        let threshold = 180.0
        func coverage(_ units: [(String, GeoPoint)]) async throws -> MoveUpPlanner.Coverage {
            var request = Xunfang_GridModel_V1_CoverageRequest()
            request.thresholdSeconds = [threshold]
            request.units = units.map { callSign, point in
                var unit = Xunfang_GridModel_V1_Unit()
                unit.id = callSign
                unit.position = Wire.position(point)
                unit.mode = Wire.mode(modes[callSign] ?? .car)
                return unit
            }
            let share = try await bus.call(DispatchPlugin.gridModel + "Coverage", request, as: Xunfang_GridModel_V1_CoverageResponse.self,
                                           timeout: .seconds(5)).overall.first
            return MoveUpPlanner.Coverage(core: share?.coreRoadShare ?? 0, points: share?.patrolPointShare ?? 0)
        }
        let idlePositions = idle.map { ($0.callSign, $0.position!) }
        let before = try await coverage(idlePositions + sent.map { ($0.callSign, $0.position!) })
        let names = idle.map(\.callSign)
        let plan = try await MoveUpPlanner().plan(
            baseline: before, idle: idlePositions.map { (callSign: $0.0, position: $0.1) }, vacated: sent.map { $0.position! },
            coverage: { points in try await coverage(Array(zip(names, points))) },
            bestSites: { points, k in
                var request = Xunfang_GridModel_V1_PlacePostsRequest()
                request.k = UInt32(k)
                request.thresholdSeconds = threshold
                request.fixed = points.map { point in
                    var site = Xunfang_GridModel_V1_Site()
                    site.position = Wire.position(point)
                    return site
                }
                let answer = try await bus.call(DispatchPlugin.gridModel + "PlacePosts", request, as: Xunfang_GridModel_V1_PlacePostsResponse.self,
                                                timeout: .seconds(10))
                return answer.positions.map { GeoPoint(longitude: $0.longitude, latitude: $0.latitude) }
            })
        var response = Xunfang_Dispatch_V1_MoveUpResponse()
        response.incidentID = request.incidentID
        response.coverageBefore = plan.baseline.points
        response.coverageNow = plan.now.points
        response.coverageAfter = plan.after.points
        response.coreCoverageBefore = plan.baseline.core
        response.coreCoverageNow = plan.now.core
        response.coreCoverageAfter = plan.after.core
        response.restored = plan.restored
        response.moves = plan.moves.map { move in
            var relocation = Xunfang_Dispatch_V1_Relocation()
            relocation.callSign = move.callSign
            relocation.from = Wire.position(move.from)
            relocation.to = Wire.position(move.to)
            relocation.coverageAfter = move.coverageAfter.points
            relocation.coreCoverageAfter = move.coverageAfter.core
            return relocation
        }
        if !plan.moves.isEmpty {
            let now = clock.now()
            response.expiresAt = now + Self.moveUpLifetime
            response.planID = lock.withLock {
                moveUpSerial += 1
                let id = "MU-\(request.incidentID)-\(moveUpSerial)"
                moveUpPlans = moveUpPlans.filter { $0.value.expiresAt > now }
                moveUpPlans[id] = response
                return id
            }
        }
        response.note = plan.moves.isEmpty
            ? (plan.restored ? "coverage did not drop; no move needed" : "no relocation of an idle unit raises coverage")
            : "\(plan.moves.count) relocation(s) suggested; AcceptMoveUp \(response.planID) orders them, or let them lapse"
        return response
    }

    /// How long a move-up plan may be accepted: positions change, and an old plan would
    /// move units for a situation that is gone.
    static let moveUpLifetime: Int64 = 10 * 60_000

    /// Orders the chosen moves of a plan (all when none are named) as relocation orders
    /// on each unit's topic. A unit no longer available is refused and said why.
    func acceptMoveUp(_ request: Xunfang_Dispatch_V1_AcceptMoveUpRequest) throws -> Xunfang_Dispatch_V1_AcceptMoveUpResponse {
        let now = clock.now()
        guard let plan = lock.withLock({ moveUpPlans[request.planID] }) else {
            throw BusClientError(.notFound, "no move-up plan \(request.planID)")
        }
        guard plan.expiresAt > now else {
            throw BusClientError(.failedPrecondition, "move-up plan \(request.planID) lapsed at \(plan.expiresAt); ask MoveUp again")
        }
        let planned = Set(plan.moves.map(\.callSign))
        if let stranger = request.callSigns.first(where: { !planned.contains($0) }) {
            throw BusClientError(.invalidArgument, "\(stranger) is not moved by plan \(request.planID)")
        }
        let chosen = request.callSigns.isEmpty ? plan.moves : plan.moves.filter { request.callSigns.contains($0.callSign) }
        var response = Xunfang_Dispatch_V1_AcceptMoveUpResponse()
        for move in chosen {
            do {
                let to = GeoPoint(longitude: move.to.longitude, latitude: move.to.latitude)
                try apply { dispatcher in ((), try dispatcher.relocate(move.callSign, to: to, plan: request.planID)) }
                var order = Xunfang_Dispatch_V1_Order()
                order.callSign = move.callSign
                order.relocateTo = move.to
                order.moveUpPlan = request.planID
                response.orders.append(order)
            } catch let error as BusClientError {
                response.refused.append("\(move.callSign): \(error.message)")
            }
        }
        lock.withLock { _ = moveUpPlans.removeValue(forKey: request.planID) }
        logger.notice("move-up accepted", metadata: [
            "xunfang.plan": "\(request.planID)", "xunfang.ordered": "\(response.orders.map(\.callSign).joined(separator: ","))",
            "xunfang.refused": "\(response.refused.count)"])
        return response
    }

    /// After a dispatch: computes move-up suggestions and publishes them on
    /// `dispatch.moveup`. One computation at a time; dispatches that arrive meanwhile are
    /// folded into one more run for the latest of them.
    private func suggestMoveUp(after incidentID: String) {
        let start = lock.withLock { () -> Bool in
            guard autoMoveUp else { return false }
            moveUpQueued = incidentID
            guard !moveUpRunning else { return false }
            moveUpRunning = true
            return true
        }
        guard start else { return }
        Task { [self] in
            while let next = lock.withLock({ () -> String? in
                defer { moveUpQueued = nil }
                if moveUpQueued == nil { moveUpRunning = false }
                return moveUpQueued
            }) {
                var request = Xunfang_Dispatch_V1_MoveUpRequest()
                request.incidentID = next
                do {
                    let plan = try await moveUp(request)
                    try await currentBus?.publish("dispatch.moveup", plan)
                } catch {
                    logger.info("no move-up suggestion", metadata: ["xunfang.incident": "\(next)", "xunfang.error": "\(error)"])
                }
            }
        }
    }

    func listUnits() -> Xunfang_Dispatch_V1_ListUnitsResponse {
        lock.withLock {
            var response = Xunfang_Dispatch_V1_ListUnitsResponse()
            response.units = dispatcher.units.values.sorted { $0.callSign < $1.callSign }.map(Wire.unit)
            return response
        }
    }

    /// The longest caller-chosen id an intake keeps (the contract says so).
    static let maxExternalIDBytes = 128

    // MARK: - Personal data

    /// The report and phone number of an intake, checked; nil when the caller gave neither.
    static func personalFields(_ request: Xunfang_Dispatch_V1_IntakeRequest) throws -> PersonalFields? {
        guard request.report.utf8.count <= Dispatcher.maxReportBytes else {
            throw BusClientError(.invalidArgument, "report: longer than \(Dispatcher.maxReportBytes) bytes")
        }
        let phone = request.callerPhone
        guard phone.utf8.count <= 32, phone.allSatisfy({ $0.isASCII && ($0.isNumber || " +-()".contains($0)) }) else {
            throw BusClientError(.invalidArgument, "caller_phone: at most 32 digits, spaces and + - ( )")
        }
        guard !request.report.isEmpty || !phone.isEmpty else { return nil }
        return PersonalFields(report: request.report, callerPhone: phone)
    }

    /// Why and for whom a read is made, checked, as the audit row that records it.
    private func auditRecord(action: String, incidentID: String, purpose: String, onBehalfOf: String, caller: String) throws -> AuditRecord {
        let purpose = purpose.trimmingCharacters(in: .whitespaces)
        guard !purpose.isEmpty, purpose.utf8.count <= 256 else { throw BusClientError(.invalidArgument, "purpose: say why, in at most 256 bytes") }
        guard onBehalfOf.utf8.count <= 64 else { throw BusClientError(.invalidArgument, "on_behalf_of: at most 64 bytes") }
        guard lock.withLock({ dispatcher.incidents[incidentID] != nil }) else { throw BusClientError(.notFound, "no incident \(incidentID)") }
        return AuditRecord(at: clock.now(), who: caller, onBehalfOf: onBehalfOf, action: action, incidentID: incidentID,
                           fields: "report,caller_phone", purpose: purpose)
    }

    func readPersonal(_ request: Xunfang_Dispatch_V1_ReadPersonalRequest, caller: String) throws -> Xunfang_Dispatch_V1_PersonalRecord {
        let audit = try auditRecord(action: "read", incidentID: request.incidentID, purpose: request.purpose, onBehalfOf: request.onBehalfOf, caller: caller)
        var record = Xunfang_Dispatch_V1_PersonalRecord()
        record.incidentID = request.incidentID
        switch try readSealed(audit) {
        case .fields(let fields)?:
            record.report = fields.report
            record.callerPhone = fields.callerPhone
        case .erased(let at)?:
            record.erased = true
            record.erasedAt = at
        case nil:
            break
        }
        return record
    }

    private func readSealed(_ audit: AuditRecord) throws -> PersonalReading? {
        do {
            return try store.readPersonal(audit)
        } catch {
            logger.error("cannot read personal data", metadata: ["xunfang.incident": "\(audit.incidentID)", "xunfang.error": "\(error)"])
            throw BusClientError(.internal, "cannot read the personal data of \(audit.incidentID): \(error)")
        }
    }

    func audit(_ request: Xunfang_Dispatch_V1_AuditRequest, caller: String) throws -> Xunfang_Dispatch_V1_AuditResponse {
        let limit = request.limit == 0 ? 100 : Int(min(request.limit, 10_000))
        let incidentID = request.incidentID.isEmpty ? nil : request.incidentID
        guard (incidentID?.utf8.count ?? 0) <= 64 else { throw BusClientError(.invalidArgument, "incident_id: at most 64 bytes") }
        // Who read the trail is itself part of the trail.
        try store.appendAudit(AuditRecord(at: clock.now(), who: caller, action: "audit", incidentID: incidentID ?? "", fields: "", purpose: ""))
        var response = Xunfang_Dispatch_V1_AuditResponse()
        response.entries = try store.auditTrail(incidentID: incidentID, since: request.since, limit: limit).map(Wire.auditEntry)
        return response
    }

    /// A fresh key seals from now on: every record is sealed again under it and the old
    /// keys are deleted. Under the desk's lock, so no intake seals under a key being retired.
    func rotateKey(caller: String) throws -> Xunfang_Dispatch_V1_RotateKeyResponse {
        try lock.withLock {
            var response = Xunfang_Dispatch_V1_RotateKeyResponse()
            response.keyID = try store.keys.rotate()
            let audit = AuditRecord(at: clock.now(), who: caller, action: "rotate", incidentID: "", fields: "", purpose: "key \(response.keyID)")
            response.resealed = UInt32(try store.resealAll(audit: audit))
            response.retired = UInt32(try store.keys.retireOldKeys())
            logger.notice("sealing key rotated", metadata: ["xunfang.key": "\(response.keyID)", "xunfang.resealed": "\(response.resealed)"])
            return response
        }
    }

    /// Erases the personal fields of incidents that ended longer than the retention period ago.
    private func sweepRetention(now: Int64) {
        let cutoff = now - retentionMilliseconds
        let ended = lock.withLock {
            dispatcher.incidents.values.filter { incident in
                // A linked call ends with the incident it joined: its caller's words matter until then.
                let governing = incident.linkedTo.flatMap { dispatcher.incidents[$0] } ?? incident
                return !governing.status.isOpen && (governing.times.values.max() ?? now) < cutoff && (incident.times.values.max() ?? now) < cutoff
            }.map(\.id)
        }
        do {
            let held = try store.heldPersonal()
            let due = ended.filter(held.contains)
            guard !due.isEmpty else { return }
            let erased = try store.erasePersonal(due, at: now, reason: "retention \(retentionMilliseconds / 86_400_000) days")
            logger.info("personal data past retention erased", metadata: ["xunfang.incidents": "\(erased)"])
        } catch {
            logger.error("retention sweep failed; retrying at the next", metadata: ["xunfang.error": "\(error)"])
        }
    }

    func position(_ update: Xunfang_Dispatch_V1_UnitPosition) async {
        guard update.callSign.utf8.count <= 32, let point = try? Wire.point(update.position, field: "position") else { return }
        let at = update.at == 0 ? clock.now() : update.at
        _ = try? apply { dispatcher in ((), dispatcher.position(update.callSign, at: point, time: at)) }
    }

    func tick() async {
        _ = try? apply { dispatcher in ((), dispatcher.tick()) }
        storePositions()
        let now = clock.now()
        let sweepDue = lock.withLock {
            guard now - lastRetentionSweep >= 3_600_000 else { return false }
            lastRetentionSweep = now
            return true
        }
        if sweepDue { sweepRetention(now: now) }
        let current = Measures.shiftStart(containing: now)
        let ended = lock.withLock { () -> Int64? in
            guard current > shiftStart else { return nil }
            defer { shiftStart = current }
            return shiftStart
        }
        if let ended { publishShiftKpis(from: ended, to: current) }
    }

    /// Positions reported since the last call, stored in one transaction: AVL reports come
    /// often, so they are batched per tick rather than written one by one. A crash loses
    /// at most the last tick's reports; the terminals send fresh ones.
    func storePositions() {
        lock.withLock {
            let moved = dispatcher.takeMoved()
            guard !moved.isEmpty else { return }
            do {
                try store.save(incidents: [], units: moved, outbox: [])
            } catch {
                logger.error("cannot store unit positions; the next reports will be", metadata: ["xunfang.error": "\(error)"])
            }
        }
    }

    /// The KPIs of a shift that just ended, through the outbox onto `dispatch.kpis.shift`.
    private func publishShiftKpis(from: Int64, to: Int64) {
        var message = Xunfang_Dispatch_V1_ShiftKpis()
        message.shift = Measures.shiftLabel(startingAt: from)
        message.from = from
        message.to = to
        message.kpis = lock.withLock { Wire.kpis(Measures.kpis(incidents: Array(dispatcher.incidents.values), units: Array(dispatcher.units.values), from: from, to: to)) }
        do {
            let payload = try message.serializedData()
            try store.save(incidents: [], units: [], outbox: [("dispatch.kpis.shift", payload, "kpis-\(from)")])
            wake.continuation.yield()
        } catch {
            logger.error("cannot queue the shift KPIs", metadata: ["xunfang.shift": "\(message.shift)", "xunfang.error": "\(error)"])
        }
    }

    // MARK: - Changes, storage and announcements

    private var currentBus: BusClient? { lock.withLock { bus } }

    /// Runs `body` under the lock, stores what changed with its announcements in one
    /// transaction, and wakes the outbox publisher. A refusal changes nothing. `personal`
    /// goes with the incident the change created, sealed, with `who` in its audit row.
    private func apply<T>(personal: (fields: PersonalFields, who: String)? = nil, _ body: (Dispatcher) throws -> (T, [DispatchEvent])) throws -> T {
        let result: T = try lock.withLock { () throws -> T in
            let (value, events): (T, [DispatchEvent])
            do {
                (value, events) = try body(dispatcher)
            } catch let error as DispatchError {
                throw error.busError
            }
            guard !events.isEmpty else { return value }
            var incidents: [String: Incident] = [:], units: [String: Unit] = [:]
            var outbox: [(topic: String, payload: Data, messageID: String)] = []
            var sealed: [(fields: PersonalFields, audit: AuditRecord)] = []
            let stamp = clock.now()
            for (index, event) in events.enumerated() {
                let messageID = "\(stamp)-\(index)-\(UUID().uuidString.prefix(8))"
                switch event {
                case .incidentCreated(let incident), .incidentUpdated(let incident), .incidentClosed(let incident):
                    let current = dispatcher.incidents[incident.id] ?? incident
                    incidents[current.id] = current
                    let topic = if case .incidentCreated = event { "incident.created" } else if case .incidentClosed = event { "incident.closed" } else { "incident.updated" }
                    if case .incidentCreated = event, let personal {
                        let fields = [personal.fields.report.isEmpty ? nil : "report", personal.fields.callerPhone.isEmpty ? nil : "caller_phone"]
                        sealed.append((personal.fields, AuditRecord(at: stamp, who: personal.who, action: "store", incidentID: current.id,
                                                                    fields: fields.compactMap { $0 }.joined(separator: ","), purpose: "intake")))
                    }
                    outbox.append((topic, try Wire.incident(current).serializedData(), messageID))
                case .unitUpdated(let unit):
                    let current = dispatcher.units[unit.callSign] ?? unit
                    units[current.callSign] = current
                    outbox.append(("unit.status", try Wire.unit(current).serializedData(), messageID))
                case .order(let incidentID, let callSign, let deadline):
                    var order = Xunfang_Dispatch_V1_Order()
                    order.incidentID = incidentID
                    order.callSign = callSign
                    order.ackDeadline = deadline
                    if let incident = dispatcher.incidents[incidentID] { order.incident = Wire.incident(incident) }
                    outbox.append(("dispatch.order.\(Topic.token(callSign))", try order.serializedData(), messageID))
                case .neighboursAware(let incidentID, let neighbourhood, let callSigns):
                    guard let incident = dispatcher.incidents[incidentID] else { continue }
                    let alert = Wire.neighboursAlert(incident, neighbourhood, callSigns: callSigns)
                    outbox.append(("dispatch.alert.neighbours", try alert.serializedData(), messageID))
                    for (number, callSign) in callSigns.enumerated() {
                        var order = Xunfang_Dispatch_V1_Order()
                        order.incidentID = incidentID
                        order.callSign = callSign
                        order.alert = alert
                        outbox.append(("dispatch.order.\(Topic.token(callSign))", try order.serializedData(), "\(messageID)-\(number)"))
                    }
                case .escalated(let incidentID, let reason):
                    guard let incident = dispatcher.incidents[incidentID] else { continue }
                    var escalation = Xunfang_Dispatch_V1_Escalation()
                    escalation.incident = Wire.incident(incident)
                    escalation.unacknowledged = incident.unacknowledged
                    escalation.reason = reason
                    outbox.append(("dispatch.escalation", try escalation.serializedData(), messageID))
                case .relocation(let callSign, let point, let plan):
                    var order = Xunfang_Dispatch_V1_Order()
                    order.callSign = callSign
                    order.relocateTo = Wire.position(point)
                    order.moveUpPlan = plan
                    outbox.append(("dispatch.order.\(Topic.token(callSign))", try order.serializedData(), messageID))
                }
            }
            do {
                try store.save(incidents: Array(incidents.values), units: Array(units.values), outbox: outbox, personal: sealed)
            } catch {
                // Memory and disk would disagree; the caller is told, and the state restored at the next start is the stored one.
                logger.critical("cannot store a dispatch change", metadata: ["xunfang.error": "\(error)"])
                throw BusClientError(.internal, "cannot store the change: \(error)")
            }
            return value
        }
        wake.continuation.yield()
        return result
    }

    static func answer(_ dispatcher: Dispatcher, _ incidentID: String, _ callSign: String) -> Xunfang_Dispatch_V1_AssignResponse {
        var response = Xunfang_Dispatch_V1_AssignResponse()
        if let incident = dispatcher.incidents[incidentID] { response.incident = Wire.incident(incident) }
        if let unit = dispatcher.units[callSign] { response.unit = Wire.unit(unit) }
        return response
    }

    /// Publishes the outbox (see `Outbox.drain`).
    private func drainOutbox() async {
        await Outbox.drain(store.outboxDatabase, bus: { [self] in currentBus }, wake: wake.stream, logger: logger)
    }

    /// Where a grid or site named by id is, from GridModel; only GridModel knows the ids.
    private func locate(placeID: String) async throws -> (GeoPoint, Place) {
        guard placeID.utf8.count <= 64 else { throw BusClientError(.invalidArgument, "place_id longer than 64 bytes") }
        guard let bus = currentBus else { throw BusClientError(.unavailable, "not connected") }
        var request = Xunfang_GridModel_V1_LocateRequest()
        request.placeID = placeID
        let answer: Xunfang_GridModel_V1_LocateResponse
        do {
            answer = try await bus.call(DispatchPlugin.gridModel + "Locate", request, as: Xunfang_GridModel_V1_LocateResponse.self, timeout: gridModelWait)
        } catch let error as BusClientError where error.code == .unavailable || error.code == .deadlineExceeded {
            throw BusClientError(.failedPrecondition, "place ids are GridModel's and it is not answering; give coordinates instead")
        }
        return (try Wire.point(answer.position, field: "place_id"), answer.found ? Place(answer) : Place())
    }

    /// Where a call is, as GridModel places it; all nil when GridModel is not answering.
    struct Place {
        var grid: String?
        var station: String?
        var target: Int?
        /// Outside every grid: the nearest grid (its station is `station`) and how far outside.
        var outside: (nearestGrid: String, metres: Double)?

        init() {}

        init(_ answer: Xunfang_GridModel_V1_LocateResponse) {
            if answer.found {
                (grid, station, target) = (answer.grid.id, answer.station.id, Int(answer.responseTargetSeconds))
            } else if answer.hasNearestGrid {
                (station, outside) = (answer.nearestStation.id, (answer.nearestGrid.id, answer.outsideMetres))
            }
        }
    }

    /// The station of a point and its adjacent stations, by name, from GridModel's four
    /// zones; nil when GridModel is not answering (the alert then names only the station id).
    private func neighbourhood(_ point: GeoPoint) async -> Neighbourhood? {
        guard let bus = currentBus else { return nil }
        var request = Xunfang_GridModel_V1_LocateRequest()
        request.position = Wire.position(point)
        guard let zones = try? await bus.call(DispatchPlugin.gridModel + "FourZones", request, as: Xunfang_GridModel_V1_FourZonesResponse.self,
                                              timeout: gridModelWait), zones.location.found else { return nil }
        return Neighbourhood(station: StationRef(id: zones.location.station.id, name: zones.location.station.name),
                             adjacent: zones.adjacent.stations.map { StationRef(id: $0.id, name: $0.name) })
    }

    /// GridModel's answer for where a point is.
    private func locate(_ point: GeoPoint) async -> Place {
        guard let bus = currentBus else { return Place() }
        var request = Xunfang_GridModel_V1_LocateRequest()
        request.position = Wire.position(point)
        guard let answer = try? await bus.call(DispatchPlugin.gridModel + "Locate", request, as: Xunfang_GridModel_V1_LocateResponse.self,
                                               timeout: gridModelWait) else { return Place() }
        return Place(answer)
    }
}

extension DispatchError {
    var busError: BusClientError {
        switch code {
        case .notFound: BusClientError(.notFound, message)
        case .failedPrecondition: BusClientError(.failedPrecondition, message)
        case .invalidArgument: BusClientError(.invalidArgument, message)
        }
    }
}
