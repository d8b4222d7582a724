import Foundation
import Synchronization
import XunfangGeo
import XunfangPluginKit
import PatrolContract

/// `xunfang bench patrol` (run by this plugin's executable): map matching's accuracy and
/// speed on simulated drives with known truth (the demo county's roads, or a real OSM
/// extract with `--osm`), at 1, 5 and 15 s sampling and 5, 10 and 20 m GPS error; and what
/// the terminal gateway costs for 1,852 terminals reporting every second. With
/// `--export-dir` it writes the drives, their truth and our matches as files that
/// Benchmarks/run-patrol gives Valhalla (Meili) to match beside ours. Not a test.
enum PatrolBenchmark {
    struct Options {
        var drives = 20
        var osm: String?
        var exportDirectory: String?
        var json = false
    }

    static func run(_ arguments: [String]) -> Int32 {
        var options = Options()
        var index = 0
        while index < arguments.count {
            let name = arguments[index], value = index + 1 < arguments.count ? arguments[index + 1] : ""
            switch name {
            case "--drives": guard let count = Int(value), (1...1_000).contains(count) else { return fail("--drives 1 to 1000") }; options.drives = count; index += 1
            case "--osm": options.osm = value; index += 1
            case "--export-dir": options.exportDirectory = value; index += 1
            case "--json": options.json = true
            default: return fail("unknown option \(name) (--drives N --osm PBF --export-dir DIR --json)")
            }
            index += 1
        }
        do {
            let graph = try options.osm.map { path throws -> RoadGraph in try OSMCarNetwork.importGraph(path: path).0 } ?? SyntheticRoads.county(.demoCounty)
            var results: [(String, String, Double)] = []
            var exported: [[String: Any]] = []
            var points = 0, seconds = 0.0
            for interval in [1.0, 5.0, 15.0] {
                for noise in [5.0, 10.0, 20.0] {
                    var settings = MapMatcher.Settings()
                    settings.sigma = noise
                    let matcher = MapMatcher(graph: graph, settings: settings)
                    let drives = SyntheticDrives.make(on: graph, count: options.drives, interval: interval, noise: noise, seed: 11)
                    var f1 = 0.0
                    for (number, drive) in drives.enumerated() {
                        var result: MapMatcher.Result?
                        seconds += BenchReport.milliseconds { result = matcher.match(drive.fixes) } / 1_000
                        points += drive.fixes.count
                        let matched = result!.arcs.map(\.arc)
                        f1 += SyntheticDrives.score(matched: matched, truth: drive.truth, graph: graph).f1
                        if options.exportDirectory != nil {
                            func line(_ arcs: [Int]) -> [[Double]] {
                                guard let first = arcs.first else { return [] }
                                return [graph.coordinates[graph.tail(ofArc: first)]].map { [$0.longitude, $0.latitude] }
                                    + arcs.map { graph.coordinates[Int(graph.arcHead[$0])] }.map { [$0.longitude, $0.latitude] }
                            }
                            exported.append(["interval": interval, "noise": noise, "drive": number,
                                             "fixes": drive.fixes.map { [$0.time, $0.point.longitude, $0.point.latitude] },
                                             "truth": line(drive.truth), "ours": line(matched)])
                        }
                    }
                    results.append(("F1 every \(Int(interval)) s, \(Int(noise)) m", "F1", f1 / Double(max(1, drives.count))))
                }
            }
            results.append(("matching, one core", "points/s", Double(points) / max(seconds, 1e-9)))
            results.append(("fixes matched", "points", Double(points)))
            results += try gateway(graph)
            if let directory = options.exportDirectory {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try JSONSerialization.data(withJSONObject: exported).write(to: URL(fileURLWithPath: "\(directory)/drives.json"))
            }
            BenchReport.print(bench: "patrol", title: "xunfang bench patrol (\(options.drives) drives a case on \(options.osm ?? "the demo county's roads"): \(graph.arcCount) arcs)",
                              parameters: ["drives": Double(options.drives), "arcs": Double(graph.arcCount)], results: results, jsonOnly: options.json)
            return 0
        } catch {
            return fail("\(error)")
        }
    }

    /// 1,852 terminals reporting once a second for a minute, each driving its own route on
    /// `graph` with 10 m GPS error, through the gateway's checks and store (no bus), once
    /// without and once with online map matching, a second of each in turn: the share of
    /// one core each takes.
    static func gateway(_ graph: RoadGraph) throws -> [(String, String, Double)] {
        let directory = NSTemporaryDirectory() + "xunfang-bench-patrol-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let start: Int64 = 1_796_180_400_000, seconds = 60
        let drives = SyntheticDrives.make(on: graph, count: 2_400, interval: 1, noise: 10, seed: 3).filter { $0.fixes.count >= seconds }
        let units = (1...1_852).map { String(format: "T%04d", $0) }
        guard drives.count >= units.count else { throw BusClientError(.internal, "only \(drives.count) drives of a minute on this graph") }
        let plain = try PatrolStore(path: "\(directory)/plain.sqlite"), matched = try PatrolStore(path: "\(directory)/matched.sqlite")
        for store in [plain, matched] { try store.put(teams: units.map { ($0, "一班") }) }
        let clock = Clock(now: start)
        let matching = TrackMatching(graph: graph)
        var busy = (plain: 0.0, matched: 0.0)
        for second in 0..<seconds {
            clock.now = start + Int64(second) * 1_000
            var request = Xunfang_Patrol_V1_ReportRequest()
            request.pings = units.enumerated().map { index, callSign in
                var ping = Xunfang_Patrol_V1_Ping()
                ping.callSign = callSign
                ping.position.longitude = drives[index].fixes[second].point.longitude
                ping.position.latitude = drives[index].fixes[second].point.latitude
                ping.at = clock.now
                return ping
            }
            var accepted = [0, 0]
            busy.plain += try BenchReport.milliseconds { accepted[0] = try Terminals(store: plain, now: { clock.now }).report(request).accepted.count }
            busy.matched += try BenchReport.milliseconds {
                let pings = try Terminals(store: matched, now: { clock.now }).report(request).accepted
                accepted[1] = pings.count
                try matching.take(pings.map { ($0.callSign, PatrolStore.Fix(at: $0.at, longitude: $0.position.longitude, latitude: $0.position.latitude)) },
                                  store: matched, now: clock.now)
            }
            guard accepted == [1_852, 1_852] else { throw BusClientError(.internal, "the gateway refused some of a second's fixes: \(accepted)") }
        }
        let arcs = try units.reduce(0) { $0 + (try matched.driven(of: $1, from: start, to: start + 3_600_000).count) }
        let perSecond = (plain: busy.plain / Double(seconds), matched: busy.matched / Double(seconds))
        return [("gateway: 1,852 fixes a second", "ms/s", perSecond.plain), ("gateway: share of one core", "%", perSecond.plain / 10),
                ("gateway + online matching: 1,852 fixes a second", "ms/s", perSecond.matched),
                ("gateway + online matching: share of one core", "%", perSecond.matched / 10),
                ("online matching alone: share of one core", "%", (perSecond.matched - perSecond.plain) / 10),
                ("online matching: arcs settled in the minute", "arcs", Double(arcs))]
    }

    /// The bench's clock, moved on a second at a time.
    final class Clock: Sendable {
        private let value: Mutex<Int64>
        init(now: Int64) { value = Mutex(now) }
        var now: Int64 {
            get { value.withLock { $0 } }
            set { value.withLock { $0 = newValue } }
        }
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang bench patrol: \(message)\n".utf8))
        return 1
    }
}
