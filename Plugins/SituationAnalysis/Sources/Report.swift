import Foundation
public import XunfangGeo
import XunfangPluginKit

/// The daily brief and the ten-day report (每十天汇报: days 1–10, 11–20 and 21 to the
/// month's end), as data for JSON and as one self-contained HTML page (`ReportPage`):
/// a written summary, the stations over their grids with the density of incidents, the
/// daily trend and an hour × weekday heat map, each saying its period. Names, not ids.
public enum Report {
    public enum Kind: String, Sendable, Codable { case daily, tenDay = "ten-day" }

    public struct StationRow: Sendable, Hashable, Codable {
        public var station: String
        public var name: String
        /// The status on the period's last day.
        public var colour: String
        /// Incidents in the period, and in the period before it (as long).
        public var count: Int
        public var previousCount: Int
        /// Days of the period at yellow or worse, and at red.
        public var daysYellowOrWorse: Int
        public var daysRed: Int
        /// On the last day: the expected count, the deployment level and the share on patrol.
        public var baselineMean: Double
        public var deploymentLevel: Int
        public var minimumPatrolShare: Double
        /// Mean position of the station's incidents over the trend window, for the map.
        public var longitude: Double?
        public var latitude: Double?
    }

    public struct Ranked: Sendable, Hashable, Codable {
        public var key: String
        public var name: String
        public var count: Int
    }

    /// A grid's outline for the map, with its station for the colour.
    public struct GridOutline: Sendable, Hashable, Codable {
        public var id: String
        public var name: String
        public var station: String
        /// Outer rings, [[longitude, latitude]].
        public var rings: [[[Double]]]

        public init(id: String, name: String, station: String, rings: [[[Double]]]) {
            self.id = id
            self.name = name
            self.station = station
            self.rings = rings
        }
    }

    /// Kernel density of the period's incidents: the cells at 5% of the peak or more.
    public struct DensityLayer: Sendable, Hashable, Codable {
        public var bandwidthMetres: Double
        public var peakPerKm2: Double
        /// Each cell's south-west and north-east corners (lon, lat) and its density.
        public var cells: [[Double]]
    }

    public struct Content: Sendable, Hashable, Codable {
        public var kind: Kind
        public var from: String
        public var to: String
        /// Sentences a duty officer reads first: the change, the stations that rose and fell,
        /// the hottest time, case type and places.
        public var summary: [String]
        public var incidents: Int
        public var previousPeriod: Int
        public var samePeriodLastYear: Int
        /// Incidents per day over the trend window (28 days for a brief, 90 for ten days).
        public var trendFrom: String
        public var trend: [Int]
        /// [weekday 1–7][hour 0–23] over the trend window.
        public var hourByWeekday: [[Int]]
        /// The period's case types, grids and roads, most incidents first (ten each).
        public var types: [Ranked]
        public var grids: [Ranked]
        public var roads: [Ranked]
        public var stations: [StationRow]
        public var outlines: [GridOutline]
        public var density: DensityLayer?
    }

    /// The days [first, last] a report covers when it ends on or contains `day`.
    public static func period(_ kind: Kind, day: Int64) -> (first: Int64, last: Int64) {
        switch kind {
        case .daily: return (day, day)
        case .tenDay:
            let period = ChinaTime.tenDays(containing: day)
            return (period.first, period.next - 1)
        }
    }

    /// What the page is made of, from the history alone (pure).
    public struct Inputs: Sendable {
        public var history: HistoryColumns
        /// The period's incidents' positions (for the density) and each station's mean position.
        public var points: [GeoPoint] = []
        public var positions: [String: GeoPoint] = [:]
        /// Every station to list, quiet ones too.
        public var stations: [String]
        public var labels = Labels()
        public var outlines: [GridOutline] = []
        public var rule = ColourRule()

        public init(history: HistoryColumns, stations: [String]) {
            self.history = history
            self.stations = stations
        }
    }

