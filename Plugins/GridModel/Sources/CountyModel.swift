import Foundation
import Synchronization
public import XunfangGeo

/// One level of the hierarchy.
public enum AreaLevel: Int, Sendable, Codable, CaseIterable {
    case cityBureau = 1, branch = 2, station = 3, grid = 4
}

/// Response-circle class of a place.
public enum PlaceClass: Int, Sendable, Codable, CaseIterable {
    case core = 1, urban = 2, support = 3

    /// The documents' figures: arrive in 1 minute in the core, 3 in the main urban
    /// area, 5 for support groups.
    public var defaultTargetSeconds: Double {
        switch self {
        case .core: 60
        case .urban: 180
        case .support: 300
        }
    }
}

public enum SiteKind: Int, Sendable, Codable, CaseIterable {
    case fixedPost = 1, mobilePost, serviceStation, policeRoom, checkpoint, cityExit, patrolPoint, stationHouse, patrolLine
}

public struct AreaRecord: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var level: AreaLevel
    public var parentID: String?
    /// Grids only.
    public var placeClass: PlaceClass?
    /// Grids only: outer rings and holes in WGS84, [[[lon, lat]]] per polygon.
    public var boundary: [[[GeoPoint]]]?

    public init(id: String, name: String, level: AreaLevel, parentID: String?, placeClass: PlaceClass? = nil, boundary: [[[GeoPoint]]]? = nil) {
        self.id = id
        self.name = name
        self.level = level
        self.parentID = parentID
        self.placeClass = placeClass
        self.boundary = boundary
    }
}

public struct SiteRecord: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var kind: SiteKind
    public var position: GeoPoint
    /// Patrol lines only: the route in travel order; `position` is then its middle point.
    public var path: [GeoPoint]?

    public init(id: String, name: String, kind: SiteKind, position: GeoPoint, path: [GeoPoint]? = nil) {
        self.id = id
        self.name = name
        self.kind = kind
        self.position = position
        self.path = path
    }

    /// A patrol line along `path` (at least two points), placed at its middle vertex.
    public static func line(id: String, name: String, path: [GeoPoint]) -> SiteRecord {
        SiteRecord(id: id, name: name, kind: .patrolLine, position: path[path.count / 2], path: path)
    }
}

/// Everything GridModel knows, indexed for queries. Immutable: an edit or reload builds
/// a new model and swaps it in, so queries never see half an update.
public final class CountyModel: Sendable {
    public let revision: UInt64
    public let areas: [AreaRecord]
    public let sites: [SiteRecord]
    public let roads: RoadGraph
    public let projection: LocalProjection
    public let responseTargets: [PlaceClass: Double]

    let areaByID: [String: AreaRecord]
    let grids: [AreaRecord]
    let gridShapes: [MultiPolygon]
    let gridIndex: SpatialIndex
    /// The grid of each site (nil outside every grid), same order as `sites`.
    let siteGrid: [Int?]
    let roadPoints: [PlanarPoint]
    let roadIndex: PointIndex
    /// The grid each arc's midpoint lies in, for per-grid coverage.
    let arcGrid: [Int32]
    /// Station id -> ids of stations whose grids touch its grids.
    let adjacentStations: [String: Set<String>]
    let searches: SearchPool
    /// Contraction hierarchies of the road graph, shared by every model over the same roads.
    public let hierarchies: TravelHierarchies

