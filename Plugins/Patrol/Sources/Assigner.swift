import GridModelContract
import PatrolContract
import SituationAnalysisContract

/// The shift's plan made into each on-duty unit's assignment: the plan's grids and dosage
/// stops for the unit, the grids' must-patrol points and lines. A planned unit now off duty
/// hands its part to its stand-in, or else to the on-duty unit of its station with the
/// fewest grids; an on-duty unit the plan does not know keeps station duties.
enum Assigner {
    struct Input {
        var plan: Xunfang_Situation_V1_DeploymentPlan
        var onDuty: [Xunfang_Patrol_V1_UnitDuty]
        /// Each unit's home station.
        var stations: [String: String]
        /// GridModel's must-patrol points and lines.
        var sites: [Xunfang_GridModel_V1_Site]
        /// Seal positions units are asked to stand by at, by call sign.
        var standbys: [String: Xunfang_Patrol_V1_Standby] = [:]
    }

    static func assignments(_ input: Input) -> [Xunfang_Patrol_V1_Assignment] {
        let planned = Dictionary(input.plan.assignments.map { ($0.callSign, $0) }, uniquingKeysWith: { first, _ in first })
        let onDuty = Set(input.onDuty.map(\.callSign))
        // A stand-in (note "替 C013") works the absent unit's part.
        let standsInFor = Dictionary(input.onDuty.compactMap { duty in
            duty.note.hasPrefix("替 ") ? (duty.callSign, String(duty.note.dropFirst(2))) : nil
        }, uniquingKeysWith: { first, _ in first })
        var parts: [String: (part: Xunfang_Situation_V1_PatrolAssignment, note: String)] = [:]
        for duty in input.onDuty.sorted(by: { $0.callSign < $1.callSign }) {
            if let own = planned[duty.callSign] {
                parts[duty.callSign] = (own, "shift plan")
            } else if let absent = standsInFor[duty.callSign], let theirs = planned[absent] {
                parts[duty.callSign] = (theirs, "stands in for \(absent)")
            }
        }
        let covered = Set(standsInFor.values)
        for orphan in input.plan.assignments.sorted(by: { $0.callSign < $1.callSign })
        where orphan.onPatrol && !onDuty.contains(orphan.callSign) && !covered.contains(orphan.callSign) {
            let station = input.stations[orphan.callSign] ?? orphan.stationID
            let heirs = parts.filter { input.stations[$0.key] == station && $0.value.part.onPatrol }
            guard let heir = heirs.min(by: { ($0.value.part.gridIds.count, $0.key) < ($1.value.part.gridIds.count, $1.key) })?.key else { continue }
            var part = parts[heir]!.part
            part.gridIds += orphan.gridIds.filter { !part.gridIds.contains($0) }
            part.stops = (part.stops + orphan.stops).sorted { $0.start < $1.start }
            parts[heir] = (part, parts[heir]!.note + "; takes over \(orphan.callSign)'s grids (off duty)")
        }
        let cells = Dictionary(input.plan.hotCells.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let byGrid = Dictionary(grouping: input.sites, by: \.gridID)
        return input.onDuty.map(\.callSign).sorted().map { callSign in
            var assignment = Xunfang_Patrol_V1_Assignment()
            assignment.callSign = callSign
            assignment.stationID = input.stations[callSign] ?? ""
            assignment.shiftStart = input.plan.shiftStart
            assignment.shiftEnd = input.plan.shiftEnd
            let standby = input.standbys[callSign].map { "; stands by at \($0.positionID) \($0.name) for \($0.plan)" } ?? ""
            if let post = input.standbys[callSign] { assignment.standby = post }
            guard let (part, note) = parts[callSign] else {
                assignment.note = "not in the shift's plan: station duties" + standby
                return assignment
            }
            assignment.onPatrol = part.onPatrol
            assignment.note = note + standby
            guard part.onPatrol else { return assignment }
            assignment.gridIds = part.gridIds
            for grid in part.gridIds {
                for site in byGrid[grid] ?? [] {
                    switch site.kind {
                    case .patrolPoint: assignment.points.append(mustPatrol(site))
                    case .patrolLine: assignment.lines.append(mustPatrol(site))
                    default: break
                    }
                }
            }
            assignment.stops = part.stops.map { stop in
                var dosage = Xunfang_Patrol_V1_DosageStop()
                dosage.cellID = stop.cellID
                dosage.start = stop.start
                dosage.minutes = stop.minutes
                if let cell = cells[stop.cellID] {
                    dosage.position.longitude = cell.longitude
                    dosage.position.latitude = cell.latitude
                }
                return dosage
            }
            return assignment
        }
    }

    static func mustPatrol(_ site: Xunfang_GridModel_V1_Site) -> Xunfang_Patrol_V1_MustPatrol {
        var entry = Xunfang_Patrol_V1_MustPatrol()
        entry.siteID = site.id
        entry.name = site.name
        entry.position = site.position
        entry.path = site.path
        entry.gridID = site.gridID
        return entry
    }

    /// The assignments to publish: those new or changed since `kept` (same shift), each with
    /// its next revision; an unchanged one keeps its revision and is not sent again.
    static func changes(_ fresh: [Xunfang_Patrol_V1_Assignment], kept: [String: Xunfang_Patrol_V1_Assignment]) -> [Xunfang_Patrol_V1_Assignment] {
        fresh.compactMap { assignment in
            guard let before = kept[assignment.callSign], before.shiftStart == assignment.shiftStart else {
                var first = assignment
                first.revision = 1
                return first
            }
            var comparable = before
            comparable.revision = 0
            comparable.note = assignment.note
            guard comparable != assignment else { return nil }
            var next = assignment
            next.revision = before.revision + 1
            return next
        }
    }
}
