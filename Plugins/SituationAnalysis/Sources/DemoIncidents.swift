import Foundation
public import XunfangGeo
import XunfangPluginKit

/// The demo county's incident history: a seeded, deterministic stand-in for the years of
/// 110 records a real county imports, so that a newcomer's first Breakdown, Colours or
/// report has something true-to-life to show. The rates are per day for the whole county
/// (about 600,000 people); their derivation is in the plugin's README.
///
/// Each hour of each day, each type's count is a Poisson draw whose mean is the type's
/// daily rate × the hour's share (day or night profile) × the weekday factor × a mild
/// season. Places follow where people live (the town core, the town fringe, the
/// countryside), at a road point chosen at random in that zone; a few hot spots add their
/// own incidents at their own hours; the last days carry a burglary run in one quarter of
/// the town, so that yesterday's colours have something to warn of.
public struct DemoIncidents: Sendable {
    public struct Rate: Sendable {
        public var type: String
        public var name: String
        public var perDay: Double
        public var night: Bool
        /// Place types and their weights.
        public var places: [(String, Double)]
    }

    /// Extra incidents around a place at some hours (and, for a market, some days).
    public struct HotSpot: Sendable {
        public var name: String
        public var centre: PlanarPoint
        public var radius: Double
        public var perDay: [String: Double]
        public var hours: Set<Int>
        /// Day numbers modulo 3 it is busy on; nil for every day (a rural market is held
        /// on fixed days of the month, 逢三六九 and the like).
        public var everyThirdDay: Int64?
        /// Only the last `lastDays` days (a run that yesterday's colours should catch).
        public var lastDays: Int64?
    }

    /// Where people live, and how many incidents per resident relative to the countryside.
    public struct Zone: Sendable {
        public var name: String
        public var residents: Double
        public var perResident: Double
        public var contains: @Sendable (PlanarPoint) -> Bool
    }

    public static let rates: [Rate] = [
        Rate(type: "violent", name: "暴力犯罪", perDay: 0.3, night: true, places: [("street", 2), ("home", 2), ("entertainment", 1)]),
        Rate(type: "robbery", name: "抢劫抢夺", perDay: 0.2, night: true, places: [("street", 3), ("shop", 1)]),
        Rate(type: "fight", name: "打架斗殴", perDay: 4, night: true, places: [("entertainment", 3), ("street", 2), ("restaurant", 2)]),
        Rate(type: "theft", name: "盗窃", perDay: 8, night: false, places: [("home", 3), ("street", 2), ("shop", 2), ("market", 1)]),
        Rate(type: "traffic", name: "交通事故", perDay: 14, night: false, places: [("road", 1)]),
        Rate(type: "dispute", name: "纠纷", perDay: 16, night: false, places: [("home", 3), ("shop", 2), ("street", 1)]),
        Rate(type: "help", name: "求助", perDay: 14, night: false, places: [("street", 2), ("home", 2), ("school", 1)]),
        Rate(type: "noise", name: "噪音扰民", perDay: 5, night: true, places: [("home", 2), ("entertainment", 2), ("restaurant", 1)]),
    ]

    /// Shares of a day's calls by China hour (sum 1): day types follow the working day with
    /// an evening peak; night types rise after dark and peak around midnight.
    public static let dayProfile = normalised([1.6, 1.1, 0.8, 0.6, 0.6, 0.9, 1.8, 3.6, 5.4, 6.0, 6.2, 6.0, 5.2, 5.0, 5.4, 5.6, 5.8, 6.2, 6.4, 6.2, 5.6, 4.6, 3.4, 2.4])
    public static let nightProfile = normalised([7.0, 6.2, 4.8, 3.2, 1.8, 1.0, 0.8, 0.9, 1.2, 1.6, 2.0, 2.6, 3.0, 3.0, 3.0, 3.2, 3.6, 4.2, 5.0, 6.0, 7.0, 7.8, 8.4, 8.2])
    /// Monday … Sunday.
    public static let weekdayFactor = [0.95, 0.94, 0.95, 0.96, 1.05, 1.12, 1.03]

    static func normalised(_ values: [Double]) -> [Double] {
        let total = values.reduce(0, +)
        return values.map { $0 / total }
    }

    public let parameters: SyntheticRoads.Parameters
    public let zones: [Zone]
    public let hotSpots: [HotSpot]
    let roads: RoadGraph
    let points: [PlanarPoint]
    /// Road nodes in each zone (index into `zones`).
    let nodesByZone: [[Int]]