    /// - Parameter hierarchies: the roads' hierarchies when a previous model over the same
    ///   roads has them; a new, empty set otherwise (Eta then uses plain searches until
    ///   `hierarchies.build` has run).
    public init(revision: UInt64, areas: [AreaRecord], sites: [SiteRecord], roads: RoadGraph, origin: GeoPoint,
                responseTargets: [PlaceClass: Double] = [:], hierarchies: TravelHierarchies? = nil) throws(GeoError) {
        self.revision = revision
        self.hierarchies = hierarchies ?? TravelHierarchies(roads: roads)
        self.areas = areas
        self.sites = sites
        self.roads = roads
        let projection = LocalProjection(origin: origin)
        self.projection = projection
        self.responseTargets = PlaceClass.allCases.reduce(into: [:]) { $0[$1] = responseTargets[$1] ?? $1.defaultTargetSeconds }

        var byID: [String: AreaRecord] = [:]
        for area in areas {
            guard byID.updateValue(area, forKey: area.id) == nil else { throw GeoError(.invalidInput, "area id \(area.id) appears twice") }
        }
        for area in areas {
            let expectedParent: AreaLevel? = switch area.level {
            case .cityBureau: nil
            case .branch: .cityBureau
            case .station: .branch
            case .grid: .station
            }
            if let expectedParent {
                guard let parentID = area.parentID, let parent = byID[parentID], parent.level == expectedParent else {
                    throw GeoError(.invalidInput, "\(area.id): a \(area.level) needs a \(expectedParent) as parent, got \(area.parentID ?? "none")")
                }
            }
        }
        areaByID = byID
        let grids = areas.filter { $0.level == .grid }
        var shapes: [MultiPolygon] = []
        for grid in grids {
            guard let boundary = grid.boundary, !boundary.isEmpty else { throw GeoError(.invalidInput, "grid \(grid.id) has no boundary") }
            do throws(GeoError) {
                shapes.append(try MultiPolygon(rings: boundary, project: projection.project))
            } catch {
                throw GeoError(error.code, "grid \(grid.id): \(error.message)")
            }
        }
        self.grids = grids
        gridShapes = shapes
        let gridIndex = SpatialIndex(boxes: shapes.map(\.bounds))
        self.gridIndex = gridIndex
        func gridContaining(_ point: PlanarPoint) -> Int? {
            gridIndex.candidates(containing: point).filter { shapes[$0].contains(point) }.min()
        }
        siteGrid = sites.map { gridContaining(projection.project($0.position)) }
        let roadPoints = roads.coordinates.map(projection.project)
        self.roadPoints = roadPoints
        roadIndex = PointIndex(points: roadPoints)
        var arcGrid = [Int32](repeating: -1, count: roads.arcCount)
        for tail in 0..<roads.nodeCount {
            for arc in roads.arcs(from: tail) {
                let head = roadPoints[Int(roads.arcHead[arc])]
                let middle = PlanarPoint(x: (roadPoints[tail].x + head.x) / 2, y: (roadPoints[tail].y + head.y) / 2)
                arcGrid[arc] = Int32(gridContaining(middle) ?? -1)
            }
        }
        self.arcGrid = arcGrid

        // Stations are adjacent when any of their grids touch.
        var adjacency: [String: Set<String>] = [:]
        for (i, a) in grids.enumerated() {
            for j in gridIndex.candidates(intersecting: shapes[i].bounds.expanded(by: 1)) where j > i {
                let b = grids[j]
                guard let stationA = a.parentID, let stationB = b.parentID, stationA != stationB else { continue }
                if shapes[i].touches(shapes[j], tolerance: 0.5) {
                    adjacency[stationA, default: []].insert(stationB)
                    adjacency[stationB, default: []].insert(stationA)
                }
            }
        }
        adjacentStations = adjacency
        searches = SearchPool(roads: roads, speeds: self.hierarchies.speeds)
    }

    // MARK: - Hierarchy

    public func area(_ id: String) -> AreaRecord? { areaByID[id] }

    /// The chain grid -> station -> branch -> city of the grid at `point`, or nil outside every grid.
    public func locate(_ point: GeoPoint) -> (grid: AreaRecord, station: AreaRecord, branch: AreaRecord, city: AreaRecord)? {
        let planar = projection.project(point)
        guard let index = gridIndex.candidates(containing: planar).filter({ gridShapes[$0].contains(planar) }).min() else { return nil }
        return chain(of: grids[index])
    }

    /// For a point outside every grid: the nearest grid, its station, and how far outside
    /// the point is (metres to that grid's boundary).
    public func nearestGrid(to point: GeoPoint) -> (grid: AreaRecord, station: AreaRecord?, metres: Double)? {
        let planar = projection.project(point)
        let distances = gridShapes.map { $0.distance(to: planar) }
        guard let index = distances.indices.min(by: { distances[$0] < distances[$1] }) else { return nil }
        return (grids[index], grids[index].parentID.flatMap { areaByID[$0] }, distances[index])
    }

