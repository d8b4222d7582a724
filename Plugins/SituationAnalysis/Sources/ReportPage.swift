import Foundation

/// The report as one page with no external files (inline CSS and SVG only), so it can be
/// mailed, printed or opened on a machine without the network.
extension Report {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let fills = ["green": "#2e9d4f", "yellow": "#e6c229", "orange": "#ee7b22", "red": "#d7263d"]
    static let colourNames = ["green": "绿", "yellow": "黄", "orange": "橙", "red": "红"]

    public static func html(_ content: Content) -> String {
        let period = content.kind == .daily ? content.from : "\(content.from) – \(content.to)"
        let title = content.kind == .daily ? "每日警情简报 Daily brief \(period)" : "每十天汇报 Ten-day report \(period)"
        let trendPeriod = "\(content.trendFrom) – \(content.to)，\(content.trend.count)天"
        return """
        <!DOCTYPE html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>body{font-family:sans-serif;margin:2em;color:#222;max-width:1000px}table{border-collapse:collapse;margin:0.5em 0}
        td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}td.n{text-align:right}.dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}
        .figures span{display:inline-block;margin-right:2em;font-size:1.2em}.summary li{margin:0.2em 0}figcaption{color:#555;font-size:0.9em}</style></head><body>
        <h1>\(escape(title))</h1>
        <ul class="summary">\(content.summary.map { "<li>\(escape($0))</li>" }.joined())</ul>
        <div class="figures"><span>警情 incidents <b>\(content.incidents)</b></span>
        <span>上期 previous period \(content.previousPeriod) (\(change(content.incidents, content.previousPeriod)))</span>
        <span>去年同期 same period last year \(content.samePeriodLastYear) (\(change(content.incidents, content.samePeriodLastYear)))</span></div>
        <h2>派出所四色预警 Stations (\(escape(period)))</h2>
        <figure>\(mapSVG(content))<figcaption>派出所按\(escape(content.to))的预警颜色着色，网格按所属派出所；紫色为\(escape(period))警情核密度（带宽\(Int(content.density?.bandwidthMetres ?? 500))米）。
        Stations coloured by their status on \(escape(content.to)) over their grids; purple: kernel density of the period's incidents.</figcaption></figure>
        \(stationTable(content))
        <h2>每日警情走势 Incidents per day (\(escape(trendPeriod)))</h2>\(trendSVG(content))
        <h2>时段分布 Hour × weekday (\(escape(trendPeriod)))</h2>\(heatSVG(content))
        \(table("案件类型 Case types (\(period))", content.types))\(table("网格 Grids (\(period))", content.grids))\(table("道路 Roads (\(period))", content.roads))
        </body></html>
        """
    }

    static func change(_ now: Int, _ before: Int) -> String {
        before == 0 ? "–" : String(format: "%+.0f%%", Double(now - before) / Double(before) * 100)
    }

    static func table(_ heading: String, _ rows: [Ranked]) -> String {
        "<h3>\(escape(heading))</h3><table><tr><th>名称 name</th><th>警情 incidents</th></tr>"
            + (rows.isEmpty ? "<tr><td colspan=\"2\">无 none</td></tr>" : rows.map { "<tr><td>\(escape($0.name))</td><td class=\"n\">\($0.count)</td></tr>" }.joined())
            + "</table>"
    }

    static func stationTable(_ content: Content) -> String {
        let days = content.kind == .daily ? "当日颜色 colour" : "黄色及以上天数 days yellow+ (红 red)"
        let rows = content.stations.map { row in
            let colour = "<span class=\"dot\" style=\"background:\(fills[row.colour] ?? "#999")\"></span>\(colourNames[row.colour] ?? row.colour)"
            let dayFigure = content.kind == .daily ? colour : "\(row.daysYellowOrWorse) (\(row.daysRed))"
            return "<tr><td>\(escape(row.name))</td><td class=\"n\">\(row.count)</td><td class=\"n\">\(row.previousCount)</td>"
                + "<td class=\"n\">\(change(row.count, row.previousCount))</td><td>\(dayFigure)</td><td>\(colour)</td>"
                + "<td class=\"n\">\(String(format: "%.1f", row.baselineMean))</td><td class=\"n\">\(row.deploymentLevel)</td>"
                + "<td class=\"n\">\(Int((row.minimumPatrolShare * 100).rounded()))%</td></tr>"
        }.joined()
        return "<table><tr><th>派出所 station</th><th>本期 incidents</th><th>上期 previous</th><th>变化 change</th><th>\(days)</th>"
            + "<th>\(escape(content.to))颜色 colour</th><th>基线 baseline</th><th>勤务等级 level</th><th>最低巡逻 min. on patrol</th></tr>\(rows)</table>"
    }