    public init(parameters: SyntheticRoads.Parameters = .demoCounty, roads: RoadGraph? = nil) {
        self.parameters = parameters
        let roads = roads ?? SyntheticRoads.county(parameters)
        self.roads = roads
        let projection = LocalProjection(origin: parameters.origin)
        points = roads.coordinates.map(projection.project)
        let coreHalf = parameters.coreSideMetres / 2
        let inCore: @Sendable (PlanarPoint) -> Bool = { abs($0.x) <= coreHalf && abs($0.y) <= coreHalf }
        // Population: the documents' 150,000 in the 17.4 km² core; the town's fringe (to
        // 5 km out) 110,000; the countryside the rest of 600,000. Town residents call the
        // police a quarter more often than rural ones.
        zones = [
            Zone(name: "core", residents: 150_000, perResident: 1.25, contains: inCore),
            Zone(name: "fringe", residents: 110_000, perResident: 1.25, contains: { !inCore($0) && ($0.x * $0.x + $0.y * $0.y).squareRoot() < 5_000 }),
            Zone(name: "countryside", residents: 340_000, perResident: 1, contains: { !inCore($0) && ($0.x * $0.x + $0.y * $0.y).squareRoot() >= 5_000 }),
        ]
        // Incidents stay inside the county's grids: roads along its edge are left out, or
        // Dispatch would rightly refuse a call from just over the border.
        let inside = parameters.sideMetres / 2 - 250
        var byZone = [[Int]](repeating: [], count: zones.count)
        for (node, point) in points.enumerated() where roads.arcStart[node] < roads.arcStart[node + 1] && abs(point.x) < inside && abs(point.y) < inside {
            if let zone = zones.firstIndex(where: { $0.contains(point) }) { byZone[zone].append(node) }
        }
        nodesByZone = byZone
        hotSpots = [
            HotSpot(name: "夜市", centre: PlanarPoint(x: 300, y: -200), radius: 250, perDay: ["theft": 0.8, "fight": 0.6, "noise": 0.5],
                    hours: Set([18, 19, 20, 21, 22, 23, 0, 1])),
            HotSpot(name: "汽车客运站", centre: PlanarPoint(x: 1_500, y: 900), radius: 200, perDay: ["theft": 0.7, "dispute": 0.4, "help": 0.4],
                    hours: Set(6...20)),
            HotSpot(name: "镇集市", centre: PlanarPoint(x: -6_500, y: 5_200), radius: 400, perDay: ["theft": 1.2, "dispute": 1.5, "traffic": 0.6],
                    hours: Set(7...13), everyThirdDay: 0),
            HotSpot(name: "入室盗窃系列", centre: PlanarPoint(x: -1_200, y: -1_100), radius: 300, perDay: ["theft": 6],
                    hours: Set([0, 1, 2, 3, 4, 10, 11, 14, 15]), lastDays: 3),
        ]
    }

    /// The county's mean calls per day, before weekdays, seasons and hot spots.
    public static var meanPerDay: Double { rates.map(\.perDay).reduce(0, +) }

    /// Every incident of the days `days` (China day numbers), in time order; ids are
    /// `DEMO-yyyymmdd-nnnn`. `lastDay` is the day the run of burglaries ends on.
    public func incidents(days: ClosedRange<Int64>, seed: UInt64 = 600_000) -> [HistoryRecord] {
        var records: [HistoryRecord] = []
        let lastDay = days.upperBound
        for day in days {
            // Each day's stream starts at a mixed point: seeding day d + 1 with state + 1
            // step would replay day d's stream shifted by one draw.
            var mixer = SyntheticRoads.Generator(state: seed ^ UInt64(bitPattern: day))
            var random = SyntheticRoads.Generator(state: mixer.next())
            var today: [HistoryRecord] = []
            let start = ChinaTime.start(ofDay: day)
            let weekday = ChinaTime.weekday(start)
            // A mild season: about 8% more in high summer than in midwinter.
            let dayOfYear = Double((day % 365 + 365) % 365)
            let factor = Self.weekdayFactor[weekday - 1] * (1 + 0.04 * sin(2 * .pi * (dayOfYear - 100) / 365))
            for hour in 0..<24 {
                let hourStart = start + Int64(hour) * 3_600_000
                for rate in Self.rates {
                    let share = (rate.night ? Self.nightProfile : Self.dayProfile)[hour]
                    for _ in 0..<Self.poisson(rate.perDay * share * factor, using: &random) {
                        today.append(record(rate, at: hourStart + Int64(random.next() % 3_600) * 1_000, at: nil, using: &random))
                    }
                }
                for spot in hotSpots where spot.hours.contains(hour) {
                    if let third = spot.everyThirdDay, (day % 3 + 3) % 3 != third { continue }
                    if let last = spot.lastDays, day <= lastDay - last { continue }
                    for (type, perDay) in spot.perDay.sorted(by: { $0.key < $1.key }) {
                        guard let rate = Self.rates.first(where: { $0.type == type }) else { continue }
                        for _ in 0..<Self.poisson(perDay / Double(spot.hours.count), using: &random) {
                            today.append(record(rate, at: hourStart + Int64(random.next() % 3_600) * 1_000, at: spot, using: &random))
                        }
                    }
                }
            }
            today.sort { $0.at < $1.at }
            let label = ChinaTime.label(ofDay: day).replacingOccurrences(of: "-", with: "")
            for (index, var record) in today.enumerated() {
                record.id = "DEMO-\(label)-\(String(format: "%04d", index + 1))"
                records.append(record)
            }
        }
        return records
    }

