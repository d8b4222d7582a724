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

    func best(_ units: [GeoPoint]) -> GeoPoint? {
        sites.max { covered(units + [$0]).points < covered(units + [$1]).points }
    }

    @Test("the known best relocation: the spare unit at the far cluster moves to the gap, nobody else")
    func knownBest() async throws {
        // Before: U1 at 0, U2 at 2000 (dispatched now), U3 at 4000, U4 at 3900 (spare), U6 on the core.
        let before = covered([x(0), x(2_000), x(4_000), x(3_900), x(6_000)])
        let idle = [("U1", x(0)), ("U3", x(4_000)), ("U4", x(3_900)), ("U6", x(6_000))]
        let plan = try await MoveUpPlanner().plan(baseline: before, idle: idle, coverage: { covered($0) }, bestSite: { best($0) })
        #expect(before.points == 1 && before.core == 1 && plan.now.points == 6.0 / 9)
        #expect(plan.restored && plan.after == before)
        #expect(plan.moves.map(\.callSign) == ["U4"])
        #expect(Haversine.metres(plan.moves[0].to, x(2_000)) < 1 && Haversine.metres(plan.moves[0].from, x(3_900)) < 1)
        // The spot the dispatched unit left is enough, even with no site suggestion at all.
        let vacated = try await MoveUpPlanner().plan(baseline: before, idle: idle, vacated: [x(2_000)], coverage: { covered($0) }, bestSite: { _ in nil })
        #expect(vacated.moves.map(\.callSign) == ["U4"] && vacated.restored)
    }

    @Test("the core counts: a dispatch from the core is restored though every must-patrol point stays covered")
    func coreArea() async throws {
        let before = covered([x(6_000), x(2_000), x(0), x(4_000), x(3_900)])
        let idle = [("U2", x(2_000)), ("U3", x(0)), ("U4", x(4_000)), ("U5", x(3_900))]
        let plan = try await MoveUpPlanner().plan(baseline: before, idle: idle, vacated: [x(6_000)], coverage: { covered($0) }, bestSite: { best($0) })
        #expect(plan.now.points == 1 && plan.now.core == 0)
        #expect(plan.moves.count == 1 && plan.restored && plan.after == before)
        #expect(["U4", "U5"].contains(plan.moves[0].callSign), "a unit of the doubled-up cluster, leaving it covered")
    }

    @Test("no move when coverage did not drop, and no harmful move when none helps")
    func restraint() async throws {
        let full = MoveUpPlanner.Coverage(core: 0, points: 1)
        let idle = [("U1", x(0)), ("U2", x(2_000)), ("U3", x(4_000))]
        let unchanged = try await MoveUpPlanner().plan(baseline: full, idle: idle, coverage: { covered($0) }, bestSite: { best($0) })
        #expect(unchanged.moves.isEmpty && unchanged.restored)
        // Two units for three clusters: any move uncovers one cluster to cover another.
        let two = [("U1", x(0)), ("U3", x(4_000))]
        let stuck = try await MoveUpPlanner().plan(baseline: full, idle: two, vacated: [x(2_000)], coverage: { covered($0) }, bestSite: { best($0) })
        #expect(stuck.moves.isEmpty && !stuck.restored && stuck.after.points == 6.0 / 9)
    }
}
