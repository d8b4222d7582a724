import Foundation
import XunfangPluginKit
public import XunfangGeo

/// What the plugin must tell the world after a change.
public enum DispatchEvent: Sendable, Hashable {
    case incidentCreated(Incident)
    case incidentUpdated(Incident)
    case incidentClosed(Incident)
    /// A point-to-point order for the unit, to acknowledge by `deadline`.
    case order(incidentID: String, callSign: String, deadline: Int64)
    case unitUpdated(Unit)
    /// A high-priority incident: the adjacent stations and their on-duty `units` should know at once.
    case neighboursAware(incidentID: String, neighbourhood: Neighbourhood, units: [String])
    /// No unit took the incident: the duty officer must act.
    case escalated(incidentID: String, reason: String)
    /// A move-up the duty officer accepted: the unit goes to `to` and patrols there.
    case relocation(callSign: String, to: GeoPoint, plan: String)
}

/// The command centre's state: incidents, units, orders. Pure logic with an injected
/// clock; the plugin feeds it requests and travel times and publishes its events.
/// Not thread-safe: the plugin serialises calls.
public final class Dispatcher {
    public struct Settings: Sendable {
        public var ackTimeoutMilliseconds: Int64 = 30_000
        /// A call of the same type this close in space and time joins the open incident.
        public var duplicateRadiusMetres: Double = 150
        public var duplicateWindowMilliseconds: Int64 = 15 * 60_000
        /// A unit en route this close to the scene is on scene.
        public var arrivalRadiusMetres: Double = 100
        /// Incidents of this priority or more urgent alert the adjacent stations at once.
        public var neighboursAwarePriority = 1
        /// Unacknowledged orders pass down the ranking at most this often; then the incident
        /// is put to the duty officer.
        public var maxPassOns = 3
        /// A returning unit is available again after this long unless it says so sooner;
        /// nil: only when it says so.
        public var returnMilliseconds: Int64? = 15 * 60_000
        public var types: [IncidentType] = IncidentType.defaults
        /// How long Dispatch waits for GridModel (where a call is, road ETAs) before it goes
        /// on without: the call taken unlocated, units ranked by straight line.
        public var gridModelWaitMilliseconds: Int64 = 2_000
        public init() {}
    }

    public let settings: Settings
    private let clock: any DispatchClock
    private let typesByCode: [String: IncidentType]
    public private(set) var incidents: [String: Incident] = [:]
    public private(set) var incidentOrder: [String] = []
    public private(set) var units: [String: Unit] = [:]
    private var pending: [String: (incidentID: String, deadline: Int64)] = [:]
    /// Units whose position changed since `takeMoved`: stored in batches, not per report.
    private var moved: Set<String> = []
    private var byExternalID: [String: String] = [:]
    private var nextNumber = 1

    public init(settings: Settings = Settings(), clock: any DispatchClock) {
        self.settings = settings
        self.clock = clock
        typesByCode = Dictionary(settings.types.map { ($0.code, $0) }, uniquingKeysWith: { first, _ in first })
    }

    // MARK: - Restoring state

    /// Brings back stored incidents and units (after a restart).
    public func restore(incidents stored: [Incident], units roster: [Unit]) {
        for incident in stored.sorted(by: { ($0.times[.received] ?? 0, $0.id) < ($1.times[.received] ?? 0, $1.id) }) {
            incidents[incident.id] = incident
            incidentOrder.append(incident.id)
            if let external = incident.externalID { byExternalID[external] = incident.id }
            if let number = Int(incident.id.split(separator: "-").last ?? "") { nextNumber = max(nextNumber, number + 1) }
        }
        for unit in roster { units[unit.callSign] = unit }
        // Orders outstanding at the restart get a fresh deadline rather than none.
        for unit in roster where unit.status == .assigned {
            if let incidentID = unit.incidentID { pending[unit.callSign] = (incidentID, clock.now() + settings.ackTimeoutMilliseconds) }
        }
    }

    public func addUnit(_ unit: Unit) -> [DispatchEvent] {
        units[unit.callSign] = unit
        return [.unitUpdated(unit)]
    }

    // MARK: - Intake