    func chain(of grid: AreaRecord) -> (grid: AreaRecord, station: AreaRecord, branch: AreaRecord, city: AreaRecord)? {
        guard let station = grid.parentID.flatMap({ areaByID[$0] }), let branch = station.parentID.flatMap({ areaByID[$0] }),
              let city = branch.parentID.flatMap({ areaByID[$0] }) else { return nil }
        return (grid, station, branch, city)
    }

    /// Where a place named by id is: a site's position, or for a grid its centroid when
    /// that lies inside, else the middle of a road inside it (or of its first edge).
    public func position(ofPlace id: String) -> GeoPoint? {
        if let site = sites.first(where: { $0.id == id }) { return site.position }
        guard let index = grids.firstIndex(where: { $0.id == id }) else { return nil }
        let shape = gridShapes[index]
        if shape.contains(shape.centroid) { return projection.unproject(shape.centroid) }
        if let arc = arcGrid.firstIndex(of: Int32(index)) {
            let head = roadPoints[Int(roads.arcHead[arc])]
            let tail = roadPoints[roads.arcStart.lastIndex { Int($0) <= arc }!]
            return projection.unproject(PlanarPoint(x: (head.x + tail.x) / 2, y: (head.y + tail.y) / 2))
        }
        return grids[index].boundary?.first?.first?.first
    }

    public func targetSeconds(_ placeClass: PlaceClass) -> Double { responseTargets[placeClass] ?? placeClass.defaultTargetSeconds }

    /// The station a site belongs to (through the grid it lies in).
    public func station(ofSite index: Int) -> String? {
        siteGrid[index].flatMap { grids[$0].parentID }
    }

    public func gridID(ofSite index: Int) -> String? { siteGrid[index].map { grids[$0].id } }

    public struct FourZones: Sendable {
        public var own: [String]
        public var adjacent: [String]
        public var branchSupport: [String]
        public var citySupport: [String]
    }

    /// Stations in each of the four zones around the station `stationID`.
    public func fourZones(aroundStation stationID: String) -> FourZones {
        let stations = areas.filter { $0.level == .station }
        let adjacent = adjacentStations[stationID, default: []]
        let branch = areaByID[stationID]?.parentID
        let sameBranch = stations.filter { $0.parentID == branch && $0.id != stationID && !adjacent.contains($0.id) }.map(\.id)
        let rest = stations.filter { $0.id != stationID && !adjacent.contains($0.id) && !sameBranch.contains($0.id) }.map(\.id)
        return FourZones(own: [stationID], adjacent: adjacent.sorted(), branchSupport: sameBranch.sorted(), citySupport: rest.sorted())
    }

    // MARK: - Travel

    /// Speed of walking between a position and the road, m/s (5 km/h).
    static let walkingSpeed = 5 / 3.6

    /// Where a position joins the roads: the junction searches start from, the metres from
    /// the position to it (to the road, then along it), and the seconds that takes in
    /// `mode`: walking to the road, then the mode's speed along the road (walking where
    /// the mode may not use it). A unit parked mid-block is not charged a walk to the corner.
    public struct Snap: Sendable, Hashable {
        public var node: Int
        public var metres: Double
        public var seconds: Double
    }

    public func snap(_ point: GeoPoint, mode: TravelMode = .foot) -> Snap? {
        let p = projection.project(point)
        guard let nearest = roadIndex.nearest(to: p)?.index else { return nil }
        var best = Snap(node: nearest, metres: roadPoints[nearest].distance(to: p), seconds: roadPoints[nearest].distance(to: p) / Self.walkingSpeed)
        for arc in roads.arcs(from: nearest) {
            let onRoad = p.closest(onSegment: roadPoints[nearest], roadPoints[Int(roads.arcHead[arc])])
            let off = onRoad.distance(to: p), along = onRoad.distance(to: roadPoints[nearest])
            let speed = hierarchies.speeds.metresPerSecond(mode, roads.arcClass[arc])
            let seconds = off / Self.walkingSpeed + along / (speed > 0 ? speed : Self.walkingSpeed)
            if seconds < best.seconds { best = Snap(node: nearest, metres: off + along, seconds: seconds) }
        }
        return best
    }

