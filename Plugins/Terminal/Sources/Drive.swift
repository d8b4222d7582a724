import XunfangGeo

/// A unit moving on the road graph in its mode (a car, a motorcycle, an e-bike, on foot): along a planned path when it has one (to a
/// scene, back to its beat), else patrolling its beat, at each junction taking a road at
/// random but never straight back (unless the road ends), and heading home again once it
/// strays beyond its beat.
struct Drive: Sendable {
    /// The arc being driven and how far along it, metres.
    private(set) var arc: Int
    private(set) var offset: Double = 0
    /// Arcs still to drive after the current one, while heading somewhere.
    private(set) var path: [Int] = []
    /// Heading somewhere: the current arc's end, then `path`; false: patrolling.
    private(set) var isOnPath = false
    /// Of the last `advance` that reached the path's end: the seconds left over after
    /// arriving (the arrival was that long before the advance's end).
    private(set) var overshoot: Double = 0
    /// The beat: its centre (the unit's station, or a post it stands by at) and radius, planar metres.
    private(set) var home: PlanarPoint
    private(set) var beat: Double
    /// The station's beat, for when standing by ends.
    let station: PlanarPoint
    let stationBeat: Double

    /// How it moves: which roads are open to it and how fast.
    let mode: TravelMode

    init(arc: Int, home: PlanarPoint, beat: Double, mode: TravelMode = .car) {
        self.arc = arc
        self.home = home
        self.beat = beat
        self.mode = mode
        station = home
        stationBeat = beat
    }

    /// Patrols within `radius` of `post` from now on; nil: the station's beat again.
    mutating func standBy(at post: PlanarPoint?, radius: Double) {
        home = post ?? station
        beat = post == nil ? stationBeat : radius
    }

    /// Where it is now.
    func position(on map: RoadMap) -> PlanarPoint {
        let from = map.points[map.graph.tail(ofArc: arc)], to = map.points[Int(map.graph.arcHead[arc])]
        let share = map.graph.arcLength[arc] > 0 ? min(1, offset / map.graph.arcLength[arc]) : 1
        return PlanarPoint(x: from.x + (to.x - from.x) * share, y: from.y + (to.y - from.y) * share)
    }

    /// Drives the rest of the current arc, then `arcs` (each starting where the one before
    /// ends; none: the current arc's end is the place); nil: back to patrolling.
    mutating func follow(_ arcs: [Int]?) {
        path = arcs ?? []
        isOnPath = arcs != nil
    }

    /// Heads for `point` the quickest way: on from this road's end, or turned round where it
    /// is (a patrol car makes a U-turn) when that is quicker. False when no road leads there:
    /// it then drives to this road's end.
    mutating func head(to point: GeoPoint, on map: RoadMap) -> Bool {
        let ahead = map.path(from: Int(map.graph.arcHead[arc]), to: point, mode: mode)
        if let turned = turnedAround(on: map), let back = map.path(from: Int(map.graph.arcHead[turned.arc]), to: point, mode: mode),
           back.seconds + turned.secondsToArcEnd(on: map) < ahead.map({ $0.seconds + secondsToArcEnd(on: map) }) ?? .infinity {
            self = turned
            follow(back.arcs)
            return true
        }
        follow(ahead?.arcs ?? [])
        return ahead != nil
    }

    /// The same place the other way along a two-way road; nil on a one-way road.
    private func turnedAround(on map: RoadMap) -> Drive? {
        let head = Int(map.graph.arcHead[arc]), tail = map.graph.tail(ofArc: arc)
        guard let back = map.graph.arcs(from: head).first(where: {
            Int(map.graph.arcHead[$0]) == tail && map.speeds.metresPerSecond(mode, map.graph.arcClass[$0]) > 0
        }) else { return nil }
        var turned = self
        turned.arc = back
        turned.offset = max(0, map.graph.arcLength[back] - offset)
        turned.follow(nil)
        return turned
    }

    private func secondsToArcEnd(on map: RoadMap) -> Double {
        (map.graph.arcLength[arc] - offset) / max(1, map.speeds.metresPerSecond(mode, map.graph.arcClass[arc]))
    }

