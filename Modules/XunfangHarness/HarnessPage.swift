import Foundation
import XunfangGeo
import XunfangPluginKit

/// The run's report as one self-contained HTML page: the checks, the response KPIs per
/// shift and station, the distribution of times to scene, a timeline of calls, faults and
/// recoveries, and a map of the calls. Everything in it comes from the facts, so the same
/// seed gives the same page.
public enum HarnessPage {
    public static func html(_ facts: RunFacts, _ checks: [Check]) -> String {
        let scenario = facts.scenario
        let passed = !checks.contains { !$0.passed }
        return """
        <!doctype html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>巡防 harness · \(escape(scenario.name))</title>
        <style>body{font-family:sans-serif;max-width:1000px;margin:1em auto;font-size:14px}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:2px 8px;text-align:right}
        td:first-child,th:first-child{text-align:left}.pass{color:#2e7d32}.fail{color:#b71c1c;font-weight:bold}svg{background:#fafafa;border:1px solid #ddd}</style></head><body>
        <h1>\(escape(scenario.name)) <span class="\(passed ? "pass" : "fail")">\(passed ? "✔ passed" : "✘ failed")</span></h1>
        <p>\(escape(scenario.summary)) · \(escape(scenario.start)) China time, \(format(scenario.hours)) simulated hours at \(format(scenario.factor))× ·
        seed \(facts.seed) · \(facts.calls.count) calls · \(format(facts.wallSeconds)) s of wall time (\(format(facts.simulatedSeconds / max(facts.wallSeconds, 1))) simulated seconds a second)</p>
        <h2>检查 Checks</h2>
        <table>\(checks.map { "<tr><td class=\"\($0.passed ? "pass" : "fail")\">\($0.passed ? "✔" : "✘") \(escape($0.name))</td><td style=\"text-align:left\">\(escape($0.detail))</td></tr>" }.joined())</table>
        <h2>响应 Response by shift and station</h2>
        \(kpiTable(facts))
        <h2>到场时间 Minutes from call to a unit on scene</h2>
        \(histogram(facts))
        <h2>时间线 Timeline: calls, faults and recoveries</h2>
        \(timeline(facts))
        <h2>地图 Calls on the map</h2>
        \(map(facts))
        </body></html>
        """
    }

    struct Row {
        var calls = 0, dispatched = 0, onScene = 0
        var within = [0, 0, 0]
        var minutes: [Double] = []
    }

    /// The documents' three shifts (China time) and each station's calls.
    static func kpiTable(_ facts: RunFacts) -> String {
        var rows: [String: Row] = [:]
        for incident in facts.incidents where !incident.linked {
            let hour = ChinaTime.hour(incident.received)
            let shift = hour < 8 ? "夜班 night 00–08" : hour < 16 ? "白班 day 08–16" : "晚班 evening 16–24"
            let station = incident.station.isEmpty ? "-" : facts.names[incident.station] ?? incident.station
            for key in ["全部 all", shift, "派出所 " + station] {
                var row = rows[key] ?? Row()
                row.calls += 1
                if incident.dispatched > 0 { row.dispatched += 1 }
                if incident.onScene > 0 {
                    let minutes = Double(incident.onScene - incident.received) / 60_000
                    row.onScene += 1
                    row.minutes.append(minutes)
                    for (index, limit) in [1.0, 3, 5].enumerated() where minutes <= limit { row.within[index] += 1 }
                }
                rows[key] = row
            }
        }
        let order = rows.keys.sorted { ($0.hasPrefix("全部") ? 0 : $0.hasPrefix("派出所") ? 2 : 1, $0) < ($1.hasPrefix("全部") ? 0 : $1.hasPrefix("派出所") ? 2 : 1, $1) }
        let body = order.map { key -> String in
            let row = rows[key]!
            let share = { (count: Int) in row.calls == 0 ? "-" : String(format: "%.0f%%", Double(count) / Double(row.calls) * 100) }
            return "<tr><td>\(escape(key))</td><td>\(row.calls)</td><td>\(row.dispatched)</td><td>\(row.onScene)</td><td>\(share(row.within[0]))</td><td>\(share(row.within[1]))</td><td>\(share(row.within[2]))</td>"
                + "<td>\(row.minutes.isEmpty ? "-" : String(format: "%.1f", median(row.minutes)))</td></tr>"
        }.joined()
        return "<table><tr><th></th><th>calls</th><th>dispatched</th><th>on scene</th><th>≤ 1 min</th><th>≤ 3 min</th><th>≤ 5 min</th><th>median min</th></tr>\(body)</table>"
    }

    static func histogram(_ facts: RunFacts) -> String {
        let minutes = facts.incidents.filter { !$0.linked && $0.onScene > 0 }.map { Double($0.onScene - $0.received) / 60_000 }
        var bins = [Int](repeating: 0, count: 16)
        for value in minutes { bins[min(15, Int(value))] += 1 }
        let tallest = max(1, bins.max() ?? 1)
        let bars = bins.enumerated().map { index, count in
            let height = Double(count) / Double(tallest) * 150
            return "<rect x=\"\(30 + index * 40)\" y=\"\(format(170 - height))\" width=\"34\" height=\"\(format(height))\" fill=\"\(index < 1 ? "#2e7d32" : index < 3 ? "#9e9d24" : index < 5 ? "#f9a825" : "#c62828")\"/>"
                + "<text x=\"\(47 + index * 40)\" y=\"188\" font-size=\"11\" text-anchor=\"middle\">\(index == 15 ? "15+" : "\(index)")</text>"
                + (count > 0 ? "<text x=\"\(47 + index * 40)\" y=\"\(format(166 - height))\" font-size=\"11\" text-anchor=\"middle\">\(count)</text>" : "")
        }.joined()
        return "<svg width=\"700\" height=\"200\">\(bars)</svg>"
    }