    /// The road segment (pair of consecutive way nodes) nearest `point`, among those at its
    /// nearest node: its id ("<smaller node id>-<larger node id>", so that both directions
    /// of a street are one segment), its road's name ("" when unnamed) and how far it is.
    public func roadSegment(near point: GeoPoint) -> (id: String, name: String, metres: Double)? {
        let p = projection.project(point)
        guard let node = roadIndex.nearest(to: p)?.index, let best = roads.nearestArc(from: node, to: p, points: roadPoints) else { return nil }
        let ends = [roads.nodeIDs[node], roads.nodeIDs[Int(roads.arcHead[best.arc])]].sorted()
        return ("\(ends[0])-\(ends[1])", roads.name(ofArc: best.arc), best.metres)
    }

    public struct UnitTime: Sendable, Hashable {
        public var unitIndex: Int
        public var seconds: Double
        public var metres: Double
        public var snapMetres: Double
    }

    /// Every unit's time to `target`: per travel mode present, one query over the mode's
    /// contraction hierarchy when built, else one backward search; the walk to and from
    /// the road included. Unreachable units get infinite seconds.
    public func travelTimes(to target: GeoPoint, units: [(position: GeoPoint, mode: TravelMode)], maxSeconds: Double = .infinity,
                            useHierarchies: Bool = true)
        -> (times: [UnitTime], targetSnap: Double)? {
        guard let targetAtFoot = snap(target) else { return nil }
        var result = [UnitTime](repeating: UnitTime(unitIndex: 0, seconds: .infinity, metres: .infinity, snapMetres: 0), count: units.count)
        let snapped = units.map { snap($0.position, mode: $0.mode) }
        for mode in Set(units.map(\.mode)) {
            let members = units.indices.filter { units[$0].mode == mode }
            guard let targetSnap = snap(target, mode: mode) else { continue }
            let walkToTarget = targetSnap.seconds
            func collect(cost: (Int) -> Double, carried: (Int) -> Double) {
                for member in members {
                    guard let start = snapped[member] else { continue }
                    let seconds = cost(start.node) + start.seconds
                    let road = seconds.isFinite ? carried(start.node) : .infinity
                    result[member] = UnitTime(unitIndex: member, seconds: seconds <= maxSeconds ? seconds : .infinity,
                                              metres: road, snapMetres: start.metres)
                }
            }
            let answered = useHierarchies && hierarchies.withSearch(mode) { search in
                search.run(to: targetSnap.node, startCost: walkToTarget)
                collect(cost: search.cost, carried: search.carried)
            }
            if answered { continue }
            searches.withSearch(.time(mode), direction: .backward, carryingMetres: true) { search, _ in
                let nodes = members.compactMap { snapped[$0]?.node }
                search.run(from: [(targetSnap.node, walkToTarget)], limit: maxSeconds, targets: nodes)
                collect(cost: search.cost, carried: search.carried)
            }
        }
        for index in result.indices { result[index].unitIndex = index }
        return (result, targetAtFoot.metres)
    }

    public struct Isochrone: Sendable {
        public var reachableNodes: Int
        public var roadMetres: Double
        public var hull: [GeoPoint]
        /// What is reached and no more (`ReachArea`), in WGS84: outer ring first, then holes.
        public var area: [[[GeoPoint]]]
        public var areaCellMetres: Double
        public var areaSquareMetres: Double
        /// Every arc entered within the time, by entry time, at most `maxNetworkArcs`.
        public var network: [ReachedArc]
        public var networkTruncated: Bool
    }

    public struct ReachedArc: Sendable, Hashable {
        public var arc: Int
        public var enter: Double
        public var leave: Double
        /// Of the arc reached within the time, (0, 1].
        public var share: Double
    }

    public static let maxNetworkArcs = 50_000

