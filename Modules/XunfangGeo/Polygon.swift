/// An axis-aligned rectangle in planar metres.
public struct BoundingBox: Hashable, Sendable {
    public var minX, minY, maxX, maxY: Double

    public init(minX: Double, minY: Double, maxX: Double, maxY: Double) {
        self.minX = minX
        self.minY = minY
        self.maxX = maxX
        self.maxY = maxY
    }

    public init<S: Sequence>(covering points: S) where S.Element == PlanarPoint {
        self.init(minX: .infinity, minY: .infinity, maxX: -.infinity, maxY: -.infinity)
        for point in points { expand(to: point) }
    }

    public static let empty = BoundingBox(minX: .infinity, minY: .infinity, maxX: -.infinity, maxY: -.infinity)

    public mutating func expand(to point: PlanarPoint) {
        minX = min(minX, point.x)
        minY = min(minY, point.y)
        maxX = max(maxX, point.x)
        maxY = max(maxY, point.y)
    }

    public func union(_ other: BoundingBox) -> BoundingBox {
        BoundingBox(minX: min(minX, other.minX), minY: min(minY, other.minY), maxX: max(maxX, other.maxX), maxY: max(maxY, other.maxY))
    }

    public func contains(_ point: PlanarPoint) -> Bool {
        point.x >= minX && point.x <= maxX && point.y >= minY && point.y <= maxY
    }

    public func intersects(_ other: BoundingBox) -> Bool {
        minX <= other.maxX && other.minX <= maxX && minY <= other.maxY && other.minY <= maxY
    }

    public func expanded(by margin: Double) -> BoundingBox {
        BoundingBox(minX: minX - margin, minY: minY - margin, maxX: maxX + margin, maxY: maxY + margin)
    }

    public var centre: PlanarPoint { PlanarPoint(x: (minX + maxX) / 2, y: (minY + maxY) / 2) }
}

/// A closed ring of planar points; the closing point is implied (a repeated first point
/// at the end is dropped on construction).
public struct Ring: Hashable, Sendable {
    public let points: [PlanarPoint]

    public init(_ points: [PlanarPoint]) throws(GeoError) {
        var points = points
        if points.count > 1, points.first == points.last { points.removeLast() }
        guard points.count >= 3 else { throw GeoError(.invalidInput, "a ring needs at least 3 distinct points, got \(points.count)") }
        guard points.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else { throw GeoError(.invalidInput, "a ring has a non-finite coordinate") }
        self.points = points
    }

    /// Shoelace area, positive when counter-clockwise.
    public var signedArea: Double {
        var sum = 0.0
        var previous = points[points.count - 1]
        for point in points {
            sum += previous.x * point.y - point.x * previous.y
            previous = point
        }
        return sum / 2
    }

    /// Edges as (start, end) pairs, the closing edge included.
    public var edges: Zip2Sequence<[PlanarPoint], [PlanarPoint]> {
        zip(points, Array(points.dropFirst()) + [points[0]])
    }

    /// Crossing-number test with half-open edges: every point strictly inside is in, and a
    /// point on an edge shared by two rings is in exactly one of them (left/bottom rule),
    /// so locating a point on a border between grids gives one answer, never two or none.
    func contains(_ p: PlanarPoint) -> Bool {
        var inside = false
        var previous = points[points.count - 1]
        for point in points {
            if (point.y > p.y) != (previous.y > p.y) {
                let x = point.x + (p.y - point.y) * (previous.x - point.x) / (previous.y - point.y)
                if p.x < x { inside.toggle() }
            }
            previous = point
        }
        return inside
    }
}

/// A polygon with holes.
public struct Polygon: Hashable, Sendable {
    public let outer: Ring
    public let holes: [Ring]
    public let bounds: BoundingBox

    public init(outer: Ring, holes: [Ring] = []) {
        self.outer = outer
        self.holes = holes
        bounds = BoundingBox(covering: outer.points)
    }

    public var area: Double { abs(outer.signedArea) - holes.reduce(0) { $0 + abs($1.signedArea) } }

    public func contains(_ point: PlanarPoint) -> Bool {
        bounds.contains(point) && outer.contains(point) && !holes.contains { $0.contains(point) }
    }

    /// Area-weighted centroid of the rings (holes subtract). Lies outside the polygon for
    /// crescent shapes, as a centroid does.
    public var centroid: PlanarPoint {
        var sumX = 0.0, sumY = 0.0, sumArea = 0.0
        for (ring, sign) in [(outer, 1.0)] + holes.map({ ($0, -1.0) }) {
            let orientation = ring.signedArea < 0 ? -1.0 : 1.0
            for (a, b) in ring.edges {
                let cross = (a.x * b.y - b.x * a.y) * orientation * sign
                sumX += (a.x + b.x) * cross
                sumY += (a.y + b.y) * cross
                sumArea += cross
            }
        }
        let area = sumArea / 2
        return PlanarPoint(x: sumX / (6 * area), y: sumY / (6 * area))
    }

    var rings: [Ring] { [outer] + holes }
}

