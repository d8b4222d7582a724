// Hand-written beside the generated contract (tools/gen-proto leaves it alone).
import GridModelContract

extension Xunfang_Dispatch_V1_UnitKind {
    /// The road-graph travel mode a unit of this kind moves in, as GridModel's contract says
    /// it: special police drive cars; a drone has no road mode (nil).
    public var travelMode: Xunfang_GridModel_V1_TravelMode? {
        switch self {
        case .car, .specialPolice: .car
        case .motorcycle: .motorcycle
        case .eBike: .eBike
        case .foot: .foot
        default: nil
        }
    }

    /// The same mode as XunfangGeo's `TravelMode` names it.
    public var travelModeName: String? {
        travelMode.map { mode in
            switch mode {
            case .motorcycle: "motorcycle"
            case .eBike: "e-bike"
            case .bicycle: "bicycle"
            case .foot: "foot"
            default: "car"
            }
        }
    }
}
