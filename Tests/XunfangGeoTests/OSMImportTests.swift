import Foundation
import NIOCore
import SwiftProtobuf
import Testing
@testable import XunfangGeo

func fixture(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
}

@Suite("OSM car network")
struct OSMImportTests {
    /// Expected figures from pyosmium (libosmium), an independent reader, applying the same
    /// rules: `Benchmarks/scripts/osm_car_arcs.py`.
    @Test("the real extracts give the figures an independent reader computes", arguments: [
        ("finland-test.osm.pbf", 14_222, 2_653, 175, 1_044, 263, 749, 1_378),
        ("uk-sample.osm.pbf", 290, 44, 23, 120, 0, 126, 223),
    ])
    func realExtracts(file: String, nodes: Int, ways: Int, drivable: Int, segments: Int, missing: Int,
                      graphNodes: Int, arcs: Int) throws {
        let (graph, report) = try OSMCarNetwork.importGraph(path: fixture(file))
        #expect(report.nodes == nodes)
        #expect(report.ways == ways)
        #expect(report.drivableWays == drivable)
        #expect(report.segments == segments)
        #expect(report.segmentsMissingNodes == missing)
        #expect(report.graphNodes == graphNodes && graph.nodeCount == graphNodes)
        #expect(report.arcs == arcs && graph.arcCount == arcs)
        // Every arc joins two nodes of the extract with its haversine length.
        for tail in 0..<graph.nodeCount {
            for arc in graph.arcs(from: tail) {
                let head = Int(graph.arcHead[arc])
                #expect(abs(graph.arcLength[arc] - Haversine.metres(graph.coordinates[tail], graph.coordinates[head])) < 1e-9)
                #expect(graph.arcLength[arc] > 0 && graph.arcLength[arc] < 5_000)
            }
        }
        // The Finnish extract lies where its README says.
        if file.hasPrefix("finland") {
            for point in graph.coordinates {
                #expect((26.90...27.00).contains(point.longitude) && (60.50...60.56).contains(point.latitude))
            }
        }
    }

    @Test("drivable, access and direction rules", arguments: [
        (["highway": "residential"], RoadClass.residential, WayDirection.both),
        (["highway": "primary_link", "oneway": "yes"], .primaryLink, .forward),
        (["highway": "primary", "oneway": "-1"], .primary, .reverse),
        (["highway": "tertiary", "junction": "roundabout"], .tertiary, .forward),
        (["highway": "tertiary", "junction": "circular", "oneway": "no"], .tertiary, .both),
        (["highway": "road", "oneway": "true"], .road, .forward),
        (["highway": "living_street", "motorcar": "yes", "access": "no"], .livingStreet, .both),
        (["highway": "service"], nil, nil),
        (["highway": "footway"], nil, nil),
        (["highway": "residential", "area": "yes"], nil, nil),
        (["highway": "residential", "access": "private"], nil, nil),
        (["highway": "residential", "vehicle": "destination;no"], nil, nil),
        (["highway": "residential", "motor_vehicle": "no", "motorcar": "yes"], .residential, .both),
        (["highway": "unclassified", "motorcar": "private", "access": "yes"], nil, nil),
    ] as [([String: String], RoadClass?, WayDirection?)])
    func rules(tags: [String: String], roadClass: RoadClass?, direction: WayDirection?) {
        let result = OSMCarNetwork.classify(tags)
        #expect(result?.0 == roadClass)
        #expect(result?.1 == direction)
    }

    func write(_ bytes: [UInt8]) -> String {
        let path = NSTemporaryDirectory() + "xf-osm-\(UUID().uuidString.prefix(8)).pbf"
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    func block(_ type: String, _ blob: Osmpbf_Blob) throws -> [UInt8] {
        let blobBytes: [UInt8] = try blob.serializedBytes()
        var header = Osmpbf_BlobHeader()
        header.type = type
        header.datasize = Int32(blobBytes.count)
        let headerBytes: [UInt8] = try header.serializedBytes()
        let length = UInt32(headerBytes.count)
        return [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)]
            + headerBytes + blobBytes
    }

    func expectError(_ path: String, contains text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try OSMCarNetwork.importGraph(path: path)
            Issue.record("accepted \(path)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.message.contains(text), "\(error.message)", sourceLocation: sourceLocation)
        }
    }

    @Test("bad files get an error naming the block and the reason")
    func badFiles() throws {
        let real = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture("uk-sample.osm.pbf"))))
        expectError("/nonexistent/x.pbf", contains: "cannot open")
        expectError(write(Array(real.prefix(real.count - 100))), contains: "file ends inside")
        expectError(write(real + [0, 0]), contains: "file ends inside a block length")
        expectError(write([0xFF, 0xFF, 0xFF, 0xFF] + real), contains: "block 0 at byte 0: blob header length")
        expectError(write(Array("<?xml version='1.0'?><osm></osm>".utf8)), contains: "block 0 at byte 0")

        var corrupt = Osmpbf_Blob()
        corrupt.rawSize = 1_000
        corrupt.zlibData = Data([0x78, 0x9C, 1, 2, 3, 4, 5, 6, 7, 8])
        expectError(write(try block("OSMHeader", corrupt)), contains: "block 0 at byte 0: zlib data")

        var bomb = Osmpbf_Blob()
        bomb.rawSize = 64 * 1024 * 1024
        bomb.zlibData = Data([0x78, 0x9C, 3, 0, 0, 0, 0, 1])
        expectError(write(try block("OSMHeader", bomb)), contains: "inflated bytes, outside")

        var historical = Osmpbf_HeaderBlock()
        historical.requiredFeatures = ["OsmSchema-V0.6", "HistoricalInformation"]
        var header = Osmpbf_Blob()
        header.raw = try historical.serializedBytes()
        expectError(write(try block("OSMHeader", header)), contains: "\"HistoricalInformation\"")

        var garbage = Osmpbf_Blob()
        garbage.raw = Data([0x0A, 0xFF, 0x01])
        var plain = Osmpbf_Blob()
        plain.raw = try Osmpbf_HeaderBlock().serializedBytes()
        let headerThenGarbage = try block("OSMHeader", plain) + block("OSMData", garbage)
        expectError(write(headerThenGarbage), contains: "block 1 at byte")
        expectError(write(try block("OSMData", plain)), contains: "data before the OSMHeader")

        var lz4 = Osmpbf_Blob()
        lz4.lz4Data = Data([1, 2, 3])
        expectError(write(try block("OSMHeader", lz4)), contains: "LZ4")
    }
}
