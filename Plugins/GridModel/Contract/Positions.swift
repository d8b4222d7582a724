public import XunfangGeo
public import XunfangPluginKit

/// `xunfang.grid_model.v1.Position` is the one position every plugin contract uses;
/// these turn it into WGS84 points and back, with the same refusal everywhere.
extension Xunfang_GridModel_V1_Position {
    public init(_ point: GeoPoint) {
        self.init()
        longitude = point.longitude
        latitude = point.latitude
    }

    /// The position in WGS84 (GCJ-02 and BD-09 converted); INVALID_ARGUMENT naming
    /// `field` when it is not a longitude/latitude, or is the unset (0, 0).
    public func wgs84(field: String) throws(BusClientError) -> GeoPoint {
        let point = GeoPoint(longitude: longitude, latitude: latitude)
        guard point.isValid, !(longitude == 0 && latitude == 0) else {
            throw BusClientError(.invalidArgument, "\(field): \(longitude),\(latitude) is not a longitude,latitude")
        }
        let source: Datum = switch datum {
        case .gcj02: .gcj02
        case .bd09: .bd09
        default: .wgs84
        }
        return source.convert(point, to: .wgs84)
    }
}

extension TravelMode {
    public init(_ mode: Xunfang_GridModel_V1_TravelMode) {
        self = switch mode {
        case .motorcycle: .motorcycle
        case .eBike: .eBike
        case .bicycle: .bicycle
        case .foot: .foot
        default: .car
        }
    }

    public var wire: Xunfang_GridModel_V1_TravelMode {
        switch self {
        case .car: .car
        case .motorcycle: .motorcycle
        case .eBike: .eBike
        case .bicycle: .bicycle
        case .foot: .foot
        }
    }
}
