import Foundation
import Testing
@testable import XunfangGeo

@Suite("Graph files")
struct GraphFileTests {
    func temporaryPath() -> String { NSTemporaryDirectory() + "xf-graph-\(UUID().uuidString.prefix(8))" }

    @Test("a graph written and read back is the same graph")
    func roundTrip() throws {
        let (graph, _) = try OSMCarNetwork.importGraph(path: fixture("finland-test.osm.pbf"))
        let path = temporaryPath()
        try GraphFile.write(graph, to: path)
        let back = try GraphFile.read(from: path)
        #expect(back.nodeIDs == graph.nodeIDs)
        #expect(back.coordinates == graph.coordinates)
        #expect(back.arcStart == graph.arcStart && back.arcHead == graph.arcHead)
        #expect(back.arcLength == graph.arcLength && back.arcClass == graph.arcClass)
        #expect(back.node(osmID: graph.nodeIDs[17]) == 17)
    }

    @Test("corrupt, truncated and foreign files are refused with the reason")
    func refuses() throws {
        let graph = try randomGraph(nodes: 30, arcs: 90, seed: 3)
        let path = temporaryPath()
        try GraphFile.write(graph, to: path)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        func expectRefused(_ bytes: Data, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let bad = temporaryPath()
            _ = FileManager.default.createFile(atPath: bad, contents: bytes)
            do {
                _ = try GraphFile.read(from: bad)
                Issue.record("accepted", sourceLocation: sourceLocation)
            } catch {
                #expect(error.message.contains(text), "\(error.message)", sourceLocation: sourceLocation)
            }
        }
        var flipped = good
        flipped[good.count / 2] ^= 0x40
        expectRefused(flipped, "checksum mismatch")
        expectRefused(good.prefix(good.count - 9), "truncated")
        expectRefused(Data("XFGRAPH0 and then some more bytes to pass the size".utf8), "not a Xunfang road graph")
        expectRefused(Data(), "not a Xunfang road graph")
        #expect(throws: GeoError.self) { try GraphFile.read(from: "/nonexistent/graph") }
    }
}
