import Foundation
public import XunfangGeo

/// The built-in demo county, deterministic so that tests, benchmarks and a fresh
/// `xunfang up` all see the same map. Sized from the documents: 538 km² (23.2 km
/// square), an urban core of 17.4 km², **129 patrol grids**, **677 must-patrol points**,
/// **105 must-patrol lines**, 8 public-security checkpoints and 5 city exits, on a road
/// road network at a real county's density (`SyntheticRoads.Parameters.demoCounty`: about
/// 1,200 km of road, 8 km per km² in the town and 2 in the countryside).
///
/// Layout in metres from the centre: the core is 5 × 5 grids of 834 m; a band around it
/// is 8 fringe grids; the rest is 96 rural grids of 2.32 km. Three branches (the urban
/// one, a northern and a southern rural one) and 12 stations: four urban by quadrant,
/// eight rural by 45° sector.
public enum DemoCounty {
    public static let parameters = SyntheticRoads.Parameters.demoCounty
    public static let code = "510000"

    public static func build() throws(GeoError) -> CountyModel {
        let roads = SyntheticRoads.county(parameters)
        let (areas, sites) = layout(roads: roads)
        return try CountyModel(revision: 1, areas: areas, sites: sites, roads: roads, origin: parameters.origin)
    }

    /// Areas and sites over `roads` (which must be the demo network or one like it).
    public static func layout(roads: RoadGraph) -> ([AreaRecord], [SiteRecord]) {
        let projection = LocalProjection(origin: parameters.origin)
        let half = parameters.sideMetres / 2
        let coreHalf = parameters.coreSideMetres / 2
        let blockHalf = parameters.sideMetres / 10  // the centre 2 × 2 rural cells hold the core and its fringe

        var areas = [AreaRecord(id: code, name: "示范县公安局", level: .cityBureau, parentID: nil)]
        let urbanBranch = "\(code)-01"
        let ruralBranches = ["\(code)-02", "\(code)-03"]  // north of the centre, south of it
        areas.append(AreaRecord(id: urbanBranch, name: "城区分局", level: .branch, parentID: code))
        areas.append(AreaRecord(id: ruralBranches[0], name: "北部分局", level: .branch, parentID: code))
        areas.append(AreaRecord(id: ruralBranches[1], name: "南部分局", level: .branch, parentID: code))
        let urbanNames = ["东北", "西北", "西南", "东南"]
        // Rural stations by 45° sector counter-clockwise from east; four per rural branch.
        let ruralNames = ["东郊", "东北郊", "北郊", "西北郊", "西郊", "西南郊", "南郊", "东南郊"]
        for (index, name) in urbanNames.enumerated() {
            areas.append(AreaRecord(id: "\(urbanBranch)-\(String(format: "%02d", index + 1))", name: "城\(name)派出所", level: .station, parentID: urbanBranch))
        }
        func ruralStation(sector: Int) -> String {
            "\(ruralBranches[sector / 4])-\(String(format: "%02d", sector % 4 + 1))"
        }
        for (sector, name) in ruralNames.enumerated() {
            areas.append(AreaRecord(id: ruralStation(sector: sector), name: "\(name)派出所", level: .station, parentID: ruralBranches[sector / 4]))
        }

        // Rectangles (minX, minY, maxX, maxY) of every grid, with its place class and station.
        var rectangles: [(box: BoundingBox, placeClass: PlaceClass, station: String)] = []
        func urbanStation(_ x: Double, _ y: Double) -> String {
            let quadrant = y >= 0 ? (x >= 0 ? 0 : 1) : (x < 0 ? 2 : 3)
            return "\(urbanBranch)-\(String(format: "%02d", quadrant + 1))"
        }
        for (index, box) in parameters.gridBoxes.enumerated() {
            let centre = box.centre
            switch index {
            case 0..<25: rectangles.append((box, .core, urbanStation(centre.x, centre.y)))
            case 25..<33: rectangles.append((box, .urban, urbanStation(centre.x, centre.y)))
            default:
                var angle = atan2(centre.y, centre.x)
                if angle < 0 { angle += 2 * .pi }
                let sector = min(7, Int(angle / (.pi / 4)))
                let distance = (centre.x * centre.x + centre.y * centre.y).squareRoot()
                rectangles.append((box, distance < 5_000 ? .urban : .support, ruralStation(sector: sector)))
            }
        }
        var gridCount: [String: Int] = [:]
        for (box, placeClass, station) in rectangles {
            gridCount[station, default: 0] += 1
            let corners = [PlanarPoint(x: box.minX, y: box.minY), PlanarPoint(x: box.maxX, y: box.minY),
                           PlanarPoint(x: box.maxX, y: box.maxY), PlanarPoint(x: box.minX, y: box.maxY)]
            let number = gridCount[station]!
            areas.append(AreaRecord(id: "\(station)-\(String(format: "%03d", number))", name: "网格\(number)", level: .grid, parentID: station,
                                    placeClass: placeClass, boundary: [[corners.map(projection.unproject)]]))
        }

        // Sites on the road network, at the roadside point nearest where each belongs: on the
        // roads around the nearest junction, so that posts a block apart do not share one.
        let roadPoints = roads.coordinates.map(projection.project)
        let nodes = PointIndex(points: roadPoints)
        var sites: [SiteRecord] = []
        var random = SyntheticRoads.Generator(state: 677)
        func site(_ id: String, _ name: String, _ kind: SiteKind, near point: PlanarPoint) {
            guard let nearest = nodes.nearest(to: point)?.index else { return }
            let onRoad = roads.nearestArc(from: nearest, to: point, points: roadPoints)?.onRoad ?? roadPoints[nearest]
            sites.append(SiteRecord(id: id, name: name, kind: kind, position: projection.unproject(onRoad)))
        }
        let stations = areas.filter { $0.level == .station }
        for station in stations {
            let boxes = rectangles.filter { $0.station == station.id }.map(\.box)
            let centre = PlanarPoint(x: boxes.map(\.centre.x).reduce(0, +) / Double(boxes.count), y: boxes.map(\.centre.y).reduce(0, +) / Double(boxes.count))
            site("\(station.id)-H", station.name + "驻地", .stationHouse, near: centre)
        }
        for index in 0..<12 {
            let angle = Double(index) * .pi / 6
            site("\(code)-FP\(String(format: "%03d", index + 1))", "固定岗\(index + 1)", .fixedPost,
                 near: PlanarPoint(x: 1_200 * cos(angle), y: 1_200 * sin(angle)))
        }
        for index in 0..<20 {
            site("\(code)-MP\(String(format: "%03d", index + 1))", "流动岗\(index + 1)", .mobilePost,
                 near: PlanarPoint(x: Double.random(in: -coreHalf...coreHalf, using: &random), y: Double.random(in: -coreHalf...coreHalf, using: &random)))
        }
        for index in 0..<9 {
            let angle = Double(index) * 2 * .pi / 9
            site("\(code)-SS\(String(format: "%03d", index + 1))", "警务站\(index + 1)", .serviceStation,
                 near: PlanarPoint(x: coreHalf * 1.6 * cos(angle), y: coreHalf * 1.6 * sin(angle)))
        }
        for index in 0..<30 {
            site("\(code)-PR\(String(format: "%03d", index + 1))", "警务室\(index + 1)", .policeRoom,
                 near: PlanarPoint(x: Double.random(in: -half...half, using: &random), y: Double.random(in: -half...half, using: &random)))
        }
        for index in 0..<8 {
            let angle = Double(index) * .pi / 4 + .pi / 8
            site("\(code)-CP\(String(format: "%03d", index + 1))", "治安卡点\(index + 1)", .checkpoint,
                 near: PlanarPoint(x: 8_000 * cos(angle), y: 8_000 * sin(angle)))
        }
        for index in 0..<5 {
            let angle = Double(index) * 2 * .pi / 5
            site("\(code)-EX\(String(format: "%03d", index + 1))", "出城卡口\(index + 1)", .cityExit,
                 near: PlanarPoint(x: (half - 200) * cos(angle), y: (half - 200) * sin(angle)))
        }
        // 677 must-patrol points, most of them in the core and the urban band.
        for index in 0..<677 {
            let urban = index < 420
            let reach = urban ? blockHalf : half
            site("\(code)-PP\(String(format: "%03d", index + 1))", "必巡点\(index + 1)", .patrolPoint,
                 near: PlanarPoint(x: Double.random(in: -reach...reach, using: &random), y: Double.random(in: -reach...reach, using: &random)))
        }
        // 105 must-patrol lines: road routes of 0.6 to 1.5 km, two in three in the city.
        let byDistance = ShortestPathSearch(graph: roads, weights: roads.weights(.distance))
        var lines = 0
        while lines < 105 {
            let reach = lines < 70 ? blockHalf : half - 1_500
            let from = PlanarPoint(x: Double.random(in: -reach...reach, using: &random), y: Double.random(in: -reach...reach, using: &random))
            let length = Double.random(in: 600...1_500, using: &random), heading = Double.random(in: 0..<(2 * .pi), using: &random)
            let to = PlanarPoint(x: from.x + length * cos(heading), y: from.y + length * sin(heading))
            guard let start = nodes.nearest(to: from)?.index, let end = nodes.nearest(to: to)?.index, start != end else { continue }
            byDistance.run(from: [(start, 0)], limit: 4 * length, targets: [end])
            guard let arcs = byDistance.pathArcs(to: end), !arcs.isEmpty else { continue }
            lines += 1
            let path = [roads.coordinates[start]] + arcs.map { roads.coordinates[Int(roads.arcHead[$0])] }
            sites.append(.line(id: "\(code)-PL\(String(format: "%03d", lines))", name: "必巡线\(lines)", path: path))
        }
        return (areas, sites)
    }
}
