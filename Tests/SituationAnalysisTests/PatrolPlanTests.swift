import SituationAnalysisPlugin
import Testing
import XunfangGeo

@Suite("Patrol plan")
struct PatrolPlanTests {
    let start = monday + 8 * hour
    func units(_ station: String, _ count: Int) -> [PatrolPlan.Unit] {
        (1...count).map { PatrolPlan.Unit(callSign: "\(station)-U\($0)", station: station) }
    }
    func cells(_ station: String, _ count: Int) -> [PatrolPlan.HotCell] {
        (1...count).map { PatrolPlan.HotCell(id: "\(station)-H\($0)", station: station, centre: GeoPoint(longitude: 104.28, latitude: 30.97)) }
    }

    @Test("each station puts at least its colour's share on patrol; grids go to patrol units riskiest first")
    func shares() {
        let plan = PatrolPlan.make(units: units("S1", 10) + units("S2", 5) + units("S3", 3) + units("S4", 4),
                                   colours: ["S1": .red, "S3": .yellow, "S4": .orange],
                                   gridRisk: ["S1": [("G1", 3), ("G2", 9), ("G3", 5)]], hotCells: [], shiftStart: start, seed: 1)
        let onPatrol = Dictionary(uniqueKeysWithValues: plan.stations.map { ($0.station, $0.onPatrol) })
        #expect(onPatrol == ["S1": 8, "S2": 1, "S3": 2, "S4": 3])
        for station in plan.stations {
            #expect(Double(station.onPatrol) >= station.minimumShare * Double(station.units))
            #expect(plan.assignments.count { $0.station == station.station && $0.onPatrol } == station.onPatrol)
        }
        let s1 = plan.assignments.filter { $0.station == "S1" && $0.onPatrol }
        #expect(s1[0].grids == ["G2"] && s1[1].grids == ["G3"] && s1[2].grids == ["G1"])
        #expect(plan.assignments.filter { !$0.onPatrol }.allSatisfy { $0.grids.isEmpty && $0.stops.isEmpty })
    }

    @Test("hot cells are visited for 10 to 16 minutes, again within two hours all shift, and no unit is in two places")
    func dosage() {
        let plan = PatrolPlan.make(units: units("S1", 6) + units("S2", 2), colours: ["S1": .orange],
                                   gridRisk: [:], hotCells: cells("S1", 4) + cells("S2", 1), shiftStart: start, seed: 7)
        #expect(plan.notes.isEmpty, "\(plan.notes)")
        #expect(plan.longestRevisitMinutes <= 120)
        let stops = plan.assignments.flatMap(\.stops)
        for cell in cells("S1", 4) + cells("S2", 1) {
            let visits = stops.filter { $0.cell == cell.id }.map(\.start).sorted()
            let marks = [plan.shiftStart] + visits + [plan.shiftEnd]
            #expect(visits.count >= 4 && zip(marks, marks.dropFirst()).allSatisfy { $1 - $0 <= 120 * 60_000 }, "\(cell.id)")
        }
        #expect(stops.allSatisfy { (10...16).contains($0.minutes) && $0.start >= plan.shiftStart && $0.start < plan.shiftEnd })
        for assignment in plan.assignments {
            let own = assignment.stops
            #expect(zip(own, own.dropFirst()).allSatisfy { $0.end + 8 * 60_000 <= $1.start }, "\(assignment.callSign)")
            #expect(own.allSatisfy { stop in cells(assignment.station, 4).contains { $0.id == stop.cell } || stop.cell.hasPrefix(assignment.station) })
        }
    }

    @Test("times are the same for a seed and differ between seeds, so patrols cannot be predicted")
    func unpredictable() {
        let make = { (seed: UInt64) in
            PatrolPlan.make(units: self.units("S1", 4), colours: ["S1": .red], gridRisk: [:], hotCells: self.cells("S1", 2), shiftStart: self.start, seed: seed)
        }
        #expect(make(3) == make(3))
        #expect(make(3).assignments.flatMap(\.stops).map(\.start) != make(4).assignments.flatMap(\.stops).map(\.start))
    }

    @Test("too few units on patrol for the hot cells is said, not hidden")
    func shortHanded() {
        let plan = PatrolPlan.make(units: units("S1", 2), colours: [:], gridRisk: [:], hotCells: cells("S1", 12), shiftStart: start, seed: 2)
        #expect(!plan.notes.isEmpty && plan.longestRevisitMinutes > 120)
        let orphan = PatrolPlan.make(units: [], colours: [:], gridRisk: [:], hotCells: cells("S9", 1), shiftStart: start, seed: 2)
        #expect(orphan.notes.contains { $0.contains("S9") })
    }
}