    /// The longest report a caller's words may be (the contract's bound for strings).
    public static let maxReportBytes = 8_192

    /// Creates an incident, or links the call to an open one of the same type nearby.
    /// Retrying with the same `externalID` returns the first answer, changing nothing.
    public func intake(typeCode: String, source: IncidentSource, location: GeoPoint, report: String, externalID: String? = nil,
                       gridID: String? = nil, stationID: String? = nil, responseTargetSeconds: Int? = nil, outsideCountyMetres: Double? = nil,
                       neighbourhood: Neighbourhood? = nil)
        throws(DispatchError) -> (Incident, linked: Bool, events: [DispatchEvent]) {
        if let externalID, let known = byExternalID[externalID], let incident = incidents[known] {
            return (incident, incident.status == .linked, [])
        }
        guard let type = typesByCode[typeCode] else {
            throw DispatchError(.invalidArgument, "unknown incident type \"\(typeCode)\" (known: \(typesByCode.keys.sorted().joined(separator: ", ")))")
        }
        guard location.isValid else { throw DispatchError(.invalidArgument, "location \(location) is not a longitude,latitude") }
        guard report.utf8.count <= Self.maxReportBytes else { throw DispatchError(.invalidArgument, "report longer than \(Self.maxReportBytes) bytes") }
        let now = clock.now()
        var incident = Incident(
            id: String(format: "INC-%06d", nextNumber), type: type, source: source, location: location, gridID: gridID, stationID: stationID,
            report: report, status: .received, times: [.received: now], linkedTo: nil, linkedCalls: 0, units: [], note: "", externalID: externalID,
            responseTargetSeconds: responseTargetSeconds, outsideCountyMetres: outsideCountyMetres)
        if let outsideCountyMetres {
            incident.note = String(format: "neighbouring county: %.1f km outside the county's grids", outsideCountyMetres / 1_000)
        }
        nextNumber += 1
        var events: [DispatchEvent] = []
        if let primaryID = duplicateOf(incident) {
            incident.status = .linked
            incident.linkedTo = primaryID
            incident.times[.linked] = now
            incidents[primaryID]!.linkedCalls += 1
            incidents[primaryID]!.note = "\(incidents[primaryID]!.linkedCalls) more call(s) about this incident"
            events.append(.incidentUpdated(incidents[primaryID]!))
        } else {
            incident.status = .accepted
            incident.times[.accepted] = now
        }
        incidents[incident.id] = incident
        incidentOrder.append(incident.id)
        if let externalID { byExternalID[externalID] = incident.id }
        events.insert(.incidentCreated(incident), at: 0)
        if incident.status != .linked && alertsNeighbours(type) {
            let neighbourhood = neighbourhood ?? Neighbourhood(station: stationID.map { StationRef(id: $0, name: $0) }, adjacent: [])
            let adjacent = Set(neighbourhood.adjacent.map(\.id))
            let told = units.values.filter { adjacent.contains($0.homeStation) && $0.status != .offDuty && $0.status != .outOfService }
                .map(\.callSign).sorted()
            events.append(.neighboursAware(incidentID: incident.id, neighbourhood: neighbourhood, units: told))
        }
        return (incident, incident.status == .linked, events)
    }

    /// Whether a call of this type alerts the adjacent stations (and so needs them named).
    public func alertsNeighbours(_ typeCode: String) -> Bool { typesByCode[typeCode].map(alertsNeighbours) ?? false }

    private func alertsNeighbours(_ type: IncidentType) -> Bool { type.priority <= settings.neighboursAwarePriority }

    private func duplicateOf(_ call: Incident) -> String? {
        guard settings.duplicateRadiusMetres > 0 else { return nil }
        let now = clock.now()
        for id in incidentOrder.reversed() {
            guard let open = incidents[id] else { continue }
            if now - (open.times[.received] ?? 0) > settings.duplicateWindowMilliseconds { break }
            guard open.status.isOpen, open.type.code == call.type.code else { continue }
            if Haversine.metres(open.location, call.location) <= settings.duplicateRadiusMetres { return id }
        }
        return nil
    }

    // MARK: - Recommendation

