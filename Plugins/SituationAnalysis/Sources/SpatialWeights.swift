public import XunfangGeo

/// Who neighbours whom, and how much: sparse rows, one per area or point.
public struct SpatialWeights: Sendable, Hashable {
    public let neighbors: [[Int]]
    public let weights: [[Double]]

    public var count: Int { neighbors.count }

    public init(neighbors: [[Int]], weights: [[Double]]) {
        precondition(neighbors.count == weights.count && zip(neighbors, weights).allSatisfy { $0.count == $1.count }, "ragged weights")
        self.neighbors = neighbors
        self.weights = weights
    }

    /// Binary contiguity between areas: queen (any shared boundary point) or rook (a shared
    /// edge of positive length). `tolerance` is in the areas' planar units.
    public static func contiguity(_ areas: [MultiPolygon], rook: Bool, tolerance: Double) -> SpatialWeights {
        let index = SpatialIndex(boxes: areas.map(\.bounds))
        var neighbors = [[Int]](repeating: [], count: areas.count)
        for i in areas.indices {
            for j in index.candidates(intersecting: areas[i].bounds.expanded(by: tolerance)) where j > i {
                let adjacent = rook ? areas[i].sharedBoundaryLength(with: areas[j], tolerance: tolerance) > tolerance
                                    : areas[i].touches(areas[j], tolerance: tolerance)
                if adjacent {
                    neighbors[i].append(j)
                    neighbors[j].append(i)
                }
            }
        }
        return binary(neighbors.map { $0.sorted() })
    }

    /// The k nearest other points of each point (ties broken by index), binary.
    public static func nearest(_ points: [PlanarPoint], k: Int) -> SpatialWeights {
        binary(points.indices.map { i in
            points.indices.filter { $0 != i }
                .map { j in (j, (points[j].x - points[i].x) * (points[j].x - points[i].x) + (points[j].y - points[i].y) * (points[j].y - points[i].y)) }
                .sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(k).map(\.0).sorted()
        })
    }

    /// Every other point within `threshold` (inclusive), binary.
    public static func distanceBand(_ points: [PlanarPoint], threshold: Double) -> SpatialWeights {
        binary(points.indices.map { i in
            points.indices.filter { j in
                j != i && ((points[j].x - points[i].x) * (points[j].x - points[i].x) + (points[j].y - points[i].y) * (points[j].y - points[i].y)).squareRoot() <= threshold
            }
        })
    }

    /// Queen contiguity on a rows × columns lattice of cells numbered row by row (as
    /// libpysal's lat2W(rook=False) numbers them), binary.
    public static func queenLattice(rows: Int, columns: Int) -> SpatialWeights {
        var neighbours = [[Int]](repeating: [], count: rows * columns)
        for row in 0..<rows {
            for column in 0..<columns {
                for dr in -1...1 {
                    for dc in -1...1 where !(dr == 0 && dc == 0) {
                        let r = row + dr, c = column + dc
                        if r >= 0, r < rows, c >= 0, c < columns { neighbours[row * columns + column].append(r * columns + c) }
                    }
                }
            }
        }
        return binary(neighbours)
    }

    static func binary(_ neighbors: [[Int]]) -> SpatialWeights {
        SpatialWeights(neighbors: neighbors, weights: neighbors.map { [Double](repeating: 1, count: $0.count) })
    }

    /// Each row divided by its sum (rows without neighbours stay empty).
    public func rowStandardized() -> SpatialWeights {
        SpatialWeights(neighbors: neighbors, weights: weights.map { row in
            let sum = row.reduce(0, +)
            return sum > 0 ? row.map { $0 / sum } : row
        })
    }

    /// Each area as its own neighbour with weight `value` (for Gi*).
    public func withSelf(_ value: Double = 1) -> SpatialWeights {
        SpatialWeights(neighbors: neighbors.enumerated().map { [$0.offset] + $0.element },
                       weights: weights.map { [value] + $0 })
    }

    public var s0: Double { weights.joined().reduce(0, +) }

    /// S1 = ½ Σ (w_ij + w_ji)², S2 = Σ_i (w_i· + w_·i)².
    public var s1s2: (s1: Double, s2: Double) {
        var pair: [Int: Double] = [:]
        var rowSums = [Double](repeating: 0, count: count), columnSums = [Double](repeating: 0, count: count)
        for i in neighbors.indices {
            for (j, w) in zip(neighbors[i], weights[i]) {
                let key = min(i, j) * count + max(i, j)
                pair[key, default: 0] += w
                rowSums[i] += w
                columnSums[j] += w
            }
        }
        // Each unordered pair {i, j} collected w_ij + w_ji; a diagonal entry counts twice in the sum.
        var s1 = 0.0
        for (key, sum) in pair {
            let diagonal = key / count == key % count
            s1 += diagonal ? 2 * sum * sum : sum * sum
        }
        let s2 = zip(rowSums, columnSums).reduce(0) { $0 + ($1.0 + $1.1) * ($1.0 + $1.1) }
        return (s1, s2)
    }

    /// Σ_j w_ij x_j for each i.
    public func lag(_ values: [Double]) -> [Double] {
        neighbors.indices.map { i in zip(neighbors[i], weights[i]).reduce(0) { $0 + $1.1 * values[$1.0] } }
    }
}
