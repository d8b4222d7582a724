import Testing
@testable import XunfangGeo

@Suite("Reach areas")
struct ReachAreaTests {
    func p(_ x: Double, _ y: Double) -> PlanarPoint { PlanarPoint(x: x, y: y) }

    /// The distance from a point to the nearest segment.
    func distance(_ point: PlanarPoint, _ segments: [(PlanarPoint, PlanarPoint)]) -> Double {
        segments.map { a, b in
            let (dx, dy) = (b.x - a.x, b.y - a.y)
            let length = dx * dx + dy * dy
            let t = length == 0 ? 0 : max(0, min(1, ((point.x - a.x) * dx + (point.y - a.y) * dy) / length))
            let (x, y) = (a.x + t * dx - point.x, a.y + t * dy - point.y)
            return (x * x + y * y).squareRoot()
        }.min()!
    }

    @Test("two roads at a right angle: the area follows them and leaves out the corner a convex hull would claim")
    func corner() {
        let roads = [(p(0, 0), p(1_000, 0)), (p(1_000, 0), p(1_000, 1_000))]
        let area = ReachArea.polygons(around: roads, cell: 50)
        #expect(area.count == 1 && area[0].holes.isEmpty)
        #expect(area[0].contains(p(500, 0)) && area[0].contains(p(1_000, 500)) && area[0].contains(p(1_000, 1_000)))
        #expect(!area[0].contains(p(200, 800)), "the empty corner")
        // Claims nothing farther from a road than two cells' diagonal.
        for corner in area[0].outer.points { #expect(distance(corner, roads) <= 2 * 50 * 2.0.squareRoot() + 1e-9) }
        // A band at most four cells wide along 2 km of road, where the hull claims 0.5 km².
        #expect(area[0].area < 2_000 * 4 * 50 && area[0].area < 0.5 * 1_000 * 1_000)
    }

    @Test("a loop of roads encloses a hole; roads far apart are apart")
    func loopAndIslands() {
        let loop = [(p(0, 0), p(1_000, 0)), (p(1_000, 0), p(1_000, 1_000)), (p(1_000, 1_000), p(0, 1_000)), (p(0, 1_000), p(0, 0))]
        let ring = ReachArea.polygons(around: loop, cell: 50)
        #expect(ring.count == 1 && ring[0].holes.count == 1)
        #expect(!ring[0].contains(p(500, 500)) && ring[0].contains(p(0, 500)) && ring[0].contains(p(500, 1_000)))
        #expect(ring[0].outer.signedArea > 0 && ring[0].holes[0].signedArea < 0)

        let islands = ReachArea.polygons(around: [(p(0, 0), p(100, 0)), (p(5_000, 5_000), p(5_000, 5_300))], cell: 50)
        #expect(islands.count == 2 && islands.allSatisfy(\.holes.isEmpty))
        // A diagonal road is one band, not a chain of corner-touching squares.
        #expect(ReachArea.polygons(around: [(p(0, 0), p(700, 700))], cell: 50).count == 1)
        #expect(ReachArea.polygons(around: [], cell: 50).isEmpty)
    }
}
