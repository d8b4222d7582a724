import Foundation
import XunfangPluginKit

/// The daily brief and the ten-day report (每十天汇报: days 1–10, 11–20 and 21 to the
/// month's end), as data for JSON and as one self-contained HTML page with SVG charts:
/// the daily trend, an hour × weekday heat map and the stations coloured by status.
public enum Report {
    public enum Kind: String, Sendable, Codable { case daily, tenDay = "ten-day" }

    public struct StationRow: Sendable, Hashable, Codable {
        public var station: String
        public var colour: String
        public var count: Int
        public var baselineMean: Double
        public var deploymentLevel: Int
        public var minimumPatrolShare: Double
        /// Mean position of the station's incidents over the trend window, for the map.
        public var longitude: Double?
        public var latitude: Double?
    }

    public struct Ranked: Sendable, Hashable, Codable {
        public var name: String
        public var count: Int
    }

    public struct Content: Sendable, Hashable, Codable {
        public var kind: Kind
        public var from: String
        public var to: String
        public var incidents: Int
        public var previousPeriod: Int
        public var samePeriodLastYear: Int
        /// Incidents per day over the trend window (28 days for a brief, 90 for ten days).
        public var trendFrom: String
        public var trend: [Int]
        /// [weekday 1–7][hour 0–23] over the trend window.
        public var hourByWeekday: [[Int]]
        public var types: [Ranked]
        public var grids: [Ranked]
        public var roadSegments: [Ranked]
        public var stations: [StationRow]
    }

    /// The days [first, last] a report covers when it ends on or contains `day`.
    public static func period(_ kind: Kind, day: Int64) -> (first: Int64, last: Int64) {
        switch kind {
        case .daily: return (day, day)
        case .tenDay:
            let label = ChinaTime.label(ofDay: day)
            let parts = label.split(separator: "-").map { Int($0)! }
            let dayOfMonth = parts[2]
            let firstDay = dayOfMonth <= 10 ? 1 : dayOfMonth <= 20 ? 11 : 21
            let first = day - Int64(dayOfMonth - firstDay)
            if firstDay < 21 { return (first, first + 9) }
            // The last ten-day period runs to the month's end (8 to 11 days).
            var last = first
            while ChinaTime.label(ofDay: last + 1).hasPrefix(String(label.prefix(8))) { last += 1 }
            return (first, last)
        }
    }

