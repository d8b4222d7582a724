/// Road classes of the car network (OSM `highway` values), slowest last.
public enum RoadClass: UInt8, CaseIterable, Sendable, Codable {
    case motorway, motorwayLink, trunk, trunkLink, primary, primaryLink, secondary, secondaryLink
    case tertiary, tertiaryLink, unclassified, residential, livingStreet, road

    /// The class of an OSM `highway` value, or nil when cars do not use it.
    public init?(osm value: String) {
        switch value {
        case "motorway": self = .motorway
        case "motorway_link": self = .motorwayLink
        case "trunk": self = .trunk
        case "trunk_link": self = .trunkLink
        case "primary": self = .primary
        case "primary_link": self = .primaryLink
        case "secondary": self = .secondary
        case "secondary_link": self = .secondaryLink
        case "tertiary": self = .tertiary
        case "tertiary_link": self = .tertiaryLink
        case "unclassified": self = .unclassified
        case "residential": self = .residential
        case "living_street": self = .livingStreet
        case "road": self = .road
        default: return nil
        }
    }
}

/// How a unit moves. Speeds per road class are in `SpeedTable`.
public enum TravelMode: String, CaseIterable, Sendable, Codable {
    case car, motorcycle, eBike = "e-bike", bicycle, foot
}

/// Speeds in km/h per mode and road class; 0 means the mode may not use the class.
///
/// The defaults are urban-China patrol figures: cars at typical free-flow speeds below
/// the legal limits, motorcycles capped at 60, e-bikes at the national 25 km/h limit,
/// bicycles 15, foot 5; motorways and their ramps are closed to all but cars and
/// motorcycles. Counties override them in their GridModel settings.
public struct SpeedTable: Sendable, Hashable, Codable {
    public var kilometresPerHour: [TravelMode: [RoadClass: Double]]

    public init(kilometresPerHour: [TravelMode: [RoadClass: Double]]) {
        self.kilometresPerHour = kilometresPerHour
    }

    public static let carDefaults: [RoadClass: Double] = [
        .motorway: 90, .motorwayLink: 45, .trunk: 70, .trunkLink: 40, .primary: 50, .primaryLink: 35,
        .secondary: 40, .secondaryLink: 30, .tertiary: 35, .tertiaryLink: 25, .unclassified: 30,
        .residential: 25, .livingStreet: 10, .road: 25,
    ]

    public static let `default`: SpeedTable = {
        var table: [TravelMode: [RoadClass: Double]] = [.car: carDefaults]
        let motorwayish: Set<RoadClass> = [.motorway, .motorwayLink]
        func capped(_ cap: Double, motorways: Bool) -> [RoadClass: Double] {
            carDefaults.reduce(into: [:]) { result, entry in
                result[entry.key] = motorwayish.contains(entry.key) && !motorways ? 0 : min(cap, entry.value)
            }
        }
        table[.motorcycle] = capped(60, motorways: true)
        table[.eBike] = capped(25, motorways: false)
        table[.bicycle] = capped(15, motorways: false)
        table[.foot] = capped(5, motorways: false)
        return SpeedTable(kilometresPerHour: table)
    }()

    /// Metres per second, 0 when closed.
    public func metresPerSecond(_ mode: TravelMode, _ roadClass: RoadClass) -> Double {
        (kilometresPerHour[mode]?[roadClass] ?? 0) / 3.6
    }
}

