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
        let source: Datum
        switch datum {
        case .wgs84: source = .wgs84
        case .gcj02: source = .gcj02
        case .bd09: source = .bd09
        case .UNRECOGNIZED(let value): throw BusClientError(.invalidArgument, "\(field): datum \(value) is not WGS84 (0), GCJ-02 (1) or BD-09 (2)")
        }
        guard source.isInDomain(point) else {
            throw BusClientError(.invalidArgument, "\(field): \(longitude),\(latitude) is outside China, where \(source.rawValue.uppercased()) is defined")
        }
        let converted = source.convert(point, to: .wgs84)
        guard converted.isValid else { throw BusClientError(.invalidArgument, "\(field): \(longitude),\(latitude) does not convert to WGS84") }
        return converted
    }
}

extension TravelMode {
    /// Unknown modes are refused at the door (MessageBounds); this maps the named ones.
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
