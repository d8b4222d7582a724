import Foundation

/// A position in degrees. Which datum it is in is the caller's to know: WGS84 and
/// CGCS2000 are treated as the same (they differ by centimetres), GCJ-02 and BD-09 are
/// the obfuscated datums of Chinese map vendors and are converted with `Datum`.
public struct GeoPoint: Hashable, Sendable, CustomStringConvertible {
    public var longitude: Double
    public var latitude: Double

    public init(longitude: Double, latitude: Double) {
        self.longitude = longitude
        self.latitude = latitude
    }

    public var isValid: Bool {
        latitude.isFinite && longitude.isFinite && (-90...90).contains(latitude) && (-180...180).contains(longitude)
    }

    public var description: String { "(\(longitude), \(latitude))" }

    /// The middle of the points' bounding box (where a local projection of them is most
    /// exact), or nil for none.
    public static func middle<S: Sequence>(of points: S) -> GeoPoint? where S.Element == GeoPoint {
        var iterator = points.makeIterator()
        guard let first = iterator.next() else { return nil }
        var minLon = first.longitude, maxLon = first.longitude, minLat = first.latitude, maxLat = first.latitude
        while let p = iterator.next() {
            minLon = min(minLon, p.longitude); maxLon = max(maxLon, p.longitude)
            minLat = min(minLat, p.latitude); maxLat = max(maxLat, p.latitude)
        }
        return GeoPoint(longitude: (minLon + maxLon) / 2, latitude: (minLat + maxLat) / 2)
    }
}

/// Stored and sent as `[longitude, latitude]`, the GeoJSON order.
extension GeoPoint: Codable {
    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        self.init(longitude: try container.decode(Double.self), latitude: try container.decode(Double.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(longitude)
        try container.encode(latitude)
    }
}

/// Great-circle distance on a sphere of the IUGG mean radius, used for every edge length
/// so that results compare with other tools.
public enum Haversine {
    public static let earthRadiusMetres = 6_371_008.8

    public static func metres(_ a: GeoPoint, _ b: GeoPoint) -> Double {
        let toRadians = Double.pi / 180
        let phi1 = a.latitude * toRadians
        let phi2 = b.latitude * toRadians
        let dPhi = phi2 - phi1
        let dLambda = (b.longitude - a.longitude) * toRadians
        let sinPhi = sin(dPhi / 2)
        let sinLambda = sin(dLambda / 2)
        let h = sinPhi * sinPhi + cos(phi1) * cos(phi2) * sinLambda * sinLambda
        return 2 * earthRadiusMetres * asin(min(1, h.squareRoot()))
    }
}

/// The datums positions arrive in.
public enum Datum: String, Sendable, CaseIterable, Codable {
    /// WGS84 / CGCS2000 (GPS, OSM, national surveys).
    case wgs84
    /// GCJ-02, the datum Chinese map vendors (AMap, Tencent) publish in.
    case gcj02
    /// BD-09, Baidu's datum (GCJ-02 further shifted).
    case bd09

    /// Whether `point` can be in this datum: any valid WGS84 position, but GCJ-02 and
    /// BD-09 only inside the rectangle the vendors shift (China). A "GCJ-02" point at
    /// latitude 90 or a "BD-09" point at longitude 180 is a mistake, not a position.
    public func isInDomain(_ point: GeoPoint) -> Bool {
        guard point.isValid else { return false }
        return self == .wgs84 || !ChinaDatum.isOutsideChina(point)
    }