/// One or more polygons treated as one area (a grid split by a river, say).
public struct MultiPolygon: Hashable, Sendable {
    public let polygons: [Polygon]
    public let bounds: BoundingBox

    public init(_ polygons: [Polygon]) throws(GeoError) {
        guard !polygons.isEmpty else { throw GeoError(.invalidInput, "a multipolygon needs at least one polygon") }
        self.polygons = polygons
        bounds = polygons.dropFirst().reduce(polygons[0].bounds) { $0.union($1.bounds) }
    }

    public init(_ polygon: Polygon) {
        polygons = [polygon]
        bounds = polygon.bounds
    }

    /// From GeoJSON-shaped rings (per polygon: the outer ring, then its holes), mapped to
    /// the plane by `project`.
    public init(rings polygons: [[[GeoPoint]]], project: (GeoPoint) -> PlanarPoint) throws(GeoError) {
        var parts: [Polygon] = []
        for rings in polygons {
            guard let outer = rings.first else { throw GeoError(.invalidInput, "a polygon has no rings") }
            var holes: [Ring] = []
            for hole in rings.dropFirst() { holes.append(try Ring(hole.map(project))) }
            parts.append(Polygon(outer: try Ring(outer.map(project)), holes: holes))
        }
        try self.init(parts)
    }

    public var area: Double { polygons.reduce(0) { $0 + $1.area } }

    public func contains(_ point: PlanarPoint) -> Bool {
        bounds.contains(point) && polygons.contains { $0.contains(point) }
    }

    /// How far `point` is from the area: 0 inside, else the distance to the nearest edge.
    public func distance(to point: PlanarPoint) -> Double {
        guard !contains(point) else { return 0 }
        var nearest = Double.infinity
        for polygon in polygons {
            for ring in polygon.rings {
                for (a, b) in ring.edges { nearest = min(nearest, point.distance(toSegment: a, b)) }
            }
        }
        return nearest
    }

    public var centroid: PlanarPoint {
        var x = 0.0, y = 0.0, total = 0.0
        for polygon in polygons {
            let area = polygon.area
            let centre = polygon.centroid
            x += centre.x * area
            y += centre.y * area
            total += area
        }
        return PlanarPoint(x: x / total, y: y / total)
    }

    /// The length of boundary the two areas share (overlapping collinear edges), metres.
    /// Positive means rook contiguity.
    public func sharedBoundaryLength(with other: MultiPolygon, tolerance: Double = 0.01) -> Double {
        guard bounds.expanded(by: tolerance).intersects(other.bounds) else { return 0 }
        var total = 0.0
        for ring in polygons.flatMap(\.rings) {
            for (a, b) in ring.edges {
                let edgeBox = BoundingBox(covering: [a, b]).expanded(by: tolerance)
                guard edgeBox.intersects(other.bounds) else { continue }
                for otherRing in other.polygons.flatMap(\.rings) {
                    for (c, d) in otherRing.edges {
                        total += collinearOverlap(a, b, c, d, tolerance: tolerance)
                    }
                }
            }
        }
        return total
    }

    /// True when the areas share at least a point of boundary: a vertex on the other's
    /// boundary or an overlapping edge (queen contiguity).
    public func touches(_ other: MultiPolygon, tolerance: Double = 0.01) -> Bool {
        guard bounds.expanded(by: tolerance).intersects(other.bounds) else { return false }
        let mine = polygons.flatMap(\.rings), theirs = other.polygons.flatMap(\.rings)
        for ring in mine {
            for point in ring.points where theirs.contains(where: { onBoundary(point, $0, tolerance: tolerance) }) { return true }
        }
        for ring in theirs {
            for point in ring.points where mine.contains(where: { onBoundary(point, $0, tolerance: tolerance) }) { return true }
        }
        return false
    }
}

private func onBoundary(_ p: PlanarPoint, _ ring: Ring, tolerance: Double) -> Bool {
    ring.edges.contains { p.distance(toSegment: $0, $1) <= tolerance }
}

/// Length of the overlap of segments ab and cd when they lie on one line (within
/// `tolerance`), else 0.
private func collinearOverlap(_ a: PlanarPoint, _ b: PlanarPoint, _ c: PlanarPoint, _ d: PlanarPoint, tolerance: Double) -> Double {
    let dx = b.x - a.x, dy = b.y - a.y
    let length = (dx * dx + dy * dy).squareRoot()
    guard length > 0 else { return 0 }
    // Both ends of cd within tolerance of the line through ab.
    let distanceC = abs((c.x - a.x) * dy - (c.y - a.y) * dx) / length
    let distanceD = abs((d.x - a.x) * dy - (d.y - a.y) * dx) / length
    guard distanceC <= tolerance, distanceD <= tolerance else { return 0 }
    let tc = ((c.x - a.x) * dx + (c.y - a.y) * dy) / length
    let td = ((d.x - a.x) * dx + (d.y - a.y) * dy) / length
    let overlap = min(length, max(tc, td)) - max(0, min(tc, td))
    return overlap > tolerance ? overlap : 0
}
