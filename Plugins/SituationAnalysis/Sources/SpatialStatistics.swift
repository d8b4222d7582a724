import Foundation
import XunfangGeo

/// A buffer shared by workers that each write their own disjoint indices.
struct UncheckedBuffer: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Double>
    init(_ buffer: UnsafeMutableBufferPointer<Double>) { self.buffer = buffer }
}

/// Spatial autocorrelation and hot-spot statistics, in the forms PySAL's esda computes,
/// so that results can be checked against it (Benchmarks/scripts/esda_crosscheck.py).
public enum SpatialStatistics {
    public struct GlobalMoran: Sendable, Hashable {
        public var i: Double
        public var expected: Double
        /// Variance under the normality assumption.
        public var variance: Double
        public var z: Double
        /// Two-sided, from the normal approximation.
        public var p: Double
    }

    /// Global Moran's I = n/S0 · zᵀWz / zᵀz, with E[I] = −1/(n−1) and its variance under
    /// normality (Cliff and Ord).
    public static func moran(_ values: [Double], weights: SpatialWeights) -> GlobalMoran {
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        let z = values.map { $0 - mean }
        let lag = weights.lag(z)
        let s0 = weights.s0
        let numerator = zip(z, lag).reduce(0) { $0 + $1.0 * $1.1 }
        let denominator = z.reduce(0) { $0 + $1 * $1 }
        let i = n / s0 * numerator / denominator
        let expected = -1 / (n - 1)
        let (s1, s2) = weights.s1s2
        let variance = (n * n * s1 - n * s2 + 3 * s0 * s0) / ((n - 1) * (n + 1) * s0 * s0) - expected * expected
        let score = (i - expected) / variance.squareRoot()
        return GlobalMoran(i: i, expected: expected, variance: variance, z: score, p: 2 * (1 - normalCDF(abs(score))))
    }

    public struct Local: Sendable, Hashable {
        public var value: Double
        /// Standard normal score (Gi*) or 0 where none is defined (local Moran).
        public var z: Double
        /// Conditional-permutation pseudo p-value (folded: the smaller tail), or nil without permutations.
        public var pSimulated: Double?
    }

    /// Local Moran's I_i = (n−1) · z_i · Σ_j w_ij z_j / Σ z² (esda's adjusted form).
    public static func localMoran(_ values: [Double], weights: SpatialWeights, permutations: Int = 0, seed: UInt64 = 1) -> [Local] {
        let n = values.count
        let mean = values.reduce(0, +) / Double(n)
        let z = values.map { $0 - mean }
        let denominator = z.reduce(0) { $0 + $1 * $1 }
        let scale = Double(n - 1) / denominator
        let lag = weights.lag(z)
        let observed = (0..<n).map { scale * z[$0] * lag[$0] }
        // I_i grows with the lag where z_i > 0 and shrinks where z_i < 0.
        let simulated = permutationP(z, neighbors: weights.neighbors, rows: weights.weights, observedLag: lag,
                                     direction: z.map { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 }, permutations: permutations, seed: seed)
        return (0..<n).map { Local(value: observed[$0], z: 0, pSimulated: simulated?[$0]) }
    }

    /// Getis–Ord Gi*: the standard normal score of Σ_j w_ij x_j around its expectation,
    /// with the area itself among its neighbours.
    /// - Classic form: binary weights plus self (w_ii = 1), variance with S1_i = Σ_j w_ij².
    /// - `rowStandardize`: esda's convention (`transform="R"`, `star=True` on binary weights):
    ///   self-weight 1, each row then divided by its sum, and the variance written with the
    ///   row sum W_i (= 1) in place of S1_i, so z_i = (Σ_j w_ij x_j − x̄) / s.
    public static func giStar(_ values: [Double], weights: SpatialWeights, rowStandardize: Bool = false,
                              permutations: Int = 0, seed: UInt64 = 1) -> [Local] {
        let w = rowStandardize ? weights.withSelf().rowStandardized() : weights.withSelf()
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        let s = (values.reduce(0) { $0 + $1 * $1 } / n - mean * mean).squareRoot()
        let lag = w.lag(values)
        func score(_ i: Int, _ sum: Double) -> Double {
            let wi = w.weights[i].reduce(0, +)
            let s1i = rowStandardize ? wi : w.weights[i].reduce(0) { $0 + $1 * $1 }
            let spread = s * ((n * s1i - wi * wi) / (n - 1)).squareRoot()
            return spread > 0 ? (sum - mean * wi) / spread : 0
        }
        let observed = values.indices.map { score($0, lag[$0]) }
        // Permutations keep x_i in place (it is its own neighbour) and shuffle the rest;
        // Gi* grows with the neighbours' part of the lag wherever its spread is not 0.
        let rows = w.weights.map { Array($0.dropFirst()) }
        let neighbourLag = values.indices.map { lag[$0] - w.weights[$0][0] * values[$0] }
        let simulated = permutationP(values, neighbors: weights.neighbors, rows: rows, observedLag: neighbourLag,
                                     direction: values.indices.map { score($0, lag[$0] + 1) > score($0, lag[$0]) ? 1 : 0 },
                                     permutations: permutations, seed: seed)
        return values.indices.map { Local(value: lag[$0], z: observed[$0], pSimulated: simulated?[$0]) }
    }

