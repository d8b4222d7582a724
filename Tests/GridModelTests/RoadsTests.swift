@testable import GridModelPlugin
import Testing
import XunfangGeo

@Suite("Roads for drawing")
struct RoadsForDrawingTests {
    @Test("each road piece once: a two-way road's two arcs as one segment, a one-way road's arc as it is; classes by rank, links with their roads")
    func roads() throws {
        var builder = RoadGraphBuilder()
        let a = builder.addNode(osmID: 1, at: GeoPoint(longitude: 104.0, latitude: 30.0))
        let b = builder.addNode(osmID: 2, at: GeoPoint(longitude: 104.001, latitude: 30.0))
        let c = builder.addNode(osmID: 3, at: GeoPoint(longitude: 104.001, latitude: 30.0015))
        builder.addArc(from: a, to: b, class: .primary)
        builder.addArc(from: b, to: a, class: .primary)
        builder.addArc(from: c, to: b, class: .motorwayLink)
        builder.addArc(from: b, to: c, class: .residential)
        builder.addArc(from: a, to: c, class: .trunkLink)
        let graph = try builder.build()
        let roads = Answers.roads(graph)
        #expect(roads.arcs == 5 && roads.classes.count == 3 && roads.coordinates.count == 12)
        #expect(roads.classes.sorted() == [1, 2, 6], "primary, trunk link (as trunk), residential (b to c drawn once): \(roads.classes)")
        #expect(roads.coordinates.contains(104_001_000) && roads.coordinates.contains(30_001_500))
    }
}
