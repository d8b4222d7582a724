import Foundation
public import XunfangGeo

/// Square cells over incident positions: anchored on a fixed 0.1° origin so that cell ids
/// stay the same from day to day, and spanning the occupied cells plus a kilometre all
/// round, so that even a lone cluster has quiet surroundings to stand out from.
public struct CellLattice: Sendable {
    public let cellMetres: Double
    let projection: LocalProjection
    let minColumn: Int, minRow: Int
    public let columns: Int, rows: Int

    public var count: Int { rows * columns }

    /// Nil for fewer than one position or a lattice larger than a million cells (a county, not a continent).
    public init?(covering positions: [GeoPoint], cellMetres: Double = 250) {
        guard !positions.isEmpty else { return nil }
        let meanLon = positions.reduce(0) { $0 + $1.longitude } / Double(positions.count)
        let meanLat = positions.reduce(0) { $0 + $1.latitude } / Double(positions.count)
        let projection = LocalProjection(origin: GeoPoint(longitude: (meanLon * 10).rounded(.down) / 10, latitude: (meanLat * 10).rounded(.down) / 10))
        self.projection = projection
        self.cellMetres = cellMetres
        let keys = positions.map { Self.key(projection.project($0), cellMetres) }
        let margin = max(1, Int((1_000 / cellMetres).rounded(.up)))
        minColumn = keys.map(\.0).min()! - margin
        minRow = keys.map(\.1).min()! - margin
        columns = keys.map(\.0).max()! + margin - minColumn + 1
        rows = keys.map(\.1).max()! + margin - minRow + 1
        guard rows * columns <= 1_000_000 else { return nil }
    }

    static func key(_ point: PlanarPoint, _ size: Double) -> (Int, Int) {
        (Int((point.x / size).rounded(.down)), Int((point.y / size).rounded(.down)))
    }

    /// The cell a position lies in (row by row), or nil outside the lattice.
    public func index(of position: GeoPoint) -> Int? {
        let (column, row) = Self.key(projection.project(position), cellMetres)
        guard column >= minColumn, column < minColumn + columns, row >= minRow, row < minRow + rows else { return nil }
        return (row - minRow) * columns + (column - minColumn)
    }

    public func id(of index: Int) -> String { "c\(index % columns + minColumn)_\(index / columns + minRow)" }

    public func centre(of index: Int) -> GeoPoint {
        let column = index % columns + minColumn, row = index / columns + minRow
        return projection.unproject(PlanarPoint(x: (Double(column) + 0.5) * cellMetres, y: (Double(row) + 0.5) * cellMetres))
    }

    public var weights: SpatialWeights { .queenLattice(rows: rows, columns: columns) }

    /// Incidents per cell, and the station with most of them in each.
    public func counts(_ incidents: [(position: GeoPoint, station: String)]) -> (counts: [Double], stations: [Int: String]) {
        var counts = [Double](repeating: 0, count: count)
        var tally = [Int: [String: Int]]()
        for incident in incidents {
            guard let index = index(of: incident.position) else { continue }
            counts[index] += 1
            tally[index, default: [:]][incident.station, default: 0] += 1
        }
        return (counts, tally.mapValues { $0.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }!.key })
    }
}

/// Hot cells for patrol dosage: incidents counted on a lattice of square cells, Getis–Ord
/// Gi* (queen neighbours, the cell itself included) with conditional permutations, and
/// the cells whose counts are significantly high kept: pseudo p at most `alpha`, and the
/// one-sided normal p among Benjamini–Hochberg's discoveries at `alpha` across the cells
/// with two incidents or more, so that among sparse counts a lone pair of incidents is
/// not called a hot spot.
public enum HotCells {
    public struct Cell: Sendable, Hashable {
        public var id: String
        public var centre: GeoPoint
        public var station: String
        public var incidents: Int
        public var z: Double
        public var p: Double
    }

    public static func find(_ incidents: [(position: GeoPoint, station: String)], cellMetres: Double = 250, permutations: Int = 99,
                            alpha: Double = 0.01, seed: UInt64 = 1) -> [Cell] {
        guard incidents.count >= 3, let lattice = CellLattice(covering: incidents.map(\.position), cellMetres: cellMetres) else { return [] }
        let (counts, stations) = lattice.counts(incidents)
        let scores = SpatialStatistics.giStar(counts, weights: lattice.weights, permutations: permutations, seed: seed)
        // The family tested is the cells that could be hot (two incidents or more).
        let candidates = counts.indices.filter { counts[$0] >= 2 }
        let discoveries = SpatialStatistics.benjaminiHochberg(candidates.map { 1 - SpatialStatistics.normalCDF(scores[$0].z) }, alpha: alpha)
        let discovered = Set(zip(candidates, discoveries).filter(\.1).map(\.0))
        return counts.indices.compactMap { index -> Cell? in
            let score = scores[index]
            guard discovered.contains(index), score.z > 0, let p = score.pSimulated, p <= alpha else { return nil }
            return Cell(id: lattice.id(of: index), centre: lattice.centre(of: index), station: stations[index] ?? "",
                        incidents: Int(counts[index]), z: score.z, p: p)
        }
    }
}

/// Emerging hot spots: Gi* z per cell for each weekly slice, and each cell with
/// incidents classified from its series (`Trends.emerging`: new, intensifying,
/// persistent, diminishing, sporadic). A slice is hot where z ≥ 1.96 (p < 0.05, one-sided
/// normal) with at least one incident in the cell that week.
public enum EmergingHotSpots {
    public struct Cell: Sendable, Hashable {
        public var id: String
        public var centre: GeoPoint
        public var station: String
        public var kind: Trends.EmergingClass
        /// Oldest first.
        public var z: [Double]
        public var trend: Trends.MannKendall
    }

    /// - Parameter incidents: each with its slice (0 = oldest).
    public static func find(_ incidents: [(position: GeoPoint, station: String, slice: Int)], slices: Int, cellMetres: Double = 250) -> [Cell] {
        guard slices >= 2, let lattice = CellLattice(covering: incidents.map(\.position), cellMetres: cellMetres) else { return [] }
        let weights = lattice.weights
        let all = lattice.counts(incidents.map { ($0.position, $0.station) })
        var z = [[Double]](repeating: [], count: lattice.count)
        var hot = [[Bool]](repeating: [], count: lattice.count)
        for slice in 0..<slices {
            let counts = lattice.counts(incidents.filter { $0.slice == slice }.map { ($0.position, $0.station) }).counts
            let scores = counts.allSatisfy({ $0 == 0 }) ? [SpatialStatistics.Local](repeating: .init(value: 0, z: 0, pSimulated: nil), count: counts.count)
                : SpatialStatistics.giStar(counts, weights: weights)
            for index in counts.indices {
                z[index].append(scores[index].z)
                hot[index].append(scores[index].z >= 1.96 && counts[index] > 0)
            }
        }
        return all.counts.indices.compactMap { index -> Cell? in
            guard all.counts[index] > 0 else { return nil }
            let kind = Trends.emerging(z: z[index], hot: hot[index])
            guard kind != .notSignificant else { return nil }
            return Cell(id: lattice.id(of: index), centre: lattice.centre(of: index), station: all.stations[index] ?? "", kind: kind,
                        z: z[index], trend: Trends.mannKendall(z[index]))
        }
    }
}
