import Foundation
import XunfangCodec

/// A contraction hierarchy on disk, so a restart loads in milliseconds what took seconds
/// to build. The file names the graph and weights it was built from by a fingerprint; a
/// file for anything else, or a damaged one, is refused and the caller builds afresh.
///
/// Layout (little-endian): `XFCH0001`, the fingerprint (UInt32), node, upward-arc and
/// downward-arc counts (UInt64), then rank (Int32 × n), upward offsets (Int32 × n+1),
/// heads (Int32), costs and carried values (Float64), the same four for downward arcs,
/// and last the CRC-32C of everything before it.
public enum HierarchyFile {
    static let magic = Array("XFCH0001".utf8)

    /// Identifies a graph with one cost (and carried value) per arc.
    public static func fingerprint(graph: RoadGraph, weights: [Double], alongside: [Double]?) -> UInt32 {
        var bytes = Data()
        GraphFile.append(UInt64(graph.nodeCount), to: &bytes)
        GraphFile.appendArray(graph.arcStart, to: &bytes)
        GraphFile.appendArray(graph.arcHead, to: &bytes)
        GraphFile.appendArray(weights, to: &bytes)
        if let alongside { GraphFile.appendArray(alongside, to: &bytes) }
        return CRC32C.checksum(bytes)
    }

    public static func write(_ hierarchy: ContractionHierarchy, fingerprint: UInt32, to path: String) throws(GeoError) {
        var out = Data()
        out.append(contentsOf: magic)
        GraphFile.append(fingerprint, to: &out)
        GraphFile.append(UInt64(hierarchy.nodeCount), to: &out)
        GraphFile.append(UInt64(hierarchy.upHead.count), to: &out)
        GraphFile.append(UInt64(hierarchy.downTail.count), to: &out)
        GraphFile.appendArray(hierarchy.rank, to: &out)
        GraphFile.appendArray(hierarchy.upStart, to: &out)
        GraphFile.appendArray(hierarchy.upHead, to: &out)
        GraphFile.appendArray(hierarchy.upCost, to: &out)
        GraphFile.appendArray(hierarchy.upCarried, to: &out)
        GraphFile.appendArray(hierarchy.downStart, to: &out)
        GraphFile.appendArray(hierarchy.downTail, to: &out)
        GraphFile.appendArray(hierarchy.downCost, to: &out)
        GraphFile.appendArray(hierarchy.downCarried, to: &out)
        GraphFile.append(CRC32C.checksum(out), to: &out)
        do {
            try out.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw GeoError(.unreadableFile, "cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// The hierarchy in `path` if it was built for `fingerprint` and is whole; the sweep
    /// relies on every arc pointing to a higher rank, so that is checked too.
    public static func read(from path: String, fingerprint: UInt32) throws(GeoError) -> ContractionHierarchy {
        guard let data = FileManager.default.contents(atPath: path) else { throw GeoError(.unreadableFile, "cannot read \(path)") }
        func fail(_ reason: String) -> GeoError { GeoError(.invalidInput, "\(path): \(reason)") }
        guard data.count >= 40, Array(data.prefix(8)) == magic else { throw fail("not a Xunfang hierarchy file") }
        var reader = LittleEndianReader(data: data, offset: 8)
        guard reader.scalar(UInt32.self) == fingerprint else { throw fail("built for another graph or other speeds") }
        let n = Int(reader.scalar(UInt64.self)), up = Int(reader.scalar(UInt64.self)), down = Int(reader.scalar(UInt64.self))
        guard n < 1 << 31, up < 1 << 32, down < 1 << 32 else { throw fail("impossible sizes") }
        let expected = 36 + 4 * n + 2 * 4 * (n + 1) + 20 * up + 20 * down + 4
        guard data.count == expected else { throw fail("\(data.count) bytes where \(expected) were expected: truncated") }
        let stored = data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: data.count - 4, as: UInt32.self) }
        guard CRC32C.checksum(data.prefix(data.count - 4)) == UInt32(littleEndian: stored) else { throw fail("checksum mismatch: the file is corrupt") }
        let rank: [Int32] = reader.array(n)
        let upStart: [Int32] = reader.array(n + 1), upHead: [Int32] = reader.array(up)
        let upCost: [Double] = reader.array(up), upCarried: [Double] = reader.array(up)
        let downStart: [Int32] = reader.array(n + 1), downTail: [Int32] = reader.array(down)
        let downCost: [Double] = reader.array(down), downCarried: [Double] = reader.array(down)
        var seen = [Bool](repeating: false, count: n)
        for r in rank {
            guard r >= 0, Int(r) < n, !seen[Int(r)] else { throw fail("ranks are not a permutation") }
            seen[Int(r)] = true
        }
        func check(_ start: [Int32], _ other: [Int32], _ count: Int) throws(GeoError) {
            guard start.first == 0, Int(start.last ?? -1) == count else { throw fail("arc offsets do not cover the arcs") }
            for position in 0..<n {
                guard start[position] <= start[position + 1] else { throw fail("arc offsets decrease") }
                for arc in Int(start[position])..<Int(start[position + 1]) where !(Int(other[arc]) > position && Int(other[arc]) < n) {
                    throw fail("an arc does not lead to a higher rank")
                }
            }
        }
        try check(upStart, upHead, up)
        try check(downStart, downTail, down)
        return ContractionHierarchy(rank: rank, up: (upStart, upHead, upCost, upCarried), down: (downStart, downTail, downCost, downCarried))
    }
}