    /// Why `unit` may not go to `incident`, with a line for the duty officer; nil when it
    /// may. A missing capability is named before a busy status: it will not pass.
    public static func skipReason(_ unit: Unit, for incident: Incident) -> (reason: SkipReason, detail: String)? {
        let missing = incident.type.capabilities.subtracting(unit.capabilities)
        if !missing.isEmpty { return (.lacksCapability, "lacks " + missing.sorted().joined(separator: ", ")) }
        switch unit.status {
        case .available, .returning: return nil
        case .offDuty: return (.offDuty, "off duty")
        case .outOfService: return (.outOfService, "out of service")
        case .assigned, .enRoute, .onScene: return (.busy, unit.status.label + (unit.incidentID.map { " on \($0)" } ?? ""))
        }
    }

    /// Ranks candidates by ETA, widening zone by zone: the own station's units first; only
    /// if none of them can meet the response target, the adjacent stations' too; then the
    /// branch; then the whole city. Returns the ranking and the widest zone it needed.
    public static func rank(_ candidates: [Candidate], targetSeconds: Double) -> (list: [Recommendation], widenedTo: Zone) {
        var widened = Zone.city
        for zone in [Zone.own, .adjacent, .branch, .city] where candidates.contains(where: { $0.zone <= zone && $0.etaSeconds <= targetSeconds }) {
            widened = zone
            break
        }
        let pool = candidates.filter { $0.zone <= widened }
            .sorted { ($0.etaSeconds, $0.zone, $0.callSign) < ($1.etaSeconds, $1.zone, $1.callSign) }
        let zoneNames: [Zone: String] = [.own: "own station", .adjacent: "adjacent station", .branch: "branch support", .city: "city support"]
        let list = pool.map { candidate in
            let meets = candidate.etaSeconds <= targetSeconds
            let eta = candidate.etaSeconds.isFinite ? "\(Int(candidate.etaSeconds) / 60)m\(String(format: "%02d", Int(candidate.etaSeconds) % 60))s" : "unreachable"
            let explanation = "ETA \(eta), \(String(format: "%.1f", candidate.metres / 1_000)) km, \(zoneNames[candidate.zone]!) zone, "
                + (meets ? "meets" : "misses") + " the \(Int(targetSeconds)) s response circle"
            return Recommendation(candidate: candidate, meetsTarget: meets, targetSeconds: targetSeconds, explanation: explanation)
        }
        return (list, widened)
    }

    /// One-key start of a major incident: `count` units across the zones, the fastest of
    /// each zone in turn (own, adjacent, branch, city) so every layer closes in at once,
    /// then the fastest of the rest.
    public static func majorSelection(_ candidates: [Candidate], count: Int) -> [Candidate] {
        var byZone = Dictionary(grouping: candidates.sorted { ($0.etaSeconds, $0.callSign) < ($1.etaSeconds, $1.callSign) }, by: \.zone)
        var chosen: [Candidate] = []
        while chosen.count < count, byZone.values.contains(where: { !$0.isEmpty }) {
            for zone in [Zone.own, .adjacent, .branch, .city] where chosen.count < count {
                guard var queue = byZone[zone], !queue.isEmpty else { continue }
                chosen.append(queue.removeFirst())
                byZone[zone] = queue
            }
        }
        return chosen
    }

    /// Remembers the ranking, so an unacknowledged order can pass down it by itself; the
    /// incident to store, or nil when nothing changed or it no longer takes units.
    public func recordRanking(_ callSigns: [String], for incidentID: String) -> Incident? {
        guard incidents[incidentID]?.status.isOpen == true, incidents[incidentID]?.ranking != callSigns else { return nil }
        incidents[incidentID]!.ranking = callSigns
        return incidents[incidentID]
    }

    // MARK: - Orders

