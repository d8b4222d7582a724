import XunfangPluginKit
import Foundation
import XunfangTestSupport
import GRDB
import SituationAnalysisPlugin
import Testing

/// 2026-01-05 (a Monday) 00:00 China time.
let monday = ChinaTime.start(ofDay: ChinaTime.dayNumber(label: "2026-01-05")!)
let hour: Int64 = 3_600_000

@Suite("History, China time and import")
struct HistoryTests {
    @Test("China time: days, hours and weekdays as the bureaus count them")
    func chinaTime() throws {
        #expect(ChinaTime.label(ofDay: ChinaTime.dayNumber(monday)) == "2026-01-05")
        #expect(ChinaTime.weekday(monday) == 1 && ChinaTime.hour(monday) == 0)
        #expect(ChinaTime.weekday(monday - 1) == 7 && ChinaTime.hour(monday - 1) == 23)
        #expect(ChinaTime.hour(monday + 13 * hour + 59 * 60_000) == 13)
        // 16:00 UTC is midnight in China.
        #expect(ChinaTime.dayNumber(label: "2026-01-05").map(ChinaTime.start(ofDay:)) == 1_767_542_400_000)  // 2026-01-04T16:00Z
        #expect(ChinaTime.dayNumber(label: "2026-02-30") == nil && ChinaTime.dayNumber(label: "yesterday") == nil)
    }

    @Test("the CSV import reads three time forms and refuses a bad line by number")
    func parse() throws {
        let records = try ImportCommand.parse(csv: """
        id,time,type,lon,lat,place_type
        A1,2026-01-05T13:45:00+08:00,theft,104.28,30.97,shop
        A2,2026-01-05 13:45,fight,104.29,30.98
        A3,1767591900000,theft,104.30,30.99,street
        """)
        #expect(records.map(\.id) == ["A1", "A2", "A3"])
        #expect(records[0].at == monday + 13 * hour + 45 * 60_000 && records[1].at == records[0].at)
        #expect(records[2].at == 1_767_591_900_000 && records[0].placeType == "shop" && records[1].placeType.isEmpty)
        let t = "1767591900000"
        for (text, expected) in [("A1,2026-01-05 25:00,theft,104,30", "line 1: time"), ("A1,\(t),theft,200,30", "line 1: lon,lat"),
                                 ("A1,\(t),theft,104,30\nA1,\(t),theft,104,30", "line 2: id A1 appears twice"), ("A1,\(t),theft,104", "line 1: expected"),
                                 ("A1,0001-01-01T00:00:00+08:00,theft,104,30", "line 1: time"), ("A1,2026-01-05T13:45:00+99:00,theft,104,30", "line 1: time"),
                                 ("A1,1,theft,104,30", "line 1: time"), ("A1,2999-01-05 13:45,theft,104,30", "line 1: time"),
                                 ("", "no incident rows"), ("id,time,type,lon,lat\r\n", "no incident rows")] {
            do {
                _ = try ImportCommand.parse(csv: text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.message.hasPrefix(expected), "\(error.message)")
            }
        }
    }

    @Test("CRLF line ends read like LF: a file from a Windows spreadsheet imports every row")
    func crlf() throws {
        let text = "id,time,type,lon,lat\r\nA1,2026-01-05 13:45,theft,104.28,30.97\r\nA2,2026-01-05 14:00,fight,104.29,30.98\r\n"
        #expect(try ImportCommand.parse(csv: text).map(\.id) == ["A1", "A2"])
    }

    @Test("the store keeps an incident once, however often it comes, and fills in where it lies")
    func store() throws {
        let store = try HistoryStore(path: temporaryDirectory() + "/situation.sqlite")
        let record = HistoryRecord(id: "INC-1", at: monday, type: "theft", longitude: 104.28, latitude: 30.97)
        #expect(try store.upsert([record, record]) == 1)
        #expect(try store.upsert([record]) == 0)
        #expect(try store.unlocated(limit: 10).map(\.id) == ["INC-1"])
        var located = record
        located.grid = "G1"
        located.station = "S1"
        #expect(try store.upsert([located]) == 0)
        // Dispatch placed it in a grid; the road segment is still GridModel's to find.
        #expect(try store.records().first?.grid == "G1" && store.unlocated(limit: 10).map(\.grid) == ["G1"])
        try store.locate([("INC-1", "G2", "S2", "17-18")])
        let placed = try #require(try store.records().first)
        #expect(placed.station == "S1" && placed.grid == "G1" && placed.segment == "17-18", "a known grid is kept")
        #expect(try store.unlocated(limit: 10).isEmpty && store.count() == 1)
    }

