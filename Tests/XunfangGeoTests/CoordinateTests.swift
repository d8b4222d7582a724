import Testing
@testable import XunfangGeo

@Suite("Coordinates")
struct CoordinateTests {
    @Test("haversine uses the IUGG mean radius: one degree of a meridian is 111,195.08 m")
    func haversine() {
        let a = GeoPoint(longitude: 104.0, latitude: 30.0)
        let b = GeoPoint(longitude: 104.0, latitude: 31.0)
        #expect(abs(Haversine.metres(a, b) - 6_371_008.8 * .pi / 180) < 1e-6)
        #expect(Haversine.metres(a, a) == 0)
        // Antipodes: half the circumference, without NaN from rounding past 1.
        let antipode = GeoPoint(longitude: -76.0, latitude: -30.0)
        #expect(abs(Haversine.metres(a, antipode) - 6_371_008.8 * .pi) < 1e-3)
    }

    @Test("WGS84 -> GCJ-02 -> WGS84 returns within 1 m everywhere in China")
    func gcjRoundTrip() {
        var random = SplitMix64(state: 42)
        var worst = 0.0
        for _ in 0..<5_000 {
            let point = GeoPoint(longitude: Double.random(in: 73.7...134.7, using: &random),
                                 latitude: Double.random(in: 18.2...53.5, using: &random))
            let shifted = Datum.wgs84.convert(point, to: .gcj02)
            let back = Datum.gcj02.convert(shifted, to: .wgs84)
            worst = max(worst, Haversine.metres(point, back))
            // The shift itself is hundreds of metres: the test would pass trivially otherwise.
            #expect(Haversine.metres(point, shifted) > 1)
        }
        #expect(worst < 1.0, "worst round-trip error \(worst) m")
        #expect(worst < 0.01, "iteration should reach millimetres; worst \(worst) m")
    }

    /// Reference values from two independent peers on PyPI, coord-convert 0.2.1 and
    /// eviltransform 0.1.1 (`wgs2gcj`, `wgs2bd`), which agree with each other to 2e-7°.
    @Test("GCJ-02 and BD-09 agree with published implementations to 1e-6° (0.1 m)", arguments: [
        (116.391350, 39.907723, 116.397591236, 39.909124310, 116.403963761, 39.915467746),  // Beijing
        (104.28, 30.98, 104.282420017, 30.977607393, 104.288843104, 30.983922270),           // Guanghan
        (121.4737, 31.2304, 121.478223059, 31.228457738, 121.484781469, 31.234310594),       // Shanghai
        (113.2644, 23.1291, 113.269729592, 23.126423340, 113.276150752, 23.132711257),       // Guangzhou
    ])
    func peers(lon: Double, lat: Double, gcjLon: Double, gcjLat: Double, bdLon: Double, bdLat: Double) {
        let wgs = GeoPoint(longitude: lon, latitude: lat)
        let gcj = Datum.wgs84.convert(wgs, to: .gcj02)
        let bd = Datum.wgs84.convert(wgs, to: .bd09)
        #expect(abs(gcj.longitude - gcjLon) < 1e-6 && abs(gcj.latitude - gcjLat) < 1e-6, "\(gcj)")
        #expect(abs(bd.longitude - bdLon) < 1e-6 && abs(bd.latitude - bdLat) < 1e-6, "\(bd)")
        #expect(Haversine.metres(Datum.bd09.convert(bd, to: .wgs84), wgs) < 0.01)
        #expect(Haversine.metres(Datum.bd09.convert(bd, to: .gcj02), gcj) < 0.01)
    }

    @Test("outside China GCJ-02 is WGS84")
    func outsideChina() {
        let london = GeoPoint(longitude: -0.1276, latitude: 51.5072)
        #expect(Datum.wgs84.convert(london, to: .gcj02) == london)
        #expect(Datum.gcj02.convert(london, to: .wgs84) == london)
    }

    @Test("the local projection keeps county-scale distances within 0.01% of haversine and inverts exactly")
    func localProjection() {
        let origin = GeoPoint(longitude: 104.28, latitude: 30.98)  // Guanghan
        let projection = LocalProjection(origin: origin)
        var random = SplitMix64(state: 9)
        for _ in 0..<1_000 {
            let a = GeoPoint(longitude: origin.longitude + Double.random(in: -0.45...0.45, using: &random),
                             latitude: origin.latitude + Double.random(in: -0.4...0.4, using: &random))
            let b = GeoPoint(longitude: origin.longitude + Double.random(in: -0.45...0.45, using: &random),
                             latitude: origin.latitude + Double.random(in: -0.4...0.4, using: &random))
            let pa = projection.project(a), pb = projection.project(b)
            let planar = ((pa.x - pb.x) * (pa.x - pb.x) + (pa.y - pb.y) * (pa.y - pb.y)).squareRoot()
            let sphere = Haversine.metres(a, b)
            guard sphere > 100 else { continue }
            #expect(abs(planar - sphere) / sphere < 1e-4, "\(a) \(b): \(planar) vs \(sphere)")
            let fromOrigin = (pa.x * pa.x + pa.y * pa.y).squareRoot()
            #expect(abs(fromOrigin - Haversine.metres(origin, a)) < 1e-6)
            let back = projection.unproject(pa)
            #expect(abs(back.longitude - a.longitude) < 1e-10 && abs(back.latitude - a.latitude) < 1e-10)
        }
    }
}
