import Foundation
import Testing
@testable import XunfangGeo
import XunfangCodec

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
        #expect(back.names == graph.names && back.arcName == graph.arcName)
        #expect(graph.names.count > 10, "the extract's roads keep their OSM names: \(graph.names.count)")
    }

    @Test("a first-version file (no road names) still loads, every road unnamed")
    func readsTheFirstVersion() throws {
        let graph = try randomGraph(nodes: 30, arcs: 90, seed: 5)
        let path = temporaryPath()
        try GraphFile.write(graph, to: path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        // Drop the names section (arc names, the count and the one empty name) and the checksum.
        bytes = bytes.prefix(bytes.count - 4 - graph.arcCount * 4 - 8 - 4)
        bytes.replaceSubrange(0..<8, with: Data("XFGRAPH1".utf8))
        withUnsafeBytes(of: CRC32C.checksum(bytes).littleEndian) { bytes.append(contentsOf: $0) }
        try bytes.write(to: URL(fileURLWithPath: path))
        let back = try GraphFile.read(from: path)
        #expect(back.arcHead == graph.arcHead && back.names == [""] && back.arcName.allSatisfy { $0 == 0 })
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
        // A name length past the end, checksum made good again: named, not read out of bounds.
        var long = good.prefix(good.count - 8)
        long.append(contentsOf: [0xFF, 0xFF, 0x00, 0x00])
        withUnsafeBytes(of: CRC32C.checksum(long).littleEndian) { long.append(contentsOf: $0) }
        expectRefused(long, "road name 0")
        #expect(throws: GeoError.self) { try GraphFile.read(from: "/nonexistent/graph") }
    }
}