    public func isochrone(from origin: GeoPoint, seconds: Double, mode: TravelMode) -> Isochrone? {
        guard let start = snap(origin, mode: mode) else { return nil }
        return searches.withSearch(.time(mode), direction: .forward) { search, weights in
            search.run(from: [(start.node, start.seconds)], limit: seconds)
            let reached = search.reached
            let metres = roads.coveredMetres(after: search, weights: weights, thresholds: [seconds])[0]
            let hull = convexHull(reached.map { roadPoints[$0] }).map(projection.unproject)
            var network: [ReachedArc] = []
            for tail in reached {
                let entered = search.cost(tail)
                for arc in roads.arcs(from: tail) where weights[arc].isFinite && entered < seconds {
                    let leave = entered + weights[arc]
                    network.append(ReachedArc(arc: arc, enter: entered, leave: leave, share: weights[arc] > 0 ? min(1, (seconds - entered) / weights[arc]) : 1))
                }
            }
            network.sort { ($0.enter, $0.arc) < ($1.enter, $1.arc) }
            // The area around what is reached: a cell of 50 m, coarser for a reach wider than 50 km.
            let segments = network.map { reachedArc -> (PlanarPoint, PlanarPoint) in
                let from = roadPoints[roads.tail(ofArc: reachedArc.arc)], to = roadPoints[Int(roads.arcHead[reachedArc.arc])]
                return (from, PlanarPoint(x: from.x + (to.x - from.x) * reachedArc.share, y: from.y + (to.y - from.y) * reachedArc.share))
            }
            let box = BoundingBox(covering: segments.flatMap { [$0.0, $0.1] })
            let extent = segments.isEmpty ? 0 : max(box.maxX - box.minX, box.maxY - box.minY)
            let cell = max(50, extent / 1_000)
            let polygons = ReachArea.polygons(around: segments.isEmpty ? [(roadPoints[start.node], roadPoints[start.node])] : segments, cell: cell)
            return Isochrone(reachableNodes: reached.count, roadMetres: metres, hull: hull,
                             area: polygons.map { polygon in ([polygon.outer] + polygon.holes).map { $0.points.map(projection.unproject) } },
                             areaCellMetres: cell, areaSquareMetres: polygons.reduce(0) { $0 + $1.area },
                             network: Array(network.prefix(Self.maxNetworkArcs)), networkTruncated: network.count > Self.maxNetworkArcs)
        }
    }
}

/// Searches are costly to set up (a reversed graph, per-node arrays) and cheap to reuse,
/// so each metric and direction keeps a few, handed to one caller at a time.
final class SearchPool: @unchecked Sendable {
    private struct Key: Hashable {
        var metric: Metric
        var backward: Bool
        var carryingMetres: Bool
    }

    private let roads: RoadGraph
    private let speeds: SpeedTable
    private let searches = IdlePool<Key, ShortestPathSearch>()
    private let weights = Mutex<[Metric: [Double]]>([:])

    init(roads: RoadGraph, speeds: SpeedTable) {
        self.roads = roads
        self.speeds = speeds
    }

    /// A search to use alone for the duration of `body`. With `carryingMetres` it sums road
    /// metres along each best path (`carried(_:)`) instead of keeping the paths.
    func withSearch<T>(_ metric: Metric, direction: ShortestPathSearch.Direction, carryingMetres: Bool = false,
                       _ body: (ShortestPathSearch, [Double]) throws -> T) rethrows -> T {
        let costs = weights.withLock { cache in
            if let known = cache[metric] { return known }
            let costs = roads.weights(metric, speeds: speeds)
            cache[metric] = costs
            return costs
        }
        let key = Key(metric: metric, backward: direction == .backward, carryingMetres: carryingMetres)
        return try searches.withItem(key, make: {
            ShortestPathSearch(graph: roads, weights: costs, direction: direction, recordsPaths: !carryingMetres,
                               alongside: carryingMetres ? roads.arcLength : nil)
        }) { search in try body(search, costs) }
    }
}

/// Objects costly to make and cheap to reuse (search scratch arrays), handed to one
/// caller at a time and kept for the next.
final class IdlePool<Key: Hashable, Item>: @unchecked Sendable {
    /// Guards `idle`; an item taken out is owned by its caller alone.
    private let lock = NSLock()
    private var idle: [Key: [Item]] = [:]

