import Foundation
public import XunfangGeo

/// Hot cells for patrol dosage: incidents counted on a lattice of square cells, Getis–Ord
/// Gi* (queen neighbours, the cell itself included) with conditional permutations, and
/// the cells whose counts are significantly high kept: pseudo p at most `alpha`, and the
/// one-sided normal p among Benjamini–Hochberg's discoveries at `alpha` across the cells
/// with two incidents or more,
/// so that among sparse counts a lone pair of incidents is not called a hot spot.
public enum HotCells {
    public struct Cell: Sendable, Hashable {
        public var id: String
        public var centre: GeoPoint
        public var station: String
        public var incidents: Int
        public var z: Double
        public var p: Double
    }

    /// - Parameters:
    ///   - incidents: positions with the station each was in.
    ///   - cellMetres: side of a cell; cells are anchored on a fixed 0.1° origin so that ids
    ///     stay the same from day to day.
    public static func find(_ incidents: [(position: GeoPoint, station: String)], cellMetres: Double = 250, permutations: Int = 99,
                            alpha: Double = 0.01, seed: UInt64 = 1) -> [Cell] {
        guard incidents.count >= 3 else { return [] }
        let meanLon = incidents.reduce(0) { $0 + $1.position.longitude } / Double(incidents.count)
        let meanLat = incidents.reduce(0) { $0 + $1.position.latitude } / Double(incidents.count)
        let origin = GeoPoint(longitude: (meanLon * 10).rounded(.down) / 10, latitude: (meanLat * 10).rounded(.down) / 10)
        let projection = LocalProjection(origin: origin)
        let keys = incidents.map { incident -> (Int, Int) in
            let point = projection.project(incident.position)
            return (Int((point.x / cellMetres).rounded(.down)), Int((point.y / cellMetres).rounded(.down)))
        }
        // The lattice spans the occupied cells and a kilometre more all round, so that even
        // a lone cluster has quiet surroundings to stand out from.
        let margin = max(1, Int((1_000 / cellMetres).rounded(.up)))
        let minColumn = keys.map(\.0).min()! - margin, maxColumn = keys.map(\.0).max()! + margin
        let minRow = keys.map(\.1).min()! - margin, maxRow = keys.map(\.1).max()! + margin
        let columns = maxColumn - minColumn + 1, rows = maxRow - minRow + 1
        guard rows * columns <= 1_000_000 else { return [] }  // a county, not a continent
        var counts = [Double](repeating: 0, count: rows * columns)
        var stations = [Int: [String: Int]]()
        for (key, incident) in zip(keys, incidents) {
            let index = (key.1 - minRow) * columns + (key.0 - minColumn)
            counts[index] += 1
            stations[index, default: [:]][incident.station, default: 0] += 1
        }
        let scores = SpatialStatistics.giStar(counts, weights: .queenLattice(rows: rows, columns: columns), permutations: permutations, seed: seed)
        // The family tested is the cells that could be hot (two incidents or more).
        let candidates = counts.indices.filter { counts[$0] >= 2 }
        let discoveries = SpatialStatistics.benjaminiHochberg(candidates.map { 1 - SpatialStatistics.normalCDF(scores[$0].z) }, alpha: alpha)
        let discovered = Set(zip(candidates, discoveries).filter(\.1).map(\.0))
        return counts.indices.compactMap { index -> Cell? in
            let score = scores[index]
            guard discovered.contains(index), score.z > 0, let p = score.pSimulated, p <= alpha else { return nil }
            let column = index % columns + minColumn, row = index / columns + minRow
            let centre = projection.unproject(PlanarPoint(x: (Double(column) + 0.5) * cellMetres, y: (Double(row) + 0.5) * cellMetres))
            let station = stations[index]!.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }!.key
            return Cell(id: "c\(column)_\(row)", centre: centre, station: station, incidents: Int(counts[index]), z: score.z, p: p)
        }
    }
}
