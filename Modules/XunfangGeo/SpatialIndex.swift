/// A static R-tree over bounding boxes, packed by Sort-Tile-Recursive: locating a point
/// among n areas visits O(log n) nodes plus the few whose boxes overlap it.
public struct SpatialIndex: Sendable {
    private struct Node: Sendable {
        var bounds: BoundingBox
        /// Children are `first ..< first + count` in the next level down, or items at the leaves.
        var first: Int
        var count: Int
    }

    static let fanout = 16
    /// Levels from the leaves (0) up to the root (last, one node).
    private let levels: [[Node]]
    private let items: [Int]
    private let boxes: [BoundingBox]

    public init(boxes: [BoundingBox]) {
        self.boxes = boxes
        guard !boxes.isEmpty else {
            levels = []
            items = []
            return
        }
        let ordered = Self.sortTileRecursive(Array(boxes.indices), boxes)
        items = ordered
        var level: [Node] = stride(from: 0, to: ordered.count, by: Self.fanout).map { start in
            let end = min(start + Self.fanout, ordered.count)
            let bounds = ordered[start..<end].dropFirst().reduce(boxes[ordered[start]]) { $0.union(boxes[$1]) }
            return Node(bounds: bounds, first: start, count: end - start)
        }
        var built = [level]
        while level.count > 1 {
            let order = Self.sortTileRecursive(Array(level.indices), level.map(\.bounds))
            let sorted = order.map { level[$0] }
            built[built.count - 1] = sorted
            level = stride(from: 0, to: sorted.count, by: Self.fanout).map { start in
                let end = min(start + Self.fanout, sorted.count)
                let bounds = sorted[start..<end].dropFirst().reduce(sorted[start].bounds) { $0.union($1.bounds) }
                return Node(bounds: bounds, first: start, count: end - start)
            }
            built.append(level)
        }
        levels = built
    }

    /// Indices (into the boxes given at construction) whose box contains `point`.
    public func candidates(containing point: PlanarPoint) -> [Int] {
        candidates(intersecting: BoundingBox(minX: point.x, minY: point.y, maxX: point.x, maxY: point.y))
    }

    /// Indices whose box intersects `box`.
    public func candidates(intersecting box: BoundingBox) -> [Int] {
        guard let root = levels.last else { return [] }
        var result: [Int] = []
        var stack: [(level: Int, node: Int)] = root.indices.map { (levels.count - 1, $0) }
        while let (level, index) = stack.popLast() {
            let node = levels[level][index]
            guard node.bounds.intersects(box) else { continue }
            if level == 0 {
                for item in items[node.first..<node.first + node.count] where boxes[item].intersects(box) { result.append(item) }
            } else {
                for child in node.first..<node.first + node.count { stack.append((level - 1, child)) }
            }
        }
        return result
    }

    /// Orders entries so that consecutive runs of `fanout` are spatially compact.
    private static func sortTileRecursive(_ entries: [Int], _ boxes: [BoundingBox]) -> [Int] {
        let leaves = (entries.count + fanout - 1) / fanout
        let slices = max(1, Int(Double(leaves).squareRoot().rounded(.up)))
        let perSlice = slices * fanout
        let byX = entries.sorted { boxes[$0].centre.x < boxes[$1].centre.x }
        var ordered: [Int] = []
        ordered.reserveCapacity(entries.count)
        for start in stride(from: 0, to: byX.count, by: perSlice) {
            let slice = byX[start..<min(start + perSlice, byX.count)]
            ordered += slice.sorted { boxes[$0].centre.y < boxes[$1].centre.y }
        }
        return ordered
    }
}

/// Nearest-point queries over many points (graph nodes, posts), on a uniform grid of
/// buckets searched ring by ring outward until no closer point can exist.
public struct PointIndex: Sendable {
    private let points: [PlanarPoint]
    private let cellSize: Double
    private let origin: PlanarPoint
    private let columns: Int
    private let rows: Int
    private let cellStart: [Int32]
    private let cellItems: [Int32]

    public init(points: [PlanarPoint], cellSize: Double = 250) {
        self.points = points
        self.cellSize = cellSize
        let bounds = points.isEmpty ? BoundingBox(minX: 0, minY: 0, maxX: 0, maxY: 0) : BoundingBox(covering: points)
        origin = PlanarPoint(x: bounds.minX, y: bounds.minY)
        let columns = max(1, Int((bounds.maxX - bounds.minX) / cellSize) + 1)
        let rows = max(1, Int((bounds.maxY - bounds.minY) / cellSize) + 1)
        self.columns = columns
        self.rows = rows
        var counts = [Int32](repeating: 0, count: columns * rows + 1)
        let cells = points.map { Self.cell(of: $0, origin: bounds, size: cellSize, columns: columns, rows: rows) }
        for cell in cells { counts[cell + 1] += 1 }
        for index in 0..<columns * rows { counts[index + 1] += counts[index] }
        var cursor = counts
        var items = [Int32](repeating: 0, count: points.count)
        for (index, cell) in cells.enumerated() {
            items[Int(cursor[cell])] = Int32(index)
            cursor[cell] += 1
        }
        cellStart = counts
        cellItems = items
    }

    private static func cell(of p: PlanarPoint, origin: BoundingBox, size: Double, columns: Int, rows: Int) -> Int {
        let column = min(columns - 1, max(0, Int((p.x - origin.minX) / size)))
        let row = min(rows - 1, max(0, Int((p.y - origin.minY) / size)))
        return row * columns + column
    }

    /// The nearest point and its distance, or nil when the index is empty.
    public func nearest(to p: PlanarPoint) -> (index: Int, distance: Double)? {
        guard !points.isEmpty else { return nil }
        let column = Int(((p.x - origin.x) / cellSize).rounded(.down))
        let row = Int(((p.y - origin.y) / cellSize).rounded(.down))
        var best: (index: Int, distance: Double)?
        // A point outside the grid starts its rings at the grid's edge.
        var radius = max(0, max(-column, column - (columns - 1), -row, row - (rows - 1)))
        let lastRadius = radius + columns + rows
        while true {
            let rowRange = max(0, row - radius)...max(0, min(rows - 1, row + radius))
            let columnRange = max(0, column - radius)...max(0, min(columns - 1, column + radius))
            for r in rowRange {
                for c in columnRange {
                    // Only the ring's border cells are new at this radius.
                    guard abs(r - row) == radius || abs(c - column) == radius else { continue }
                    let cell = r * columns + c
                    for item in cellItems[Int(cellStart[cell])..<Int(cellStart[cell + 1])] {
                        let q = points[Int(item)]
                        let distance = ((q.x - p.x) * (q.x - p.x) + (q.y - p.y) * (q.y - p.y)).squareRoot()
                        if best == nil || distance < best!.distance || (distance == best!.distance && Int(item) < best!.index) {
                            best = (Int(item), distance)
                        }
                    }
                }
            }
            // Cells not yet searched are more than `radius` cells away in some axis, so
            // every point in them is at least radius × cellSize from p.
            if let best, best.distance <= Double(radius) * cellSize { return best }
            if radius > lastRadius { return best }
            radius += 1
        }
    }
}
