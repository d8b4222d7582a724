public import Foundation
public import XunfangGeo

/// Milliseconds since 1970, injected so tests run the clock by hand.
public protocol DispatchClock: Sendable {
    func now() -> Int64
}

public enum IncidentSource: Int, Sendable, Codable { case call110 = 0, onView, alarm, tip, video }

public enum IncidentStatus: Int, Sendable, Codable, Comparable {
    case received = 0, accepted, dispatched, acknowledged, enRoute, onScene, cleared, closed, linked

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// Still needs work: neither done nor folded into another incident.
    public var isOpen: Bool { self < .cleared }
}

public enum UnitKind: Int, Sendable, Codable, CaseIterable { case car = 0, motorcycle, eBike, foot, specialPolice, drone }

public enum UnitStatus: Int, Sendable, Codable, CaseIterable {
    case offDuty = 0, available, assigned, enRoute, onScene, returning, outOfService

    /// The availability matrix: which statuses may move to which. Anything else is refused.
    static let allowed: [UnitStatus: Set<UnitStatus>] = [
        .offDuty: [.available],
        .available: [.assigned, .offDuty, .outOfService],
        .assigned: [.enRoute, .available, .outOfService],
        .enRoute: [.onScene, .available, .outOfService],
        .onScene: [.returning, .available, .outOfService],
        .returning: [.available, .assigned, .offDuty, .outOfService],
        .outOfService: [.available, .offDuty],
    ]

    public func mayBecome(_ next: UnitStatus) -> Bool { Self.allowed[self]?.contains(next) ?? false }

    /// Units that may be sent to a new incident.
    public var isDispatchable: Bool { self == .available || self == .returning }

    /// Still working an incident: ordered, on the way or there.
    public var isOnIncident: Bool { self == .assigned || self == .enRoute || self == .onScene }

    /// As the duty officer reads it.
    public var label: String {
        switch self {
        case .offDuty: "off duty"
        case .available: "available"
        case .assigned: "assigned"
        case .enRoute: "en route"
        case .onScene: "on scene"
        case .returning: "returning"
        case .outOfService: "out of service"
        }
    }
}

/// Four-zone linkage: where a unit stands relative to an incident.
public enum Zone: Int, Sendable, Codable, Comparable {
    case own = 0, adjacent, branch, city
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// One row of the incident type table: how urgent, and what a unit must be able to do.
public struct IncidentType: Sendable, Hashable, Codable {
    public var code: String
    public var name: String
    public var priority: Int
    public var capabilities: Set<String>

    public init(code: String, name: String, priority: Int, capabilities: Set<String> = []) {
        self.code = code
        self.name = name
        self.priority = priority
        self.capabilities = capabilities
    }

    /// Reads a county's table: a JSON array of `{"code", "name", "priority" (1–4),
    /// "capabilities": [..]}`. Errors name the entry and the reason.
    public static func table(json data: Data) throws(DispatchError) -> [IncidentType] {
        guard let entries = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw DispatchError(.invalidArgument, "the incident type table must be a JSON array of objects")
        }
        var seen: Set<String> = []
        var table: [IncidentType] = []
        for (index, entry) in entries.enumerated() {
            guard let code = entry["code"] as? String, !code.isEmpty, code.count <= 32 else {
                throw DispatchError(.invalidArgument, "entry \(index): code must be 1 to 32 characters")
            }
            guard seen.insert(code).inserted else { throw DispatchError(.invalidArgument, "entry \(index): code \(code) appears twice") }
            guard let priority = entry["priority"] as? Int, (1...4).contains(priority) else {
                throw DispatchError(.invalidArgument, "entry \(index) (\(code)): priority must be 1 (highest) to 4")
            }
            let capabilities = entry["capabilities"] as? [String] ?? []
            table.append(IncidentType(code: code, name: entry["name"] as? String ?? code, priority: priority, capabilities: Set(capabilities)))
        }
        guard !table.isEmpty else { throw DispatchError(.invalidArgument, "the incident type table is empty") }
        return table
    }

    /// A starting table; counties replace it with their own (`DISPATCH_TYPES`).
    public static let defaults: [IncidentType] = [
        IncidentType(code: "violent", name: "暴力犯罪", priority: 1, capabilities: ["armed"]),
        IncidentType(code: "robbery", name: "抢劫抢夺", priority: 1, capabilities: ["armed"]),
        IncidentType(code: "fight", name: "打架斗殴", priority: 2),
        IncidentType(code: "theft", name: "盗窃", priority: 3),
        IncidentType(code: "traffic", name: "交通事故", priority: 2, capabilities: ["traffic"]),
        IncidentType(code: "dispute", name: "纠纷", priority: 3),
        IncidentType(code: "help", name: "求助", priority: 3),
        IncidentType(code: "noise", name: "噪音扰民", priority: 4),
    ]
}

public struct Incident: Sendable, Hashable, Codable {
    public var id: String
    public var type: IncidentType
    public var source: IncidentSource
    public var location: GeoPoint
    public var gridID: String?
    public var stationID: String?
    public var report: String
    public var status: IncidentStatus
    /// When each status was reached, Unix ms.
    public var times: [IncidentStatus: Int64]
    public var linkedTo: String?
    public var linkedCalls: Int
    public var units: [String]
    public var note: String
    public var externalID: String?
    /// The place's response circle in seconds, when GridModel said which applies.
    public var responseTargetSeconds: Int?
    /// Set for a neighbouring county's incident taken near the border: how far outside the
    /// county's grids it is (its station is the nearest grid's).
    public var outsideCountyMetres: Double?
    /// The last recommendation, best first: an unacknowledged order passes down it. Stored
    /// with the incident so passing on and escalation continue after a restart.
    public var ranking: [String] = []
    /// Every unit ordered to it so far; none is ordered twice by passing on.
    public var ordered: [String] = []
    /// The units that let an order lapse, in turn.
    public var unacknowledged: [String] = []
    public var passOns = 0
    /// When it was put to the duty officer because no unit took it.
    public var escalatedAt: Int64?
}