/// What a search minimises.
extension SpeedTable {
    /// The default table changed by a county setting `mode.class=km/h,...` (`class` an OSM
    /// highway value, or `*` for every class the mode may use); errors name `key`.
    public init(setting: String?, key: String) throws(GeoError) {
        var table = SpeedTable.default
        guard let setting, !setting.isEmpty else {
            self = table
            return
        }
        var seen: Set<String> = []
        for entry in setting.split(separator: ",") {
            let parts = entry.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
            let target = parts.first?.split(separator: ".", maxSplits: 1).map(String.init) ?? []
            guard parts.count == 2, target.count == 2, let mode = TravelMode(rawValue: target[0]),
                  let speed = Double(parts[1]), (0...150).contains(speed) else {
                throw GeoError(.invalidInput, "\(key): \"\(entry)\" is not mode.class=km/h (modes: car, motorcycle, e-bike, bicycle, foot; 0 to 150)")
            }
            guard seen.insert(parts[0]).inserted else { throw GeoError(.invalidInput, "\(key): \(parts[0]) appears twice") }
            if target[1] == "*" {
                for (roadClass, current) in table.kilometresPerHour[mode] ?? [:] where current > 0 { table.kilometresPerHour[mode]?[roadClass] = speed }
            } else {
                guard let roadClass = RoadClass(osm: target[1]) else {
                    throw GeoError(.invalidInput, "\(key): \"\(target[1])\" is not a road class (OSM highway values: primary, residential, ...)")
                }
                table.kilometresPerHour[mode, default: [:]][roadClass] = speed
            }
        }
        self = table
    }
}

public enum Metric: Hashable, Sendable {
    case distance
    case time(TravelMode)
}

/// A directed road network in compressed sparse row form: the arcs leaving node `v` are
/// `arcStart[v] ..< arcStart[v + 1]`. Nodes keep their OSM ids and positions.
public struct RoadGraph: Sendable {
    public let nodeIDs: [Int64]
    public let coordinates: [GeoPoint]
    public let arcStart: [Int32]
    public let arcHead: [Int32]
    /// Haversine length of each arc, metres.
    public let arcLength: [Double]
    public let arcClass: [RoadClass]
    /// Each arc's road name as an index into `names` (0 is the unnamed road, "").
    public let arcName: [Int32]
    /// Road names (OSM `name`, else `ref`); `names[0]` is "".
    public let names: [String]
    private let indexByOSMID: [Int64: Int32]

    public var nodeCount: Int { nodeIDs.count }
    public var arcCount: Int { arcHead.count }

    /// Checks the arrays describe a graph; an error names what is wrong.
    public init(nodeIDs: [Int64], coordinates: [GeoPoint], arcStart: [Int32], arcHead: [Int32],
                arcLength: [Double], arcClass: [RoadClass], arcName: [Int32]? = nil, names: [String] = [""]) throws(GeoError) {
        let n = nodeIDs.count
        guard coordinates.count == n else { throw GeoError(.invalidGraph, "\(coordinates.count) coordinates for \(n) nodes") }
        guard arcStart.count == n + 1, arcStart.first == 0, Int(arcStart.last!) == arcHead.count else {
            throw GeoError(.invalidGraph, "arc offsets do not cover the \(arcHead.count) arcs")
        }
        guard arcLength.count == arcHead.count, arcClass.count == arcHead.count else {
            throw GeoError(.invalidGraph, "arc arrays differ in length")
        }
        for v in 0..<n where arcStart[v] > arcStart[v + 1] {
            throw GeoError(.invalidGraph, "arc offsets decrease at node \(v)")
        }
        for (arc, head) in arcHead.enumerated() where head < 0 || Int(head) >= n {
            throw GeoError(.invalidGraph, "arc \(arc) points at node \(head), outside 0..<\(n)")
        }
        for (arc, length) in arcLength.enumerated() where !(length >= 0 && length.isFinite) {
            throw GeoError(.invalidGraph, "arc \(arc) has length \(length)")
        }
        let arcName = arcName ?? [Int32](repeating: 0, count: arcHead.count)
        guard arcName.count == arcHead.count else { throw GeoError(.invalidGraph, "\(arcName.count) arc names for \(arcHead.count) arcs") }
        guard names.first == "" else { throw GeoError(.invalidGraph, "the first road name must be the empty one") }
        for (arc, name) in arcName.enumerated() where name < 0 || Int(name) >= names.count {
            throw GeoError(.invalidGraph, "arc \(arc) names road \(name) of \(names.count)")
        }
        var index: [Int64: Int32] = [:]
        index.reserveCapacity(n)
        for (position, id) in nodeIDs.enumerated() {
            guard index.updateValue(Int32(position), forKey: id) == nil else {
                throw GeoError(.invalidGraph, "node id \(id) appears twice")
            }
        }
        self.nodeIDs = nodeIDs
        self.coordinates = coordinates
        self.arcStart = arcStart
        self.arcHead = arcHead
        self.arcLength = arcLength
        self.arcClass = arcClass
        self.arcName = arcName
        self.names = names
        self.indexByOSMID = index
    }