    /// - Parameter colours: the stations' status on the period's last day.
    public static func make(_ kind: Kind, day: Int64, history: HistoryColumns, colours: [DailyColours.Area],
                            positions: [String: (longitude: Double, latitude: Double)] = [:], rule: ColourRule = ColourRule()) -> Content {
        let (first, last) = period(kind, day: day)
        let from = ChinaTime.start(ofDay: first), to = ChinaTime.start(ofDay: last + 1)
        let trendDays = kind == .daily ? 28 : 90
        let trendFirst = last - Int64(trendDays) + 1
        var trend = [Int](repeating: 0, count: trendDays)
        var heat = [[Int]](repeating: [Int](repeating: 0, count: 24), count: 7)
        var counts = (now: 0, previous: 0, lastYear: 0)
        var types: [Int32: Int] = [:], grids: [Int32: Int] = [:], segments: [Int32: Int] = [:]
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
                types[history.type[index], default: 0] += 1
                grids[history.grid[index], default: 0] += 1
                segments[history.segment[index], default: 0] += 1
            } else if at >= from - span && at < from {
                counts.previous += 1
            } else if at >= from - year && at < to - year {
                counts.lastYear += 1
            }
        }
        func ranked(_ table: [Int32: Int]) -> [Ranked] {
            let named: [Ranked] = table.map { entry in Ranked(name: history.names.names[Int(entry.key)], count: entry.value) }
            let known = named.filter { $0.name != "" && $0.name != "-" }
            let sorted = known.sorted { (a: Ranked, b: Ranked) -> Bool in a.count != b.count ? a.count > b.count : a.name < b.name }
            return Array(sorted.prefix(10))
        }
        let stations = colours.map { area in
            StationRow(station: area.id, colour: area.judgement.colour.name, count: area.count, baselineMean: area.judgement.baselineMean,
                       deploymentLevel: area.judgement.colour.deploymentLevel, minimumPatrolShare: rule.minimumPatrolShare(area.judgement.colour),
                       longitude: positions[area.id]?.longitude, latitude: positions[area.id]?.latitude)
        }
        return Content(kind: kind, from: ChinaTime.label(ofDay: first), to: ChinaTime.label(ofDay: last), incidents: counts.now,
                       previousPeriod: counts.previous, samePeriodLastYear: counts.lastYear, trendFrom: ChinaTime.label(ofDay: trendFirst),
                       trend: trend, hourByWeekday: heat, types: ranked(types), grids: ranked(grids), roadSegments: ranked(segments), stations: stations)
    }

    /// A report from the history alone (no bus): the stations are those the history names.
    public static func make(_ kind: Kind, day: Int64, store: HistoryStore, extraStations: [String] = [], rule: ColourRule = ColourRule()) throws -> Content {
        let (first, last) = period(kind, day: day)
        let history = try store.columns(from: ChinaTime.start(ofDay: first - 371), to: ChinaTime.start(ofDay: last + 1))
        let stations = Array(Set(history.distinct(\.station) + extraStations)).sorted()
        let colours = DailyColours.compute(history, day: last, stations: stations, grids: [], rule: rule).stations
        var sums: [String: (lon: Double, lat: Double, n: Double)] = [:]
        for record in try store.records(from: ChinaTime.start(ofDay: last - 89), to: ChinaTime.start(ofDay: last + 1)) where record.station != "" {
            let sum = sums[record.station, default: (0, 0, 0)]
            sums[record.station] = (sum.lon + record.longitude, sum.lat + record.latitude, sum.n + 1)
        }
        return make(kind, day: day, history: history, colours: colours,
                    positions: sums.mapValues { (longitude: $0.lon / $0.n, latitude: $0.lat / $0.n) }, rule: rule)
    }

    public static func json(_ content: Content) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(content), as: UTF8.self)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let fills = ["green": "#2e9d4f", "yellow": "#e6c229", "orange": "#ee7b22", "red": "#d7263d"]

    /// One page, no external files: inline CSS and SVG only.
    public static func html(_ content: Content) -> String {
        let title = content.kind == .daily ? "每日警情简报 Daily brief \(content.from)" : "每十天汇报 Ten-day report \(content.from) – \(content.to)"
        func change(_ now: Int, _ before: Int) -> String {
            before == 0 ? "–" : String(format: "%+.0f%%", Double(now - before) / Double(before) * 100)
        }
        // Trend: a polyline over the days.
        let width = 720.0, height = 160.0
        let peak = Double(max(1, content.trend.max() ?? 1))
        let step = content.trend.count > 1 ? width / Double(content.trend.count - 1) : width
        let points = content.trend.enumerated().map { String(format: "%.1f,%.1f", Double($0.offset) * step, height - Double($0.element) / peak * (height - 10)) }
        let trendSVG = """
        <svg viewBox="-30 -10 \(Int(width) + 40) \(Int(height) + 30)" width="\(Int(width) + 40)" role="img" aria-label="incidents per day">
        <line x1="0" y1="\(Int(height))" x2="\(Int(width))" y2="\(Int(height))" stroke="#999"/>
        <text x="-28" y="8" font-size="10">\(Int(peak))</text><text x="-10" y="\(Int(height))" font-size="10">0</text>
        <text x="0" y="\(Int(height) + 14)" font-size="10">\(escape(content.trendFrom))</text>
        <text x="\(Int(width) - 60)" y="\(Int(height) + 14)" font-size="10">\(escape(content.to))</text>
        <polyline fill="none" stroke="#1f5fa8" stroke-width="2" points="\(points.joined(separator: " "))"/>
        </svg>
        """
        // Heat map: 7 rows of 24 hours.
        let hottest = Double(max(1, content.hourByWeekday.flatMap { $0 }.max() ?? 1))
        let days = ["一", "二", "三", "四", "五", "六", "日"]
        var cells: [String] = []
        for (weekday, hours) in content.hourByWeekday.enumerated() {
            cells.append("<text x=\"-18\" y=\"\(weekday * 22 + 15)\" font-size=\"11\">\(days[weekday])</text>")
            for (hour, count) in hours.enumerated() {
                let shade = Double(count) / hottest
                cells.append(String(format: "<rect x=\"%d\" y=\"%d\" width=\"26\" height=\"20\" fill=\"rgba(215,38,61,%.3f)\" stroke=\"#eee\"><title>%@ %02d:00 %d</title></rect>",
                                    hour * 28, weekday * 22, 0.05 + 0.95 * shade, days[weekday], hour, count))
            }
        }
        for hour in stride(from: 0, to: 24, by: 3) { cells.append("<text x=\"\(hour * 28 + 4)\" y=\"168\" font-size=\"10\">\(hour)</text>") }
        let heatSVG = "<svg viewBox=\"-20 0 700 175\" width=\"700\" role=\"img\" aria-label=\"hour by weekday\">\(cells.joined())</svg>"
        // Stations on a map: dots at their incidents' mean position, coloured by status.
        let placed = content.stations.filter { $0.longitude != nil && $0.latitude != nil }
        var mapSVG = "<p>No positions for the stations yet.</p>"
        if !placed.isEmpty {
            let lons = placed.map { $0.longitude! }, lats = placed.map { $0.latitude! }
            let (minX, maxX, minY, maxY) = (lons.min()!, lons.max()!, lats.min()!, lats.max()!)
            let scale = 400 / max(maxX - minX, maxY - minY, 1e-6)
            let dots = placed.map { row -> String in
                let x = 20 + (row.longitude! - minX) * scale, y = 420 - (row.latitude! - minY) * scale
                let radius = 6 + min(14, Double(row.count).squareRoot() * 2)
                return String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%@\" stroke=\"#333\"><title>%@ %@ %d</title></circle><text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">%@</text>",
                              x, y, radius, fills[row.colour] ?? "#999", escape(row.station), row.colour, row.count, x + radius + 2, y + 3, escape(row.station))
            }
            mapSVG = "<svg viewBox=\"0 0 560 440\" width=\"560\" role=\"img\" aria-label=\"stations by colour\">\(dots.joined())</svg>"
        }
        func table(_ heading: String, _ rows: [Ranked]) -> String {
            "<h3>\(heading)</h3><table><tr><th>name</th><th>incidents</th></tr>"
                + rows.map { "<tr><td>\(escape($0.name))</td><td>\($0.count)</td></tr>" }.joined() + "</table>"
        }
        let stationRows = content.stations.map { row in
            "<tr><td>\(escape(row.station))</td><td><span class=\"dot\" style=\"background:\(fills[row.colour] ?? "#999")\"></span>\(row.colour)</td>"
                + "<td>\(row.count)</td><td>\(String(format: "%.1f", row.baselineMean))</td><td>\(row.deploymentLevel)</td>"
                + "<td>\(Int((row.minimumPatrolShare * 100).rounded()))%</td></tr>"
        }.joined()
        return """
        <!DOCTYPE html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:0.5em 0}
        td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}.dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}
        .figures span{display:inline-block;margin-right:2em;font-size:1.2em}</style></head><body>
        <h1>\(escape(title))</h1>
        <div class="figures"><span>incidents <b>\(content.incidents)</b></span>
        <span>previous period \(content.previousPeriod) (\(change(content.incidents, content.previousPeriod)))</span>
        <span>same period last year \(content.samePeriodLastYear) (\(change(content.incidents, content.samePeriodLastYear)))</span></div>
        <h2>Trend: incidents per day</h2>\(trendSVG)
        <h2>Hour × weekday</h2>\(heatSVG)
        <h2>Stations: four-colour status</h2>\(mapSVG)
        <table><tr><th>station</th><th>colour</th><th>incidents</th><th>baseline</th><th>level</th><th>min. on patrol</th></tr>\(stationRows)</table>
        \(table("Case types", content.types))\(table("Grids", content.grids))\(table("Road segments", content.roadSegments))
        </body></html>
        """
    }
}
