import DispatchPlugin
import Testing
import XunfangGeo

@Suite("Move-up")
struct MoveUpTests {
    let projection = LocalProjection(origin: GeoPoint(longitude: 104.28, latitude: 30.98))
    func x(_ metres: Double) -> GeoPoint { projection.unproject(PlanarPoint(x: metres, y: 0)) }

    /// Demand in three clusters on a line; a unit covers what lies within 300 m.
    var demand: [GeoPoint] { [0, 50, -50, 2_000, 2_050, 1_950, 4_000, 4_050, 3_950].map(x) }
    var sites: [GeoPoint] { [0, 1_000, 2_000, 3_000, 4_000].map(x) }

    func covered(_ units: [GeoPoint]) -> Double {
        Double(demand.count { point in units.contains { Haversine.metres($0, point) <= 300 } })
    }

    func best(_ units: [GeoPoint]) -> GeoPoint? {
        sites.max { covered(units + [$0]) < covered(units + [$1]) }
    }

    @Test("the known best relocation: the spare unit at the far cluster moves to the gap, nobody else")
    func knownBest() async throws {
        // Before: U1 at 0, U2 at 2000 (dispatched now), U3 at 4000, U4 at 3900 (spare).
        let before = covered([x(0), x(2_000), x(4_000), x(3_900)])
        let idle = [("U1", x(0)), ("U3", x(4_000)), ("U4", x(3_900))]
        let plan = try await MoveUpPlanner().plan(baseline: before, idle: idle, coverage: { covered($0) }, bestSite: { best($0) })
        #expect(plan.before == 6 && before == 9)
        #expect(plan.restored && plan.after == 9)
        #expect(plan.moves.map(\.callSign) == ["U4"])
        #expect(Haversine.metres(plan.moves[0].to, x(2_000)) < 1)
    }

    @Test("no move when coverage did not drop, and no harmful move when none helps")
    func restraint() async throws {
        let idle = [("U1", x(0)), ("U2", x(2_000)), ("U3", x(4_000))]
        let unchanged = try await MoveUpPlanner().plan(baseline: 9, idle: idle, coverage: { covered($0) }, bestSite: { best($0) })
        #expect(unchanged.moves.isEmpty && unchanged.restored)
        // Two units for three clusters: any move uncovers one cluster to cover another.
        let two = [("U1", x(0)), ("U3", x(4_000))]
        let stuck = try await MoveUpPlanner().plan(baseline: 9, idle: two, coverage: { covered($0) }, bestSite: { best($0) })
        #expect(stuck.moves.isEmpty && !stuck.restored && stuck.after == 6)
    }
}
