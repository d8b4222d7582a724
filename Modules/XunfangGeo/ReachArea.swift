/// The area a search reached, drawn so that it claims no more than was reached: square
/// cells of `cell` metres on every reached stretch of road, each with its eight neighbours,
/// outlined as polygons with holes. Every point of the area lies within 2√2 cells of a
/// reached road (a convex hull claims the fields and hills between roads too). Pure.
public enum ReachArea {
    /// Polygons (outer rings counter-clockwise, holes clockwise) around the segments.
    public static func polygons(around segments: [(PlanarPoint, PlanarPoint)], cell: Double) -> [Polygon] {
        guard !segments.isEmpty, cell > 0 else { return [] }
        let bounds = BoundingBox(covering: segments.flatMap { [$0.0, $0.1] })
        // Two cells of margin: the neighbours of a cell at the edge stay on the grid, and
        // the grid's own border is never filled.
        let originX = bounds.minX - 2 * cell, originY = bounds.minY - 2 * cell
        let width = Int(((bounds.maxX - bounds.minX) / cell).rounded(.up)) + 5
        let height = Int(((bounds.maxY - bounds.minY) / cell).rounded(.up)) + 5
        var filled = [Bool](repeating: false, count: width * height)
        for (start, end) in segments {
            let length = ((end.x - start.x) * (end.x - start.x) + (end.y - start.y) * (end.y - start.y)).squareRoot()
            let steps = max(1, Int((2 * length / cell).rounded(.up)))
            for step in 0...steps {
                let share = Double(step) / Double(steps)
                let i = Int((start.x + (end.x - start.x) * share - originX) / cell), j = Int((start.y + (end.y - start.y) * share - originY) / cell)
                for dj in -1...1 { for di in -1...1 { filled[(j + dj) * width + i + di] = true } }
            }
        }
        return outline(filled, width: width, height: height).map { rings in
            let points = rings.map { ring in ring.map { PlanarPoint(x: originX + Double($0 % (width + 1)) * cell, y: originY + Double($0 / (width + 1)) * cell) } }
            // Each ring has at least four corners, so it is a ring.
            return Polygon(outer: try! Ring(points[0]), holes: points.dropFirst().map { try! Ring($0) })
        }
    }

    /// The outlines of the filled cells as rings of corner indices (corner (i, j) is
    /// j·(width+1)+i), grouped as [outer, holes...]. Every border edge runs with its filled
    /// cell on the left; where two cells touch only at a corner, the walk turns left, so
    /// each ring is simple and such cells are outlined apart.
    static func outline(_ filled: [Bool], width: Int, height: Int) -> [[[Int]]] {
        func isFilled(_ i: Int, _ j: Int) -> Bool { i >= 0 && j >= 0 && i < width && j < height && filled[j * width + i] }
        let stride = width + 1
        // Directions 0 +x, 1 +y, 2 -x, 3 -y; a corner's steps: its outgoing border edges.
        let step = [1, stride, -1, -stride]
        var outgoing: [Int: [Int]] = [:]
        for j in 0..<height {
            for i in 0..<width where filled[j * width + i] {
                if !isFilled(i, j - 1) { outgoing[j * stride + i, default: []].append(0) }
                if !isFilled(i + 1, j) { outgoing[j * stride + i + 1, default: []].append(1) }
                if !isFilled(i, j + 1) { outgoing[(j + 1) * stride + i + 1, default: []].append(2) }
                if !isFilled(i - 1, j) { outgoing[(j + 1) * stride + i, default: []].append(3) }
            }
        }
        var outers: [[Int]] = [], holes: [[Int]] = []
        for start in outgoing.keys.sorted() {
            while let first = outgoing[start]?.first {
                var ring: [Int] = [], corner = start, direction = first
                while true {
                    let next = corner + step[direction]
                    let choices = outgoing[next] ?? []
                    guard let turn = [(direction + 1) % 4, direction, (direction + 3) % 4].first(where: { choices.contains($0) }) else { break }
                    if turn != direction { ring.append(next) }
                    outgoing[next]!.removeAll { $0 == turn }
                    // Back at the first edge: the ring is closed (it was taken just now).
                    if next == start && turn == first { break }
                    corner = next
                    direction = turn
                }
                outgoing[start]!.removeAll { $0 == first }  // already, unless the walk broke off
                if ring.count >= 4 {
                    if signedArea(ring, stride: stride) > 0 { outers.append(ring) } else { holes.append(ring) }
                }
            }
        }
        var groups = outers.map { [$0] }
        for hole in holes {
            // A point just inside the hole: the centre of the empty cell right of its first edge.
            let a = hole[0], b = hole[1]
            let (ax, ay, bx, by) = (Double(a % stride), Double(a / stride), Double(b % stride), Double(b / stride))
            let dx: Double = bx > ax ? 1 : bx < ax ? -1 : 0, dy: Double = by > ay ? 1 : by < ay ? -1 : 0
            let probe = (ax + dx * 0.5 + dy * 0.5, ay + dy * 0.5 - dx * 0.5)
            let owner = groups.indices.filter { contains(groups[$0][0], probe, stride: stride) }
                .min { abs(signedArea(groups[$0][0], stride: stride)) < abs(signedArea(groups[$1][0], stride: stride)) }
            if let owner { groups[owner].append(hole) }
        }
        return groups
    }

    private static func signedArea(_ ring: [Int], stride: Int) -> Double {
        var sum = 0.0
        for (index, corner) in ring.enumerated() {
            let next = ring[(index + 1) % ring.count]
            sum += Double(corner % stride) * Double(next / stride) - Double(next % stride) * Double(corner / stride)
        }
        return sum / 2
    }

    private static func contains(_ ring: [Int], _ point: (Double, Double), stride: Int) -> Bool {
        var inside = false
        for (index, corner) in ring.enumerated() {
            let next = ring[(index + 1) % ring.count]
            let (x1, y1, x2, y2) = (Double(corner % stride), Double(corner / stride), Double(next % stride), Double(next / stride))
            if (y1 > point.1) != (y2 > point.1), point.0 < x1 + (point.1 - y1) * (x2 - x1) / (y2 - y1) { inside.toggle() }
        }
        return inside
    }
}
