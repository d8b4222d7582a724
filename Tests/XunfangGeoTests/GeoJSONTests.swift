import Foundation
import Testing
@testable import XunfangGeo

@Suite("GeoJSON")
struct GeoJSONTests {
    let collection = """
    {"type": "FeatureCollection", "features": [
      {"type": "Feature", "id": "G-1", "properties": {"xf_kind": "grid", "name": "网格1", "parent": "S-1", "area_km2": 0.7, "core": true},
       "geometry": {"type": "Polygon", "coordinates": [[[104.0,31.0],[104.01,31.0],[104.01,31.01],[104.0,31.01],[104.0,31.0]],
                                                      [[104.004,31.004],[104.006,31.004],[104.006,31.006],[104.004,31.004]]]}},
      {"type": "Feature", "id": 7, "properties": {"xf_kind": "fixed_post"}, "geometry": {"type": "Point", "coordinates": [104.005, 31.002]}},
      {"type": "Feature", "properties": {"id": "L-1", "xf_kind": "patrol_line"},
       "geometry": {"type": "LineString", "coordinates": [[104.0,31.0],[104.01,31.01]]}},
      {"type": "Feature", "properties": null, "geometry": {"type": "MultiPolygon", "coordinates": [
        [[[104.1,31.1],[104.2,31.1],[104.2,31.2],[104.1,31.1]]], [[[104.3,31.3],[104.4,31.3],[104.4,31.4],[104.3,31.3]]]]}},
      {"type": "Feature", "id": "S-1", "properties": {"xf_kind": "station"}, "geometry": null}
    ]}
    """

    @Test("reads points, lines, polygons with holes, multipolygons and properties; writes them back the same")
    func roundTrip() throws {
        let features = try GeoJSON.parse(Data(collection.utf8))
        #expect(features.count == 5)
        #expect(features[0].id == "G-1" && features[1].id == "7" && features[2].id == "L-1" && features[3].id == nil)
        #expect(features[0].string("name") == "网格1")
        #expect(features[0].properties["core"] == .bool(true))
        #expect(features[0].properties["area_km2"] == .number(0.7))
        guard case .polygon(let rings) = features[0].geometry else { Issue.record("not a polygon"); return }
        #expect(rings.count == 2 && rings[1].count == 4)
        guard case .multiPolygon(let parts) = features[3].geometry else { Issue.record("not a multipolygon"); return }
        #expect(parts.count == 2)
        #expect(features[4].geometry == nil)
        let again = try GeoJSON.parse(GeoJSON.write(features))
        #expect(again.map(\.id) == features.map(\.id))
        #expect(again.map(\.geometry) == features.map(\.geometry))
        #expect(again.map(\.properties) == features.map(\.properties))
    }

    @Test("bad files name the feature and the reason", arguments: [
        ("not json", "not valid JSON"),
        ("[1,2]", "top level must be a JSON object"),
        (#"{"type":"Topology"}"#, "FeatureCollection or a Feature"),
        (#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"A","geometry":{"type":"Point","coordinates":[200,10]}}]}"#,
         "feature 0 (id A): coordinates: [200.0, 10.0] is not a longitude, latitude"),
        (#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null},{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}}]}"#,
         "feature 1: polygon ring 0: a ring needs at least 4 positions"),
        (#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[]}}]}"#,
         "\"GeometryCollection\" is not supported"),
        (#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0]]}}]}"#,
         "a line needs at least 2 positions"),
        (#"{"type":"FeatureCollection","features":[{"type":"Featur"}]}"#, "feature 0: not a"),
    ])
    func errors(text: String, expected: String) {
        do {
            _ = try GeoJSON.parse(Data(text.utf8))
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }
}