    public func assign(_ incidentID: String, to callSign: String) throws(DispatchError) -> [DispatchEvent] {
        var incident = try openIncident(incidentID)
        guard var unit = units[callSign] else { throw DispatchError(.notFound, "no unit \(callSign)") }
        guard unit.status.isDispatchable else {
            throw DispatchError(.failedPrecondition, "\(callSign) is \(unit.status.label), not available")
        }
        guard incident.type.capabilities.isSubset(of: unit.capabilities) else {
            throw DispatchError(.failedPrecondition, "\(callSign) lacks \(incident.type.capabilities.subtracting(unit.capabilities).sorted().joined(separator: ", "))")
        }
        let now = clock.now()
        try transition(&unit, to: .assigned)
        unit.incidentID = incidentID
        units[callSign] = unit
        if incident.status < .dispatched {
            incident.status = .dispatched
            incident.times[.dispatched] = now
        }
        if !incident.units.contains(callSign) { incident.units.append(callSign) }
        if !incident.ordered.contains(callSign) { incident.ordered.append(callSign) }
        incidents[incidentID] = incident
        let deadline = now + settings.ackTimeoutMilliseconds
        pending[callSign] = (incidentID, deadline)
        return [.incidentUpdated(incident), .unitUpdated(unit), .order(incidentID: incidentID, callSign: callSign, deadline: deadline)]
    }

    /// Orders an available unit to stand somewhere else (an accepted move-up). It stays
    /// available: a relocating unit can still be sent to an incident on the way.
    public func relocate(_ callSign: String, to point: GeoPoint, plan: String) throws(DispatchError) -> [DispatchEvent] {
        guard let unit = units[callSign] else { throw DispatchError(.notFound, "no unit \(callSign)") }
        guard unit.status == .available else {
            throw DispatchError(.failedPrecondition, "\(callSign) is \(unit.status.label) now; only available units move up")
        }
        guard point.isValid else { throw DispatchError(.invalidArgument, "\(point) is not a longitude,latitude") }
        return [.relocation(callSign: callSign, to: point, plan: plan)]
    }

    /// - Parameter at: when the officer pressed it on the terminal (Unix ms; nil or 0: now).
    public func acknowledge(_ incidentID: String, by callSign: String, at: Int64? = nil) throws(DispatchError) -> [DispatchEvent] {
        guard let order = pending[callSign], order.incidentID == incidentID, var unit = units[callSign] else {
            throw DispatchError(.failedPrecondition, "\(callSign) has no outstanding order for \(incidentID)")
        }
        var incident = try openIncident(incidentID)
        let now = try pressedAt(at, after: incident.times.values.max())
        try transition(&unit, to: .enRoute)
        units[callSign] = unit
        pending[callSign] = nil
        if incident.status < .acknowledged {
            incident.status = .enRoute
            incident.times[.acknowledged] = now
            incident.times[.enRoute] = now
        }
        incidents[incidentID] = incident
        return [.incidentUpdated(incident), .unitUpdated(unit)]
    }

    /// A status change asked for by the unit or the duty officer; refused outside the
    /// matrix. The unit's incident moves with it: en route from assigned acknowledges the
    /// order, on scene puts the incident on scene, returning leaves the scene, and
    /// available, off duty or out of service from an incident withdraw the unit.
    ///
    /// - Parameter at: when the officer pressed it on the terminal (Unix ms; nil or 0: now).
    public func updateUnit(_ callSign: String, to status: UnitStatus, at: Int64? = nil) throws(DispatchError) -> [DispatchEvent] {
        guard var unit = units[callSign] else { throw DispatchError(.notFound, "no unit \(callSign)") }
        // A status the unit already has changes nothing: a terminal pressing "arrived" after
        // AVL put the unit on scene, or pressing twice, is not refused.
        if status == unit.status { return [] }
        if status == .enRoute, unit.status == .assigned, let incidentID = unit.incidentID, pending[callSign] != nil {
            return try acknowledge(incidentID, by: callSign, at: at)
        }
        let pressed = try pressedAt(at, after: unit.incidentID.flatMap { incidents[$0]?.times.values.max() })
        let from = unit.status
        try transition(&unit, to: status)
        var events: [DispatchEvent] = []
        if let incidentID = unit.incidentID, var incident = incidents[incidentID] {
            if status.isOnIncident {
                let reached: IncidentStatus = status == .onScene ? .onScene : .enRoute
                if status != .assigned, incident.status.isOpen && incident.status < reached {
                    incident.status = reached
                    incident.times[reached] = pressed
                    events.append(.incidentUpdated(incident))
                }
            } else {
                unit.incidentID = nil
                pending[callSign] = nil
                if status != .returning, incident.status.isOpen {
                    incident.units.removeAll { $0 == callSign }
                    let nobodyLeft = !incident.units.contains { units[$0]?.incidentID == incidentID }
                    if nobodyLeft && incident.status < .onScene {
                        incident.status = .accepted
                        incident.note = "\(callSign) withdrawn (\(from.label) -> \(status.label)) before arriving; recommend again"
                    } else {
                        incident.note = "\(callSign) withdrawn (\(from.label) -> \(status.label))"
                    }
                    events.append(.incidentUpdated(incident))
                }
            }
            incidents[incidentID] = incident
        }
        units[callSign] = unit
        events.append(.unitUpdated(unit))
        return events
    }

