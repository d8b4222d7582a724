import Foundation
@testable import SituationAnalysisPlugin
import Testing
import XunfangGeo

@Suite("Permutation p-values")
struct PermutationTests {
    /// 300 points with values that cluster, and their 6 nearest neighbours.
    func sample() -> ([Double], SpatialWeights) {
        var random = SyntheticRoads.Generator(state: 42)
        let points = (0..<300).map { _ in PlanarPoint(x: Double.random(in: 0..<1_000, using: &random), y: Double.random(in: 0..<1_000, using: &random)) }
        let values = points.map { $0.x / 100 + Double.random(in: 0..<3, using: &random) }
        return (values, SpatialWeights.nearest(points, k: 6))
    }

    /// The textbook count: each draw's statistic against the observed one, over the same draws.
    func reference(_ values: [Double], _ weights: SpatialWeights, permutations: Int, seed: UInt64, statistic: (Int, Double) -> Double) -> [Double] {
        let n = values.count, k = 6
        let draws = SpatialStatistics.permutationDraws(n: n, k: k, permutations: permutations, seed: seed)
        return (0..<n).map { i in
            let observed = statistic(i, zip(weights.neighbors[i], weights.weights[i]).reduce(0) { $0 + $1.1 * values[$1.0] })
            var larger = 0
            for p in 0..<permutations {
                var lag = 0.0
                for position in 0..<k {
                    let r = Int(draws[p * k + position])
                    lag += weights.weights[i][position] * values[r >= i ? r + 1 : r]
                }
                if statistic(i, lag) >= observed { larger += 1 }
            }
            return Double(min(larger, permutations - larger) + 1) / Double(permutations + 1)
        }
    }

    @Test("local Moran's fast count by lag equals counting the statistic itself, draw by draw")
    func localMoran() {
        let (values, weights) = sample()
        let mean = values.reduce(0, +) / Double(values.count)
        let z = values.map { $0 - mean }
        let scale = Double(values.count - 1) / z.reduce(0) { $0 + $1 * $1 }
        let fast = SpatialStatistics.localMoran(values, weights: weights, permutations: 199, seed: 9).map { $0.pSimulated! }
        let slow = reference(z, weights, permutations: 199, seed: 9) { i, lag in scale * z[i] * lag }
        #expect(fast == slow)
        #expect(fast.contains { $0 <= 0.01 } && fast.contains { $0 >= 0.2 })
    }

    @Test("Gi*'s fast count by lag equals counting its z scores, draw by draw")
    func giStar() {
        let (values, weights) = sample()
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        let s = (values.reduce(0) { $0 + $1 * $1 } / n - mean * mean).squareRoot()
        let fast = SpatialStatistics.giStar(values, weights: weights, permutations: 199, seed: 4).map { $0.pSimulated! }
        // Binary weights plus self: W_i = S1_i = 7.
        let spread = s * ((n * 7 - 49) / (n - 1)).squareRoot()
        let slow = reference(values, weights, permutations: 199, seed: 4) { i, lag in (values[i] + lag - mean * 7) / spread }
        #expect(fast == slow)
    }

    @Test("each row of draws holds distinct indices of the other areas")
    func draws() {
        let draws = SpatialStatistics.permutationDraws(n: 10, k: 9, permutations: 50, seed: 1)
        for p in 0..<50 { #expect(Set(draws[(p * 9)..<(p * 9 + 9)]) == Set(0..<9)) }
        #expect(SpatialStatistics.permutationDraws(n: 10, k: 9, permutations: 50, seed: 1) == draws)
    }
}
