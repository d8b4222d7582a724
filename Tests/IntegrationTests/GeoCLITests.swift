import Foundation
import Testing

@Suite("xunfang geo (CLI)")
struct GeoCLITests {
    var fixture: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../XunfangGeoTests/Fixtures/uk-sample.osm.pbf").standardizedFileURL.path
    }

    @Test("import-osm, od and isochrone work from files alone, and agree with each other")
    func pipeline() async throws {
        let directory = NSTemporaryDirectory() + "xf-geo-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let imported = try await run(["geo", "import-osm", fixture, "--out", "uk.graph", "--json"], in: directory)
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
        let iso = try await run(["geo", "isochrone", "--graph", "uk.graph", "--node", "\(firstID)", "--metres", "0,100000"], in: directory)
        #expect(iso.status == 0)
        let counts = (try JSONSerialization.jsonObject(with: Data(iso.output.utf8)) as? [String: Any])?["nodes_within"] as? [Int]
        #expect(counts?.first == 1)
        #expect((counts?.last ?? 0) > 1)

        try "origin_node,dest_node\n\(firstID),\(firstID)\n\(firstID),999999999999\n".write(
            toFile: "\(directory)/pairs.csv", atomically: true, encoding: .utf8)
        let unknown = try await run(["geo", "od", "--graph", "uk.graph", "--pairs", "pairs.csv"], in: directory)
        #expect(unknown.status != 0, "an unknown node id is an error naming the line")

        try "origin_node,dest_node\n\(firstID),\(firstID)\n".write(toFile: "\(directory)/pairs.csv", atomically: true, encoding: .utf8)
        let od = try await run(["geo", "od", "--graph", "uk.graph", "--pairs", "pairs.csv"], in: directory)
        #expect(od.status == 0)
        #expect(od.output.split(separator: "\n") == ["origin_node,dest_node,distance_m,time_s", "\(firstID),\(firstID),0.000,0.000"])
    }

    @Test("place-posts picks the sites a hand count picks, keeps fixed posts, refuses lon/lat out of range")
    func placePosts() async throws {
        let directory = NSTemporaryDirectory() + "xf-posts-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // s1 covers d1+d2 (8), s2 covers d3+d4 (5), s3 covers d5 (10), s4 nothing; radius 120 m.
        try "id,x,y,weight\nd1,0,0,5\nd2,100,0,3\nd3,1000,0,4\nd4,1100,50,1\nd5,5000,5000,10\n"
            .write(toFile: "\(directory)/demand.csv", atomically: true, encoding: .utf8)
        try "id,x,y\ns1,50,0\ns2,1050,0\ns3,5000,4990\ns4,3000,3000\n".write(toFile: "\(directory)/sites.csv", atomically: true, encoding: .utf8)
        let base = ["geo", "place-posts", "--demand", "demand.csv", "--sites", "sites.csv", "--radius", "120", "--k", "2", "--planar", "--json"]
        let best = try await run(base, in: directory)
        let answer = try JSONSerialization.jsonObject(with: Data(best.output.utf8)) as? [String: Any]
        #expect(Set(answer?["sites"] as? [String] ?? []) == ["s1", "s3"])
        #expect(answer?["covered_weight"] as? Double == 18)
        let withFixed = try await run(base + ["--fixed", "s3"], in: directory)
        let fixedAnswer = try JSONSerialization.jsonObject(with: Data(withFixed.output.utf8)) as? [String: Any]
        #expect(Set(fixedAnswer?["sites"] as? [String] ?? []) == ["s1", "s2"])
        #expect(fixedAnswer?["covered_weight"] as? Double == 23)
        let exact = try JSONSerialization.jsonObject(with: Data(try await run(base + ["--exact"], in: directory).output.utf8)) as? [String: Any]
        #expect(exact?["covered_weight"] as? Double == 18 && exact?["optimal"] as? Bool == true && exact?["gap"] as? Double == 0)
        #expect(try await run(base + ["--exact", "--time-limit", "0"], in: directory).status != 0)
        let degrees = try await run(Array(base.dropLast(2)), in: directory)
        #expect(degrees.status != 0, "1000,0 is not a longitude,latitude")
    }
}
