import Foundation
import NIOCore
import SwiftProtobuf
import XunfangCodec

/// Which way(s) a drivable OSM way may be driven.
public enum WayDirection: Sendable, Hashable {
    case both, forward, reverse
}

/// What an import read and kept, for the analyst and for tests.
public struct OSMImportReport: Sendable, Hashable, Codable {
    public var blocks = 0
    public var nodes = 0
    public var ways = 0
    public var drivableWays = 0
    /// Consecutive node pairs of drivable ways, each one road segment.
    public var segments = 0
    /// Segments dropped because a node lies outside a clipped extract.
    public var segmentsMissingNodes = 0
    /// Segments dropped because both ends are the same node (a repeated ref).
    public var segmentsDegenerate = 0
    public var graphNodes = 0
    public var arcs = 0
}

/// The car network of an OSM extract, by the rules in the issue that defines it:
///
/// - drivable: `highway` is motorway, trunk, primary, secondary, tertiary, unclassified,
///   residential, living_street, road or a `_link` of the first five; `area` is not
///   `yes`; and access does not close it: the first present of `motorcar`,
///   `motor_vehicle`, `vehicle`, `access` decides, and `no` or `private` (also as one
///   part of a `;` list) closes it.
/// - direction: `oneway` yes/true/1 → forward; `oneway` -1/reverse → reverse;
///   `junction` roundabout/circular without `oneway=no` → forward; otherwise both.
/// - every consecutive pair of way nodes is one segment (unsimplified); a segment with
///   a node missing from a clipped extract is dropped, as is one from a node to itself.
public enum OSMCarNetwork {
    static let relevantKeys: Set<String> = ["highway", "area", "motorcar", "motor_vehicle", "vehicle", "access", "oneway", "junction", "name", "ref"]
    static let supportedFeatures: Set<String> = ["OsmSchema-V0.6", "DenseNodes"]

    /// The class and direction of a way with these tags, or nil when cars may not use it.
    public static func classify(_ tags: [String: String]) -> (RoadClass, WayDirection)? {
        guard let highway = tags["highway"], let roadClass = RoadClass(osm: highway) else { return nil }
        if tags["area"] == "yes" { return nil }
        for key in ["motorcar", "motor_vehicle", "vehicle", "access"] {
            guard let value = tags[key] else { continue }
            let parts = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.contains("no") || parts.contains("private") { return nil }
            break
        }
        let oneway = tags["oneway"]
        if let oneway, ["yes", "true", "1"].contains(oneway) { return (roadClass, .forward) }
        if let oneway, ["-1", "reverse"].contains(oneway) { return (roadClass, .reverse) }
        if let junction = tags["junction"], ["roundabout", "circular"].contains(junction), oneway != "no" {
            return (roadClass, .forward)
        }
        return (roadClass, .both)
    }

    /// Reads `path` and builds its car network. `progress` is called after each block
    /// with (bytes read, file size).
    public static func importGraph(path: String, progress: ((Int, Int) -> Void)? = nil) throws(GeoError) -> (RoadGraph, OSMImportReport) {
        var reader = try PBFReader(path: path)
        var report = OSMImportReport()
        var nodes = NodeTable()
        var ways: [(refs: [Int64], roadClass: RoadClass, direction: WayDirection, name: String)] = []
        var sawHeader = false
        var options = BinaryDecodingOptions()
        options.discardUnknownFields = true
        while let block = try reader.next() {
            report.blocks += 1
            func fail(_ reason: String) -> GeoError {
                GeoError(.invalidInput, "\(path): block \(block.index) at byte \(block.offset) (\(block.type)): \(reason)")
            }
            switch block.type {
            case "OSMHeader":
                let header: Osmpbf_HeaderBlock
                do {
                    header = try Osmpbf_HeaderBlock(serializedBytes: block.payload, options: options)
                } catch {
                    throw fail("not a valid header block (\(error))")
                }
                for feature in header.requiredFeatures where !supportedFeatures.contains(feature) {
                    throw GeoError(.unsupportedFeature, "\(path): the file requires \"\(feature)\", which this reader does not support")
                }
                sawHeader = true
            case "OSMData":
                guard sawHeader else { throw fail("data before the OSMHeader block") }
                let primitive: Osmpbf_PrimitiveBlock
                do {
                    primitive = try Osmpbf_PrimitiveBlock(serializedBytes: block.payload, options: options)
                } catch {
                    throw fail("not a valid primitive block (\(error))")
                }
                try read(primitive, nodes: &nodes, ways: &ways, report: &report, fail: fail)
            default:
                break  // unknown block types are skipped, as the format requires
            }
            progress?(reader.offset, reader.totalBytes)
        }
        guard sawHeader else { throw GeoError(.invalidInput, "\(path): no OSMHeader block; not an OSM PBF file") }

        let coordinates = nodes.finish()
        var builder = RoadGraphBuilder()
        for way in ways {
            for (a, b) in zip(way.refs, way.refs.dropFirst()) {
                report.segments += 1
                guard let pointA = coordinates(a), let pointB = coordinates(b) else {
                    report.segmentsMissingNodes += 1
                    continue
                }
                guard a != b else {
                    report.segmentsDegenerate += 1
                    continue
                }
                let tail = builder.addNode(osmID: a, at: pointA)
                let head = builder.addNode(osmID: b, at: pointB)
                if way.direction != .reverse { builder.addArc(from: tail, to: head, class: way.roadClass, name: way.name) }
                if way.direction != .forward { builder.addArc(from: head, to: tail, class: way.roadClass, name: way.name) }
            }
        }
        let graph = try builder.build()
        report.graphNodes = graph.nodeCount
        report.arcs = graph.arcCount
        return (graph, report)
    }