@Suite("Hot cells")
struct HotCellTests {
    @Test("a tight cluster of incidents makes its 250 m cell hot, named for the station with most of them; scattered ones do not")
    func cluster() {
        var random = SyntheticRoads.Generator(state: 5)
        let projection = LocalProjection(origin: GeoPoint(longitude: 104.28, latitude: 30.97))
        var incidents: [(position: GeoPoint, station: String)] = []
        for index in 0..<40 {
            let point = PlanarPoint(x: 1_010 + Double.random(in: 0..<200, using: &random), y: 2_020 + Double.random(in: 0..<200, using: &random))
            incidents.append((projection.unproject(point), index < 30 ? "S1" : "S2"))
        }
        for _ in 0..<200 {
            let point = PlanarPoint(x: Double.random(in: -5_000..<5_000, using: &random), y: Double.random(in: -5_000..<5_000, using: &random))
            incidents.append((projection.unproject(point), "S3"))
        }
        // The 200 m cluster may straddle cell edges: its one to four cells are hot, nothing else.
        let cells = HotCells.find(incidents, permutations: 199, seed: 3)
        #expect((1...4).contains(cells.count) && cells.reduce(0) { $0 + $1.incidents } >= 38)
        let centre = projection.unproject(PlanarPoint(x: 1_110, y: 2_120))
        #expect(cells.allSatisfy { Haversine.metres($0.centre, centre) < 400 && $0.station == "S1" && $0.z > 3 && $0.p <= 0.01 })
        #expect(HotCells.find(incidents, permutations: 199, seed: 3).map(\.id) == cells.map(\.id), "ids are stable")
        #expect(HotCells.find(Array(incidents.suffix(200)), permutations: 199, seed: 3).isEmpty)
        let lone = HotCells.find([(position: centre, station: "S1")] + Array(repeating: (position: centre, station: "S2"), count: 15))
        #expect(lone.count == 1 && lone[0].incidents == 16 && lone[0].station == "S2", "\(lone)")
    }
}

@Suite("Emerging hot spots")
struct EmergingTests {
    @Test("cells rising, appearing, steady and fading over eight weeks get the classes their series show")
    func classes() {
        let projection = LocalProjection(origin: GeoPoint(longitude: 104.28, latitude: 30.97))
        var random = SyntheticRoads.Generator(state: 8)
        var incidents: [(position: GeoPoint, station: String, slice: Int)] = []
        func add(_ count: Int, at x: Double, _ y: Double, slice: Int, station: String) {
            for _ in 0..<count {
                let point = PlanarPoint(x: x + Double.random(in: 0..<100, using: &random), y: y + Double.random(in: 0..<100, using: &random))
                incidents.append((projection.unproject(point), station, slice))
            }
        }
        for week in 0..<8 {
            add(4 + 2 * week, at: 1_010, 1_010, slice: week, station: "RISING")
            add(week == 7 ? 12 : 0, at: 4_010, 1_010, slice: week, station: "NEW")
            add(9, at: 1_010, 4_010, slice: week, station: "STEADY")
            add(18 - 2 * week, at: 4_010, 4_010, slice: week, station: "FADING")
            for _ in 0..<25 {
                let point = PlanarPoint(x: Double.random(in: -6_000..<9_000, using: &random), y: Double.random(in: -6_000..<9_000, using: &random))
                incidents.append((projection.unproject(point), "NOISE", week))
            }
        }
        let cells = EmergingHotSpots.find(incidents, slices: 8)
        func kinds(_ station: String) -> Set<Trends.EmergingClass> { Set(cells.filter { $0.station == station }.map(\.kind)) }
        #expect(kinds("RISING").contains(.intensifying))
        #expect(kinds("NEW") == [.new])
        #expect(kinds("STEADY").contains(.persistent))
        #expect(kinds("FADING").contains(.diminishing), "\(kinds("FADING"))")
        #expect(cells.allSatisfy { $0.z.count == 8 })
        #expect(cells.filter { $0.station == "NOISE" }.allSatisfy { [.new, .sporadic].contains($0.kind) }, "scattered incidents make no lasting hot spot")
    }
}