    @Test("a history stored before name codes (migration v1) is carried over whole")
    func migration() throws {
        let path = temporaryDirectory() + "/situation.sqlite"
        let old = try DatabaseQueue(path: path)
        try old.write { db in
            try db.execute(sql: """
                CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                INSERT INTO grdb_migrations VALUES ('v1');
                CREATE TABLE incident (id TEXT PRIMARY KEY NOT NULL, at INTEGER NOT NULL, type TEXT NOT NULL, longitude REAL NOT NULL,
                  latitude REAL NOT NULL, grid_id TEXT NOT NULL DEFAULT '', station_id TEXT NOT NULL DEFAULT '', place_type TEXT NOT NULL DEFAULT '');
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                INSERT INTO incident VALUES ('A', 10, 'theft', 104.28, 30.97, 'G1', 'S1', 'shop'), ('B', 20, 'fight', 104.29, 30.98, '', '', '');
                INSERT INTO meta VALUES ('colours_day', '20000');
                """)
        }
        try old.close()
        let store = try HistoryStore(path: path)
        let records = try store.records()
        #expect(records == [HistoryRecord(id: "A", at: 10, type: "theft", longitude: 104.28, latitude: 30.97, grid: "G1", station: "S1", placeType: "shop"),
                            HistoryRecord(id: "B", at: 20, type: "fight", longitude: 104.29, latitude: 30.98)])
        #expect(try store.unlocated(limit: 5).map(\.id).sorted() == ["A", "B"] && store.meta("colours_day") == "20000", "no road segment yet")
        let columns = try store.columns()
        #expect(columns.distinct(\.station) == ["S1"] && columns.names.names[Int(columns.type[1])] == "fight")
    }

    @Test("import command: a bad file leaves the store as it was; a good one twice adds nothing the second time")
    func command() throws {
        let directory = temporaryDirectory()
        try "A1,2026-01-05 08:00,theft,104.28,30.97\nA2,2026-01-05 09:00,theft,104.28,30.97\n".write(toFile: directory + "/good.csv", atomically: true, encoding: .utf8)
        try "A3,2026-01-05 08:00,theft,104.28,30.97\nA4,never,theft,104.28,30.97\n".write(toFile: directory + "/bad.csv", atomically: true, encoding: .utf8)
        let environment = ["XUNFANG_DATA_DIR": directory]
        #expect(ImportCommand.run([directory + "/good.csv"], environment: environment) == 0)
        #expect(ImportCommand.run([directory + "/good.csv"], environment: environment) == 0)
        #expect(ImportCommand.run([directory + "/bad.csv"], environment: environment) != 0)
        let store = try HistoryStore(path: directory + "/situation/situation.sqlite")
        #expect(try store.count() == 2)
        #expect(try store.meta("imports") == "1", "only an import that added rows tells the plugin to recompute")
        // The two incidents as a density layer; a bad option prints the usage and writes nothing.
        let now = monday + ChinaTime.day + hour
        #expect(DensityCommand.run(["--out", directory + "/density.geojson", "--cell", "50"], environment: environment, now: now) == 0)
        let layer = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/density.geojson"))) as? [String: Any]
        #expect(layer?["type"] as? String == "FeatureCollection" && ((layer?["features"] as? [Any])?.count ?? 0) > 0)
        #expect(DensityCommand.run(["--days", "0"], environment: environment, now: now) != 0)
        #expect(DensityCommand.run(["--cell", "5"], environment: environment, now: now) != 0)
        #expect(DensityCommand.run(["--day", "2025-01-01", "--days", "3"], environment: environment, now: now) != 0, "no incidents then")
    }
}

@Suite("Breakdowns and daily colours")
struct AnalysisTests {
    func record(_ id: String, _ at: Int64, type: String = "theft", station: String = "S1", grid: String = "G1") -> HistoryRecord {
        HistoryRecord(id: id, at: at, type: type, longitude: 104.28, latitude: 30.97, grid: grid, station: station)
    }

