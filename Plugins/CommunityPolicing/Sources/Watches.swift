import Foundation
import XunfangGeo
import XunfangPluginKit
import CommunityPolicingContract
import SituationAnalysisContract

/// Watch and report (协查) for a major case: the members who work the roads within a few
/// minutes' drive of it (GridModel's isochrone, found by the caller) in the coming hours
/// get an urgent alert, through the same matcher, policy, outbox and notifier as a
/// warning's. Bounded in time (12 hours) and area (10 minutes' drive); a watch is open
/// until it expires or is closed, which frees its members at once.
struct Watches: Sendable {
    let store: CommunityStore
    let alerting: Alerting
    static let maxHours: UInt32 = 12
    static let maxMinutes: UInt32 = 10
    /// The roads of a 10-minute drive in a county town; more are cut by first reached.
    static let maxSegments = 5_000

    /// The request's bounds: hours and minutes with their defaults.
    static func check(_ request: Xunfang_Community_V1_WatchRequest) throws -> (hours: UInt32, minutes: UInt32) {
        guard (1...64).contains(request.incidentID.utf8.count) else { throw BusClientError(.invalidArgument, "incident_id must be 1 to 64 bytes") }
        guard (1...32).contains(request.typeCode.utf8.count), request.typeName.count <= 32 else {
            throw BusClientError(.invalidArgument, "type_code must be 1 to 32 bytes, type_name at most 32 characters")
        }
        guard (1...64).contains(request.stationID.utf8.count), request.stationName.count <= 64 else {
            throw BusClientError(.invalidArgument, "station_id must be 1 to 64 bytes, station_name at most 64 characters")
        }
        guard request.description_p.count <= 500, request.requestedBy.count <= 64 else {
            throw BusClientError(.invalidArgument, "description is at most 500 characters, requested_by 64")
        }
        guard (-180...180).contains(request.longitude), (-90...90).contains(request.latitude), request.longitude != 0 || request.latitude != 0 else {
            throw BusClientError(.invalidArgument, "longitude and latitude must be a WGS84 position")
        }
        let hours = request.hours == 0 ? maxHours : request.hours, minutes = request.minutes == 0 ? 5 : request.minutes
        guard hours <= maxHours else { throw BusClientError(.invalidArgument, "hours \(hours) is above \(maxHours): a watch is bounded in time") }
        guard minutes <= maxMinutes else { throw BusClientError(.invalidArgument, "minutes \(minutes) is above \(maxMinutes): a watch is bounded in area") }
        return (hours, minutes)
    }

    /// Opens the incident's watch on `segments` (the drive's roads, "<a>-<b>") and issues its
    /// alerts, or answers the watch it has.
    func open(_ request: Xunfang_Community_V1_WatchRequest, hours: UInt32, minutes: UInt32, segments: [String],
              area: [GeoPoint]) throws -> Xunfang_Community_V1_WatchResponse {
        let source = "watch \(request.incidentID)"
        let time = alerting.now()
        let station = request.stationName.isEmpty ? request.stationID : request.stationName
        let typeName = request.typeName.isEmpty ? request.typeCode : request.typeName
        var warning = Xunfang_Situation_V1_Warning()
        warning.stationID = request.stationID
        warning.stationName = request.stationName
        warning.day = ChinaTime.label(ofDay: ChinaTime.dayNumber(time))
        warning.roadSegments = Array(segments.prefix(Self.maxSegments))
        warning.hotHours = (0..<hours).map { UInt32((ChinaTime.hour(time) + Int($0)) % 24) }
        warning.topTypes = [request.typeCode]
        warning.topTypeNames = [typeName]
        var style = Cap.Style()
        style.event = "协查通报"
        style.urgency = "Immediate"
        style.severity = "Severe"
        style.certainty = "Observed"
        style.lead = "\(typeName)案件（\(request.incidentID)）" + (request.description_p.isEmpty ? "。" : "：\(request.description_p)。")
        style.instruction = "请在所列时段留意所列路段及周边，发现可疑人员、车辆立即报告110，不要自行处置。"
        let headline = "协查：\(station)辖区\(ChinaTime.hourMinute(milliseconds: time))发生\(typeName)案件，请留意周边并报告"
        let alerts = try alerting.issue(warning, source: source, areas: [Cap.Area(description: "案发地周边\(minutes)分钟车程", outline: area)],
                                        style: style, headline: headline)
        var watch = Xunfang_Community_V1_Watch()
        watch.incidentID = request.incidentID
        watch.typeCode = request.typeCode
        watch.typeName = typeName
        watch.stationID = request.stationID
        watch.longitude = request.longitude
        watch.latitude = request.latitude
        watch.description_p = request.description_p
        watch.requestedBy = request.requestedBy
        watch.createdAt = time
        watch.expires = (time / 3_600_000 + Int64(hours)) * 3_600_000
        watch.roadSegments = UInt32(warning.roadSegments.count)
        watch.alerts = UInt32(alerts.alerts.count)
        var response = Xunfang_Community_V1_WatchResponse()
        response.watch = Self.answered(try store.insert(watch: watch), now: time)
        response.alerts = alerts
        return response
    }

    func close(_ request: Xunfang_Community_V1_CloseWatchRequest) throws -> Xunfang_Community_V1_Watch {
        guard (1...64).contains(request.by.count), (1...500).contains(request.why.count) else {
            throw BusClientError(.invalidArgument, "by (1 to 64 characters) and why (1 to 500) are required")
        }
        let time = alerting.now()
        let closed = try store.close(watch: request.watchID, at: time) { watch in
            guard Self.answered(watch, now: time).open else { throw BusClientError(.failedPrecondition, "watch \(watch.id) is closed already") }
            watch.closedAt = time
            watch.closedBy = request.by
            watch.closedWhy = request.why
        }
        guard let closed else { throw BusClientError(.notFound, "no watch \(request.watchID)") }
        return Self.answered(closed, now: time)
    }

    func list(_ request: Xunfang_Community_V1_ListWatchesRequest) throws -> Xunfang_Community_V1_ListWatchesResponse {
        guard request.limit <= 1_000 else { throw BusClientError(.invalidArgument, "limit \(request.limit) is above 1,000") }
        let time = alerting.now()
        var response = Xunfang_Community_V1_ListWatchesResponse()
        response.watches = try store.watches(limit: request.limit == 0 ? 100 : Int(request.limit)).map { Self.answered($0, now: time) }
            .filter { !request.openOnly || $0.open }
        return response
    }

    /// A watch closes itself: open only until it expires or is closed.
    static func answered(_ watch: Xunfang_Community_V1_Watch, now: Int64) -> Xunfang_Community_V1_Watch {
        var answered = watch
        answered.open = watch.closedAt == 0 && now < watch.expires
        return answered
    }

    /// GridModel's arcs as the ledger's segment ids, smaller node first, each once.
    static func segments(_ arcs: [(from: Int64, to: Int64)]) -> [String] {
        var seen = Set<String>()
        return arcs.compactMap { arc in
            let id = "\(min(arc.from, arc.to))-\(max(arc.from, arc.to))"
            return arc.from != arc.to && seen.insert(id).inserted ? id : nil
        }
    }
}
