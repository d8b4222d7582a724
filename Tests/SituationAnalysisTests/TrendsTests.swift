import SituationAnalysisPlugin
import Testing
import XunfangGeo

@Suite("Trends and density")
struct TrendsTests {
    /// pymannkendall 1.4 `original_test`: (S, Var(S), z, p).
    @Test("Mann–Kendall equals pymannkendall, ties included", arguments: [
        ([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10], 45, 125.0, 3.9354796403996297, 8.303070332638107e-05),
        ([5.0, 3, 4, 4, 6, 7, 7, 9, 8, 12], 35, 123.0, 3.06567675786927, 0.0021717796556988134),
        ([3.0, 3, 3, 2, 2, 1, 1, 0, 0, 0], -37, 115.66666666666667, -3.3473289278182157, 0.0008159433142942429),
    ])
    func mannKendall(series: [Double], s: Int, variance: Double, z: Double, p: Double) {
        let result = Trends.mannKendall(series)
        #expect(result.s == s)
        #expect(abs(result.variance - variance) < 1e-9)
        #expect(abs(result.z - z) < 1e-12)
        #expect(abs(result.p - p) < 1e-12)
    }

    @Test("emerging hot-spot classes")
    func emerging() {
        let rising = (0..<12).map { Double($0) * 0.3 + 2 }
        let falling = Array(rising.reversed())
        let flat = [2.5, 2.4, 2.6, 2.5, 2.4, 2.6, 2.5, 2.4, 2.6, 2.5, 2.4, 2.6]
        let always = [Bool](repeating: true, count: 12)
        #expect(Trends.emerging(z: rising, hot: always) == .intensifying)
        #expect(Trends.emerging(z: falling, hot: always) == .diminishing)
        #expect(Trends.emerging(z: flat, hot: always) == .persistent)
        #expect(Trends.emerging(z: flat, hot: [Bool](repeating: false, count: 11) + [true]) == .new)
        #expect(Trends.emerging(z: flat, hot: [true, false, true, false, false, true, false, true, false, false, false, true]) == .sporadic)
        #expect(Trends.emerging(z: flat, hot: always.dropLast() + [false]) == .notSignificant)
    }

    @Test("kernel density integrates to the weight it was given and peaks at the point")
    func density() {
        let bounds = BoundingBox(minX: 0, minY: 0, maxX: 2_000, maxY: 2_000)
        let map = Trends.kernelDensity([(PlanarPoint(x: 1_000, y: 1_000), 3), (PlanarPoint(x: 500, y: 1_500), 1)],
                                       bandwidth: 300, cellSize: 10, bounds: bounds)
        let integral = map.values.reduce(0, +) * map.cellSize * map.cellSize
        #expect(abs(integral - 4) < 0.01, "\(integral)")
        let peak = map.values.indices.max { map.values[$0] < map.values[$1] }!
        #expect(peak % map.columns == 99 || peak % map.columns == 100)
        #expect(peak / map.columns == 99 || peak / map.columns == 100)
        // Far from both points: nothing.
        #expect(map.values[5 * map.columns + 195] == 0)
    }
}
