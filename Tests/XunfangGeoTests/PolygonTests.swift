import Testing
@testable import XunfangGeo

func square(_ x: Double, _ y: Double, _ size: Double) throws -> Ring {
    try Ring([PlanarPoint(x: x, y: y), PlanarPoint(x: x + size, y: y), PlanarPoint(x: x + size, y: y + size),
              PlanarPoint(x: x, y: y + size), PlanarPoint(x: x, y: y)])
}

@Suite("Polygons")
struct PolygonTests {
    @Test("a polygon with a hole: area, containment and centroid")
    func hole() throws {
        let polygon = Polygon(outer: try square(0, 0, 100), holes: [try square(10, 10, 20)])
        #expect(polygon.area == 10_000 - 400)
        #expect(polygon.contains(PlanarPoint(x: 50, y: 50)))
        #expect(!polygon.contains(PlanarPoint(x: 20, y: 20)), "inside the hole")
        #expect(!polygon.contains(PlanarPoint(x: 150, y: 50)))
        // Centroid by hand: (10000·(50,50) − 400·(20,20)) / 9600.
        let centre = polygon.centroid
        #expect(abs(centre.x - (10_000 * 50 - 400 * 20) / 9_600) < 1e-9)
        #expect(abs(centre.y - centre.x) < 1e-9)
        // Orientation does not matter.
        let clockwise = Polygon(outer: try Ring(Array(try square(0, 0, 100).points.reversed())))
        #expect(clockwise.area == 10_000)
        #expect(abs(clockwise.centroid.x - 50) < 1e-9)
    }

    @Test("distance to an area: zero inside, to the nearest edge outside, holes count as outside")
    func distance() throws {
        let area = MultiPolygon(Polygon(outer: try square(0, 0, 100), holes: [try square(40, 40, 20)]))
        #expect(area.distance(to: PlanarPoint(x: 10, y: 10)) == 0)
        #expect(area.distance(to: PlanarPoint(x: 103, y: 104)) == 5, "to the corner")
        #expect(area.distance(to: PlanarPoint(x: 50, y: -7)) == 7, "to the edge")
        #expect(area.distance(to: PlanarPoint(x: 50, y: 48)) == 8, "inside the hole: to its nearest edge")
    }

    @Test("a point on the border of two touching grids belongs to exactly one")
    func touchingBorders() throws {
        let grids = [MultiPolygon(Polygon(outer: try square(0, 0, 100))), MultiPolygon(Polygon(outer: try square(100, 0, 100))),
                     MultiPolygon(Polygon(outer: try square(0, 100, 100))), MultiPolygon(Polygon(outer: try square(100, 100, 100)))]
        var random = SplitMix64(state: 5)
        for _ in 0..<2_000 {
            // Points on the shared lines x = 100 or y = 100, and on the shared corner.
            let t = Double(Int.random(in: 1...199, using: &random))
            for point in [PlanarPoint(x: 100, y: t), PlanarPoint(x: t, y: 100), PlanarPoint(x: 100, y: 100)] {
                #expect(grids.count { $0.contains(point) } == 1, "\(point)")
            }
        }
    }

    @Test("rook and queen adjacency: shared edges, shared corners, neither")
    func adjacency() throws {
        let a = MultiPolygon(Polygon(outer: try square(0, 0, 100)))
        let right = MultiPolygon(Polygon(outer: try square(100, 20, 100)))   // shares 80 m of edge
        let corner = MultiPolygon(Polygon(outer: try square(100, 100, 50)))  // shares one point
        let apart = MultiPolygon(Polygon(outer: try square(300, 0, 100)))
        #expect(abs(a.sharedBoundaryLength(with: right) - 80) < 1e-9)
        #expect(abs(right.sharedBoundaryLength(with: a) - 80) < 1e-9)
        #expect(a.touches(right))
        #expect(a.sharedBoundaryLength(with: corner) == 0)
        #expect(a.touches(corner))
        #expect(!a.touches(apart) && a.sharedBoundaryLength(with: apart) == 0)
        // A grid in two parts is one area.
        let split = try MultiPolygon([Polygon(outer: try square(0, 0, 10)), Polygon(outer: try square(50, 0, 10))])
        #expect(split.area == 200)
        #expect(split.contains(PlanarPoint(x: 55, y: 5)) && !split.contains(PlanarPoint(x: 30, y: 5)))
        #expect(abs(split.centroid.x - 30) < 1e-9)
    }

    @Test("bad rings are refused")
    func badRings() {
        #expect(throws: GeoError.self) { try Ring([PlanarPoint(x: 0, y: 0), PlanarPoint(x: 1, y: 1), PlanarPoint(x: 0, y: 0)]) }
        #expect(throws: GeoError.self) { try Ring([PlanarPoint(x: 0, y: 0), PlanarPoint(x: .nan, y: 1), PlanarPoint(x: 2, y: 0)]) }
        #expect(throws: GeoError.self) { try MultiPolygon([]) }
    }

    @Test("the R-tree finds exactly the boxes a linear scan finds")
    func rtree() throws {
        var random = SplitMix64(state: 21)
        let boxes = (0..<3_000).map { _ in
            let x = Double.random(in: 0..<10_000, using: &random), y = Double.random(in: 0..<10_000, using: &random)
            return BoundingBox(minX: x, minY: y, maxX: x + Double.random(in: 1..<400, using: &random), maxY: y + Double.random(in: 1..<400, using: &random))
        }
        let index = SpatialIndex(boxes: boxes)
        for _ in 0..<500 {
            let p = PlanarPoint(x: Double.random(in: -100..<10_500, using: &random), y: Double.random(in: -100..<10_500, using: &random))
            let expected = boxes.indices.filter { boxes[$0].contains(p) }
            #expect(index.candidates(containing: p).sorted() == expected)
        }
        #expect(SpatialIndex(boxes: []).candidates(containing: PlanarPoint(x: 0, y: 0)).isEmpty)
    }

    @Test("nearest point equals a linear scan, inside and far outside the indexed area")
    func nearest() {
        var random = SplitMix64(state: 33)
        let points = (0..<2_000).map { _ in PlanarPoint(x: Double.random(in: 0..<20_000, using: &random), y: Double.random(in: 0..<8_000, using: &random)) }
        let index = PointIndex(points: points, cellSize: 300)
        for _ in 0..<500 {
            let p = PlanarPoint(x: Double.random(in: -5_000..<25_000, using: &random), y: Double.random(in: -5_000..<13_000, using: &random))
            let distances = points.map { (($0.x - p.x) * ($0.x - p.x) + ($0.y - p.y) * ($0.y - p.y)).squareRoot() }
            let best = distances.min()!
            let found = index.nearest(to: p)
            #expect(found?.distance == best)
            #expect(found.map { distances[$0.index] } == best)
        }
        #expect(PointIndex(points: []).nearest(to: PlanarPoint(x: 0, y: 0)) == nil)
    }
}
