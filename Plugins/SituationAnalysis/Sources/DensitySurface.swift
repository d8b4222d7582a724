public import XunfangGeo

/// A kernel density surface of incidents (quartic kernel, `Trends.kernelDensity`) on a
/// regular grid of square cells in a local projection, with what a map needs: each
/// cell's corners in WGS84 and its value in incidents per km².
public struct DensitySurface: Sendable, Hashable {
    public var projection: LocalProjection
    /// The south-west corner of the first cell, in the projection's metres.
    public var corner: PlanarPoint
    public var cellMetres: Double
    public var bandwidthMetres: Double
    public var columns: Int
    public var rows: Int
    /// Row-major, south to north, west to east: incidents per km² at each cell's centre.
    public var perKm2: [Double]
    public var incidents: Int

    public static let maxCells = 250_000
    public static let bandwidths = 50.0...5_000.0
    public static let cellSizes = 10.0...1_000.0

    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The surface over the incidents' extent widened by the bandwidth; none for no incidents.
    public static func make(_ points: [GeoPoint], bandwidthMetres h: Double, cellMetres: Double) throws(Refusal) -> DensitySurface? {
        guard bandwidths.contains(h) else { throw Refusal(message: "bandwidth \(h) m is outside \(Int(bandwidths.lowerBound))…\(Int(bandwidths.upperBound)) m") }
        guard cellSizes.contains(cellMetres) else { throw Refusal(message: "cell \(cellMetres) m is outside \(Int(cellSizes.lowerBound))…\(Int(cellSizes.upperBound)) m") }
        guard let middle = GeoPoint.middle(of: points) else { return nil }
        let projection = LocalProjection(origin: middle)
        let planar = points.map(projection.project)
        let bounds = BoundingBox(minX: planar.map(\.x).min()! - h, minY: planar.map(\.y).min()! - h,
                                 maxX: planar.map(\.x).max()! + h, maxY: planar.map(\.y).max()! + h)
        let columns = Int(((bounds.maxX - bounds.minX) / cellMetres).rounded(.up)), rows = Int(((bounds.maxY - bounds.minY) / cellMetres).rounded(.up))
        guard columns * rows <= maxCells else {
            throw Refusal(message: "\(columns) × \(rows) cells of \(Int(cellMetres)) m is more than \(maxCells); use larger cells or fewer days")
        }
        let density = Trends.kernelDensity(planar.map { ($0, 1) }, bandwidth: h, cellSize: cellMetres, bounds: bounds)
        return DensitySurface(projection: projection, corner: density.origin, cellMetres: cellMetres, bandwidthMetres: h, columns: density.columns,
                              rows: density.rows, perKm2: density.values.map { $0 * 1_000_000 }, incidents: points.count)
    }

    /// The cell's corners in WGS84, south-west first, anticlockwise.
    public func corners(column: Int, row: Int) -> [GeoPoint] {
        let x = corner.x + Double(column) * cellMetres, y = corner.y + Double(row) * cellMetres
        return [(x, y), (x + cellMetres, y), (x + cellMetres, y + cellMetres), (x, y + cellMetres)]
            .map { projection.unproject(PlanarPoint(x: $0.0, y: $0.1)) }
    }

    public func centre(column: Int, row: Int) -> GeoPoint {
        projection.unproject(PlanarPoint(x: corner.x + (Double(column) + 0.5) * cellMetres, y: corner.y + (Double(row) + 0.5) * cellMetres))
    }

    /// The densest places, densest first: cells no lower than any neighbour, each at least
    /// a bandwidth from a denser one kept (one bump, one peak).
    public func peaks(_ count: Int) -> [(column: Int, row: Int, perKm2: Double)] {
        func value(_ column: Int, _ row: Int) -> Double {
            column >= 0 && column < columns && row >= 0 && row < rows ? perKm2[row * columns + column] : 0
        }
        var candidates: [(column: Int, row: Int, perKm2: Double)] = []
        for row in 0..<rows {
            for column in 0..<columns {
                let here = value(column, row)
                guard here > 0 else { continue }
                let highest = (-1...1).allSatisfy { dy in (-1...1).allSatisfy { dx in value(column + dx, row + dy) <= here } }
                if highest { candidates.append((column, row, here)) }
            }
        }
        let apart = bandwidthMetres / cellMetres
        var kept: [(column: Int, row: Int, perKm2: Double)] = []
        for candidate in candidates.sorted(by: { $0.perKm2 > $1.perKm2 }) where kept.count < count {
            let far = kept.allSatisfy { other in
                let dx = Double(other.column - candidate.column), dy = Double(other.row - candidate.row)
                return (dx * dx + dy * dy).squareRoot() >= apart
            }
            if far { kept.append(candidate) }
        }
        return kept
    }

    /// Cells at or above `share` of the peak as a GeoJSON FeatureCollection of squares with
    /// their `per_km2`, for QGIS or a web map.
    public func geoJSON(minimumShare share: Double = 0.05) -> [String: Any] {
        let top = perKm2.max() ?? 0
        var features: [[String: Any]] = []
        for row in 0..<rows {
            for column in 0..<columns where top > 0 && perKm2[row * columns + column] >= share * top {
                let square = corners(column: column, row: row)
                let ring = (square + [square[0]]).map { [$0.longitude, $0.latitude] }
                features.append(["type": "Feature", "geometry": ["type": "Polygon", "coordinates": [ring]],
                                 "properties": ["per_km2": perKm2[row * columns + column]]])
            }
        }
        return ["type": "FeatureCollection", "features": features,
                "properties": ["bandwidth_metres": bandwidthMetres, "cell_metres": cellMetres, "incidents": incidents, "kernel": "quartic"]]
    }
}