    /// The road an arc belongs to ("" when unnamed).
    public func name(ofArc arc: Int) -> String { names[Int(arcName[arc])] }

    /// Of the arcs leaving `node`, the one passing nearest `point` (planar, `points` being
    /// the nodes' projected positions), the point on it nearest and how far that is.
    public func nearestArc(from node: Int, to point: PlanarPoint, points: [PlanarPoint]) -> (arc: Int, onRoad: PlanarPoint, metres: Double)? {
        var best: (arc: Int, onRoad: PlanarPoint, metres: Double)?
        for arc in arcs(from: node) {
            let onRoad = point.closest(onSegment: points[node], points[Int(arcHead[arc])])
            let metres = onRoad.distance(to: point)
            if metres < best?.metres ?? .infinity { best = (arc, onRoad, metres) }
        }
        return best
    }

    /// The dense index of an OSM node id.
    public func node(osmID: Int64) -> Int? { indexByOSMID[osmID].map(Int.init) }

    public func arcs(from node: Int) -> Range<Int> { Int(arcStart[node])..<Int(arcStart[node + 1]) }

    /// The node an arc leaves from (a search over the offsets: arcs are stored by tail).
    public func tail(ofArc arc: Int) -> Int {
        Self.owner(ofArc: arc, offsets: arcStart)
    }

    /// The node whose range in `offsets` (sorted, one more than the nodes) holds `arc`.
    static func owner(ofArc arc: Int, offsets: [Int32]) -> Int {
        var low = 0, high = offsets.count - 2
        while low < high {
            let middle = (low + high + 1) / 2
            if Int(offsets[middle]) <= arc { low = middle } else { high = middle - 1 }
        }
        // Empty ranges share a start: step forward to the node whose range holds `arc`.
        while Int(offsets[low + 1]) <= arc { low += 1 }
        return low
    }

    /// Cost of each arc under `metric`: metres, or seconds at the mode's speed for the
    /// arc's class (infinity where the mode may not go).
    public func weights(_ metric: Metric, speeds: SpeedTable = .default) -> [Double] {
        switch metric {
        case .distance:
            return arcLength
        case .time(let mode):
            var perClass = [Double](repeating: 0, count: RoadClass.allCases.count)
            for roadClass in RoadClass.allCases {
                let speed = speeds.metresPerSecond(mode, roadClass)
                perClass[Int(roadClass.rawValue)] = speed > 0 ? 1 / speed : .infinity
            }
            return (0..<arcCount).map { arcLength[$0] * perClass[Int(arcClass[$0].rawValue)] }
        }
    }
}

/// Collects arcs in any order and packs them into a `RoadGraph`.
public struct RoadGraphBuilder {
    private var nodeIDs: [Int64] = []
    private var coordinates: [GeoPoint] = []
    private var index: [Int64: Int32] = [:]
    private var tails: [Int32] = []
    private var heads: [Int32] = []
    private var classes: [RoadClass] = []
    private var arcNames: [Int32] = []
    private var names: [String] = [""]
    private var nameIndex: [String: Int32] = ["": 0]

    public init() {}

    /// Adds a node if new; returns its dense index.
    @discardableResult
    public mutating func addNode(osmID: Int64, at point: GeoPoint) -> Int32 {
        if let known = index[osmID] { return known }
        let position = Int32(nodeIDs.count)
        index[osmID] = position
        nodeIDs.append(osmID)
        coordinates.append(point)
        return position
    }

