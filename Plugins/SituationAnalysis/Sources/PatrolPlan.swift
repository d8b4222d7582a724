public import XunfangGeo

/// A shift's patrol plan: how many of each station's units go on patrol (at least the
/// share its colour calls for), which grids each patrols (the riskiest first), and
/// "dosage" stops at hot cells: 10–16 minutes each, at times drawn afresh for every plan
/// so that they cannot be predicted, with every hot cell visited again within two hours.
/// Pure: the plugin supplies the units, colours, grid risks and hot cells.
public enum PatrolPlan {
    public struct Unit: Sendable, Hashable {
        public var callSign: String
        public var station: String
        public init(callSign: String, station: String) {
            self.callSign = callSign
            self.station = station
        }
    }

    public struct HotCell: Sendable, Hashable {
        public var id: String
        public var station: String
        public var centre: GeoPoint
        public init(id: String, station: String, centre: GeoPoint) {
            self.id = id
            self.station = station
            self.centre = centre
        }
    }

    public struct Stop: Sendable, Hashable {
        public var cell: String
        /// Unix milliseconds.
        public var start: Int64
        public var minutes: Int
        public var end: Int64 { start + Int64(minutes) * 60_000 }
    }

    public struct Assignment: Sendable, Hashable {
        public var callSign: String
        public var station: String
        public var onPatrol: Bool
        public var grids: [String]
        public var stops: [Stop]
    }

    public struct StationPlan: Sendable, Hashable {
        public var station: String
        public var colour: Colour
        public var units: Int
        public var onPatrol: Int
        public var minimumShare: Double
    }

    public struct Plan: Sendable, Hashable {
        public var shiftStart: Int64
        public var shiftEnd: Int64
        public var stations: [StationPlan]
        public var assignments: [Assignment]
        /// The longest wait between the starts of two visits to a hot cell (from the shift
        /// start to the first visit, too), minutes.
        public var longestRevisitMinutes: Int
        public var notes: [String]
    }

    public struct Rules: Sendable, Hashable {
        public var stopMinutes = 10...16
        public var revisitWithinMinutes = 120
        /// Allowed between two stops of one unit, for driving.
        public var travelMinutes = 8
        public var redShare = 0.8
        public init() {}
    }

    /// - Parameters:
    ///   - colours: each station's colour (a station not named is green).
    ///   - gridRisk: per station, its grids with their recent incident counts.
    public static func make(units: [Unit], colours: [String: Colour], gridRisk: [String: [(grid: String, count: Int)]],
                            hotCells: [HotCell], shiftStart: Int64, shiftHours: Int = 8, seed: UInt64, rules: Rules = Rules()) -> Plan {
        var random = SyntheticRoads.Generator(state: seed)
        let shiftEnd = shiftStart + Int64(shiftHours) * 3_600_000
        var notes: [String] = []
        var stationPlans: [StationPlan] = []
        var assignments: [Assignment] = []
        let byStation = Dictionary(grouping: units, by: \.station)
        for station in byStation.keys.sorted() {
            let members = byStation[station]!.sorted { $0.callSign < $1.callSign }
            let colour = colours[station] ?? .green
            let share = colour.minimumPatrolShare(red: rules.redShare)
            let onPatrol = min(members.count, Int((share * Double(members.count)).rounded(.up)))
            stationPlans.append(StationPlan(station: station, colour: colour, units: members.count, onPatrol: onPatrol, minimumShare: share))
            // Grids by risk, dealt to the patrol units in turn: the riskiest get the first units.
            let grids = (gridRisk[station] ?? []).sorted { $0.count != $1.count ? $0.count > $1.count : $0.grid < $1.grid }.map(\.grid)
            for (index, unit) in members.enumerated() {
                let patrols = index < onPatrol
                let mine = patrols && onPatrol > 0 ? grids.indices.filter { $0 % onPatrol == index }.map { grids[$0] } : []
                assignments.append(Assignment(callSign: unit.callSign, station: station, onPatrol: patrols, grids: mine, stops: []))
            }
        }

        // Dosage stops: each hot cell gets visits whose starts are at most `revisitWithin`
        // apart, at random offsets, given to the free patrol unit of its station that has
        // been busy least.
        var longest = 0
        let window = Int64(rules.revisitWithinMinutes) * 60_000
        for cell in hotCells.sorted(by: { $0.id < $1.id }) {
            let patrol = assignments.indices.filter { assignments[$0].station == cell.station && assignments[$0].onPatrol }
            guard !patrol.isEmpty else {
                notes.append("hot cell \(cell.id): station \(cell.station) has no unit on patrol")
                continue
            }
            var previous = shiftStart
            var next = shiftStart + Int64.random(in: 0..<(window / 2), using: &random)
            while next < shiftEnd {
                let minutes = Int.random(in: rules.stopMinutes, using: &random)
                var stop = Stop(cell: cell.id, start: next, minutes: minutes)
                let gap = Int64(rules.travelMinutes) * 60_000
                func free(_ index: Int, _ stop: Stop) -> Bool {
                    assignments[index].stops.allSatisfy { $0.end + gap <= stop.start || stop.end + gap <= $0.start }
                }
                let load = { (index: Int) in assignments[index].stops.reduce(0) { $0 + $1.minutes } }
                var chosen = patrol.filter { free($0, stop) }.min { (load($0), $0) < (load($1), $1) }
                if chosen == nil {
                    // Everyone is busy then: the visit moves to when the first unit is free.
                    let earliest = patrol.map { index in
                        (assignments[index].stops.filter { $0.end + gap > stop.start }.map { $0.end + gap }.max() ?? stop.start, index)
                    }.min { $0 < $1 }!
                    stop.start = earliest.0
                    if free(earliest.1, stop), stop.start < shiftEnd { chosen = earliest.1 }
                }
                guard let unit = chosen else {
                    notes.append("hot cell \(cell.id): not enough units on patrol for a visit every \(rules.revisitWithinMinutes) minutes")
                    break
                }
                assignments[unit].stops.append(stop)
                longest = max(longest, Int((stop.start - previous) / 60_000))
                previous = stop.start
                next = stop.start + Int64.random(in: (window / 3)...window, using: &random)
            }
            longest = max(longest, Int((shiftEnd - previous) / 60_000))
        }
        if longest > rules.revisitWithinMinutes {
            notes.append("some hot cell waits \(longest) minutes between visits (more than \(rules.revisitWithinMinutes)): too few units on patrol")
        }
        for index in assignments.indices { assignments[index].stops.sort { $0.start < $1.start } }
        for plan in stationPlans where plan.onPatrol < plan.units && plan.onPatrol == 0 {
            notes.append("station \(plan.station): nobody on patrol")
        }
        return Plan(shiftStart: shiftStart, shiftEnd: shiftEnd, stations: stationPlans, assignments: assignments,
                    longestRevisitMinutes: longest, notes: notes)
    }
}