    func withItem<T>(_ key: Key, make: () throws -> Item, _ body: (Item) throws -> T) rethrows -> T {
        let item = try lock.withLock { idle[key]?.popLast() } ?? make()
        defer { lock.withLock { idle[key, default: []].append(item) } }
        return try body(item)
    }
}

/// One contraction hierarchy per travel mode over a county's roads, built off the
/// request path (`build`, on a background thread at plugin start) and used by Eta as soon
/// as each is ready. The roads do not change on a reload, so models share one set.
public final class TravelHierarchies: @unchecked Sendable {
    public let roads: RoadGraph
    /// The county's speeds per mode and road class (`GRID_MODEL_SPEEDS`): every search uses them.
    public let speeds: SpeedTable
    private let lock = NSLock()
    private var built: [TravelMode: ContractionHierarchy] = [:]
    private let searches = IdlePool<TravelMode, ManyToOneSearch>()

    public init(roads: RoadGraph, speeds: SpeedTable = .default) {
        self.roads = roads
        self.speeds = speeds
    }

    public var modes: Set<TravelMode> { lock.withLock { Set(built.keys) } }

    /// Builds the hierarchies of `modes` not built yet, in order, or loads them from
    /// `cacheDirectory` where a file there was built for these roads and speeds (and
    /// writes the ones it builds there). Returns how long each took and whether it was loaded.
    @discardableResult
    public func build(_ modes: [TravelMode], cacheDirectory: String? = nil)
        -> [(mode: TravelMode, took: Duration, loaded: Bool)] {
        var timings: [(mode: TravelMode, took: Duration, loaded: Bool)] = []
        for mode in modes where !self.modes.contains(mode) {
            let started = ContinuousClock.now
            let weights = roads.weights(.time(mode), speeds: speeds)
            let fingerprint = HierarchyFile.fingerprint(graph: roads, weights: weights, alongside: roads.arcLength)
            let path = cacheDirectory.map { "\($0)/\(mode.rawValue).xfch" }
            var hierarchy = path.flatMap { try? HierarchyFile.read(from: $0, fingerprint: fingerprint) }
            let loaded = hierarchy != nil
            if hierarchy == nil {
                let made = ContractionHierarchy(graph: roads, weights: weights, alongside: roads.arcLength)
                if let path { try? HierarchyFile.write(made, fingerprint: fingerprint, to: path) }  // a cache: failing to keep it only costs time
                hierarchy = made
            }
            lock.withLock { built[mode] = hierarchy }
            timings.append((mode, ContinuousClock.now - started, loaded))
        }
        return timings
    }

    /// Runs `body` with a search over `mode`'s hierarchy; false when it is not built yet.
    func withSearch(_ mode: TravelMode, _ body: (ManyToOneSearch) -> Void) -> Bool {
        guard let hierarchy = lock.withLock({ built[mode] }) else { return false }
        searches.withItem(mode, make: { ManyToOneSearch(hierarchy: hierarchy) }, body)
        return true
    }
}

/// Andrew's monotone chain; counter-clockwise, no repeated first point.
func convexHull(_ points: [PlanarPoint]) -> [PlanarPoint] {
    let sorted = Set(points).sorted { $0.x != $1.x ? $0.x < $1.x : $0.y < $1.y }
    guard sorted.count > 2 else { return sorted }
    func cross(_ o: PlanarPoint, _ a: PlanarPoint, _ b: PlanarPoint) -> Double {
        (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
    }
    var lower: [PlanarPoint] = [], upper: [PlanarPoint] = []
    for p in sorted {
        while lower.count >= 2 && cross(lower[lower.count - 2], lower[lower.count - 1], p) <= 0 { lower.removeLast() }
        lower.append(p)
    }
    for p in sorted.reversed() {
        while upper.count >= 2 && cross(upper[upper.count - 2], upper[upper.count - 1], p) <= 0 { upper.removeLast() }
        upper.append(p)
    }
    return Array(lower.dropLast() + upper.dropLast())
}
