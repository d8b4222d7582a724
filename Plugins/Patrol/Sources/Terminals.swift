import Foundation
import XunfangPluginKit
import XunfangGeo
import GridModelContract
import DispatchContract
import PatrolContract

/// Officers' terminals, through the gateway that speaks for them: fixes checked and kept
/// (each unit's newest), actions turned into Dispatch's calls, and on-duty units whose
/// terminal went quiet found, so none is silently kept as if it were patrolling.
struct Terminals: Sendable {
    let store: PatrolStore
    let now: @Sendable () -> Int64
    /// How long an on-duty unit may go without a fix before it is flagged silent.
    var silentAfter: Int64 = 300_000

    static let maxPings = 5_000
    /// A fix older than this is history, not a position.
    static let oldest: Int64 = 3_600_000
    /// Terminal clocks run a little ahead at most.
    static let ahead: Int64 = 60_000

    struct Refusal: Equatable {
        let index: Int
        let callSign: String
        let reason: String
    }

    /// Which pings stand and why each other does not: a unit with a team, a WGS84 position,
    /// a fix from the last hour, each unit's fixes newer than the one before.
    static func check(_ pings: [Xunfang_Patrol_V1_Ping], teams: Set<String>, newest: [String: Int64], now: Int64) -> (accepted: [Xunfang_Patrol_V1_Ping], refused: [Refusal]) {
        var newest = newest, accepted: [Xunfang_Patrol_V1_Ping] = [], refused: [Refusal] = []
        for (index, ping) in pings.enumerated() {
            func refuse(_ reason: String) { refused.append(Refusal(index: index, callSign: ping.callSign, reason: reason)) }
            let position = ping.position
            guard teams.contains(ping.callSign) else { refuse("unknown unit (no team in the roster)"); continue }
            guard ping.hasPosition, position.latitude.isFinite, position.longitude.isFinite, abs(position.latitude) <= 90, abs(position.longitude) <= 180,
                  position.latitude != 0 || position.longitude != 0 else {
                refuse("the position is not a WGS84 longitude and latitude"); continue
            }
            guard ping.at >= now - oldest else { refuse("the fix from \(ChinaTime.format(milliseconds: ping.at)) is over an hour old"); continue }
            guard ping.at <= now + ahead else { refuse("the fix from \(ChinaTime.format(milliseconds: ping.at)) is in the future"); continue }
            if let before = newest[ping.callSign], ping.at <= before {
                refuse("out of time order: it has a fix from \(ChinaTime.format(milliseconds: before)) already"); continue
            }
            newest[ping.callSign] = ping.at
            accepted.append(ping)
        }
        return (accepted, refused)
    }

    /// Takes a gateway's pings: the accepted ones' newest fixes kept; the accepted pings
    /// returned for publishing.
    func report(_ request: Xunfang_Patrol_V1_ReportRequest) throws -> (response: Xunfang_Patrol_V1_ReportResponse, accepted: [Xunfang_Patrol_V1_Ping]) {
        guard request.pings.count <= Self.maxPings else { throw BusClientError(.invalidArgument, "at most \(Self.maxPings) pings a report") }
        let teams = Set(try store.teams().keys)
        let newest = try store.terminals().compactMapValues { $0.fix.at > 0 ? $0.fix.at : nil }
        let (accepted, refused) = Self.check(request.pings, teams: teams, newest: newest, now: now())
        try store.record(fixes: accepted.map { ($0.callSign, PatrolStore.Fix(at: $0.at, longitude: $0.position.longitude, latitude: $0.position.latitude)) })
        var response = Xunfang_Patrol_V1_ReportResponse()
        response.accepted = UInt32(accepted.count)
        response.refusedCount = UInt32(refused.count)
        response.refused = refused.prefix(100).map { refusal in
            var message = Xunfang_Patrol_V1_PingRefusal()
            message.index = UInt32(refusal.index)
            message.callSign = refusal.callSign
            message.reason = refusal.reason
            return message
        }
        return (response, accepted)
    }

    /// When a unit's silence began, if it is silent: on duty, and no fix since the later of
    /// its newest fix and its shift's start for `silentAfter`.
    static func silence(of duty: Xunfang_Patrol_V1_UnitDuty, lastSeen: Int64, now: Int64, after: Int64) -> Int64? {
        let since = max(lastSeen, duty.shiftStart)
        return now - since >= after ? since : nil
    }

    /// A silence to announce, and when it began (kept once announced, so it is announced once).
    struct Silence {
        let exception: Xunfang_Patrol_V1_PatrolException
        let since: Int64
    }

    /// The on-duty units gone silent and not yet announced; each is marked by `announced`
    /// once its announcement is confirmed, so one the bus refused is tried again next pass.
    func newlySilent(_ onDuty: [Xunfang_Patrol_V1_UnitDuty]) throws -> [Silence] {
        let terminals = try store.terminals(), now = now()
        return onDuty.compactMap { duty -> Silence? in
            let kept = terminals[duty.callSign]
            guard let since = Self.silence(of: duty, lastSeen: kept?.fix.at ?? 0, now: now, after: silentAfter), kept?.flaggedSilent != since else { return nil }
            var exception = Xunfang_Patrol_V1_PatrolException()
            exception.kind = "silent"
            exception.callSign = duty.callSign
            exception.at = now
            exception.lastSeen = kept.map(\.fix.at) ?? 0
            exception.note = exception.lastSeen > 0
                ? "\(duty.callSign) on duty, no position since \(ChinaTime.format(milliseconds: exception.lastSeen))"
                : "\(duty.callSign) on duty since \(ChinaTime.format(milliseconds: duty.shiftStart)), no position this shift"
            return Silence(exception: exception, since: since)
        }
    }

