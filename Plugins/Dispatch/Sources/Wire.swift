import Foundation
import XunfangGeo
import XunfangPluginKit
import GridModelContract
import DispatchContract

/// Conversions between Dispatch's model and its wire messages.
enum Wire {
    static func point(_ position: Xunfang_GridModel_V1_Position, field: String) throws -> GeoPoint { try position.wgs84(field: field) }

    static func position(_ point: GeoPoint) -> Xunfang_GridModel_V1_Position { Xunfang_GridModel_V1_Position(point) }

    static func mode(_ mode: TravelMode) -> Xunfang_GridModel_V1_TravelMode { mode.wire }

    static func incident(_ incident: Incident) -> Xunfang_Dispatch_V1_Incident {
        var message = Xunfang_Dispatch_V1_Incident()
        message.id = incident.id
        message.typeCode = incident.type.code
        message.typeName = incident.type.name
        message.priority = UInt32(incident.type.priority)
        message.source = Xunfang_Dispatch_V1_IncidentSource(rawValue: incident.source.rawValue) ?? .call110
        message.location = position(incident.location)
        message.gridID = incident.gridID ?? ""
        message.stationID = incident.stationID ?? ""
        message.status = Xunfang_Dispatch_V1_IncidentStatus(rawValue: incident.status.rawValue) ?? .received
        message.times.received = incident.times[.received] ?? 0
        message.times.accepted = incident.times[.accepted] ?? 0
        message.times.dispatched = incident.times[.dispatched] ?? 0
        message.times.acknowledged = incident.times[.acknowledged] ?? 0
        message.times.enRoute = incident.times[.enRoute] ?? 0
        message.times.onScene = incident.times[.onScene] ?? 0
        message.times.cleared = incident.times[.cleared] ?? 0
        message.times.closed = incident.times[.closed] ?? 0
        message.linkedTo = incident.linkedTo ?? ""
        message.unitCallSigns = incident.units
        message.linkedCalls = UInt32(incident.linkedCalls)
        message.note = incident.note
        message.responseTargetSeconds = UInt32(incident.responseTargetSeconds ?? 0)
        message.outsideCountyMetres = incident.outsideCountyMetres ?? 0
        message.passOns = UInt32(incident.passOns)
        message.escalatedAt = incident.escalatedAt ?? 0
        return message
    }

    static func auditEntry(_ record: AuditRecord) -> Xunfang_Dispatch_V1_AuditEntry {
        var entry = Xunfang_Dispatch_V1_AuditEntry()
        entry.at = record.at
        entry.who = record.who
        entry.onBehalfOf = record.onBehalfOf
        entry.action = record.action
        entry.incidentID = record.incidentID
        entry.fields = record.fields
        entry.purpose = record.purpose
        return entry
    }

    static func kpis(_ report: KPIReport) -> Xunfang_Dispatch_V1_KpisResponse {
        func group(_ group: KPIReport.Group) -> Xunfang_Dispatch_V1_KpiGroup {
            var message = Xunfang_Dispatch_V1_KpiGroup()
            message.key = group.key
            message.incidents = UInt32(group.incidents)
            message.dispatched = UInt32(group.dispatched)
            message.arrived = UInt32(group.arrived)
            message.medianDispatchSeconds = group.medianDispatchSeconds
            message.medianArrivalSeconds = group.medianArrivalSeconds
            message.withinCircleShare = group.withinCircleShare
            return message
        }
        var response = Xunfang_Dispatch_V1_KpisResponse()
        response.from = report.from
        response.to = report.to
        response.overall = group(report.overall)
        response.byGrid = report.byGrid.map(group)
        response.byStation = report.byStation.map(group)
        response.byShift = report.byShift.map(group)
        response.units = report.utilisation.sorted { $0.key < $1.key }.map { callSign, share in
            var unit = Xunfang_Dispatch_V1_UnitUtilisation()
            unit.callSign = callSign
            unit.busyShare = share
            return unit
        }
        return response
    }

    static func unit(_ unit: Unit) -> Xunfang_Dispatch_V1_Unit {
        var message = Xunfang_Dispatch_V1_Unit()
        message.callSign = unit.callSign
        message.kind = Xunfang_Dispatch_V1_UnitKind(rawValue: unit.kind.rawValue) ?? .car
        message.homeStation = unit.homeStation
        message.capabilities = unit.capabilities.sorted()
        message.crew = UInt32(unit.crew)
        message.shift = unit.shift
        message.status = Xunfang_Dispatch_V1_UnitStatus(rawValue: unit.status.rawValue) ?? .offDuty
        if let point = unit.position { message.position = position(point) }
        message.positionAt = unit.positionAt
        message.incidentID = unit.incidentID ?? ""
        return message
    }

    static func recommendation(_ recommendation: Recommendation) -> Xunfang_Dispatch_V1_Recommendation {
        var message = Xunfang_Dispatch_V1_Recommendation()
        message.callSign = recommendation.candidate.callSign
        message.etaSeconds = recommendation.candidate.etaSeconds
        message.metres = recommendation.candidate.metres
        message.zone = Xunfang_Dispatch_V1_Zone(rawValue: recommendation.candidate.zone.rawValue) ?? .city
        message.meetsResponseCircle = recommendation.meetsTarget
        message.targetSeconds = UInt32(recommendation.targetSeconds)
        message.explanation = recommendation.explanation
        return message
    }

    static func passedOver(_ passed: PassedOver) -> Xunfang_Dispatch_V1_PassedOver {
        var message = Xunfang_Dispatch_V1_PassedOver()
        message.callSign = passed.callSign
        message.reason = Xunfang_Dispatch_V1_SkipReason(rawValue: passed.reason.rawValue) ?? .unspecified
        message.detail = passed.detail
        message.metres = passed.metres ?? 0
        return message
    }

    static func neighboursAlert(_ incident: Incident, _ neighbourhood: Neighbourhood, callSigns: [String]) -> Xunfang_Dispatch_V1_NeighboursAlert {
        var alert = Xunfang_Dispatch_V1_NeighboursAlert()
        alert.incident = Self.incident(incident)
        alert.stationName = neighbourhood.station?.name ?? ""
        alert.stations = neighbourhood.adjacent.map { station in
            var area = Xunfang_GridModel_V1_Area()
            area.id = station.id
            area.name = station.name
            area.kind = .station
            return area
        }
        alert.callSigns = callSigns
        return alert
    }
}
