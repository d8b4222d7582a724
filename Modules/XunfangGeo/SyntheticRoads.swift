import Foundation

/// Deterministic county-like road networks for the demo county and for benchmarks: a
/// dense urban grid in the centre, a sparser rural lattice around it with some roads
/// missing, and a ring road joined to both by ramps. The same parameters and seed give
/// the same graph on every machine.
public enum SyntheticRoads {
    public struct Parameters: Sendable, Hashable {
        public var origin: GeoPoint
        /// Side of the square county, metres.
        public var sideMetres: Double
        /// Side of the square urban core in its centre, metres.
        public var coreSideMetres: Double
        public var coreSpacing: Double
        public var ruralSpacing: Double
        /// Share of rural lattice roads left out, so the network is not a perfect grid.
        public var ruralGaps: Double
        /// Every how many core streets one is an artery (primary), and every how many rural
        /// lattice lines a county road (secondary) and a township road (tertiary).
        public var arteryEvery: Int
        public var secondaryEvery: Int
        public var tertiaryEvery: Int
        public var seed: UInt64

        public init(origin: GeoPoint, sideMetres: Double, coreSideMetres: Double, coreSpacing: Double, ruralSpacing: Double,
                    ruralGaps: Double = 0.12, arteryEvery: Int = 5, secondaryEvery: Int = 20, tertiaryEvery: Int = 5, seed: UInt64 = 1) {
            self.arteryEvery = arteryEvery
            self.secondaryEvery = secondaryEvery
            self.tertiaryEvery = tertiaryEvery
            self.origin = origin
            self.sideMetres = sideMetres
            self.coreSideMetres = coreSideMetres
            self.coreSpacing = coreSpacing
            self.ruralSpacing = ruralSpacing
            self.ruralGaps = ruralGaps
            self.seed = seed
        }

        /// Guanghan's 538 km² with its 17.4 km² core, at a real county's road density: a
        /// street every 250 m in the town (about 8 km of road per km², the national target
        /// for built-up areas) and a rural road every kilometre (about 2 km per km², a
        /// Chengdu-plain county's rural roads); an artery every 500 m, a county road every
        /// 6 km and a township road every 2 km. Sources in Plugins/GridModel/README.md.
        public static let demoCounty = Parameters(origin: GeoPoint(longitude: 104.2817, latitude: 30.9769),
                                                  sideMetres: 23_200, coreSideMetres: 4_170, coreSpacing: 250, ruralSpacing: 1_000,
                                                  arteryEvery: 2, secondaryEvery: 6, tertiaryEvery: 2)

        /// About 200,000 nodes, for benchmarks.
        public static let large = Parameters(origin: GeoPoint(longitude: 104.2817, latitude: 30.9769),
                                             sideMetres: 40_000, coreSideMetres: 6_000, coreSpacing: 50, ruralSpacing: 92)
    }

