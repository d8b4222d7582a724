import Foundation
import XunfangGeo
import XunfangPluginKit

/// The demo county's volunteer forces at the documents' sizes, on GridModel's areas and
/// roads: every station (a township or street) has a red-armband patrol team of 18 to 30
/// and an information-officer team of 15 to 20 (sanitation workers at dawn, taxi drivers
/// by day); every grid (a community or village) a joint-defence team of 5 to 8 patrolling
/// its evenings. Members work the road segments nearest points in their area. Names and
/// phones are made up (common surnames, 1990000xxxx numbers) and sealed like real ones.
struct DemoLedger {
    struct Station {
        var id: String
        var name: String
    }

    struct Grid {
        var id: String
        var name: String
        var stationID: String
        var outline: [GeoPoint]
    }

    let stations: [Station]
    let grids: [Grid]

    /// Teams and members as the ledger CSVs. `segment` names the road segment nearest a
    /// point (GridModel's Locate), nil where it cannot say.
    func csv(seed: UInt64, segment: (GeoPoint) async -> String?) async -> (teams: String, members: String) {
        var random = SyntheticRoads.Generator(state: seed)
        var teams = [Ledger.teamHeader], members = [Ledger.memberHeader]
        var number = 0
        /// A member on up to `roads` segments near points of `grid` (more points are tried
        /// where roads are sparse).
        func add(team: String, role: String, grid: Grid, roads: Int, hours: String, types: String, skills: String) async {
            number += 1
            var segments: [String] = []
            for point in points(in: grid, count: roads * 4, random: &random) where segments.count < roads {
                if let id = await segment(point), !segments.contains(id) { segments.append(id) }
            }
            let name = Self.surnames[Int(random.next() % UInt64(Self.surnames.count))] + Self.givenNames[Int(random.next() % UInt64(Self.givenNames.count))]
            let reliability = String(format: "%.2f", 0.6 + Double(random.next() % 40) / 100)
            members.append([String(format: "M-%06d", number), team, role, segments.joined(separator: ";"), hours, types, skills, reliability,
                            name, "1990000" + String(format: "%04d", number % 10_000)].joined(separator: ","))
        }
        let gridsByStation = Dictionary(grouping: grids, by: \.stationID)
        for (stationIndex, station) in stations.enumerated() {
            let own = gridsByStation[station.id] ?? []
            guard !own.isEmpty else { continue }
            let patrol = String(format: "T-%02d-RA", stationIndex + 1), officers = String(format: "T-%02d-IO", stationIndex + 1)
            let short = station.name.replacingOccurrences(of: "派出所", with: "")
            teams.append("\(patrol),\(short)红袖标巡逻队,red-armband,township,\(station.id),")
            teams.append("\(officers),\(short)治安信息员,information-officers,township,\(station.id),")
            for index in 0..<(18 + Int(random.next() % 13)) {
                let grid = own[index % own.count]
                await add(team: patrol, role: index == 0 ? "leader" : "patroller", grid: grid, roads: 3,
                          hours: index % 2 == 0 ? "1-7@19:00-22:00" : "1-5@07:00-09:00;6-7@09:00-12:00", types: "", skills: index % 5 == 0 ? "first-aid" : "")
            }
            for index in 0..<(15 + Int(random.next() % 6)) {
                let sanitation = index % 3 != 0
                await add(team: officers, role: "information-officer", grid: own[(index * 7) % own.count], roads: sanitation ? 2 : 4,
                          hours: sanitation ? "1-7@05:00-09:00" : "1-6@08:00-20:00", types: "theft;burglary;fraud", skills: sanitation ? "sanitation" : "taxi")
            }
        }
        for (gridIndex, grid) in grids.enumerated() {
            let team = String(format: "T-G%03d", gridIndex + 1)
            teams.append("\(team),\(grid.name)联防队,joint-defence,village,\(grid.stationID),\(grid.id)")
            for index in 0..<(5 + Int(random.next() % 4)) {
                await add(team: team, role: index == 0 ? "leader" : "patroller", grid: grid, roads: 2,
                          hours: "1-7@18:00-22:00", types: "", skills: "")
            }
        }
        return (teams.joined(separator: "\n") + "\n", members.joined(separator: "\n") + "\n")
    }

