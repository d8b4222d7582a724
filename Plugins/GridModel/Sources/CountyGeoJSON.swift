import Foundation
public import XunfangGeo

/// The county as GeoJSON features, and back. Each feature says what it is in the property
/// `xf_kind`: `city_bureau`, `branch`, `station`, `grid` (areas; grids carry a Polygon or
/// MultiPolygon and `place_class` core | urban | support), or a site kind with a Point:
/// `fixed_post`, `mobile_post`, `service_station`, `police_room`, `checkpoint`,
/// `city_exit`, `patrol_point`, `station_house`, or `patrol_line` with a LineString (a
/// must-patrol route in travel order). `id` (the unified number) is required;
/// `name` defaults to the id; areas below the city bureau name their `parent`.
public enum CountyGeoJSON {
    static let areaKinds: [String: AreaLevel] = ["city_bureau": .cityBureau, "branch": .branch, "station": .station, "grid": .grid]
    static let siteKinds: [String: SiteKind] = [
        "fixed_post": .fixedPost, "mobile_post": .mobilePost, "service_station": .serviceStation, "police_room": .policeRoom,
        "checkpoint": .checkpoint, "city_exit": .cityExit, "patrol_point": .patrolPoint, "station_house": .stationHouse,
        "patrol_line": .patrolLine,
    ]
    static let placeClasses: [String: PlaceClass] = ["core": .core, "urban": .urban, "support": .support]

    public static func records(from features: [GeoJSON.Feature], datum: Datum = .wgs84) throws(GeoError) -> ([AreaRecord], [SiteRecord]) {
        var areas: [AreaRecord] = []
        var sites: [SiteRecord] = []
        var seen: Set<String> = []
        for (index, feature) in features.enumerated() {
            let label = "feature \(index)\(feature.id.map { " (id \($0))" } ?? "")"
            guard let id = feature.id, !id.isEmpty, id.count <= 64 else { throw GeoError(.invalidInput, "\(label): an id of 1 to 64 characters is required") }
            guard seen.insert(id).inserted else { throw GeoError(.invalidInput, "\(label): id \(id) appears twice") }
            let name = feature.string("name") ?? id
            guard let kind = feature.string("xf_kind") else {
                throw GeoError(.invalidInput, "\(label): property xf_kind is required (one of \((areaKinds.keys.sorted() + siteKinds.keys.sorted()).joined(separator: ", ")))")
            }
            func convert(_ point: GeoPoint) -> GeoPoint { datum.convert(point, to: .wgs84) }
            if let level = areaKinds[kind] {
                var placeClass: PlaceClass?
                var boundary: [[[GeoPoint]]]?
                if level == .grid {
                    let text = feature.string("place_class") ?? "support"
                    guard let known = placeClasses[text] else { throw GeoError(.invalidInput, "\(label): place_class \"\(text)\" is not core, urban or support") }
                    placeClass = known
                    switch feature.geometry {
                    case .polygon(let rings): boundary = [rings.map { $0.map(convert) }]
                    case .multiPolygon(let polygons): boundary = polygons.map { $0.map { $0.map(convert) } }
                    default: throw GeoError(.invalidInput, "\(label): a grid needs a Polygon or MultiPolygon geometry")
                    }
                }
                let parent = feature.string("parent")
                if level != .cityBureau && (parent ?? "").isEmpty { throw GeoError(.invalidInput, "\(label): a \(kind) needs a parent") }
                areas.append(AreaRecord(id: id, name: name, level: level, parentID: level == .cityBureau ? nil : parent,
                                        placeClass: placeClass, boundary: boundary))
            } else if siteKinds[kind] == .patrolLine {
                guard case .lineString(let points) = feature.geometry, points.count >= 2 else {
                    throw GeoError(.invalidInput, "\(label): a patrol_line needs a LineString geometry of at least 2 points")
                }
                sites.append(.line(id: id, name: name, path: points.map(convert)))
            } else if let siteKind = siteKinds[kind] {
                guard case .point(let point) = feature.geometry else { throw GeoError(.invalidInput, "\(label): a \(kind) needs a Point geometry") }
                sites.append(SiteRecord(id: id, name: name, kind: siteKind, position: convert(point)))
            } else {
                throw GeoError(.unsupportedFeature, "\(label): xf_kind \"\(kind)\" is not one GridModel stores")
            }
        }
        return (areas, sites)
    }

    public static func features(areas: [AreaRecord], sites: [SiteRecord]) -> [GeoJSON.Feature] {
        let areaNames = Dictionary(uniqueKeysWithValues: areaKinds.map { ($0.value, $0.key) })
        let siteNames = Dictionary(uniqueKeysWithValues: siteKinds.map { ($0.value, $0.key) })
        let classNames = Dictionary(uniqueKeysWithValues: placeClasses.map { ($0.value, $0.key) })
        var features: [GeoJSON.Feature] = []
        for area in areas {
            var properties: [String: GeoJSON.Value] = ["xf_kind": .string(areaNames[area.level]!), "name": .string(area.name)]
            if let parent = area.parentID { properties["parent"] = .string(parent) }
            if let placeClass = area.placeClass { properties["place_class"] = .string(classNames[placeClass]!) }
            let geometry: GeoJSON.Geometry? = area.boundary.map { polygons in
                // GeoJSON rings are closed; the stored ones may be open.
                let closed = polygons.map { $0.map { ring in ring.first == ring.last ? ring : ring + [ring[0]] } }
                return closed.count == 1 ? .polygon(closed[0]) : .multiPolygon(closed)
            }
            features.append(GeoJSON.Feature(id: area.id, properties: properties, geometry: geometry))
        }
        for site in sites {
            features.append(GeoJSON.Feature(id: site.id, properties: ["xf_kind": .string(siteNames[site.kind]!), "name": .string(site.name)],
                                            geometry: site.path.map { .lineString($0) } ?? .point(site.position)))
        }
        return features
    }
}
