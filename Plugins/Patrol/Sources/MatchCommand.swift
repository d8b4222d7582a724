import Foundation
import XunfangGeo
import XunfangPluginKit

/// `xunfang patrol match --graph G --track track.csv [--mode car] [--sigma M] [--json]`:
/// a recorded track map-matched offline to a road graph (GridModel's graph file, or `demo`
/// for the demo county's roads). No bus.
enum MatchCommand {
    static let usage = "usage: xunfang patrol match --graph GRAPH|demo --track track.csv [--mode car|motorcycle|e-bike|bicycle|foot] [--sigma METRES] [--json]"

    struct TrackError: Error, Equatable, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "line \(line): \(reason)" }
    }

    /// `t,lon,lat` lines (seconds, WGS84), an optional header; every line checked, the first
    /// bad one named.
    static func track(_ text: String) throws(TrackError) -> (fixes: [MapMatcher.Fix], lines: [Int]) {
        var fixes: [MapMatcher.Fix] = [], lines: [Int] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || (index == 0 && line.replacingOccurrences(of: "\u{FEFF}", with: "").hasPrefix("t,")) { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard fields.count == 3, let time = fields[0], let longitude = fields[1], let latitude = fields[2], time.isFinite else {
                throw TrackError(line: index + 1, reason: "\"\(line)\" is not t,lon,lat (three numbers)")
            }
            let point = GeoPoint(longitude: longitude, latitude: latitude)
            guard point.isValid else { throw TrackError(line: index + 1, reason: "\(longitude),\(latitude) is not a WGS84 longitude,latitude") }
            if let last = fixes.last, time < last.time {
                throw TrackError(line: index + 1, reason: "time \(time) comes before \(last.time) on the line before: a track is in time order")
            }
            fixes.append(MapMatcher.Fix(time: time, point: point))
            lines.append(index + 1)
        }
        guard !fixes.isEmpty else { throw TrackError(line: 1, reason: "no fixes") }
        return (fixes, lines)
    }

    static func run(_ arguments: [String]) -> Int32 {
        let json = arguments.contains("--json")
        guard let options = commandOptions(arguments.filter { $0 != "--json" }, allowed: ["--graph", "--track", "--mode", "--sigma"]),
              let graphPath = options["--graph"], let trackPath = options["--track"] else { return fail(usage) }
        var settings = MapMatcher.Settings()
        guard let mode = TravelMode(rawValue: options["--mode"] ?? "car") else { return fail("--mode must be car, motorcycle, e-bike, bicycle or foot") }
        settings.mode = mode
        if let sigma = options["--sigma"] {
            guard let value = Double(sigma), (1...100).contains(value) else { return fail("--sigma must be 1 to 100 metres") }
            settings.sigma = value
        }
        do {
            let graph = graphPath == "demo" ? SyntheticRoads.county(.demoCounty) : try GraphFile.read(from: graphPath)
            guard let text = try? String(contentsOfFile: trackPath, encoding: .utf8) else { return fail("cannot read \(trackPath)") }
            let (fixes, lines) = try track(text)
            let result = MapMatcher(graph: graph, settings: settings).match(fixes)
            let pairs = result.arcs.map { [graph.nodeIDs[graph.tail(ofArc: $0.arc)], graph.nodeIDs[Int(graph.arcHead[$0.arc])]] }
            let unmatched = result.unmatched.map { lines[$0] }
            if json {
                let document: [String: Any] = ["arcs": pairs, "entered": result.arcs.map { ($0.entered * 1_000).rounded() / 1_000 },
                                               "unmatched_lines": unmatched, "breaks": result.breaks, "fixes": fixes.count]
                print(String(decoding: try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]), as: UTF8.self))
            } else {
                let metres = result.arcs.reduce(0) { $0 + graph.arcLength[$1.arc] }
                print("\(fixes.count) fixes: \(result.arcs.count) road arcs, \(String(format: "%.2f", metres / 1_000)) km, \(result.breaks) breaks"
                      + (unmatched.isEmpty ? "" : ", \(unmatched.count) fixes more than \(Int(settings.radius)) m from any road (lines \(unmatched.prefix(10).map(String.init).joined(separator: ", ")))"))
                for (pair, arc) in zip(pairs, result.arcs) {
                    print(String(format: "%10.1f  ", arc.entered) + "\(pair[0]) -> \(pair[1])  \(graph.name(ofArc: arc.arc))")
                }
            }
            return 0
        } catch let error as TrackError {
            return fail("\(trackPath) \(error)")
        } catch {
            return fail("\(error)")
        }
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang patrol match: \(message)\n".utf8))
        return 1
    }
}