    /// `point` in this datum, expressed in `target`.
    ///
    /// WGS84 → GCJ-02 → BD-09 are closed formulas. The inverses have none (the published
    /// BD-09 inverse is an approximation good to ~0.1 m): both are solved by fixed-point
    /// iteration of the forward formula until the round trip is within 1e-9° (about
    /// 0.1 mm), at most 30 steps, in practice 3–5. Outside China GCJ-02 equals WGS84, as
    /// the vendors define it.
    public func convert(_ point: GeoPoint, to target: Datum) -> GeoPoint {
        if self == target { return point }
        let wgs: GeoPoint = switch self {
        case .wgs84: point
        case .gcj02: ChinaDatum.gcj02ToWGS84(point)
        case .bd09: ChinaDatum.gcj02ToWGS84(ChinaDatum.bd09ToGCJ02(point))
        }
        return switch target {
        case .wgs84: wgs
        case .gcj02: ChinaDatum.wgs84ToGCJ02(wgs)
        case .bd09: ChinaDatum.gcj02ToBD09(ChinaDatum.wgs84ToGCJ02(wgs))
        }
    }
}

/// The published GCJ-02 and BD-09 transforms (Krasovsky 1940 ellipsoid parameters).
enum ChinaDatum {
    static let semiMajorAxis = 6_378_245.0
    static let eccentricitySquared = 0.006_693_421_622_965_943_23
    static let baiduFactor = Double.pi * 3000.0 / 180.0

    /// The rectangle the vendors treat as China; outside it no shift is applied.
    static func isOutsideChina(_ p: GeoPoint) -> Bool {
        p.longitude < 72.004 || p.longitude > 137.8347 || p.latitude < 0.8293 || p.latitude > 55.8271
    }

    static func wgs84ToGCJ02(_ p: GeoPoint) -> GeoPoint {
        if isOutsideChina(p) { return p }
        let (dLon, dLat) = offset(p)
        return GeoPoint(longitude: p.longitude + dLon, latitude: p.latitude + dLat)
    }

    static func gcj02ToWGS84(_ p: GeoPoint) -> GeoPoint {
        if isOutsideChina(p) { return p }
        return invert(wgs84ToGCJ02, at: p, from: p)
    }

    /// Solves forward(x) = target by fixed-point iteration from `guess`: both shifts are
    /// small and smooth, so each step cuts the error by orders of magnitude.
    private static func invert(_ forward: (GeoPoint) -> GeoPoint, at target: GeoPoint, from guess: GeoPoint) -> GeoPoint {
        var guess = guess
        for _ in 0..<30 {
            let image = forward(guess)
            let errorLon = image.longitude - target.longitude
            let errorLat = image.latitude - target.latitude
            guess.longitude -= errorLon
            guess.latitude -= errorLat
            if abs(errorLon) < 1e-9 && abs(errorLat) < 1e-9 { break }
        }
        return guess
    }

    static func gcj02ToBD09(_ p: GeoPoint) -> GeoPoint {
        let x = p.longitude, y = p.latitude
        let z = (x * x + y * y).squareRoot() + 0.000_02 * sin(y * baiduFactor)
        let theta = atan2(y, x) + 0.000_003 * cos(x * baiduFactor)
        return GeoPoint(longitude: z * cos(theta) + 0.0065, latitude: z * sin(theta) + 0.006)
    }

    /// The published closed-form inverse is off by up to ~0.1 m; it is only the first
    /// guess here, refined by fixed-point iteration of the forward formula like GCJ-02's.
    static func bd09ToGCJ02(_ p: GeoPoint) -> GeoPoint {
        let x = p.longitude - 0.0065, y = p.latitude - 0.006
        let z = (x * x + y * y).squareRoot() - 0.000_02 * sin(y * baiduFactor)
        let theta = atan2(y, x) - 0.000_003 * cos(x * baiduFactor)
        return invert(gcj02ToBD09, at: p, from: GeoPoint(longitude: z * cos(theta), latitude: z * sin(theta)))
    }

