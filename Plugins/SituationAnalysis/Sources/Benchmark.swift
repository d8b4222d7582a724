import Foundation
import XunfangGeo
import XunfangPluginKit

/// `xunfang bench situation` (run by this plugin's executable): Gi* with conditional
/// permutations on a large lattice of cells, and the aggregation of a million incidents
/// in memory and from the SQLite history. Not a test.
public enum SituationBenchmark {
    struct Options {
        var cells = 100_000
        var permutations = 999
        var incidents = 1_000_000
        var exportDirectory: String?
        var json = false
    }

    public static func run(_ arguments: [String]) -> Int32 {
        var options = Options()
        var index = 0
        while index < arguments.count {
            let name = arguments[index]
            let value: String? = index + 1 < arguments.count ? arguments[index + 1] : nil
            switch name {
            case "--cells": options.cells = value.flatMap { Int($0) } ?? -1; index += 2
            case "--permutations": options.permutations = value.flatMap { Int($0) } ?? -1; index += 2
            case "--incidents": options.incidents = value.flatMap { Int($0) } ?? -1; index += 2
            case "--export-dir": options.exportDirectory = value; index += 2
            case "--json": options.json = true; index += 1
            default:
                FileHandle.standardError.write(Data("xunfang bench situation: unknown option \(name)\n".utf8))
                return 2
            }
        }
        guard options.cells >= 100, options.permutations >= 1, options.incidents >= 1_000 else {
            FileHandle.standardError.write(Data("xunfang bench situation: --cells ≥ 100, --permutations ≥ 1, --incidents ≥ 1000\n".utf8))
            return 2
        }
        do {
            var results = hotSpots(options)
            results += try aggregation(options)
            BenchReport.print(bench: "situation", title: "xunfang bench situation (\(options.cells) cells, \(options.permutations) permutations, \(options.incidents) incidents)",
                              parameters: ["cells": Double(options.cells), "permutations": Double(options.permutations), "incidents": Double(options.incidents)],
                              results: results, jsonOnly: options.json)
            return 0
        } catch {
            FileHandle.standardError.write(Data("xunfang bench situation: \(error)\n".utf8))
            return 1
        }
    }

    /// A rows × columns lattice with queen neighbours (libpysal's lat2W(rook=False) order:
    /// cell = row * columns + column), and counts with a few hot blobs.
    static func lattice(cells: Int) -> (rows: Int, columns: Int, values: [Double], weights: SpatialWeights) {
        let columns = Int(Double(cells).squareRoot().rounded())
        let rows = cells / columns
        var random = SyntheticRoads.Generator(state: 2026)
        let centres = (0..<12).map { _ in (Double.random(in: 0..<Double(rows), using: &random), Double.random(in: 0..<Double(columns), using: &random)) }
        var values = [Double](repeating: 0, count: rows * columns)
        for row in 0..<rows {
            for column in 0..<columns {
                var rate = 0.5
                for (r, c) in centres {
                    let d2 = (Double(row) - r) * (Double(row) - r) + (Double(column) - c) * (Double(column) - c)
                    rate += 6 * exp(-d2 / 40)
                }
                // Poisson by counting exponential gaps (Knuth), fine for these small rates.
                var count = 0.0, product = Double.random(in: 0..<1, using: &random)
                let limit = exp(-rate)
                while product > limit {
                    count += 1
                    product *= Double.random(in: 0..<1, using: &random)
                }
                values[row * columns + column] = count
            }
        }
        return (rows, columns, values, SpatialWeights.queenLattice(rows: rows, columns: columns))
    }

    static func hotSpots(_ options: Options) -> [(String, String, Double)] {
        let (rows, columns, values, weights) = lattice(cells: options.cells)
        var results: [(String, String, Double)] = [("gi-star.cells", "count", Double(values.count))]
        var scores: [SpatialStatistics.Local] = []
        results.append(("gi-star.z-only", "ms", BenchReport.milliseconds { scores = SpatialStatistics.giStar(values, weights: weights) }))
        results.append(("gi-star.\(options.permutations)-permutations", "ms", BenchReport.milliseconds {
            scores = SpatialStatistics.giStar(values, weights: weights, permutations: options.permutations, seed: 1)
        }))
        let p = scores.map { $0.pSimulated ?? 1 }
        results.append(("gi-star.hot-cells.p<=0.01", "count", Double(zip(scores, p).count { $0.0.z > 0 && $0.1 <= 0.01 })))
        results.append(("gi-star.bh-significant.0.05", "count", Double(SpatialStatistics.benjaminiHochberg(p, alpha: 0.05).count { $0 })))
        if let directory = options.exportDirectory {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let header = "\(rows) \(columns) \(options.permutations)\n"
            let body = zip(values, scores).map { "\(Int($0.0)) \($0.1.z) \($0.1.pSimulated ?? 1)" }.joined(separator: "\n")
            try? (header + body + "\n").write(toFile: "\(directory)/lattice.txt", atomically: true, encoding: .utf8)
        }
        return results
    }