    private func record(_ rate: Rate, at time: Int64, at spot: HotSpot?, using random: inout SyntheticRoads.Generator) -> HistoryRecord {
        let point = spot.map { place(near: $0.centre, radius: $0.radius, using: &random) } ?? place(using: &random)
        let position = LocalProjection(origin: parameters.origin).unproject(point)
        return HistoryRecord(id: "", at: time, type: rate.type, longitude: position.longitude, latitude: position.latitude,
                             placeType: Self.pick(rate.places, using: &random), typeName: rate.name)
    }

    /// A point on a road in a zone chosen by its share of the county's incidents.
    private func place(using random: inout SyntheticRoads.Generator) -> PlanarPoint {
        let name = Self.pick(zones.map { ($0.name, $0.residents * $0.perResident) }, using: &random)
        let zone = zones.firstIndex { $0.name == name }!
        let nodes = nodesByZone[zone]
        return onRoad(from: nodes[Int(random.next() % UInt64(nodes.count))], using: &random)
    }

    /// A point on a road within `radius` of `centre` (or at the nearest road node when no
    /// node is that close).
    private func place(near centre: PlanarPoint, radius: Double, using random: inout SyntheticRoads.Generator) -> PlanarPoint {
        let near = nodesByZone.joined().filter { points[$0].distance(to: centre) <= radius }
        guard !near.isEmpty else {
            return points[nodesByZone.joined().min { points[$0].distance(to: centre) < points[$1].distance(to: centre) }!]
        }
        return onRoad(from: near[Int(random.next() % UInt64(near.count))], using: &random)
    }

    /// Somewhere along one of the node's roads, up to halfway to the next junction.
    private func onRoad(from node: Int, using random: inout SyntheticRoads.Generator) -> PlanarPoint {
        let first = Int(roads.arcStart[node]), count = Int(roads.arcStart[node + 1]) - first
        let head = points[Int(roads.arcHead[first + Int(random.next() % UInt64(count))])]
        // Up to halfway along, and never past the county's edge.
        let edge = parameters.sideMetres / 2 - 250
        let along = abs(head.x) > edge || abs(head.y) > edge ? 0 : Double(random.next() % 1_000) / 2_000
        let from = points[node]
        return PlanarPoint(x: from.x + (head.x - from.x) * along, y: from.y + (head.y - from.y) * along)
    }

    static func pick(_ weighted: [(String, Double)], using random: inout SyntheticRoads.Generator) -> String {
        let total = weighted.map(\.1).reduce(0, +)
        var target = Double(random.next() % 1_000_000) / 1_000_000 * total
        for (value, weight) in weighted {
            target -= weight
            if target < 0 { return value }
        }
        return weighted.last!.0
    }

    /// Knuth's method: exact, and quick for the small hourly means used here.
    static func poisson(_ mean: Double, using random: inout SyntheticRoads.Generator) -> Int {
        guard mean > 0 else { return 0 }
        let limit = exp(-mean)
        var product = 1.0, count = -1
        repeat {
            count += 1
            product *= Double(random.next() >> 11) / Double(1 << 53)
        } while product > limit
        return count
    }

    /// The records as `xunfang situation import` reads them.
    public static func csv(_ records: [HistoryRecord]) -> String {
        var text = "id,time,type,lon,lat,place_type\n"
        for record in records {
            text += "\(record.id),\(ChinaTime.format(milliseconds: record.at)),\(record.type),"
                + "\(String(format: "%.6f", record.longitude)),\(String(format: "%.6f", record.latitude)),\(record.placeType)\n"
        }
        return text
    }
}