    static func timeline(_ facts: RunFacts) -> String {
        guard let start = facts.scenario.startMilliseconds else { return "" }
        let end = facts.scenario.endMilliseconds, width = 900.0
        func x(_ at: Int64) -> String { format(20 + Double(at - start) / Double(max(1, end - start)) * (width - 40)) }
        let calls = facts.calls.map { "<line x1=\"\(x($0.call.at))\" x2=\"\(x($0.call.at))\" y1=\"20\" y2=\"40\" stroke=\"#1565c0\"/>" }.joined()
        let faults = facts.faults.map { fault in
            "<line x1=\"\(x(fault.at))\" x2=\"\(x(fault.at))\" y1=\"50\" y2=\"90\" stroke=\"#c62828\" stroke-width=\"2\"/><text x=\"\(x(fault.at))\" y=\"104\" font-size=\"11\" text-anchor=\"middle\">\(["kill": "✘", "freeze": "❄", "slow": "◔", "drop": "⇣", "full-disk": "▣"][fault.kind] ?? "✘") \(escape(fault.plugin))</text>"
                + (fault.recoveredAt > 0 ? "<line x1=\"\(x(fault.at))\" x2=\"\(x(fault.recoveredAt))\" y1=\"70\" y2=\"70\" stroke=\"#2e7d32\" stroke-width=\"4\"/>" : "")
        }.joined()
        // Each seal: its activation, a bar to the moment every position was held (amber
        // within the target, red after it, or to the end when never sealed).
        let seals = facts.seals.filter { $0.activatedAt > 0 }.map { seal in
            let late = seal.sealedAt == 0 || seal.sealedAt - seal.activatedAt > Int64(seal.targetSeconds) * 1_000
            let until = seal.sealedAt > 0 ? seal.sealedAt : end
            let label = "⛔ \(seal.plan)\(seal.drill ? " drill" : "") " + (seal.sealedAt > 0 ? "\((seal.sealedAt - seal.activatedAt) / 1_000) s" : "not sealed")
            return "<line x1=\"\(x(seal.activatedAt))\" x2=\"\(x(until))\" y1=\"60\" y2=\"60\" stroke=\"\(late ? "#c62828" : "#f9a825")\" stroke-width=\"6\"/>"
                + "<text x=\"\(x(seal.activatedAt))\" y=\"56\" font-size=\"11\">\(escape(label))</text>"
        }.joined()
        let hours = stride(from: 0, through: Int(facts.scenario.hours), by: max(1, Int(facts.scenario.hours) / 12)).map { hour in
            let at = start + Int64(hour) * 3_600_000
            return "<text x=\"\(x(at))\" y=\"125\" font-size=\"11\" text-anchor=\"middle\">\(String(format: "%02d:00", ChinaTime.hour(at)))</text>"
        }.joined()
        return "<svg width=\"\(Int(width))\" height=\"135\"><text x=\"2\" y=\"34\" font-size=\"11\">☎</text>\(calls)\(faults)\(seals)\(hours)</svg>"
            + "<p>Blue: calls. Red: a fault (✘ killed, ❄ frozen, ⇣ connection dropped, ▣ its log's disk full); green: until it served again (the log wrote again). ⛔ a seal: amber until every position was held within its target, red when later or never.</p>"
    }

    static func map(_ facts: RunFacts) -> String {
        let points = facts.calls.map { GeoPoint(longitude: $0.call.longitude, latitude: $0.call.latitude) }
        let rings = facts.outlines.map { $0.compactMap { $0.count == 2 ? GeoPoint(longitude: $0[0], latitude: $0[1]) : nil } }
        guard let frame = SVGFrame(covering: points + rings.joined(), width: 600) else { return "<p>no calls</p>" }
        let grids = rings.isEmpty ? "" : "<path d=\"\(frame.path(rings, closed: true))\" fill=\"#eceff1\" stroke=\"#90a4ae\" stroke-width=\"0.6\"/>"
        let onScene = Dictionary(facts.incidents.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let dots = facts.calls.map { outcome -> String in
            let point = GeoPoint(longitude: outcome.call.longitude, latitude: outcome.call.latitude)
            let incident = onScene[outcome.incident]
            let minutes = incident.map { $0.onScene > 0 ? Double($0.onScene - $0.received) / 60_000 : 99 } ?? 99
            let colour = minutes <= 1 ? "#2e7d32" : minutes <= 3 ? "#9e9d24" : minutes <= 5 ? "#f9a825" : "#c62828"
            return "<circle cx=\"\(format(frame.x(point)))\" cy=\"\(format(frame.y(point)))\" r=\"4\" fill=\"\(colour)\"><title>\(escape(outcome.call.id)) \(escape(outcome.call.type))</title></circle>"
        }.joined()
        return frame.open(label: "calls") + grids + dots + "</svg><p>Each call, coloured by its time to scene: ≤ 1, ≤ 3, ≤ 5 minutes, later or never.</p>"
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func format(_ value: Double) -> String { String(format: value.rounded() == value ? "%.0f" : "%.1f", value) }
    static func escape(_ text: String) -> String { SVGFrame.escape(text) }
}
