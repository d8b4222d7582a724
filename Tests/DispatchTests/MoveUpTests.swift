import DispatchPlugin
import Testing
import XunfangGeo

@Suite("Move-up")
struct MoveUpTests {
    let projection = LocalProjection(origin: GeoPoint(longitude: 104.28, latitude: 30.98))
    func x(_ metres: Double) -> GeoPoint { projection.unproject(PlanarPoint(x: metres, y: 0)) }

    /// Must-patrol points in three clusters on a line, the core area's demand far east; a
    /// unit covers what lies within 300 m.
    var points: [GeoPoint] { [0, 50, -50, 2_000, 2_050, 1_950, 4_000, 4_050, 3_950].map(x) }
    var core: [GeoPoint] { [6_000, 6_050].map(x) }
    var sites: [GeoPoint] { [0, 1_000, 2_000, 3_000, 4_000, 6_000].map(x) }

    func covered(_ units: [GeoPoint]) -> MoveUpPlanner.Coverage {
        func share(_ demand: [GeoPoint]) -> Double {
            Double(demand.count { point in units.contains { Haversine.metres($0, point) <= 300 } }) / Double(demand.count)
        }
        return MoveUpPlanner.Coverage(core: share(core), points: share(points))
    }

    func best(_ units: [GeoPoint], _ k: Int) -> [GeoPoint] {
        Self.best(units, k, among: sites) { covered($0).points }
    }

    /// The k sites that together cover most, by trying every choice.
    static func best(_ units: [GeoPoint], _ k: Int, among sites: [GeoPoint], points: ([GeoPoint]) -> Double) -> [GeoPoint] {
        func choices(_ from: Int, _ left: Int) -> [[GeoPoint]] {
            guard left > 0 else { return [[]] }
            guard from < sites.count else { return [] }
            return choices(from + 1, left - 1).map { [sites[from]] + $0 } + choices(from + 1, left)
        }
        return choices(0, min(k, sites.count)).max { points(units + $0) < points(units + $1) } ?? []
    }

    @Test("the known best relocation: the spare unit at the far cluster moves to the gap, nobody else")
    func knownBest() async throws {
        // Before: U1 at 0, U2 at 2000 (dispatched now), U3 at 4000, U4 at 3900 (spare), U6 on the core.
        let before = covered([x(0), x(2_000), x(4_000), x(3_900), x(6_000)])
        let idle = [("U1", x(0)), ("U3", x(4_000)), ("U4", x(3_900)), ("U6", x(6_000))]
        let plan = try await MoveUpPlanner().plan(baseline: before, idle: idle, coverage: { covered($0) }, bestSites: { best($0, $1) })
        #expect(before.points == 1 && before.core == 1 && plan.now.points == 6.0 / 9)
        #expect(plan.restored && plan.after == before)
        #expect(plan.moves.map(\.callSign) == ["U4"])
        #expect(Haversine.metres(plan.moves[0].to, x(2_000)) < 1 && Haversine.metres(plan.moves[0].from, x(3_900)) < 1)
        // The spot the dispatched unit left is enough, even with no site suggestion at all.
        let vacated = try await MoveUpPlanner().plan(baseline: before, idle: idle, vacated: [x(2_000)], coverage: { covered($0) }, bestSites: { _, _ in [] })
        #expect(vacated.moves.map(\.callSign) == ["U4"] && vacated.restored)
    }

    @Test("the core counts: a dispatch from the core is restored though every must-patrol point stays covered")
    func coreArea() async throws {
        let before = covered([x(6_000), x(2_000), x(0), x(4_000), x(3_900)])
        let idle = [("U2", x(2_000)), ("U3", x(0)), ("U4", x(4_000)), ("U5", x(3_900))]
        let plan = try await MoveUpPlanner().plan(baseline: before, idle: idle, vacated: [x(6_000)], coverage: { covered($0) }, bestSites: { best($0, $1) })
        #expect(plan.now.points == 1 && plan.now.core == 0)
        #expect(plan.moves.count == 1 && plan.restored && plan.after == before)
        #expect(["U4", "U5"].contains(plan.moves[0].callSign), "a unit of the doubled-up cluster, leaving it covered")
    }

    @Test("no move when coverage did not drop, and no harmful move when none helps")
    func restraint() async throws {
        let full = MoveUpPlanner.Coverage(core: 0, points: 1)
        let idle = [("U1", x(0)), ("U2", x(2_000)), ("U3", x(4_000))]
        let unchanged = try await MoveUpPlanner().plan(baseline: full, idle: idle, coverage: { covered($0) }, bestSites: { best($0, $1) })
        #expect(unchanged.moves.isEmpty && unchanged.restored)
        // Two units for three clusters: any move uncovers one cluster to cover another.
        let two = [("U1", x(0)), ("U3", x(4_000))]
        let stuck = try await MoveUpPlanner().plan(baseline: full, idle: two, vacated: [x(2_000)], coverage: { covered($0) }, bestSites: { best($0, $1) })
        #expect(stuck.moves.isEmpty && !stuck.restored && stuck.after.points == 6.0 / 9)
    }

    @Test("two gaps are filled as a pair: the best single site between them would leave one point uncovered")
    func jointSites() async throws {
        // Clusters A (0) and B (600) lost their units; three units stand at C (3000), two spare.
        let spots = [-50, 0, 50, 550, 600, 650, 2_950, 3_000, 3_050].map(x)
        let sites = [0, 300, 600, 3_000].map(x)
        func covered(_ units: [GeoPoint]) -> MoveUpPlanner.Coverage {
            MoveUpPlanner.Coverage(core: 0, points: Double(spots.count { point in units.contains { Haversine.metres($0, point) <= 300 } }) / 9)
        }
        func best(_ units: [GeoPoint], _ k: Int) -> [GeoPoint] { Self.best(units, k, among: sites) { covered($0).points } }
        #expect(best([x(3_000)], 1).map { Haversine.metres($0, x(300)) < 1 } == [true], "alone, the site between A and B covers most")
        var planner = MoveUpPlanner()
        planner.maxMoves = 2
        let idle = [("U1", x(3_000)), ("U2", x(3_050)), ("U3", x(2_950))]
        let plan = try await planner.plan(baseline: MoveUpPlanner.Coverage(core: 0, points: 1), idle: idle,
                                          coverage: { covered($0) }, bestSites: { best($0, $1) })
        #expect(plan.restored && plan.moves.count == 2)
        #expect(Set(plan.moves.map { Int(Haversine.metres($0.to, x(0)).rounded()) }) == [0, 600])
        // One site at a time (k = 1 each round) gets only to 8 of 9.
        let single = try await planner.plan(baseline: MoveUpPlanner.Coverage(core: 0, points: 1), idle: idle,
                                            coverage: { covered($0) }, bestSites: { units, _ in best(units, 1) })
        #expect(!single.restored && single.after.points == 8.0 / 9)
    }
}