    public static func make(_ kind: Kind, day: Int64, _ inputs: Inputs) -> Content {
        let (first, last) = period(kind, day: day)
        let history = inputs.history, labels = inputs.labels
        let from = ChinaTime.start(ofDay: first), to = ChinaTime.start(ofDay: last + 1)
        let trendDays = kind == .daily ? 28 : 90
        let trendFirst = last - Int64(trendDays) + 1
        var trend = [Int](repeating: 0, count: trendDays)
        var heat = [[Int]](repeating: [Int](repeating: 0, count: 24), count: 7)
        var periodHeat = [[Int]](repeating: [Int](repeating: 0, count: 24), count: 7)
        var counts = (now: 0, previous: 0, lastYear: 0)
        var types: [Int32: Int] = [:], grids: [Int32: Int] = [:], segments: [Int32: Int] = [:]
        var stationNow: [Int32: Int] = [:], stationBefore: [Int32: Int] = [:]
        let span = to - from, year = 52 * 7 * ChinaTime.day
        for index in 0..<history.count {
            let at = history.at[index]
            let dayNumber = ChinaTime.dayNumber(at)
            if dayNumber >= trendFirst && dayNumber <= last {
                trend[Int(dayNumber - trendFirst)] += 1
                heat[ChinaTime.weekday(at) - 1][ChinaTime.hour(at)] += 1
            }
            if at >= from && at < to {
                counts.now += 1
                periodHeat[ChinaTime.weekday(at) - 1][ChinaTime.hour(at)] += 1
                types[history.type[index], default: 0] += 1
                grids[history.grid[index], default: 0] += 1
                segments[history.segment[index], default: 0] += 1
                stationNow[history.station[index], default: 0] += 1
            } else if at >= from - span && at < from {
                counts.previous += 1
                stationBefore[history.station[index], default: 0] += 1
            } else if at >= from - year && at < to - year {
                counts.lastYear += 1
            }
        }
        let code = { (name: String) in history.names.lookup(name) ?? -1 }
        func name(_ code: Int32) -> String { history.names.names[Int(code)] }
        func ranked(_ table: [String: Int], _ label: (String) -> String) -> [Ranked] {
            table.filter { $0.key != "" && $0.key != "-" }.map { Ranked(key: $0.key, name: label($0.key), count: $0.value) }
                .sorted { $0.count != $1.count ? $0.count > $1.count : $0.name < $1.name }.prefix(10).map { $0 }
        }
        // Roads by name: the segments of one street add up.
        var roads: [String: Int] = [:]
        for (segment, count) in segments where !["", "-"].contains(name(segment)) { roads[labels.road(name(segment)), default: 0] += count }
        let stations = stationRows(kind, first: first, last: last, inputs, now: { stationNow[code($0)] ?? 0 }, before: { stationBefore[code($0)] ?? 0 })
        var content = Content(
            kind: kind, from: ChinaTime.label(ofDay: first), to: ChinaTime.label(ofDay: last), summary: [], incidents: counts.now,
            previousPeriod: counts.previous, samePeriodLastYear: counts.lastYear, trendFrom: ChinaTime.label(ofDay: trendFirst), trend: trend,
            hourByWeekday: heat, types: ranked(Dictionary(uniqueKeysWithValues: types.map { (name($0.key), $0.value) }), labels.type),
            grids: ranked(Dictionary(uniqueKeysWithValues: grids.map { (name($0.key), $0.value) }), labels.area),
            roads: ranked(roads, { $0 }), stations: stations, outlines: inputs.outlines, density: densityLayer(inputs.points))
        content.summary = summary(content, periodHeat: periodHeat)
        return content
    }

    /// Each station's figures; a ten-day report judges every day of the period.
    static func stationRows(_ kind: Kind, first: Int64, last: Int64, _ inputs: Inputs,
                            now: (String) -> Int, before: (String) -> Int) -> [StationRow] {
        let days = (first...last).map { day in
            DailyColours.compute(inputs.history, day: day, stations: inputs.stations, grids: [], rule: inputs.rule).stations
        }
        return (days.last ?? []).map { area in
            let perDay = days.compactMap { $0.first { $0.id == area.id }?.judgement.colour }
            return StationRow(station: area.id, name: inputs.labels.area(area.id), colour: area.judgement.colour.name, count: now(area.id),
                              previousCount: before(area.id), daysYellowOrWorse: perDay.count { $0 != .green }, daysRed: perDay.count { $0 == .red },
                              baselineMean: area.judgement.baselineMean, deploymentLevel: area.judgement.colour.deploymentLevel,
                              minimumPatrolShare: inputs.rule.minimumPatrolShare(area.judgement.colour),
                              longitude: inputs.positions[area.id]?.longitude, latitude: inputs.positions[area.id]?.latitude)
        }
    }

    /// A 500 m kernel over the period's incidents, in cells of a hundredth of the extent (at
    /// least 100 m), so the page stays small.
    static func densityLayer(_ points: [GeoPoint]) -> DensityLayer? {
        guard points.count >= 3, let middle = GeoPoint.middle(of: points) else { return nil }
        let projection = LocalProjection(origin: middle)
        let planar = points.map(projection.project)
        let extent = max(planar.map(\.x).max()! - planar.map(\.x).min()!, planar.map(\.y).max()! - planar.map(\.y).min()!)
        let cell = min(1_000, max(100, (extent + 1_000) / 100))
        guard let surface = try? DensitySurface.make(points, bandwidthMetres: 500, cellMetres: cell), let peak = surface.perKm2.max(), peak > 0 else { return nil }
        var cells: [[Double]] = []
        for row in 0..<surface.rows {
            for column in 0..<surface.columns where surface.perKm2[row * surface.columns + column] >= 0.05 * peak {
                let corners = surface.corners(column: column, row: row)
                cells.append([corners[0].longitude, corners[0].latitude, corners[2].longitude, corners[2].latitude,
                              (surface.perKm2[row * surface.columns + column] * 10).rounded() / 10])
            }
        }
        return DensityLayer(bandwidthMetres: 500, peakPerKm2: (peak * 10).rounded() / 10, cells: cells)
    }