    func announced(_ silence: Silence) throws {
        try store.flagSilent([silence.exception.callSign: silence.since])
    }

    /// On-duty units and any other that reported in the last day, with their newest fix.
    func list(_ request: Xunfang_Patrol_V1_TerminalsRequest, onDuty: [Xunfang_Patrol_V1_UnitDuty]) throws -> Xunfang_Patrol_V1_TerminalsResponse {
        let terminals = try store.terminals(), teams = try store.teams(), now = now()
        let duties = Dictionary(onDuty.map { ($0.callSign, $0) }, uniquingKeysWith: { first, _ in first })
        let shown = Set(duties.keys).union(terminals.filter { $0.value.fix.at > now - 86_400_000 }.keys)
        var response = Xunfang_Patrol_V1_TerminalsResponse()
        response.at = now
        response.terminals = shown.sorted().compactMap { callSign in
            var terminal = Xunfang_Patrol_V1_Terminal()
            terminal.callSign = callSign
            terminal.team = teams[callSign] ?? ""
            terminal.onDuty = duties[callSign] != nil
            if let fix = terminals[callSign]?.fix, fix.at > 0 {
                terminal.lastSeen = fix.at
                terminal.position.longitude = fix.longitude
                terminal.position.latitude = fix.latitude
            }
            terminal.silent = duties[callSign].flatMap { Self.silence(of: $0, lastSeen: terminal.lastSeen, now: now, after: silentAfter) } != nil
            return request.silentOnly && !terminal.silent ? nil : terminal
        }
        response.silent = UInt32(response.terminals.filter(\.silent).count)
        return response
    }

    /// A check-in at a must-patrol point of the unit's assignment, made where its newest fix is:
    /// within `radius` of the point and at most two minutes old. Why not, otherwise.
    static func checkIn(_ request: Xunfang_Patrol_V1_ActRequest, assignment: Xunfang_Patrol_V1_Assignment?, newest: PatrolStore.Fix?,
                        radius: Double, now: Int64) throws -> Xunfang_Patrol_V1_MustPatrol {
        guard !request.siteID.isEmpty else { throw BusClientError(.invalidArgument, "site_id is required to check in") }
        guard let assignment else { throw BusClientError(.failedPrecondition, "\(request.callSign) has no assignment this shift") }
        guard let site = assignment.points.first(where: { $0.siteID == request.siteID }) else {
            throw BusClientError(.failedPrecondition, "\(request.siteID) is not a must-patrol point of \(request.callSign)'s assignment")
        }
        guard let fix = newest, now - fix.at <= 120_000 else {
            throw BusClientError(.failedPrecondition, "\(request.callSign) has no position from the last two minutes to check in with")
        }
        let metres = Haversine.metres(GeoPoint(longitude: fix.longitude, latitude: fix.latitude), GeoPoint(longitude: site.position.longitude, latitude: site.position.latitude))
        guard metres <= radius else {
            throw BusClientError(.failedPrecondition, "\(request.callSign) is \(Int(metres.rounded())) m from \(site.name) (\(site.siteID)); check in within \(Int(radius)) m")
        }
        return site
    }

    /// The Dispatch call an officer's action stands for.
    static func dispatchCall(for request: Xunfang_Patrol_V1_ActRequest) throws -> DispatchCall {
        guard !request.callSign.isEmpty else { throw BusClientError(.invalidArgument, "call_sign is required") }
        func needIncident() throws {
            guard !request.incidentID.isEmpty else { throw BusClientError(.invalidArgument, "incident_id is required to \(request.action)") }
        }
        func status(_ status: Xunfang_Dispatch_V1_UnitStatus) -> DispatchCall {
            var update = Xunfang_Dispatch_V1_UpdateUnitRequest()
            update.callSign = request.callSign
            update.status = status
            update.at = request.at
            return .updateUnit(update)
        }
        switch request.action {
        case .acknowledge:
            try needIncident()
            var acknowledge = Xunfang_Dispatch_V1_AcknowledgeRequest()
            acknowledge.incidentID = request.incidentID
            acknowledge.callSign = request.callSign
            acknowledge.at = request.at
            return .acknowledge(acknowledge)
        case .arrive: return status(.onScene)
        case .clear:
            try needIncident()
            var clear = Xunfang_Dispatch_V1_ClearRequest()
            clear.incidentID = request.incidentID
            return .clear(clear, callSign: request.callSign)
        case .backInService: return status(.available)
        case .outOfService: return status(.outOfService)
        default: throw BusClientError(.invalidArgument, "action must be one of ACKNOWLEDGE, ARRIVE, CLEAR, BACK_IN_SERVICE, OUT_OF_SERVICE, CHECK_IN")
        }
    }

    enum DispatchCall {
        case acknowledge(Xunfang_Dispatch_V1_AcknowledgeRequest)
        case updateUnit(Xunfang_Dispatch_V1_UpdateUnitRequest)
        case clear(Xunfang_Dispatch_V1_ClearRequest, callSign: String)
    }
}

extension Xunfang_Dispatch_V1_UnitStatus {
    /// As the duty officer reads it (Dispatch's own words).
    var label: String {
        switch self {
        case .offDuty: "off duty"
        case .available: "available"
        case .assigned: "assigned"
        case .enRoute: "en route"
        case .onScene: "on scene"
        case .returning: "returning"
        case .outOfService: "out of service"
        case .UNRECOGNIZED(let number): "status \(number)"
        }
    }
}