    /// Stations over their grids and the density, on one equirectangular frame.
    static func mapSVG(_ content: Content) -> String {
        var points = content.outlines.flatMap { $0.rings.flatMap { $0 } }.map { ($0[0], $0[1]) }
        points += content.stations.compactMap { row in row.longitude.flatMap { lon in row.latitude.map { (lon, $0) } } }
        points += (content.density?.cells ?? []).flatMap { [($0[0], $0[1]), ($0[2], $0[3])] }
        guard !points.isEmpty else { return "<p>无位置 No positions yet.</p>" }
        let (minX, maxX) = (points.map(\.0).min()!, points.map(\.0).max()!), (minY, maxY) = (points.map(\.1).min()!, points.map(\.1).max()!)
        let squeeze = cos((minY + maxY) / 2 * .pi / 180)
        let scale = 560 / max((maxX - minX) * squeeze, maxY - minY, 1e-6)
        func x(_ lon: Double) -> Double { 20 + (lon - minX) * squeeze * scale }
        func y(_ lat: Double) -> Double { 580 - (lat - minY) * scale }
        let stationColour = Dictionary(content.stations.map { ($0.station, $0.colour) }, uniquingKeysWith: { first, _ in first })
        var shapes = content.outlines.map { grid in
            let path = grid.rings.map { ring in "M" + ring.map { String(format: "%.1f,%.1f", x($0[0]), y($0[1])) }.joined(separator: "L") + "Z" }.joined()
            return "<path d=\"\(path)\" fill=\"\(fills[stationColour[grid.station] ?? ""] ?? "#ccc")\" fill-opacity=\"0.25\" stroke=\"#999\" stroke-width=\"0.5\">"
                + "<title>\(escape(grid.name))</title></path>"
        }
        if let density = content.density {
            shapes += density.cells.map { cell in
                String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#6a1b9a\" fill-opacity=\"%.2f\"/>",
                       x(cell[0]), y(cell[3]), max(0.5, x(cell[2]) - x(cell[0])), max(0.5, y(cell[1]) - y(cell[3])), 0.1 + 0.6 * cell[4] / max(density.peakPerKm2, 1e-9))
            }
        }
        for row in content.stations {
            guard let lon = row.longitude, let lat = row.latitude else { continue }
            let radius = 6 + min(14, Double(row.count).squareRoot() * 2)
            shapes.append(String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%@\" stroke=\"#333\"><title>%@ %d</title></circle><text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%@</text>",
                                 x(lon), y(lat), radius, fills[row.colour] ?? "#999", escape(row.name), row.count, x(lon) + radius + 2, y(lat) + 4, escape(row.name)))
        }
        return "<svg viewBox=\"0 0 720 600\" width=\"720\" role=\"img\" aria-label=\"stations, grids and density\">\(shapes.joined())</svg>"
    }

    static func trendSVG(_ content: Content) -> String {
        let width = 720.0, height = 160.0
        let peak = Double(max(1, content.trend.max() ?? 1))
        let step = content.trend.count > 1 ? width / Double(content.trend.count - 1) : width
        let points = content.trend.enumerated().map { String(format: "%.1f,%.1f", Double($0.offset) * step, height - Double($0.element) / peak * (height - 10)) }
        return """
        <svg viewBox="-30 -10 \(Int(width) + 40) \(Int(height) + 30)" width="\(Int(width) + 40)" role="img" aria-label="incidents per day">
        <line x1="0" y1="\(Int(height))" x2="\(Int(width))" y2="\(Int(height))" stroke="#999"/>
        <text x="-28" y="8" font-size="10">\(Int(peak))</text><text x="-10" y="\(Int(height))" font-size="10">0</text>
        <text x="0" y="\(Int(height) + 14)" font-size="10">\(escape(content.trendFrom))</text>
        <text x="\(Int(width) - 60)" y="\(Int(height) + 14)" font-size="10">\(escape(content.to))</text>
        <polyline fill="none" stroke="#1f5fa8" stroke-width="2" points="\(points.joined(separator: " "))"/>
        </svg>
        """
    }

    static func heatSVG(_ content: Content) -> String {
        let hottest = Double(max(1, content.hourByWeekday.flatMap { $0 }.max() ?? 1))
        let days = ["一", "二", "三", "四", "五", "六", "日"]
        var cells: [String] = []
        for (weekday, hours) in content.hourByWeekday.enumerated() {
            cells.append("<text x=\"-18\" y=\"\(weekday * 22 + 15)\" font-size=\"11\">\(days[weekday])</text>")
            for (hour, count) in hours.enumerated() {
                cells.append(String(format: "<rect x=\"%d\" y=\"%d\" width=\"26\" height=\"20\" fill=\"rgba(215,38,61,%.3f)\" stroke=\"#eee\"><title>星期%@ %02d:00 %d</title></rect>",
                                    hour * 28, weekday * 22, 0.05 + 0.95 * Double(count) / hottest, days[weekday], hour, count))
            }
        }
        for hour in stride(from: 0, to: 24, by: 3) { cells.append("<text x=\"\(hour * 28 + 4)\" y=\"168\" font-size=\"10\">\(hour)</text>") }
        return "<svg viewBox=\"-20 0 700 175\" width=\"700\" role=\"img\" aria-label=\"hour by weekday\">\(cells.joined())</svg>"
    }
}