    public static func county(_ parameters: Parameters) -> RoadGraph {
        var random = Generator(state: parameters.seed)
        let projection = LocalProjection(origin: parameters.origin)
        var builder = RoadGraphBuilder()
        var nextID: Int64 = 1
        func node(_ x: Double, _ y: Double) -> Int32 {
            defer { nextID += 1 }
            return builder.addNode(osmID: nextID, at: projection.unproject(PlanarPoint(x: x, y: y)))
        }
        func road(_ a: Int32, _ b: Int32, _ roadClass: RoadClass, oneway: Bool = false, name: String = "") {
            builder.addArc(from: a, to: b, class: roadClass, name: name)
            if !oneway { builder.addArc(from: b, to: a, class: roadClass, name: name) }
        }
        let half = parameters.sideMetres / 2, coreHalf = parameters.coreSideMetres / 2

        // Rural lattice, jittered, skipping the core square.
        let ruralCount = Int(parameters.sideMetres / parameters.ruralSpacing) + 1
        var rural = [[Int32?]](repeating: [Int32?](repeating: nil, count: ruralCount), count: ruralCount)
        for row in 0..<ruralCount {
            for column in 0..<ruralCount {
                let x = -half + Double(column) * parameters.ruralSpacing, y = -half + Double(row) * parameters.ruralSpacing
                if abs(x) < coreHalf && abs(y) < coreHalf { continue }
                let jitter = parameters.ruralSpacing * 0.15
                rural[row][column] = node(x + Double.random(in: -jitter...jitter, using: &random),
                                          y + Double.random(in: -jitter...jitter, using: &random))
            }
        }
        for row in 0..<ruralCount {
            for column in 0..<ruralCount {
                guard let here = rural[row][column] else { continue }
                for (dr, dc) in [(0, 1), (1, 0)] where row + dr < ruralCount && column + dc < ruralCount {
                    guard let there = rural[row + dr][column + dc] else { continue }
                    let line = dr == 0 ? row : column
                    let roadClass: RoadClass = line % parameters.secondaryEvery == 0 ? .secondary
                        : line % parameters.tertiaryEvery == 0 ? .tertiary : .unclassified
                    if roadClass == .unclassified && Double.random(in: 0..<1, using: &random) < parameters.ruralGaps { continue }
                    road(here, there, roadClass, name: Names.rural(roadClass, line: line, eastWest: dr == 0, parameters))
                }
            }
        }

        // Urban core: arteries every fifth street, one-way residential streets alternating.
        let coreCount = Int(parameters.coreSideMetres / parameters.coreSpacing) + 1
        var core = [[Int32]]()
        for row in 0..<coreCount {
            core.append((0..<coreCount).map { column in
                node(-coreHalf + Double(column) * parameters.coreSpacing, -coreHalf + Double(row) * parameters.coreSpacing)
            })
        }
        for row in 0..<coreCount {
            for column in 0..<coreCount {
                if column + 1 < coreCount {
                    let artery = row % parameters.arteryEvery == 0
                    road(row % 2 == 0 || artery ? core[row][column] : core[row][column + 1],
                         row % 2 == 0 || artery ? core[row][column + 1] : core[row][column],
                         artery ? .primary : .residential, oneway: !artery && row % 3 == 1, name: Names.core(row, eastWest: true))
                }
                if row + 1 < coreCount {
                    let artery = column % parameters.arteryEvery == 0
                    road(core[row][column], core[row + 1][column], artery ? .primary : .residential, oneway: false, name: Names.core(column, eastWest: false))
                }
            }
        }
        // Join the core's edge to the nearest rural nodes outside it.
        let graphPoints = { (id: Int32) -> PlanarPoint in projection.project(builder.point(of: id)) }
        let ruralNodes = rural.flatMap { $0.compactMap { $0 } }
        let ruralIndex = PointIndex(points: ruralNodes.map(graphPoints))
        for index in 0..<coreCount {
            for edgeNode in [core[0][index], core[coreCount - 1][index], core[index][0], core[index][coreCount - 1]] {
                if let nearest = ruralIndex.nearest(to: graphPoints(edgeNode)) {
                    road(edgeNode, ruralNodes[nearest.index], .tertiary)
                }
            }
        }

        // Ring road (trunk) around the core, a ramp to the lattice every kilometre.
        let radius = coreHalf * 1.6
        let ringCount = max(12, Int(2 * Double.pi * radius / 200))
        let ring = (0..<ringCount).map { step in
            let angle = 2 * Double.pi * Double(step) / Double(ringCount)
            return node(radius * cos(angle), radius * sin(angle))
        }
        for (step, here) in ring.enumerated() {
            road(here, ring[(step + 1) % ringCount], .trunk, oneway: false, name: "环城路")
            if step % 5 == 0, let nearest = ruralIndex.nearest(to: graphPoints(here)) {
                road(here, ruralNodes[nearest.index], .trunkLink, name: "环城路连接线")
            }
        }
        // Building never fails here: the arrays are made consistent by construction.
        return try! builder.build()
    }

    /// Road names as a county town has them: the town's streets after other cities (as
    /// Guanghan's are), county roads numbered X, township roads Y, village roads unnamed.
    enum Names {
        static let eastWest = ["中山大道", "北京大道", "上海路", "天津路", "重庆路", "湘潭路", "长沙路", "韶山路", "株洲路", "岳阳路",
                               "衡阳路", "常德路", "益阳路", "郴州路", "永州路", "怀化路", "娄底路", "吉首路"]
        static let northSouth = ["深圳路", "广州路", "珠海路", "汕头路", "厦门路", "福州路", "泉州路", "南昌路", "九江路", "赣州路",
                                 "武汉路", "宜昌路", "襄阳路", "黄石路", "杭州路", "宁波路", "温州路", "绍兴路"]

        static func core(_ line: Int, eastWest: Bool) -> String {
            let list = eastWest ? Self.eastWest : northSouth
            let name = list[line % list.count]
            return line < list.count ? name : name + ["", "", "二段", "三段", "四段", "五段"][min(5, line / list.count + 1)]
        }