    private static func offset(_ p: GeoPoint) -> (Double, Double) {
        let x = p.longitude - 105.0, y = p.latitude - 35.0
        var dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * abs(x).squareRoot()
        dLat += (20.0 * sin(6.0 * x * .pi) + 20.0 * sin(2.0 * x * .pi)) * 2.0 / 3.0
        dLat += (20.0 * sin(y * .pi) + 40.0 * sin(y / 3.0 * .pi)) * 2.0 / 3.0
        dLat += (160.0 * sin(y / 12.0 * .pi) + 320 * sin(y * .pi / 30.0)) * 2.0 / 3.0
        var dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * abs(x).squareRoot()
        dLon += (20.0 * sin(6.0 * x * .pi) + 20.0 * sin(2.0 * x * .pi)) * 2.0 / 3.0
        dLon += (20.0 * sin(x * .pi) + 40.0 * sin(x / 3.0 * .pi)) * 2.0 / 3.0
        dLon += (150.0 * sin(x / 12.0 * .pi) + 300.0 * sin(x / 30.0 * .pi)) * 2.0 / 3.0
        let radLat = p.latitude / 180.0 * .pi
        var magic = sin(radLat)
        magic = 1 - eccentricitySquared * magic * magic
        let sqrtMagic = magic.squareRoot()
        dLat = (dLat * 180.0) / ((semiMajorAxis * (1 - eccentricitySquared)) / (magic * sqrtMagic) * .pi)
        dLon = (dLon * 180.0) / (semiMajorAxis / sqrtMagic * cos(radLat) * .pi)
        return (dLon, dLat)
    }
}

/// A point in metres on a plane: projected from degrees with `LocalProjection`, or data
/// that is already planar (surveys in metres; feet are converted by the reader).
public struct PlanarPoint: Hashable, Sendable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }

    /// Straight-line distance.
    public func distance(to other: PlanarPoint) -> Double {
        let dx = other.x - x, dy = other.y - y
        return (dx * dx + dy * dy).squareRoot()
    }

    /// Distance to the segment from `a` to `b`.
    public func distance(toSegment a: PlanarPoint, _ b: PlanarPoint) -> Double {
        closest(onSegment: a, b).distance(to: self)
    }

    /// The point of the segment from `a` to `b` nearest this one.
    public func closest(onSegment a: PlanarPoint, _ b: PlanarPoint) -> PlanarPoint {
        let dx = b.x - a.x, dy = b.y - a.y
        let lengthSquared = dx * dx + dy * dy
        let t = lengthSquared > 0 ? max(0, min(1, ((x - a.x) * dx + (y - a.y) * dy) / lengthSquared)) : 0
        return PlanarPoint(x: a.x + t * dx, y: a.y + t * dy)
    }
}

/// An azimuthal equidistant projection centred on a county: x east and y north in metres
/// from `origin`, on the same sphere as `Haversine`. Distances from the origin are exact;
/// between two points within 50 km of it they differ from haversine by under 0.01%
/// (the scale error grows as (d/R)²/6), far inside what a road or a boundary is drawn to.
public struct LocalProjection: Sendable, Hashable {
    public let origin: GeoPoint
    private let sinOrigin: Double
    private let cosOrigin: Double

    public init(origin: GeoPoint) {
        self.origin = origin
        sinOrigin = sin(origin.latitude * .pi / 180)
        cosOrigin = cos(origin.latitude * .pi / 180)
    }

    public func project(_ point: GeoPoint) -> PlanarPoint {
        let phi = point.latitude * .pi / 180
        let dLambda = (point.longitude - origin.longitude) * .pi / 180
        // The angle at the earth's centre, in the haversine form that stays exact when small.
        let c = Haversine.metres(origin, point) / Haversine.earthRadiusMetres
        let k = c < 1e-12 ? 1 : c / sin(c)
        let x = k * cos(phi) * sin(dLambda)
        let y = k * (cosOrigin * sin(phi) - sinOrigin * cos(phi) * cos(dLambda))
        return PlanarPoint(x: x * Haversine.earthRadiusMetres, y: y * Haversine.earthRadiusMetres)
    }

    public func unproject(_ point: PlanarPoint) -> GeoPoint {
        let rho = (point.x * point.x + point.y * point.y).squareRoot()
        guard rho > 1e-9 else { return origin }
        let c = rho / Haversine.earthRadiusMetres
        let phi = asin(cos(c) * sinOrigin + point.y * sin(c) * cosOrigin / rho)
        let lambda = atan2(point.x * sin(c), rho * cosOrigin * cos(c) - point.y * sinOrigin * sin(c))
        return GeoPoint(longitude: origin.longitude + lambda * 180 / .pi, latitude: phi * 180 / .pi)
    }
}
