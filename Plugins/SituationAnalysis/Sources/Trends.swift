import Foundation
public import XunfangGeo

/// Trends over time and density over space, for emerging hot spots and heat maps.
public enum Trends {
    public struct MannKendall: Sendable, Hashable {
        public var s: Int
        public var variance: Double
        public var z: Double
        /// Two-sided.
        public var p: Double
    }

    /// The Mann–Kendall trend test: S = Σ_{i<j} sign(x_j − x_i), its variance corrected for
    /// ties, and z with the continuity correction.
    public static func mannKendall(_ series: [Double]) -> MannKendall {
        let n = series.count
        var s = 0
        for i in 0..<n {
            for j in (i + 1)..<max(i + 1, n) { s += series[j] > series[i] ? 1 : series[j] < series[i] ? -1 : 0 }
        }
        var ties: [Double: Int] = [:]
        for value in series { ties[value, default: 0] += 1 }
        let tieTerm = ties.values.filter { $0 > 1 }.reduce(0.0) { $0 + Double($1 * ($1 - 1) * (2 * $1 + 5)) }
        let variance = (Double(n * (n - 1) * (2 * n + 5)) - tieTerm) / 18
        let z = variance > 0 ? (s > 0 ? Double(s - 1) : s < 0 ? Double(s + 1) : 0) / variance.squareRoot() : 0
        return MannKendall(s: s, variance: variance, z: z, p: 2 * (1 - SpatialStatistics.normalCDF(abs(z))))
    }

    public enum EmergingClass: String, Sendable, Hashable, CaseIterable {
        case new, intensifying, persistent, diminishing, sporadic
        case notSignificant = "not significant"
    }

    /// Classifies one cell from its Gi* z scores per time slice (oldest first) and whether
    /// each was a significant hot spot:
    /// - new: hot in the last slice only;
    /// - intensifying / persistent / diminishing: hot in at least 90% of slices including
    ///   the last, with a significant rising / no / falling Mann–Kendall trend in z;
    /// - sporadic: hot in the last slice, on and off before;
    /// - not significant: anything else (never hot, or not hot now).
    public static func emerging(z: [Double], hot: [Bool], alpha: Double = 0.05) -> EmergingClass {
        guard let last = hot.last, last else { return .notSignificant }
        let hotCount = hot.count { $0 }
        if hotCount == 1 { return .new }
        if Double(hotCount) >= 0.9 * Double(hot.count) {
            let trend = mannKendall(z)
            if trend.p < alpha { return trend.z > 0 ? .intensifying : .diminishing }
            return .persistent
        }
        return .sporadic
    }

    public struct Density: Sendable, Hashable {
        public var origin: PlanarPoint
        public var cellSize: Double
        public var columns: Int
        public var rows: Int
        /// Row-major, south to north: events per square unit at each cell's centre.
        public var values: [Double]
    }

    /// Kernel density with the quartic (biweight) kernel K(d) = 3/(πh²)·(1 − d²/h²)² for
    /// d < h, on a regular grid over `bounds`. Each point adds its weight; the surface
    /// integrates to the total weight (less what falls outside the bounds).
    public static func kernelDensity(_ points: [(PlanarPoint, Double)], bandwidth h: Double, cellSize: Double, bounds: BoundingBox) -> Density {
        let columns = max(1, Int(((bounds.maxX - bounds.minX) / cellSize).rounded(.up)))
        let rows = max(1, Int(((bounds.maxY - bounds.minY) / cellSize).rounded(.up)))
        var values = [Double](repeating: 0, count: columns * rows)
        let norm = 3 / (Double.pi * h * h)
        for (point, weight) in points {
            let firstColumn = max(0, Int(((point.x - h - bounds.minX) / cellSize).rounded(.down)))
            let lastColumn = min(columns - 1, Int(((point.x + h - bounds.minX) / cellSize).rounded(.down)))
            let firstRow = max(0, Int(((point.y - h - bounds.minY) / cellSize).rounded(.down)))
            let lastRow = min(rows - 1, Int(((point.y + h - bounds.minY) / cellSize).rounded(.down)))
            guard firstColumn <= lastColumn, firstRow <= lastRow else { continue }
            for row in firstRow...lastRow {
                let y = bounds.minY + (Double(row) + 0.5) * cellSize
                for column in firstColumn...lastColumn {
                    let x = bounds.minX + (Double(column) + 0.5) * cellSize
                    let d2 = ((x - point.x) * (x - point.x) + (y - point.y) * (y - point.y)) / (h * h)
                    if d2 < 1 { values[row * columns + column] += weight * norm * (1 - d2) * (1 - d2) }
                }
            }
        }
        return Density(origin: PlanarPoint(x: bounds.minX, y: bounds.minY), cellSize: cellSize, columns: columns, rows: rows, values: values)
    }
}