    private static func read(_ block: Osmpbf_PrimitiveBlock, nodes: inout NodeTable,
                             ways: inout [(refs: [Int64], roadClass: RoadClass, direction: WayDirection, name: String)],
                             report: inout OSMImportReport, fail: (String) -> GeoError) throws(GeoError) {
        let strings = block.stringtable.s
        let granularity = Double(block.granularity) * 1e-9
        let latOffset = Double(block.latOffset) * 1e-9
        let lonOffset = Double(block.lonOffset) * 1e-9
        func point(_ lat: Int64, _ lon: Int64) -> GeoPoint {
            GeoPoint(longitude: lonOffset + granularity * Double(lon), latitude: latOffset + granularity * Double(lat))
        }
        func string(_ index: UInt32) throws(GeoError) -> String {
            guard Int(index) < strings.count else { throw fail("tag refers to string \(index) of \(strings.count)") }
            return String(decoding: strings[Int(index)], as: UTF8.self)
        }
        for (groupIndex, group) in block.primitivegroup.enumerated() {
            for node in group.nodes {
                nodes.append(node.id, point(node.lat, node.lon))
                report.nodes += 1
            }
            if group.hasDense {
                let dense = group.dense
                guard dense.id.count == dense.lat.count, dense.id.count == dense.lon.count else {
                    throw fail("group \(groupIndex): DenseNodes has \(dense.id.count) ids, \(dense.lat.count) lats, \(dense.lon.count) lons")
                }
                var id: Int64 = 0, lat: Int64 = 0, lon: Int64 = 0
                for index in dense.id.indices {
                    id &+= dense.id[index]
                    lat &+= dense.lat[index]
                    lon &+= dense.lon[index]
                    nodes.append(id, point(lat, lon))
                }
                report.nodes += dense.id.count
            }
            for way in group.ways {
                report.ways += 1
                guard way.keys.count == way.vals.count else {
                    throw fail("group \(groupIndex): way \(way.id) has \(way.keys.count) keys and \(way.vals.count) values")
                }
                var tags: [String: String] = [:]
                for (key, value) in zip(way.keys, way.vals) {
                    let name = try string(key)
                    if relevantKeys.contains(name) { tags[name] = try string(value) }
                }
                guard let (roadClass, direction) = classify(tags) else { continue }
                report.drivableWays += 1
                var ref: Int64 = 0
                let refs = way.refs.map { delta in
                    ref &+= delta
                    return ref
                }
                // The road's name as signs show it; a numbered road without one by its number (G108).
                let name = String((tags["name"] ?? tags["ref"] ?? "").prefix(255))
                ways.append((refs, roadClass, direction, name))
            }
        }
    }
}

/// Every node's position, looked up by OSM id once all blocks are read. Files written
/// sorted by id (the norm) are searched in place; others get a dictionary.
struct NodeTable {
    private var ids: [Int64] = []
    private var points: [GeoPoint] = []
    private var sorted = true

    mutating func append(_ id: Int64, _ point: GeoPoint) {
        if let last = ids.last, id <= last { sorted = false }
        ids.append(id)
        points.append(point)
    }

    func finish() -> (Int64) -> GeoPoint? {
        if sorted {
            return { [ids, points] id in
                var low = 0, high = ids.count
                while low < high {
                    let middle = (low + high) / 2
                    if ids[middle] < id { low = middle + 1 } else { high = middle }
                }
                return low < ids.count && ids[low] == id ? points[low] : nil
            }
        }
        var index: [Int64: GeoPoint] = [:]
        index.reserveCapacity(ids.count)
        for (id, point) in zip(ids, points) { index[id] = point }
        return { index[$0] }
    }
}