extension Incident {
    /// Reads records of every release: those before 0.3 have no order trail.
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        id = try values.decode(String.self, forKey: .id)
        type = try values.decode(IncidentType.self, forKey: .type)
        source = try values.decode(IncidentSource.self, forKey: .source)
        location = try values.decode(GeoPoint.self, forKey: .location)
        gridID = try values.decodeIfPresent(String.self, forKey: .gridID)
        stationID = try values.decodeIfPresent(String.self, forKey: .stationID)
        report = try values.decode(String.self, forKey: .report)
        status = try values.decode(IncidentStatus.self, forKey: .status)
        times = try values.decode([IncidentStatus: Int64].self, forKey: .times)
        linkedTo = try values.decodeIfPresent(String.self, forKey: .linkedTo)
        linkedCalls = try values.decode(Int.self, forKey: .linkedCalls)
        units = try values.decode([String].self, forKey: .units)
        note = try values.decode(String.self, forKey: .note)
        externalID = try values.decodeIfPresent(String.self, forKey: .externalID)
        responseTargetSeconds = try values.decodeIfPresent(Int.self, forKey: .responseTargetSeconds)
        outsideCountyMetres = try values.decodeIfPresent(Double.self, forKey: .outsideCountyMetres)
        ranking = try values.decodeIfPresent([String].self, forKey: .ranking) ?? []
        ordered = try values.decodeIfPresent([String].self, forKey: .ordered) ?? []
        unacknowledged = try values.decodeIfPresent([String].self, forKey: .unacknowledged) ?? []
        passOns = try values.decodeIfPresent(Int.self, forKey: .passOns) ?? 0
        escalatedAt = try values.decodeIfPresent(Int64.self, forKey: .escalatedAt)
    }
}

/// A station as the duty officer reads it.
public struct StationRef: Sendable, Hashable, Codable {
    public var id: String
    public var name: String

    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }
}

/// Who should hear of a priority-1 incident at once: its station's neighbours.
public struct Neighbourhood: Sendable, Hashable {
    public var station: StationRef?
    public var adjacent: [StationRef]

    public init(station: StationRef?, adjacent: [StationRef]) {
        self.station = station
        self.adjacent = adjacent
    }
}

public struct Unit: Sendable, Hashable, Codable {
    public var callSign: String
    public var kind: UnitKind
    public var homeStation: String
    public var capabilities: Set<String>
    public var crew: Int
    public var shift: String
    public var status: UnitStatus
    public var position: GeoPoint?
    public var positionAt: Int64
    public var incidentID: String?
    /// When the status was last set (nil in records from before 0.3 until the next change).
    public var statusSince: Int64?

    public init(callSign: String, kind: UnitKind, homeStation: String, capabilities: Set<String> = [], crew: Int = 2,
                shift: String = "day", status: UnitStatus = .available, position: GeoPoint? = nil) {
        self.callSign = callSign
        self.kind = kind
        self.homeStation = homeStation
        self.capabilities = capabilities
        self.crew = crew
        self.shift = shift
        self.status = status
        self.position = position
        self.positionAt = 0
        self.incidentID = nil
    }

    public var travelMode: TravelMode {
        switch kind {
        case .car, .specialPolice: .car
        case .motorcycle: .motorcycle
        case .eBike: .eBike
        case .foot: .foot
        case .drone: .car
        }
    }
}

/// A unit as the recommendation sees it: how fast, how far, from which zone.
public struct Candidate: Sendable, Hashable {
    public var callSign: String
    public var etaSeconds: Double
    public var metres: Double
    public var zone: Zone

    public init(callSign: String, etaSeconds: Double, metres: Double, zone: Zone) {
        self.callSign = callSign
        self.etaSeconds = etaSeconds
        self.metres = metres
        self.zone = zone
    }
}

/// Why a unit was not recommended (wire enum `SkipReason`).
public enum SkipReason: Int, Sendable, Hashable, Codable {
    case lacksCapability = 1, busy, offDuty, outOfService, noPosition, unreachable, outsideZone
}

/// A unit nearer the scene than a recommended one that was passed over, and why.
public struct PassedOver: Sendable, Hashable {
    public var callSign: String
    public var reason: SkipReason
    /// "lacks armed", "en route to INC-000002", ...
    public var detail: String
    /// Straight line to the scene; nil when the unit has not reported a position.
    public var metres: Double?

    public init(callSign: String, reason: SkipReason, detail: String, metres: Double?) {
        self.callSign = callSign
        self.reason = reason
        self.detail = detail
        self.metres = metres
    }
}

public struct Recommendation: Sendable, Hashable {
    public var candidate: Candidate
    public var meetsTarget: Bool
    public var targetSeconds: Double
    public var explanation: String
}

/// A refusal with the wire status it maps to.
public struct DispatchError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Sendable { case notFound, failedPrecondition, invalidArgument }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
}