    @Test("counts by station and hour, beside the week before and the same weeks last year")
    func breakdown() {
        let week = 7 * ChinaTime.day
        var records = [
            record("a", monday + 9 * hour), record("b", monday + 9 * hour + 1), record("c", monday + 21 * hour, type: "fight"),
            record("d", monday + 9 * hour, station: "S2"),
            record("e", monday - week + 9 * hour),                  // the week before
            record("f", monday - 52 * week + 9 * hour), record("g", monday - 52 * week + 9 * hour + 5),  // last year
            record("h", monday + 2 * ChinaTime.day),                // outside the one-day window
        ]
        records.shuffle()
        let history = HistoryColumns(records)
        let (total, rows) = Breakdown.compute(history, from: monday, to: monday + ChinaTime.day, by: [.station, .hour])
        #expect(total == 4)
        let nine = rows.first { $0.key == ["S1", "9"] }
        #expect(nine?.count == 2 && nine?.previousWeek == 1 && nine?.lastYear == 2)
        #expect(nine?.weekChange == 1.0 && nine?.yearChange == 0)
        #expect(rows.first == nine, "largest first")
        #expect(rows.contains { $0.key == ["S1", "21"] && $0.count == 1 } && rows.contains { $0.key == ["S2", "9"] && $0.count == 1 })
        var onRoads = records
        for index in onRoads.indices { onRoads[index].segment = onRoads[index].id < "c" ? "1-2" : "2-3" }
        let bySegment = Breakdown.compute(HistoryColumns(onRoads), from: monday, to: monday + ChinaTime.day, by: [.roadSegment]).rows
        #expect(bySegment.map(\.count) == [2, 2])
        #expect(Set(bySegment.map(\.key)) == [["1-2"], ["2-3"]] && bySegment.first { $0.key == ["1-2"] }?.previousWeek == 0)
        let byType = Breakdown.compute(history, from: monday, to: monday + ChinaTime.day, by: [.type, .weekday]).rows
        #expect(byType.first { $0.key == ["fight", "1"] }?.count == 1)
        #expect(Breakdown.compute(history, from: monday, to: monday + ChinaTime.day, by: []).rows.map(\.count) == [4])
    }

    @Test("past 65,536 names in the table, keys stay apart: a station named late does not merge with one named early")
    func manyNames() {
        var history = HistoryColumns([record("early", monday + 9 * hour, station: "S-early")])
        // Road segments, grids and types share the table; a large county passes 65,536 names.
        for serial in 0..<70_000 { _ = history.names.code("segment-\(serial)") }
        var late = record("late", monday + 10 * hour, station: "S-late")
        late.segment = "segment-69999"
        history.append(late)
        #expect(Int(history.station[1]) - Int(history.station[0]) > 65_536, "the two stations' codes are 65,536 apart at least")
        let rows = Breakdown.compute(history, from: monday, to: monday + ChinaTime.day, by: [.station, .roadSegment]).rows
        #expect(Set(rows.map(\.key)) == [["S-early", ""], ["S-late", "segment-69999"]])
    }

    @Test("a station far above its same-weekday baseline turns red, a steady one stays green, and the judgement is the rule's")
    func colours() {
        var records: [HistoryRecord] = []
        var serial = 0
        func add(_ count: Int, day: Int64, station: String, grid: String) {
            for _ in 0..<count {
                serial += 1
                records.append(record("r\(serial)", ChinaTime.start(ofDay: day) + Int64(serial % 24) * hour, station: station, grid: grid))
            }
        }
        let day = ChinaTime.dayNumber(monday)
        for week in 1...15 {
            add(2 + week % 2, day: day - Int64(7 * week), station: "S1", grid: "G1")
            add(2 + week % 2, day: day - Int64(7 * week), station: "S2", grid: "G2")
            add(5, day: day - Int64(7 * week) + 1, station: "S1", grid: "G1")  // other weekdays do not count
        }
        add(3, day: day - 364, station: "S1", grid: "G1")
        add(14, day: day, station: "S1", grid: "G1")
        add(3, day: day, station: "S2", grid: "G2")
        let result = DailyColours.compute(HistoryColumns(records), day: day, stations: ["S1", "S2", "S3"], grids: ["G1", "G2"])
        let s1 = result.stations[0], s2 = result.stations[1], s3 = result.stations[2]
        #expect(s1.count == 14 && s1.judgement.colour == .red && s1.judgement.colour.deploymentLevel == 1)
        let baseline = (1...15).map { 2 + $0 % 2 } + [3]
        #expect(s1.judgement == ColourRule().judge(count: 14, baseline: baseline))
        #expect(s2.judgement.colour == .green && s3.count == 0 && s3.judgement.colour == .green)
        #expect(result.grids.map(\.judgement.colour) == [.red, .green])
        let spots = DailyColours.hotSpots(HistoryColumns(records), station: "S1", day: day)
        #expect(spots.types == ["theft"] && spots.grids == ["G1"] && spots.hours.count == 3)
    }
}