    /// Conditional randomisation: for each area, its neighbours' values are replaced by
    /// draws (without replacement) from all the other areas' values, `permutations` times;
    /// the pseudo p-value is (folded count of draws at least as extreme + 1) / (permutations + 1),
    /// as esda reports it. `rows` are the neighbour weights the lag uses.
    ///
    /// As in esda, one table of draws serves every area: row p holds k_max distinct
    /// indices into "the other n − 1 areas", which for area i skip i itself. Each statistic
    /// here is monotone in the lag (Gi* increasing; local Moran increasing or decreasing
    /// with the sign of z_i), so a draw is compared by its lag against the observed lag,
    /// not through the statistic, and areas are split across the cores.
    static func permutationP(_ values: [Double], neighbors: [[Int]], rows: [[Double]], observedLag: [Double], direction: [Int],
                             permutations: Int, seed: UInt64) -> [Double]? {
        guard permutations > 0 else { return nil }
        let n = values.count
        let maxK = neighbors.map(\.count).max() ?? 0
        let draws = permutationDraws(n: n, k: maxK, permutations: permutations, seed: seed)
        var result = [Double](repeating: 1, count: n)
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, n / 256))
        result.withUnsafeMutableBufferPointer { result in
            let output = UncheckedBuffer(result)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                values.withUnsafeBufferPointer { values in
                    draws.withUnsafeBufferPointer { draws in
                        for i in stride(from: worker, to: n, by: workers) {
                            let k = neighbors[i].count
                            let weights = rows[i]
                            let target = observedLag[i]
                            var larger = 0
                            if direction[i] == 0 || k == 0 {
                                larger = permutations  // the statistic does not move: every draw ties
                            } else {
                                for p in 0..<permutations {
                                    let row = p * maxK
                                    var lag = 0.0
                                    for position in 0..<k {
                                        let r = Int(draws[row + position])
                                        lag += weights[position] * values[r >= i ? r + 1 : r]
                                    }
                                    if direction[i] > 0 ? lag >= target : lag <= target { larger += 1 }
                                }
                            }
                            output.buffer[i] = Double(min(larger, permutations - larger) + 1) / Double(permutations + 1)
                        }
                    }
                }
            }
        }
        return result
    }

    /// `permutations` rows of `k` distinct indices in 0..<n−1, drawn by partial
    /// Fisher–Yates shuffles of one pool, reproducible for a seed.
    static func permutationDraws(n: Int, k: Int, permutations: Int, seed: UInt64) -> [Int32] {
        guard n > 1, k > 0 else { return [] }
        precondition(k <= n - 1, "more neighbours than other areas")
        var random = SyntheticRoads.Generator(state: seed)
        var pool = (0..<Int32(n - 1)).map { $0 }
        var draws = [Int32](repeating: 0, count: permutations * k)
        for p in 0..<permutations {
            for position in 0..<k {
                // Lemire's multiply-shift maps 64 random bits onto the remaining range without a division.
                let remaining = UInt64(n - 1 - position)
                let pick = position + Int((random.next().multipliedFullWidth(by: remaining)).high)
                pool.swapAt(position, pick)
                draws[p * k + position] = pool[position]
            }
        }
        return draws
    }

    /// Benjamini–Hochberg: which of the p-values are discoveries at false-discovery rate `alpha`.
    public static func benjaminiHochberg(_ p: [Double], alpha: Double) -> [Bool] {
        let order = p.indices.sorted { p[$0] < p[$1] }
        let m = Double(p.count)
        var cut = -1
        // p ≤ rank/m·α, compared as p·m ≤ rank·α with a hair of slack so that values on the
        // boundary (0.005 at rank 1 of 6 for α = 0.03) are not lost to rounding.
        for (rank, index) in order.enumerated() where p[index] * m <= Double(rank + 1) * alpha * (1 + 1e-12) { cut = rank }
        var significant = [Bool](repeating: false, count: p.count)
        if cut >= 0 { for rank in 0...cut { significant[order[rank]] = true } }
        return significant
    }

    /// Φ(x) through erfc, exact to double precision in the tails that matter here.
    static func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }
}
