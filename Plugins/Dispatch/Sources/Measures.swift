import Foundation
import XunfangPluginKit
import XunfangGeo

/// Key performance figures over a time window, per incident, grid, station and shift.
public struct KPIReport: Sendable, Hashable {
    public struct Group: Sendable, Hashable {
        public var key: String
        public var incidents = 0
        public var dispatched = 0
        public var arrived = 0
        public var medianDispatchSeconds = 0.0
        public var medianArrivalSeconds = 0.0
        /// Arrivals within the place's response circle, over arrivals with a known circle.
        public var withinCircleShare = 0.0
    }

    public var from: Int64
    public var to: Int64
    public var overall: Group
    public var byGrid: [Group]
    public var byStation: [Group]
    public var byShift: [Group]
    /// Share of the window each unit spent between dispatch and clearance.
    public var utilisation: [String: Double]
}

public enum Measures {
    /// The shift an instant falls in: four teams, three rotations of eight hours, China time.
    public static func shift(at milliseconds: Int64) -> String {
        let hour = Int(((milliseconds / 1_000 + 8 * 3_600) % 86_400) / 3_600)
        switch hour {
        case 8..<16: return "day"
        case 16..<24: return "evening"
        default: return "night"
        }
    }

    /// "2026-11-25 day": the China-time date and the shift that starts at `start`.
    public static func shiftLabel(startingAt start: Int64) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = ChinaTime.zone
        let date = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(start) / 1_000))
        return String(format: "%04d-%02d-%02d ", date.year!, date.month!, date.day!) + shift(at: start)
    }

    /// Start of the shift containing `milliseconds`.
    public static func shiftStart(containing milliseconds: Int64) -> Int64 {
        let local = milliseconds + 8 * 3_600_000
        let dayStart = local - local % 86_400_000
        let hour = (local % 86_400_000) / 3_600_000
        let start = hour >= 16 ? 16 : hour >= 8 ? 8 : 0
        return dayStart + Int64(start) * 3_600_000 - 8 * 3_600_000
    }

    public static func kpis(incidents: [Incident], units: [Unit], from: Int64, to: Int64) -> KPIReport {
        let window = incidents.filter { incident in
            guard let received = incident.times[.received] else { return false }
            return received >= from && received < to && incident.status != .linked
        }
        func group(_ key: String, _ members: [Incident]) -> KPIReport.Group {
            var group = KPIReport.Group(key: key)
            group.incidents = members.count
            let dispatch = members.compactMap { incident in incident.times[.dispatched].map { Double($0 - incident.times[.received]!) / 1_000 } }
            let arrival = members.compactMap { incident in incident.times[.onScene].map { Double($0 - incident.times[.received]!) / 1_000 } }
            group.dispatched = dispatch.count
            group.arrived = arrival.count
            group.medianDispatchSeconds = median(dispatch)
            group.medianArrivalSeconds = median(arrival)
            let judged = members.filter { $0.times[.onScene] != nil && ($0.responseTargetSeconds ?? 0) > 0 }
            let within = judged.count { Double($0.times[.onScene]! - $0.times[.received]!) / 1_000 <= Double($0.responseTargetSeconds!) }
            group.withinCircleShare = judged.isEmpty ? 0 : Double(within) / Double(judged.count)
            return group
        }
        func grouped(_ key: (Incident) -> String?) -> [KPIReport.Group] {
            Dictionary(grouping: window.compactMap { incident in key(incident).map { ($0, incident) } }, by: \.0)
                .map { group($0.key, $0.value.map(\.1)) }.sorted { $0.key < $1.key }
        }
        var busy: [String: Int64] = [:]
        for incident in incidents {
            guard let dispatched = incident.times[.dispatched] else { continue }
            let end = min(to, incident.times[.cleared] ?? incident.times[.closed] ?? to)
            let start = max(from, dispatched)
            guard end > start else { continue }
            for callSign in incident.units { busy[callSign, default: 0] += end - start }
        }
        let span = Double(max(1, to - from))
        var utilisation: [String: Double] = [:]
        for unit in units where unit.status != .offDuty || busy[unit.callSign] != nil {
            utilisation[unit.callSign] = min(1, Double(busy[unit.callSign] ?? 0) / span)
        }
        return KPIReport(from: from, to: to, overall: group("all", window), byGrid: grouped(\.gridID), byStation: grouped(\.stationID),
                         byShift: grouped { $0.times[.received].map(shift(at:)) }, utilisation: utilisation)
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// The incident as NENA EIDO-style JSON: an incident component, a location component
    /// (WGS84 point), one vehicle/agent entry per unit sent, the times as timestamped
    /// status changes, and the report as a note. Modelled on EIDO's component layout for
    /// CAD-to-CAD exchange; not validated against the EIDO JSON schema.
    public static func eido(_ incident: Incident, units: [String: Unit], agency: String) -> [String: Any] {
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func time(_ milliseconds: Int64) -> String { iso.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1_000)) }
        let statusNames: [IncidentStatus: String] = [
            .received: "Received", .accepted: "Accepted", .dispatched: "Dispatched", .acknowledged: "Acknowledged",
            .enRoute: "EnRoute", .onScene: "OnScene", .cleared: "Cleared", .closed: "Closed", .linked: "Linked",
        ]
        let location = "loc-\(incident.id)"
        var incidentComponent: [String: Any] = [
            "componentIdentifier": "inc-\(incident.id)",
            "incidentTrackingIdentifier": incident.id,
            "incidentTypeCommonRegistryText": [incident.type.code],
            "incidentPriority": incident.type.priority,
            "incidentStatusCommonRegistryText": [statusNames[incident.status] ?? "Unknown"],
            "locationReference": location,
            "updatedTimeStamp": time(incident.times.values.max() ?? 0),
            "createdTimeStamp": time(incident.times[.received] ?? 0),
            "agency": agency,
        ]
        if let linked = incident.linkedTo { incidentComponent["relatedIncidentIdentifier"] = [linked] }
        var locationComponent: [String: Any] = [
            "componentIdentifier": location,
            "locationByValue": ["type": "Point", "coordinates": [incident.location.longitude, incident.location.latitude], "crs": "EPSG:4326"],
        ]
        if let grid = incident.gridID { locationComponent["patrolGridIdentifier"] = grid }
        if let station = incident.stationID { locationComponent["servingAgencyIdentifier"] = station }
        let vehicles: [[String: Any]] = incident.units.map { callSign in
            var vehicle: [String: Any] = ["componentIdentifier": "unit-\(callSign)", "unitIdentifier": callSign]
            if let unit = units[callSign] {
                vehicle["unitType"] = "\(unit.kind)"
                vehicle["homeAgency"] = unit.homeStation
                vehicle["crewCount"] = unit.crew
            }
            return vehicle
        }
        let history: [[String: Any]] = incident.times.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map { status, at in
            ["status": statusNames[status] ?? "Unknown", "timeStamp": time(at)]
        }
        return [
            "eidoMessageIdentifier": "eido-\(incident.id)-\(incident.times.values.max() ?? 0)",
            "incidentComponent": [incidentComponent],
            "locationComponent": [locationComponent],
            "vehicleComponent": vehicles,
            "statusHistory": history,
            "notesComponent": incident.report.isEmpty ? [] : [["componentIdentifier": "note-\(incident.id)", "notesActionComment": incident.report]],
        ]
    }
}