    /// AVL: a unit en route within the arrival radius of its scene is on scene. The position
    /// itself is stored in the next batch (`takeMoved`).
    public func position(_ callSign: String, at point: GeoPoint, time: Int64) -> [DispatchEvent] {
        guard var unit = units[callSign], point.isValid, time >= unit.positionAt else { return [] }
        unit.position = point
        unit.positionAt = time
        moved.insert(callSign)
        var events: [DispatchEvent] = []
        if unit.status == .enRoute, let incidentID = unit.incidentID, var incident = incidents[incidentID],
           Haversine.metres(point, incident.location) <= settings.arrivalRadiusMetres {
            settle(&unit, at: .onScene)
            if incident.status < .onScene {
                incident.status = .onScene
                // The fix's own time: a fix delivered late still says when the unit was there.
                incident.times[.onScene] = min(clock.now(), max(time, incident.times.values.max() ?? time))
                incidents[incidentID] = incident
                events.append(.incidentUpdated(incident))
            }
            events.append(.unitUpdated(unit))
        }
        units[callSign] = unit
        return events
    }

    /// When a terminal's press happened (`PressTime`): at most now, never before `earliest`.
    func pressedAt(_ at: Int64?, after earliest: Int64?) throws(DispatchError) -> Int64 {
        let now = clock.now()
        guard let kept = PressTime.kept(at ?? 0, after: earliest, now: now) else {
            throw DispatchError(.invalidArgument, PressTime.refusal(at ?? 0, now: now))
        }
        return kept
    }

    /// The units whose position changed since the last call, to store in one batch.
    public func takeMoved() -> [Unit] {
        defer { moved.removeAll() }
        return moved.sorted().compactMap { units[$0] }
    }

    public func clear(_ incidentID: String, close: Bool) throws(DispatchError) -> [DispatchEvent] {
        guard var incident = incidents[incidentID] else { throw DispatchError(.notFound, "no incident \(incidentID)") }
        guard incident.status != .linked else { throw DispatchError(.failedPrecondition, "\(incidentID) is linked to \(incident.linkedTo ?? "?"); clear that one") }
        guard incident.status != .closed else { throw DispatchError(.failedPrecondition, "\(incidentID) is already closed") }
        let now = clock.now()
        var events: [DispatchEvent] = []
        for callSign in incident.units {
            guard var unit = units[callSign], unit.incidentID == incidentID else { continue }
            settle(&unit, at: unit.status == .onScene ? .returning : .available)
            unit.incidentID = nil
            pending[callSign] = nil
            units[callSign] = unit
            events.append(.unitUpdated(unit))
        }
        if incident.status < .cleared {
            incident.status = .cleared
            incident.times[.cleared] = now
        }
        if close {
            incident.status = .closed
            incident.times[.closed] = now
        }
        incidents[incidentID] = incident
        events.insert(close ? .incidentClosed(incident) : .incidentUpdated(incident), at: 0)
        return events
    }

    // MARK: - Time

