import XunfangPluginKit
/// Counts of incidents by any few dimensions over a window, beside the same window a
/// week earlier and 52 weeks earlier (the same weekdays), in one pass over the history.
public enum Breakdown {
    public enum Dimension: Int, Sendable, Hashable, CaseIterable {
        case station = 1, grid, hour, weekday, type, placeType, roadSegment, county
    }

    public struct Row: Sendable, Hashable {
        public var key: [String]
        public var count: Int
        public var previousWeek: Int
        public var lastYear: Int

        public var weekChange: Double { previousWeek > 0 ? Double(count - previousWeek) / Double(previousWeek) : 0 }
        public var yearChange: Double { lastYear > 0 ? Double(count - lastYear) / Double(lastYear) : 0 }
    }

    static let week: Int64 = 7 * ChinaTime.day
    static let year: Int64 = 52 * week

    /// Rows with the largest counts first (ties by key), at most `limit`; keys that only
    /// occur in the comparison windows are included with count 0.
    public static func compute(_ history: HistoryColumns, from: Int64, to: Int64, by dimensions: [Dimension], limit: Int = 1_000) -> (total: Int, rows: [Row]) {
        precondition(dimensions.count <= 4, "at most 4 dimensions")
        // Each dimension's code whole, one lane each: the name table holds every kind of
        // name, so its codes pass 65,536 in a large county's history.
        var cells: [SIMD4<Int32>: (Int, Int, Int)] = [:]
        var total = 0
        let windows = [(from, to), (from - week, to - week), (from - year, to - year)]
        for index in 0..<history.count {
            let at = history.at[index]
            for (slot, window) in windows.enumerated() where at >= window.0 && at < window.1 {
                var key = SIMD4<Int32>(repeating: 0)
                for (lane, dimension) in dimensions.enumerated() {
                    key[lane] = Int32(code(dimension, history, index))
                }
                var counts = cells[key, default: (0, 0, 0)]
                switch slot {
                case 0: counts.0 += 1; total += 1
                case 1: counts.1 += 1
                default: counts.2 += 1
                }
                cells[key] = counts
            }
        }
        var rows = cells.map { key, counts in
            Row(key: names(key, dimensions, history), count: counts.0, previousWeek: counts.1, lastYear: counts.2)
        }
        rows.sort { $0.count != $1.count ? $0.count > $1.count : $0.key.lexicographicallyPrecedes($1.key) }
        return (total, Array(rows.prefix(limit)))
    }

    static func code(_ dimension: Dimension, _ history: HistoryColumns, _ index: Int) -> Int {
        switch dimension {
        case .station: Int(history.station[index])
        case .grid: Int(history.grid[index])
        case .hour: ChinaTime.hour(history.at[index])
        case .weekday: ChinaTime.weekday(history.at[index])
        case .type: Int(history.type[index])
        case .placeType: Int(history.placeType[index])
        case .roadSegment: Int(history.segment[index])
        case .county: Int(history.county[index])
        }
    }

    static func names(_ key: SIMD4<Int32>, _ dimensions: [Dimension], _ history: HistoryColumns) -> [String] {
        dimensions.enumerated().map { lane, dimension in
            let code = Int(key[lane])
            return switch dimension {
            case .station, .grid, .type, .placeType, .roadSegment, .county: history.names.names[code]
            case .hour, .weekday: String(code)
            }
        }
    }
}

/// The four-colour daily status of stations and grids, and what a warning says.
public enum DailyColours {
    public struct Area: Sendable, Hashable {
        public var id: String
        public var count: Int
        public var judgement: ColourRule.Judgement
    }

    /// Each area's count on `day` judged against the same weekday over the previous 15
    /// weeks and the same weekday 52 weeks before.
    public static func compute(_ history: HistoryColumns, day: Int64, stations: [String], grids: [String],
                               rule: ColourRule = ColourRule()) -> (stations: [Area], grids: [Area]) {
        // Slot 0 is the day itself, 1...15 the weeks before, 16 last year.
        var slotOfOffset: [Int64: Int] = [0: 0, 364: 16]
        for week in 1...15 { slotOfOffset[Int64(7 * week)] = week }
        var stationCounts = [[Int]](repeating: [Int](repeating: 0, count: 17), count: history.names.names.count)
        var gridCounts = [[Int]](repeating: [Int](repeating: 0, count: 17), count: history.names.names.count)
        let earliest = ChinaTime.start(ofDay: day - 364), latest = ChinaTime.start(ofDay: day + 1)
        for index in 0..<history.count {
            let at = history.at[index]
            guard at >= earliest, at < latest, let slot = slotOfOffset[day - ChinaTime.dayNumber(at)] else { continue }
            stationCounts[Int(history.station[index])][slot] += 1
            gridCounts[Int(history.grid[index])][slot] += 1
        }
        func judge(_ ids: [String], _ counts: [[Int]]) -> [Area] {
            ids.map { id in
                let slots = history.names.lookup(id).map { counts[Int($0)] } ?? [Int](repeating: 0, count: 17)
                return Area(id: id, count: slots[0], judgement: rule.judge(count: slots[0], baseline: Array(slots[1...])))
            }
        }
        return (judge(stations, stationCounts), judge(grids, gridCounts))
    }

    /// What a station's warning names: over the four weeks up to `day`, its busiest hours,
    /// most frequent case types, and grids and road segments with most incidents (three of each).
    public static func hotSpots(_ history: HistoryColumns, station: String, day: Int64) -> (hours: [Int], types: [String], grids: [String], segments: [String]) {
        guard let code = history.names.lookup(station) else { return ([], [], [], []) }
        let from = ChinaTime.start(ofDay: day - 27), to = ChinaTime.start(ofDay: day + 1)
        var hours = [Int](repeating: 0, count: 24)
        var types: [Int32: Int] = [:], grids: [Int32: Int] = [:], segments: [Int32: Int] = [:]
        for index in 0..<history.count where history.station[index] == code && history.at[index] >= from && history.at[index] < to {
            hours[ChinaTime.hour(history.at[index])] += 1
            types[history.type[index], default: 0] += 1
            grids[history.grid[index], default: 0] += 1
            segments[history.segment[index], default: 0] += 1
        }
        func top<K: Comparable>(_ counts: [K: Int]) -> [K] {
            counts.filter { $0.value > 0 }.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(3).map(\.key)
        }
        let hourCounts = Dictionary(uniqueKeysWithValues: hours.enumerated().map { ($0.offset, $0.element) })
        return (top(hourCounts), top(types).map { history.names.names[Int($0)] },
                top(grids.filter { !["", "-"].contains(history.names.names[Int($0.key)]) }).map { history.names.names[Int($0)] },
                top(segments.filter { !["", "-"].contains(history.names.names[Int($0.key)]) }).map { history.names.names[Int($0)] })
    }
}