    /// The duty ledgers: each station's chief and a police room in each of its first two
    /// grids, staffed in three shifts (one night shift missed four days ago); each grid's
    /// village or community officer, 4 to 6 hours on most days (every eighth officer on
    /// three days in seven, short of 20 hours). Records cover the three weeks before `now`.
    func duty(now: Int64, seed: UInt64) -> (posts: String, records: String) {
        var random = SyntheticRoads.Generator(state: seed)
        var posts = [Ledger.dutyPostHeader], records = [Ledger.dutyRecordHeader]
        func name() -> String {
            Self.surnames[Int(random.next() % UInt64(Self.surnames.count))] + Self.givenNames[Int(random.next() % UInt64(Self.givenNames.count))]
        }
        func record(_ officer: String, _ place: String, _ start: Int64, hours: Double) {
            records.append("\(officer),\(place),\(ChinaTime.minute(milliseconds: start)),\(ChinaTime.minute(milliseconds: start + Int64(hours * 3_600_000)))")
        }
        let today = ChinaTime.dayNumber(now), first = today - 21
        let gridsByStation = Dictionary(grouping: grids, by: \.stationID)
        var officer = 0
        for (stationIndex, station) in stations.enumerated() {
            let own = gridsByStation[station.id] ?? []
            guard !own.isEmpty else { continue }
            officer += 1
            let chief = String(format: "PO-%04d", officer)
            posts.append(String(format: "C-%02d,station-chief,%@,%@,,%@", stationIndex + 1, name(), station.id, chief))
            for (roomIndex, grid) in own.prefix(2).enumerated() {
                let room = String(format: "R-%02d%d", stationIndex + 1, roomIndex + 1)
                posts.append("\(room),police-room,\(grid.name)警务室,\(station.id),\(grid.id),")
                for day in first..<today {
                    for shift in 0..<3 where !(stationIndex == 0 && roomIndex == 0 && day == today - 4 && shift == 0) {
                        record(String(format: "PO-%04d", 9_000 + stationIndex * 10 + roomIndex * 3 + shift), room, ChinaTime.start(ofDay: day) + Int64(shift) * 8 * 3_600_000, hours: 8)
                    }
                }
                // Most chiefs do their day in the station's first room on each month's 2nd
                // (or the records' first day); every fourth station's chief does not.
                if roomIndex == 0 && stationIndex % 4 != 3 {
                    for day in first..<today where day == first || ChinaTime.civil(day).day == 2 {
                        record(chief, room, ChinaTime.start(ofDay: day) + 9 * 3_600_000, hours: 8)
                    }
                }
            }
            for grid in own {
                officer += 1
                let id = String(format: "PO-%04d", officer)
                posts.append(String(format: "V-%04d,village-police,%@,%@,%@,%@", officer, name(), station.id, grid.id, id))
                for day in first..<today where random.next() % 7 < (officer % 8 == 0 ? 3 : 6) {
                    record(id, grid.id, ChinaTime.start(ofDay: day) + Int64(8 + random.next() % 3) * 3_600_000, hours: 4 + Double(random.next() % 5) / 2)
                }
            }
        }
        return (posts.joined(separator: "\n") + "\n", records.joined(separator: "\n") + "\n")
    }

    /// Points inside `grid`'s outline (its middle when it has none to speak of).
    func points(in grid: Grid, count: Int, random: inout SyntheticRoads.Generator) -> [GeoPoint] {
        guard grid.outline.count >= 3 else { return [] }
        let longitudes = grid.outline.map(\.longitude), latitudes = grid.outline.map(\.latitude)
        let projection = LocalProjection(origin: grid.outline[0])
        let polygon = (try? Ring(grid.outline.map(projection.project))).map { Polygon(outer: $0) }
        var found: [GeoPoint] = []
        for _ in 0..<(count * 20) where found.count < count {
            let point = GeoPoint(longitude: longitudes.min()! + (longitudes.max()! - longitudes.min()!) * Double(random.next() % 1_000) / 1_000,
                                 latitude: latitudes.min()! + (latitudes.max()! - latitudes.min()!) * Double(random.next() % 1_000) / 1_000)
            if polygon?.contains(projection.project(point)) ?? true { found.append(point) }
        }
        return found
    }

    static let surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高"]
    static let givenNames = ["建华", "秀英", "志强", "桂兰", "国平", "丽", "军", "芳", "伟", "敏", "勇", "静", "德明", "春梅", "洪", "燕", "永刚", "玉珍", "海", "红"]
}