        static func rural(_ roadClass: RoadClass, line: Int, eastWest: Bool, _ parameters: Parameters) -> String {
            switch roadClass {
            case .secondary: String(format: "县道X%03d", 101 + line / parameters.secondaryEvery * 2 + (eastWest ? 0 : 1))
            case .tertiary: String(format: "乡道Y%03d", 1 + line / parameters.tertiaryEvery * 2 + (eastWest ? 0 : 1))
            default: ""
            }
        }
    }

    /// SplitMix64: tiny, fast and the same everywhere, unlike the system generator.
    public struct Generator: RandomNumberGenerator, Sendable {
        public var state: UInt64
        public init(state: UInt64) { self.state = state }
        public mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

extension SyntheticRoads.Parameters {
    /// The county's patrol grids in metres from the centre: the core as 5 × 5 cells, then
    /// 8 fringe cells around it filling the centre 2 × 2 rural cells, then the rural cells
    /// (a tenth of the side) row by row from the south-west. The demo county's 129 grids;
    /// GridModel names them and the CheckpointControl benchmark rings them.
    public var gridBoxes: [BoundingBox] {
        let half = sideMetres / 2, coreHalf = coreSideMetres / 2
        let ruralCell = sideMetres / 10, blockHalf = ruralCell
        let coreCell = coreSideMetres / 5
        var boxes: [BoundingBox] = []
        for row in 0..<5 {
            for column in 0..<5 {
                let minX = -coreHalf + Double(column) * coreCell, minY = -coreHalf + Double(row) * coreCell
                boxes.append(BoundingBox(minX: minX, minY: minY, maxX: minX + coreCell, maxY: minY + coreCell))
            }
        }
        boxes += [
            BoundingBox(minX: -blockHalf, minY: coreHalf, maxX: 0, maxY: blockHalf), BoundingBox(minX: 0, minY: coreHalf, maxX: blockHalf, maxY: blockHalf),
            BoundingBox(minX: -blockHalf, minY: -blockHalf, maxX: 0, maxY: -coreHalf), BoundingBox(minX: 0, minY: -blockHalf, maxX: blockHalf, maxY: -coreHalf),
            BoundingBox(minX: -blockHalf, minY: -coreHalf, maxX: -coreHalf, maxY: 0), BoundingBox(minX: -blockHalf, minY: 0, maxX: -coreHalf, maxY: coreHalf),
            BoundingBox(minX: coreHalf, minY: -coreHalf, maxX: blockHalf, maxY: 0), BoundingBox(minX: coreHalf, minY: 0, maxX: blockHalf, maxY: coreHalf),
        ]
        for row in 0..<10 {
            for column in 0..<10 where !((4...5).contains(row) && (4...5).contains(column)) {
                let minX = -half + Double(column) * ruralCell, minY = -half + Double(row) * ruralCell
                boxes.append(BoundingBox(minX: minX, minY: minY, maxX: minX + ruralCell, maxY: minY + ruralCell))
            }
        }
        return boxes
    }
}

extension RoadGraph {
    /// The graph with a node every `metres` or so along each road, as OSM draws roads:
    /// the same junctions and travel times, many more nodes. Both directions of a road
    /// share its shape nodes. Benchmarks use it to reach a real county's node count.
    public func withShapeNodes(every metres: Double) throws(GeoError) -> RoadGraph {
        var builder = RoadGraphBuilder()
        for node in 0..<nodeCount { builder.addNode(osmID: nodeIDs[node], at: coordinates[node]) }
        var nextID = (nodeIDs.max() ?? 0) + 1
        var shapes: [[Int32]: [Int32]] = [:]  // (low, high) → shape nodes from low to high
        for tail in 0..<nodeCount {
            for arc in arcs(from: tail) {
                let head = Int(arcHead[arc])
                let key = [Int32(min(tail, head)), Int32(max(tail, head))]
                if shapes[key] == nil {
                    let (low, high) = (coordinates[Int(key[0])], coordinates[Int(key[1])])
                    let pieces = max(1, Int((arcLength[arc] / metres).rounded()))
                    shapes[key] = (1..<pieces).map { step in
                        let share = Double(step) / Double(pieces)
                        defer { nextID += 1 }
                        return builder.addNode(osmID: nextID, at: GeoPoint(longitude: low.longitude + (high.longitude - low.longitude) * share,
                                                                         latitude: low.latitude + (high.latitude - low.latitude) * share))
                    }
                }
                let inner = tail < head ? shapes[key]! : shapes[key]!.reversed()
                let path = [Int32(tail)] + inner + [Int32(head)]
                for (from, to) in zip(path, path.dropFirst()) { builder.addArc(from: from, to: to, class: arcClass[arc], name: name(ofArc: arc)) }
            }
        }
        return try builder.build()
    }
}
