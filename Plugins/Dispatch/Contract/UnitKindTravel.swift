// Hand-written beside the generated contract (tools/gen-proto leaves it alone).

extension Xunfang_Dispatch_V1_UnitKind {
    /// The road-graph travel mode a unit of this kind moves in, as XunfangGeo's `TravelMode`
    /// names it: special police drive cars; a drone has no road mode (nil).
    public var travelModeName: String? {
        switch self {
        case .car, .specialPolice: "car"
        case .motorcycle: "motorcycle"
        case .eBike: "e-bike"
        case .foot: "foot"
        default: nil
        }
    }
}