    /// The written summary, in the bureaus' language.
    static func summary(_ content: Content, periodHeat: [[Int]]) -> [String] {
        let span = content.kind == .daily ? "\(content.from)" : "\(content.from)至\(content.to)"
        func change(_ now: Int, _ before: Int) -> String {
            guard before > 0 else { return now > 0 ? "（此前为零）" : "（持平）" }
            let percent = Int((Double(now - before) / Double(before) * 100).rounded())
            return percent == 0 ? "，持平" : percent > 0 ? "，上升\(percent)%" : "，下降\(-percent)%"
        }
        var lines = ["\(span)共发生警情\(content.incidents)起；上期\(content.previousPeriod)起\(change(content.incidents, content.previousPeriod))；"
            + "去年同期\(content.samePeriodLastYear)起\(change(content.incidents, content.samePeriodLastYear))。"]
        let moves = content.stations.map { ($0.name, $0.count - $0.previousCount, $0.count) }.filter { $0.1 != 0 }
        if let rise = moves.max(by: { $0.1 < $1.1 }), rise.1 > 0 { lines.append("上升最多：\(rise.0)，增加\(rise.1)起（共\(rise.2)起）。") }
        if let fall = moves.min(by: { $0.1 < $1.1 }), fall.1 < 0 { lines.append("下降最多：\(fall.0)，减少\(-fall.1)起（共\(fall.2)起）。") }
        let flagged = content.stations.filter { $0.colour != "green" }
        if !flagged.isEmpty {
            lines.append("\(content.to)预警：" + flagged.map { "\($0.name)（\(colourNames[$0.colour] ?? $0.colour)色）" }.joined(separator: "、") + "。")
        }
        var hottest = (weekday: 0, hour: 0, count: 0)
        for (weekday, hours) in periodHeat.enumerated() {
            for (hour, count) in hours.enumerated() where count > hottest.count { hottest = (weekday + 1, hour, count) }
        }
        if hottest.count > 1 {
            lines.append("最集中的时段：\(ChinaTime.weekdayName(hottest.weekday)) \(String(format: "%02d:00-%02d:00", hottest.hour, (hottest.hour + 1) % 24))（\(hottest.count)起）。")
        }
        if let type = content.types.first, content.incidents > 0 {
            lines.append("最多的案件类型：\(type.name)，\(type.count)起，占\(Int((Double(type.count) / Double(content.incidents) * 100).rounded()))%。")
        }
        let places = (content.grids.prefix(2).map(\.name) + content.roads.prefix(2).map(\.name))
        if !places.isEmpty { lines.append("警情最多的地方：" + places.joined(separator: "、") + "。") }
        return lines
    }

    /// A report from the history file, with the names and outlines the store and GridModel
    /// gave (none without the bus: the map then shows the stations alone).
    public static func make(_ kind: Kind, day: Int64, store: HistoryStore, extraStations: [String] = [], rule: ColourRule = ColourRule(),
                            outlines: [GridOutline] = []) throws -> Content {
        let (first, last) = period(kind, day: day)
        let history = try store.columns(from: ChinaTime.start(ofDay: first - 371), to: ChinaTime.start(ofDay: last + 1))
        var inputs = Inputs(history: history, stations: Array(Set(history.distinct(\.station) + extraStations)).sorted())
        var sums: [String: (lon: Double, lat: Double, n: Double)] = [:]
        for record in try store.records(from: ChinaTime.start(ofDay: last - 89), to: ChinaTime.start(ofDay: last + 1)) {
            if record.at >= ChinaTime.start(ofDay: first) { inputs.points.append(GeoPoint(longitude: record.longitude, latitude: record.latitude)) }
            guard record.station != "", record.station != "-" else { continue }
            let sum = sums[record.station, default: (0, 0, 0)]
            sums[record.station] = (sum.lon + record.longitude, sum.lat + record.latitude, sum.n + 1)
        }
        inputs.positions = sums.mapValues { GeoPoint(longitude: $0.lon / $0.n, latitude: $0.lat / $0.n) }
        inputs.labels = try store.labels()
        inputs.outlines = outlines
        inputs.rule = rule
        return make(kind, day: day, inputs)
    }

    public static func json(_ content: Content) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(content), as: UTF8.self)
    }
}