    static func aggregation(_ options: Options) throws -> [(String, String, Double)] {
        var random = SyntheticRoads.Generator(state: 1_000_000)
        let end = ChinaTime.start(ofDay: ChinaTime.dayNumber(label: "2026-11-25")!)
        let start = end - 400 * ChinaTime.day
        let stations = ["01", "02", "03"].flatMap { branch in (1...4).map { "510000-\(branch)-\(String(format: "%02d", $0))" } }
        let types = ["violent", "robbery", "fight", "theft", "traffic", "dispute", "help", "noise"]
        let places = ["street", "shop", "home", "school", "market"]
        var records: [HistoryRecord] = []
        records.reserveCapacity(options.incidents)
        for index in 0..<options.incidents {
            let station = stations[Int(random.next() % UInt64(stations.count))]
            records.append(HistoryRecord(
                id: "B\(index)", at: start + Int64(random.next() % UInt64(end - start)), type: types[Int(random.next() % 8)],
                longitude: 104.2 + Double(random.next() % 1_000) / 5_000, latitude: 30.9 + Double(random.next() % 1_000) / 5_000,
                grid: "\(station)-\(String(format: "%03d", Int(random.next() % 11) + 1))", station: station, placeType: places[Int(random.next() % 5)]))
        }
        var results: [(String, String, Double)] = [("aggregate.incidents", "count", Double(records.count))]
        var history = HistoryColumns()
        results.append(("aggregate.columns", "ms", BenchReport.milliseconds { history = HistoryColumns(records) }))
        let yearFrom = end - 365 * ChinaTime.day
        var rows = 0
        results.append(("aggregate.breakdown.station-hour-type.year", "ms", BenchReport.milliseconds {
            rows = Breakdown.compute(history, from: yearFrom, to: end, by: [.station, .hour, .type]).rows.count
        }))
        results.append(("aggregate.breakdown.rows", "count", Double(rows)))
        results.append(("aggregate.breakdown.grid-weekday.week", "ms", BenchReport.milliseconds {
            _ = Breakdown.compute(history, from: end - 7 * ChinaTime.day, to: end, by: [.grid, .weekday])
        }))
        let gridIDs = history.distinct(\.grid)
        results.append(("aggregate.colours.day", "ms", BenchReport.milliseconds {
            _ = DailyColours.compute(history, day: ChinaTime.dayNumber(end) - 1, stations: stations, grids: gridIDs)
        }))

        // The same from the SQLite history, as the plugin answers a request.
        let directory = NSTemporaryDirectory() + "xunfang-bench-situation-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try HistoryStore(path: "\(directory)/situation.sqlite")
        results.append(("store.insert", "ms", try BenchReport.milliseconds { try store.upsert(records) }))
        // What the bus consumer does: one incident at a time into the full history.
        let single = try BenchReport.milliseconds {
            for index in 0..<1_000 {
                var record = records[index]
                record.id = "S\(index)"
                try store.upsert([record])
            }
        }
        results.append(("store.upsert-one-into-full", "µs", single))
        var loaded = HistoryColumns()
        results.append(("store.load-year+breakdown", "ms", try BenchReport.milliseconds {
            loaded = try store.columns(from: yearFrom - Breakdown.year, to: end)
            _ = Breakdown.compute(loaded, from: yearFrom, to: end, by: [.station, .hour, .type])
        }))
        results.append(("store.loaded", "count", Double(loaded.count)))
        if let exportDirectory = options.exportDirectory {
            let lines = records.map { "\($0.at),\($0.station),\($0.type)" }.joined(separator: "\n")
            try ("at,station,type\n" + lines + "\n").write(toFile: "\(exportDirectory)/incidents.csv", atomically: true, encoding: .utf8)
        }
        return results
    }
}
