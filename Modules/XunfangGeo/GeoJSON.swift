public import Foundation

/// GeoJSON (RFC 7946) features: what county data arrives in from GIS tools. Coordinates
/// are longitude, latitude in WGS84 unless the caller says the file is in a Chinese
/// vendor datum or planar. Every error names the feature (index and id) and the reason.
public enum GeoJSON {
    public enum Geometry: Sendable, Hashable {
        case point(GeoPoint)
        case lineString([GeoPoint])
        case multiLineString([[GeoPoint]])
        /// Rings: outer first, then holes; each ring closed (first == last) on input.
        case polygon([[GeoPoint]])
        case multiPolygon([[[GeoPoint]]])
    }

    public struct Feature: Sendable {
        public var id: String?
        public var properties: [String: Value]
        public var geometry: Geometry?

        public init(id: String?, properties: [String: Value], geometry: Geometry?) {
            self.id = id
            self.properties = properties
            self.geometry = geometry
        }

        public func string(_ key: String) -> String? {
            switch properties[key] {
            case .string(let text): text
            case .number(let number): number == number.rounded() ? String(Int64(number)) : String(number)
            default: nil
            }
        }
    }

    /// A JSON property value.
    public enum Value: Sendable, Hashable {
        case string(String), number(Double), bool(Bool), null
        case array([Value]), object([String: Value])
    }

    /// Files larger than this are refused before parsing.
    public static let maxBytes = 256 * 1024 * 1024

    public static func read(path: String) throws(GeoError) -> [Feature] {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes?[.size] as? Int, size > maxBytes {
            throw GeoError(.invalidInput, "\(path): \(size) bytes is more than the \(maxBytes) a GeoJSON file may have")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw GeoError(.unreadableFile, "cannot read \(path)") }
        do {
            return try parse(data)
        } catch {
            throw GeoError(error.code, "\(path): \(error.message)")
        }
    }

