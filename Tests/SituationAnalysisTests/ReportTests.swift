import XunfangPluginKit
import Foundation
import XunfangTestSupport
import SituationAnalysisPlugin
import Testing

@Suite("Reports")
struct ReportTests {
    func day(_ label: String) -> Int64 { ChinaTime.dayNumber(label: label)! }

    @Test("a ten-day report covers 1-10, 11-20 or 21 to the month's end")
    func periods() {
        #expect(Report.period(.daily, day: day("2026-01-05")) == (day("2026-01-05"), day("2026-01-05")))
        #expect(Report.period(.tenDay, day: day("2026-01-05")) == (day("2026-01-01"), day("2026-01-10")))
        #expect(Report.period(.tenDay, day: day("2026-01-20")) == (day("2026-01-11"), day("2026-01-20")))
        #expect(Report.period(.tenDay, day: day("2026-01-31")) == (day("2026-01-21"), day("2026-01-31")))
        #expect(Report.period(.tenDay, day: day("2026-02-25")) == (day("2026-02-21"), day("2026-02-28")))
        #expect(Report.period(.tenDay, day: day("2024-02-21")) == (day("2024-02-21"), day("2024-02-29")))
    }

    func history() -> [HistoryRecord] {
        var records: [HistoryRecord] = []
        func add(_ id: String, _ label: String, hour: Int64, station: String = "S1", type: String = "theft") {
            records.append(HistoryRecord(id: id, at: ChinaTime.start(ofDay: day(label)) + hour * 3_600_000, type: type,
                                         longitude: 104.28, latitude: 30.97, grid: "\(station)-G1", station: station, segment: "1-2"))
        }
        for index in 0..<6 { add("now\(index)", "2026-01-0\(index % 3 + 3)", hour: 20, type: index < 4 ? "theft" : "fight") }
        add("s2", "2026-01-04", hour: 9, station: "S<2>")
        for index in 0..<3 { add("before\(index)", "2025-12-2\(index + 2)", hour: 10) }
        add("lastyear", "2025-01-06", hour: 10)
        return records
    }

    @Test("the figures: the period's count beside the one before and last year's, trend and heat map add up")
    func content() throws {
        let store = try HistoryStore(path: temporaryDirectory() + "/situation.sqlite")
        try store.upsert(history())
        try store.setLabels(.type, ["theft": "盗窃", "fight": "打架斗殴"])
        try store.setLabels(.area, ["S1": "雒城派出所", "S1-G1": "文庙社区一网格"])
        try store.setLabels(.road, ["1-2": "中山大道"])
        let report = try Report.make(.tenDay, day: day("2026-01-05"), store: store)
        #expect(report.from == "2026-01-01" && report.to == "2026-01-10")
        #expect(report.incidents == 7 && report.previousPeriod == 3 && report.samePeriodLastYear == 1)
        #expect(report.trend.count == 90 && report.trend.reduce(0, +) == 10)
        #expect(report.hourByWeekday.flatMap { $0 }.reduce(0, +) == 10 && report.hourByWeekday.allSatisfy { $0.count == 24 })
        #expect(report.types.first?.name == "盗窃" && report.types.first?.key == "theft" && report.types.first?.count == 5)
        #expect(report.roads.first?.name == "中山大道" && report.roads.first?.count == 7 && report.grids.first?.name == "文庙社区一网格")
        #expect(Set(report.stations.map(\.station)) == ["S1", "S<2>"] && report.stations.allSatisfy { $0.longitude != nil })
        // The ten-day table holds ten-day figures, not the last day's.
        let s1 = try #require(report.stations.first { $0.station == "S1" })
        #expect(s1.name == "雒城派出所" && s1.count == 6 && s1.previousCount == 3 && (1...10).contains(s1.daysYellowOrWorse))
        #expect(report.stations.first { $0.station == "S<2>" }?.name == "S<2>", "a station without a name known keeps its id")
        #expect(report.summary.first?.contains("共发生警情7起；上期3起，上升133%") == true, "\(report.summary)")
        #expect(report.summary.contains { $0.hasPrefix("上升最多：雒城派出所，增加3起") } && report.summary.contains { $0.contains("最多的案件类型：盗窃，5起，占71%") })
        #expect(report.summary.contains { $0.contains("20:00-21:00") } && report.density != nil)
        let daily = try Report.make(.daily, day: day("2026-01-05"), store: store)
        #expect(daily.incidents == 2 && daily.trend.count == 28)
    }

    @Test("the page stands alone: three SVG charts, no outside links, names escaped")
    func page() throws {
        let store = try HistoryStore(path: temporaryDirectory() + "/situation.sqlite")
        try store.upsert(history())
        let html = Report.html(try Report.make(.tenDay, day: day("2026-01-05"), store: store))
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.components(separatedBy: "<svg").count == 4)
        #expect(!html.contains("http") && !html.contains("<script") && !html.contains("src="))
        #expect(html.contains("S&lt;2&gt;") && !html.contains("S<2>"))
        #expect(html.contains("每十天汇报"))
        // Every chart says its period.
        #expect(html.contains("Incidents per day (2025-10-13 – 2026-01-10，90天)") && html.contains("Hour × weekday (2025-10-13 – 2026-01-10，90天)"))
        #expect(html.contains("Stations (2026-01-01 – 2026-01-10)") && html.contains("Case types (2026-01-01 – 2026-01-10)"))
        // With GridModel's outlines the stations sit over their grids, density on top.
        let square = [[104.27, 30.96], [104.29, 30.96], [104.29, 30.98], [104.27, 30.98], [104.27, 30.96]]
        let mapped = Report.html(try Report.make(.tenDay, day: day("2026-01-05"), store: store,
                                                 outlines: [.init(id: "S1-G1", name: "文庙社区一网格", station: "S1", rings: [square])]))
        #expect(mapped.contains("<path d=\"M") && mapped.contains("<title>文庙社区一网格</title>") && mapped.contains("fill=\"#6a1b9a\""))
    }

    @Test("the report command writes HTML or JSON from the history file, and says when there is none")
    func command() throws {
        let directory = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory + "/situation", withIntermediateDirectories: true)
        try HistoryStore(path: directory + "/situation/situation.sqlite").upsert(history())
        #expect(ReportCommand.run(["--kind", "ten-day", "--day", "2026-01-05", "--out", directory + "/r.html", "--data-dir", directory]) == 0)
        #expect(try String(contentsOfFile: directory + "/r.html", encoding: .utf8).contains("<svg"))
        #expect(ReportCommand.run(["--day", "2026-01-05", "--out", directory + "/r.json", "--data-dir", directory]) == 0)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/r.json"))) as? [String: Any]
        #expect(json?["incidents"] as? Int == 2 && json?["kind"] as? String == "daily")
        #expect(ReportCommand.run(["--data-dir", directory + "/nowhere"]) == 1)
        #expect(ReportCommand.run(["--kind", "weekly", "--data-dir", directory]) == 1)
    }
}