    /// Moves on for `seconds` at `share` of each road's speed in its mode. True when the planned path
    /// has just been driven to its end.
    mutating func advance(_ seconds: Double, share: Double, on map: RoadMap, random: inout SyntheticRoads.Generator) -> Bool {
        var left = seconds
        while left > 0 {
            let speed = max(1, map.speeds.metresPerSecond(mode, map.graph.arcClass[arc]) * share)
            let remaining = map.graph.arcLength[arc] - offset
            if remaining > speed * left {
                offset += speed * left
                return false
            }
            left -= remaining / speed
            if isOnPath && path.isEmpty {
                offset = map.graph.arcLength[arc]
                isOnPath = false
                overshoot = left
                return true
            }
            arc = path.isEmpty ? nextOnBeat(map, random: &random) : path.removeFirst()
            offset = 0
        }
        return false
    }

    /// The road to take at the end of this one while patrolling.
    private func nextOnBeat(_ map: RoadMap, random: inout SyntheticRoads.Generator) -> Int {
        let junction = Int(map.graph.arcHead[arc]), cameFrom = map.graph.tail(ofArc: arc)
        let open = map.graph.arcs(from: junction).filter { map.speeds.metresPerSecond(mode, map.graph.arcClass[$0]) > 0 }
        let onward = open.filter { Int(map.graph.arcHead[$0]) != cameFrom }
        let choices = onward.isEmpty ? open : onward
        guard !choices.isEmpty else { return arc }
        if map.points[junction].distance(to: home) > beat {
            return choices.min { map.points[Int(map.graph.arcHead[$0])].distance(to: home) < map.points[Int(map.graph.arcHead[$1])].distance(to: home) }!
        }
        return choices[Int(random.next() % UInt64(choices.count))]
    }
}

/// The road graph as the simulator uses it: projected node positions, a nearest-node index
/// and the car speeds.
struct RoadMap: Sendable {
    let graph: RoadGraph
    let projection: LocalProjection
    let points: [PlanarPoint]
    let nearest: PointIndex
    let speeds: SpeedTable
    /// Each mode's seconds per arc, made once: every order and U-turn routes.
    let secondsPerArc: [TravelMode: [Double]]

    init(graph: RoadGraph, speeds: SpeedTable = .default) {
        self.graph = graph
        projection = LocalProjection(origin: GeoPoint.middle(of: graph.coordinates) ?? GeoPoint(longitude: 0, latitude: 0))
        points = graph.coordinates.map(projection.project)
        nearest = PointIndex(points: points)
        self.speeds = speeds
        secondsPerArc = Dictionary(uniqueKeysWithValues: TravelMode.allCases.map { ($0, graph.weights(.time($0), speeds: speeds)) })
    }

    /// The first arc open to `mode` leaving the node nearest `point`.
    func arc(near point: GeoPoint, mode: TravelMode = .car) -> Int? {
        guard let node = nearest.nearest(to: projection.project(point))?.index else { return nil }
        return graph.arcs(from: node).first { speeds.metresPerSecond(mode, graph.arcClass[$0]) > 0 }
    }

    /// The fastest arcs in `mode` from the end of `arc` to the node nearest `point` (empty
    /// when already there; nil when no road leads there).
    func route(after arc: Int, to point: GeoPoint, mode: TravelMode) -> [Int]? {
        path(from: Int(graph.arcHead[arc]), to: point, mode: mode)?.arcs
    }

    /// The fastest arcs in `mode` from node `start` to the node nearest `point`, and their seconds.
    func path(from start: Int, to point: GeoPoint, mode: TravelMode) -> (arcs: [Int], seconds: Double)? {
        guard let target = nearest.nearest(to: projection.project(point))?.index else { return nil }
        guard start != target else { return ([], 0) }
        guard let route = graph.route(from: start, to: target, weights: secondsPerArc[mode]!, mode: mode, speeds: speeds) else { return nil }
        let arcs = zip(route.nodes, route.nodes.dropFirst()).compactMap { from, to in
            graph.arcs(from: from).filter { Int(graph.arcHead[$0]) == to }.min { graph.arcLength[$0] < graph.arcLength[$1] }
        }
        return (arcs, route.seconds)
    }
}