    /// Orders not acknowledged in time pass to the next ranked unit, at most
    /// `maxPassOns` times; then, or when no ranked unit is free, the incident is put to the
    /// duty officer. Returning units are available again after `returnMilliseconds`.
    public func tick() -> [DispatchEvent] {
        let now = clock.now()
        var events: [DispatchEvent] = []
        for (callSign, order) in pending.sorted(by: { $0.key < $1.key }) where order.deadline <= now {
            events += lapse(order: order.incidentID, of: callSign)
        }
        if let returnMilliseconds = settings.returnMilliseconds {
            for callSign in units.keys.sorted() {
                guard var unit = units[callSign], unit.status == .returning, (unit.statusSince ?? now) + returnMilliseconds <= now else { continue }
                settle(&unit, at: .available)
                units[callSign] = unit
                events.append(.unitUpdated(unit))
            }
        }
        return events
    }

    /// `callSign` let its order for `incidentID` lapse: it is free again, and the order
    /// passes on or the incident escalates.
    private func lapse(order incidentID: String, of callSign: String) -> [DispatchEvent] {
        pending[callSign] = nil
        var events: [DispatchEvent] = []
        if var unit = units[callSign], unit.status == .assigned {
            settle(&unit, at: .available)
            unit.incidentID = nil
            units[callSign] = unit
            events.append(.unitUpdated(unit))
        }
        guard var incident = incidents[incidentID], incident.status.isOpen else { return events }
        incident.units.removeAll { $0 == callSign }
        incident.unacknowledged.append(callSign)
        let seconds = settings.ackTimeoutMilliseconds / 1_000
        let next = incident.ranking.first { candidate in
            guard let unit = units[candidate] else { return false }
            return !incident.ordered.contains(candidate) && Self.skipReason(unit, for: incident) == nil
        }
        let othersOnIt = incident.units.contains { units[$0]?.incidentID == incidentID }
        if let next, incident.passOns < settings.maxPassOns {
            incident.passOns += 1
            incident.note = "\(callSign) did not acknowledge within \(seconds) s; order passed to \(next) (pass-on \(incident.passOns) of \(settings.maxPassOns))"
            incidents[incidentID] = incident
            if let moved = try? assign(incidentID, to: next) { return events + moved }
        }
        if othersOnIt {
            incident.note = "\(callSign) did not acknowledge within \(seconds) s; \(incident.units.joined(separator: ", ")) still on it"
            incidents[incidentID] = incident
            return events + [.incidentUpdated(incident)]
        }
        if incident.status < .onScene { incident.status = .accepted }
        let reason = next == nil
            ? "\(incident.unacknowledged.joined(separator: ", ")) did not acknowledge within \(seconds) s and no other recommended unit is free"
            : "\(incident.unacknowledged.joined(separator: ", ")) did not acknowledge within \(seconds) s each; \(settings.maxPassOns) pass-on(s) used"
        incident.note = reason + "; put to the duty officer"
        incident.escalatedAt = clock.now()
        incidents[incidentID] = incident
        return events + [.incidentUpdated(incident), .escalated(incidentID: incidentID, reason: reason)]
    }

    /// The soonest order deadline, so the plugin knows when to call `tick`.
    public var nextDeadline: Int64? { pending.values.map(\.deadline).min() }

    // MARK: - Helpers

    /// The incident, if it still takes units: known, open and not a linked duplicate.
    public func openIncident(_ id: String) throws(DispatchError) -> Incident {
        guard let incident = incidents[id] else { throw DispatchError(.notFound, "no incident \(id)") }
        guard incident.status != .linked else {
            throw DispatchError(.failedPrecondition, "\(id) is a duplicate call linked to \(incident.linkedTo ?? "?")")
        }
        guard incident.status.isOpen else { throw DispatchError(.failedPrecondition, "\(id) is \(incident.status)") }
        return incident
    }

    private func transition(_ unit: inout Unit, to next: UnitStatus) throws(DispatchError) {
        guard unit.status.mayBecome(next) else {
            throw DispatchError(.failedPrecondition, "\(unit.callSign) cannot go from \(unit.status.label) to \(next.label)")
        }
        settle(&unit, at: next)
    }

    /// Sets a status the caller knows the matrix allows, and when it was set.
    private func settle(_ unit: inout Unit, at status: UnitStatus) {
        unit.status = status
        unit.statusSince = clock.now()
    }
}
