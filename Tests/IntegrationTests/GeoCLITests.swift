import Foundation
import Testing

@Suite("xunfang geo (CLI)")
struct GeoCLITests {
    var fixture: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../XunfangGeoTests/Fixtures/uk-sample.osm.pbf").standardizedFileURL.path
    }

    @Test("import-osm, od and isochrone work from files alone, and agree with each other")
    func pipeline() throws {
        let directory = NSTemporaryDirectory() + "xf-geo-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let imported = try run(["geo", "import-osm", fixture, "--out", "uk.graph", "--json"], in: directory)
        #expect(imported.status == 0)
        let report = try JSONSerialization.jsonObject(with: Data(imported.output.utf8)) as? [String: Any]
        #expect(report?["arcs"] as? Int == 223)

        // A node with outgoing arcs, read from the documented file layout.
        let graphBytes = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/uk.graph"))
        let firstID = graphBytes.withUnsafeBytes { raw -> Int64 in
            let n = Int(raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            let offsets = 24 + n * 24
            func arcStart(_ v: Int) -> Int32 { raw.loadUnaligned(fromByteOffset: offsets + 4 * v, as: Int32.self) }
            let node = (0..<n).first { arcStart($0 + 1) > arcStart($0) } ?? 0
            return raw.loadUnaligned(fromByteOffset: 24 + 8 * node, as: Int64.self)
        }
        let iso = try run(["geo", "isochrone", "--graph", "uk.graph", "--node", "\(firstID)", "--metres", "0,100000"], in: directory)
        #expect(iso.status == 0)
        let counts = (try JSONSerialization.jsonObject(with: Data(iso.output.utf8)) as? [String: Any])?["nodes_within"] as? [Int]
        #expect(counts?.first == 1)
        #expect((counts?.last ?? 0) > 1)

        try "origin_node,dest_node\n\(firstID),\(firstID)\n\(firstID),999999999999\n".write(
            toFile: "\(directory)/pairs.csv", atomically: true, encoding: .utf8)
        let unknown = try run(["geo", "od", "--graph", "uk.graph", "--pairs", "pairs.csv"], in: directory)
        #expect(unknown.status != 0, "an unknown node id is an error naming the line")

        try "origin_node,dest_node\n\(firstID),\(firstID)\n".write(toFile: "\(directory)/pairs.csv", atomically: true, encoding: .utf8)
        let od = try run(["geo", "od", "--graph", "uk.graph", "--pairs", "pairs.csv"], in: directory)
        #expect(od.status == 0)
        #expect(od.output.split(separator: "\n") == ["origin_node,dest_node,distance_m,time_s", "\(firstID),\(firstID),0.000,0.000"])
    }
}