    public static func parse(_ data: Data) throws(GeoError) -> [Feature] {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw GeoError(.invalidInput, "not valid JSON (\((error as NSError).userInfo[NSDebugDescriptionErrorKey] ?? error.localizedDescription))")
        }
        guard let object = root as? [String: Any] else { throw GeoError(.invalidInput, "the top level must be a JSON object") }
        switch object["type"] as? String {
        case "FeatureCollection":
            guard let features = object["features"] as? [Any] else { throw GeoError(.invalidInput, "a FeatureCollection needs a \"features\" array") }
            var result: [Feature] = []
            for (index, item) in features.enumerated() {
                result.append(try feature(item, index: index))
            }
            return result
        case "Feature":
            return [try feature(object, index: 0)]
        case let other:
            throw GeoError(.invalidInput, "the top level must be a FeatureCollection or a Feature, not \(other.map { "\"\($0)\"" } ?? "untyped")")
        }
    }

    static func feature(_ item: Any, index: Int) throws(GeoError) -> Feature {
        guard let object = item as? [String: Any], object["type"] as? String == "Feature" else {
            throw GeoError(.invalidInput, "feature \(index): not a {\"type\": \"Feature\"} object")
        }
        let id: String? = switch object["id"] {
        case let text as String: text
        case let number as NSNumber: number.stringValue
        default: nil
        }
        let label = "feature \(index)\(id.map { " (id \($0))" } ?? "")"
        var properties: [String: Value] = [:]
        if let raw = object["properties"], !(raw is NSNull) {
            guard let dictionary = raw as? [String: Any] else { throw GeoError(.invalidInput, "\(label): properties must be an object") }
            for (key, value) in dictionary { properties[key] = Self.value(value) }
        }
        var geometry: Geometry?
        if let raw = object["geometry"], !(raw is NSNull) {
            do {
                geometry = try Self.geometry(raw)
            } catch {
                throw GeoError(.invalidInput, "\(label): \(error.message)")
            }
        }
        return Feature(id: id ?? properties["id"].flatMap { if case .string(let s) = $0 { s } else { nil } }, properties: properties, geometry: geometry)
    }

    static func value(_ raw: Any) -> Value {
        switch raw {
        case let text as String: return .string(text)
        case let number as NSNumber:
            // JSONSerialization gives booleans as NSNumber too; their type code is "c".
            if String(cString: number.objCType) == "c" { return .bool(number.boolValue) }
            return .number(number.doubleValue)
        case let array as [Any]: return .array(array.map(value))
        case let object as [String: Any]: return .object(object.mapValues(value))
        default: return .null
        }
    }

    static func geometry(_ raw: Any) throws(GeoError) -> Geometry {
        guard let object = raw as? [String: Any], let type = object["type"] as? String else {
            throw GeoError(.invalidInput, "geometry must be an object with a \"type\"")
        }
        let coordinates = object["coordinates"]
        switch type {
        case "Point":
            return .point(try position(coordinates, "coordinates"))
        case "LineString":
            return .lineString(try line(coordinates, "coordinates"))
        case "MultiLineString":
            guard let lines = coordinates as? [Any] else { throw GeoError(.invalidInput, "coordinates must be an array of lines") }
            var result: [[GeoPoint]] = []
            for (index, item) in lines.enumerated() { result.append(try line(item, "line \(index)")) }
            return .multiLineString(result)
        case "Polygon":
            return .polygon(try polygon(coordinates, "polygon"))
        case "MultiPolygon":
            guard let polygons = coordinates as? [Any] else { throw GeoError(.invalidInput, "coordinates must be an array of polygons") }
            var result: [[[GeoPoint]]] = []
            for (index, item) in polygons.enumerated() { result.append(try polygon(item, "polygon \(index)")) }
            return .multiPolygon(result)
        default:
            throw GeoError(.unsupportedFeature, "geometry type \"\(type)\" is not supported (Point, LineString, MultiLineString, Polygon, MultiPolygon)")
        }
    }

    static func position(_ raw: Any?, _ where_: String) throws(GeoError) -> GeoPoint {
        guard let pair = raw as? [Any], pair.count >= 2, let x = (pair[0] as? NSNumber)?.doubleValue, let y = (pair[1] as? NSNumber)?.doubleValue else {
            throw GeoError(.invalidInput, "\(where_): a position is [longitude, latitude]")
        }
        let point = GeoPoint(longitude: x, latitude: y)
        guard point.isValid else { throw GeoError(.invalidInput, "\(where_): [\(x), \(y)] is not a longitude, latitude") }
        return point
    }

    static func line(_ raw: Any?, _ where_: String) throws(GeoError) -> [GeoPoint] {
        guard let items = raw as? [Any] else { throw GeoError(.invalidInput, "\(where_): must be an array of positions") }
        var points: [GeoPoint] = []
        for (index, item) in items.enumerated() { points.append(try position(item, "\(where_) position \(index)")) }
        guard points.count >= 2 else { throw GeoError(.invalidInput, "\(where_): a line needs at least 2 positions, got \(points.count)") }
        return points
    }

    static func polygon(_ raw: Any?, _ where_: String) throws(GeoError) -> [[GeoPoint]] {
        guard let rings = raw as? [Any], !rings.isEmpty else { throw GeoError(.invalidInput, "\(where_): must be a non-empty array of rings") }
        var result: [[GeoPoint]] = []
        for (index, item) in rings.enumerated() {
            let ring = try line(item, "\(where_) ring \(index)")
            guard ring.count >= 4, ring.first == ring.last else {
                throw GeoError(.invalidInput, "\(where_) ring \(index): a ring needs at least 4 positions and must end where it starts")
            }
            result.append(ring)
        }
        return result
    }

    // MARK: - Writing

    public static func write(_ features: [Feature]) -> Data {
        let collection: [String: Any] = ["type": "FeatureCollection", "features": features.map(object)]
        return (try? JSONSerialization.data(withJSONObject: collection, options: [.sortedKeys, .prettyPrinted])) ?? Data()
    }

    static func object(_ feature: Feature) -> [String: Any] {
        var object: [String: Any] = ["type": "Feature", "properties": feature.properties.mapValues(json)]
        if let id = feature.id { object["id"] = id }
        object["geometry"] = feature.geometry.map(json) ?? NSNull()
        return object
    }

    static func json(_ value: Value) -> Any {
        switch value {
        case .string(let text): text
        case .number(let number): number
        case .bool(let flag): flag
        case .null: NSNull()
        case .array(let items): items.map(json)
        case .object(let fields): fields.mapValues(json)
        }
    }

    static func json(_ geometry: Geometry) -> [String: Any] {
        func pair(_ p: GeoPoint) -> [Double] { [p.longitude, p.latitude] }
        switch geometry {
        case .point(let p): return ["type": "Point", "coordinates": pair(p)]
        case .lineString(let line): return ["type": "LineString", "coordinates": line.map(pair)]
        case .multiLineString(let lines): return ["type": "MultiLineString", "coordinates": lines.map { $0.map(pair) }]
        case .polygon(let rings): return ["type": "Polygon", "coordinates": rings.map { $0.map(pair) }]
        case .multiPolygon(let polygons): return ["type": "MultiPolygon", "coordinates": polygons.map { $0.map { $0.map(pair) } }]
        }
    }
}
