import Foundation
import XunfangCodec

#if _endian(big)
#error("GraphFile stores arrays in memory order and assumes a little-endian machine")
#endif

/// A road graph on disk, so an extract is imported once and loaded in milliseconds.
///
/// Layout (little-endian): the 8 bytes `XFGRAPH1`, node count and arc count (UInt64),
/// then the arrays node ids (Int64), longitudes and latitudes (Float64), arc offsets
/// (Int32, nodes + 1), arc heads (Int32), arc lengths (Float64, metres) and arc classes
/// (UInt8, `RoadClass`); since `XFGRAPH2` then each arc's road name (Int32 into the
/// names), the name count (UInt64) and each name as its UTF-8 length (UInt32) and bytes;
/// and last the CRC-32C of everything before it (UInt32). `XFGRAPH1` files (no names)
/// still load. Loading checks the checksum and then every structural rule of `RoadGraph`.
public enum GraphFile {
    static let magic = Array("XFGRAPH2".utf8)
    static let unnamedMagic = Array("XFGRAPH1".utf8)
    /// A road name longer than this is refused: OSM allows 255 characters.
    static let maxNameBytes = 1_024

    public static func write(_ graph: RoadGraph, to path: String) throws(GeoError) {
        var out = Data()
        out.reserveCapacity(24 + graph.nodeCount * 24 + 4 * (graph.nodeCount + 1) + graph.arcCount * 13 + 4)
        out.append(contentsOf: magic)
        append(UInt64(graph.nodeCount), to: &out)
        append(UInt64(graph.arcCount), to: &out)
        appendArray(graph.nodeIDs, to: &out)
        appendArray(graph.coordinates.map(\.longitude), to: &out)
        appendArray(graph.coordinates.map(\.latitude), to: &out)
        appendArray(graph.arcStart, to: &out)
        appendArray(graph.arcHead, to: &out)
        appendArray(graph.arcLength, to: &out)
        out.append(contentsOf: graph.arcClass.map(\.rawValue))
        appendArray(graph.arcName, to: &out)
        append(UInt64(graph.names.count), to: &out)
        for name in graph.names {
            append(UInt32(name.utf8.count), to: &out)
            out.append(contentsOf: name.utf8)
        }
        append(CRC32C.checksum(out), to: &out)
        do {
            try out.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw GeoError(.unreadableFile, "cannot write \(path): \(error.localizedDescription)")
        }
    }

    public static func read(from path: String) throws(GeoError) -> RoadGraph {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GeoError(.unreadableFile, "cannot read \(path)")
        }
        func fail(_ reason: String) -> GeoError { GeoError(.invalidInput, "\(path): \(reason)") }
        guard data.count >= 28, [magic, unnamedMagic].contains(Array(data.prefix(8))) else {
            throw fail("not a Xunfang road graph (expected it to start with XFGRAPH2; import OSM with `xunfang geo import-osm`)")
        }
        let named = Array(data.prefix(8)) == magic
        var reader = LittleEndianReader(data: data, offset: 8)
        let n = Int(reader.scalar(UInt64.self))
        let m = Int(reader.scalar(UInt64.self))
        let fixed = 24 + n * 24 + 4 * (n + 1) + m * 13 + 4 + (named ? m * 4 + 8 : 0)
        guard n < 1 << 31, m < 1 << 31, named ? data.count >= fixed : data.count == fixed else {
            throw fail("\(data.count) bytes, but \(n) nodes and \(m) arcs need \(fixed): the file is truncated or not a graph")
        }
        let stored = data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: data.count - 4, as: UInt32.self) }
        guard CRC32C.checksum(data.prefix(data.count - 4)) == UInt32(littleEndian: stored) else {
            throw fail("checksum mismatch: the file is corrupt")
        }
        let ids: [Int64] = reader.array(n)
        let longitudes: [Double] = reader.array(n)
        let latitudes: [Double] = reader.array(n)
        let start: [Int32] = reader.array(n + 1)
        let heads: [Int32] = reader.array(m)
        let lengths: [Double] = reader.array(m)
        let rawClasses: [UInt8] = reader.array(m)
        let (arcNames, names) = named ? try readNames(&reader, arcs: m, end: data.count - 4, fail: fail) : (nil, [""])
        var classes: [RoadClass] = []
        classes.reserveCapacity(m)
        for (arc, raw) in rawClasses.enumerated() {
            guard let roadClass = RoadClass(rawValue: raw) else { throw fail("arc \(arc) has unknown road class \(raw)") }
            classes.append(roadClass)
        }
        do {
            return try RoadGraph(nodeIDs: ids, coordinates: zip(longitudes, latitudes).map { GeoPoint(longitude: $0, latitude: $1) },
                                 arcStart: start, arcHead: heads, arcLength: lengths, arcClass: classes, arcName: arcNames, names: names)
        } catch {
            throw fail(error.message)
        }
    }

    /// The names section; every length is checked against what is left before the checksum.
    private static func readNames(_ reader: inout LittleEndianReader, arcs: Int, end: Int,
                                  fail: (String) -> GeoError) throws(GeoError) -> ([Int32], [String]) {
        let arcNames: [Int32] = reader.array(arcs)
        let count = reader.scalar(UInt64.self)
        guard count >= 1, count <= UInt64(end - reader.offset) / 4 + 1 else { throw fail("\(count) road names cannot fit in the file") }
        var names: [String] = []
        names.reserveCapacity(Int(count))
        for index in 0..<Int(count) {
            guard reader.offset + 4 <= end else { throw fail("road name \(index) is cut off") }
            let length = Int(reader.scalar(UInt32.self))
            guard length <= maxNameBytes, reader.offset + length <= end else { throw fail("road name \(index) is \(length) bytes: too long or cut off") }
            let bytes: [UInt8] = reader.array(length)
            guard let name = String(validating: bytes, as: UTF8.self) else { throw fail("road name \(index) is not UTF-8") }
            names.append(name)
        }
        guard reader.offset == end else { throw fail("\(end - reader.offset) bytes left over after the road names") }
        return (arcNames, names)
    }

    static func append<T: FixedWidthInteger>(_ value: T, to out: inout Data) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    /// Arrays of plain numbers go out as their memory; this machine family is little-endian.
    static func appendArray<T: BitwiseCopyable>(_ values: [T], to out: inout Data) {
        values.withUnsafeBytes { out.append(contentsOf: $0) }
    }
}

struct LittleEndianReader {
    let data: Data
    var offset: Int

    mutating func scalar<T: FixedWidthInteger>(_: T.Type) -> T {
        defer { offset += MemoryLayout<T>.size }
        return T(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) })
    }

    mutating func array<T: BitwiseCopyable>(_ count: Int) -> [T] {
        let bytes = count * MemoryLayout<T>.stride
        defer { offset += bytes }
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            data.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + bytes]))
            }
            initialized = count
        }
    }
}