    public mutating func addArc(from tail: Int32, to head: Int32, class roadClass: RoadClass, name: String = "") {
        tails.append(tail)
        heads.append(head)
        classes.append(roadClass)
        if let known = nameIndex[name] {
            arcNames.append(known)
        } else {
            let index = Int32(names.count)
            names.append(name)
            nameIndex[name] = index
            arcNames.append(index)
        }
    }

    public var arcCount: Int { heads.count }

    public func point(of node: Int32) -> GeoPoint { coordinates[Int(node)] }

    /// Nodes in Z-order of their position, arcs sorted by tail (stable, so arcs keep their
    /// insertion order per node). Z-order puts nodes that are near on the map near in
    /// memory, which is what a search touches together: on a 200,000-node graph it makes
    /// Dijkstra markedly faster than insertion order.
    public func build() throws(GeoError) -> RoadGraph {
        let n = nodeIDs.count
        let order = Self.zOrder(coordinates)
        var newIndex = [Int32](repeating: 0, count: n)
        for (position, old) in order.enumerated() { newIndex[old] = Int32(position) }
        var start = [Int32](repeating: 0, count: n + 1)
        for tail in tails { start[Int(newIndex[Int(tail)]) + 1] += 1 }
        for v in 0..<n { start[v + 1] += start[v] }
        var cursor = start
        var orderedHeads = [Int32](repeating: 0, count: heads.count)
        var orderedLengths = [Double](repeating: 0, count: heads.count)
        var orderedClasses = [RoadClass](repeating: .road, count: heads.count)
        var orderedNames = [Int32](repeating: 0, count: heads.count)
        for arc in heads.indices {
            let tail = Int(tails[arc]), head = Int(heads[arc])
            let newTail = Int(newIndex[tail])
            let slot = Int(cursor[newTail])
            cursor[newTail] += 1
            orderedHeads[slot] = newIndex[head]
            orderedLengths[slot] = Haversine.metres(coordinates[tail], coordinates[head])
            orderedClasses[slot] = classes[arc]
            orderedNames[slot] = arcNames[arc]
        }
        return try RoadGraph(nodeIDs: order.map { nodeIDs[$0] }, coordinates: order.map { coordinates[$0] }, arcStart: start,
                             arcHead: orderedHeads, arcLength: orderedLengths, arcClass: orderedClasses, arcName: orderedNames, names: names)
    }

    /// Node indices sorted by the Morton code of their position (16 bits per axis over
    /// the nodes' bounding box), ties in insertion order.
    static func zOrder(_ points: [GeoPoint]) -> [Int] {
        guard let first = points.first else { return [] }
        var minLon = first.longitude, maxLon = first.longitude, minLat = first.latitude, maxLat = first.latitude
        for p in points {
            minLon = min(minLon, p.longitude); maxLon = max(maxLon, p.longitude)
            minLat = min(minLat, p.latitude); maxLat = max(maxLat, p.latitude)
        }
        let spanLon = max(maxLon - minLon, 1e-12), spanLat = max(maxLat - minLat, 1e-12)
        func spread(_ value: UInt32) -> UInt32 {
            var x = value & 0xFFFF
            x = (x | (x << 8)) & 0x00FF_00FF
            x = (x | (x << 4)) & 0x0F0F_0F0F
            x = (x | (x << 2)) & 0x3333_3333
            x = (x | (x << 1)) & 0x5555_5555
            return x
        }
        let codes = points.map { p -> UInt32 in
            let x = UInt32(((p.longitude - minLon) / spanLon * 65_535).rounded())
            let y = UInt32(((p.latitude - minLat) / spanLat * 65_535).rounded())
            return spread(x) | (spread(y) << 1)
        }
        return points.indices.sorted { codes[$0] != codes[$1] ? codes[$0] < codes[$1] : $0 < $1 }
    }
}

/// A failure in geographic input or computation; `code` maps to the wire status.
public struct GeoError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidInput, invalidGraph, unreadableFile, unsupportedFeature, notFound
        /// A computation that runs one at a time is running; try again later.
        case busy
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
