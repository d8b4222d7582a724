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

    @Test("a density surface in WGS84: peaks at the clusters, integrates to the incidents, bounded input, GeoJSON cells")
    func surface() throws {
        let projection = LocalProjection(origin: GeoPoint(longitude: 104.28, latitude: 30.97))
        let busy = projection.unproject(PlanarPoint(x: 0, y: 0)), quiet = projection.unproject(PlanarPoint(x: 3_000, y: 2_000))
        let points = Array(repeating: busy, count: 30) + Array(repeating: quiet, count: 10)
        let surface = try #require(try DensitySurface.make(points, bandwidthMetres: 400, cellMetres: 20))
        let integral = surface.perKm2.reduce(0, +) * 20 * 20 / 1_000_000
        #expect(abs(integral - 40) < 0.5, "\(integral)")
        let peaks = surface.peaks(3)
        #expect(peaks.count == 2, "two clusters, two peaks")
        let first = surface.centre(column: peaks[0].column, row: peaks[0].row), second = surface.centre(column: peaks[1].column, row: peaks[1].row)
        #expect(Haversine.metres(first, busy) < 20 && Haversine.metres(second, quiet) < 20)
        // The quartic kernel's peak: 3/(πh²) per incident.
        #expect(abs(peaks[0].perKm2 - 30 * 3 / (Double.pi * 0.4 * 0.4)) / peaks[0].perKm2 < 0.01)
        let layer = surface.geoJSON()
        let features = try #require(layer["features"] as? [[String: Any]])
        #expect(!features.isEmpty && features.count < surface.columns * surface.rows)
        #expect(features.allSatisfy { (($0["properties"] as? [String: Any])?["per_km2"] as? Double ?? 0) >= 0.05 * peaks[0].perKm2 })
        #expect(try DensitySurface.make([], bandwidthMetres: 400, cellMetres: 20) == nil)
        for (bandwidth, cell) in [(10.0, 20.0), (400.0, 5.0), (400.0, 10.0)] {
            let far = [busy, projection.unproject(PlanarPoint(x: 40_000, y: 40_000))]
            #expect(throws: DensitySurface.Refusal.self, "\(bandwidth) m, \(cell) m") {
                try DensitySurface.make(cell == 10 ? far : points, bandwidthMetres: bandwidth, cellMetres: cell)
            }
        }
    }
}
