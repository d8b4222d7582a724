import Foundation
import XunfangGeo

/// `xunfang checkpoint ring`: the interception ring on a road graph file, no bus needed.
public enum RingCommand {
    static let usage = """
    usage: xunfang checkpoint ring --graph G --incident-node OSM_ID --head-start S --boundary B --units units.csv
           [--metric time|distance] [--mode car] [--margin M] [--exits exits.csv] [--json]
    G is a road graph from `xunfang geo import-osm`. units.csv is id,node (OSM node ids; a
    header line starting with "id," is skipped); exits.csv is one OSM node id a line.
    With --metric time (the default) S, B and M are seconds and everyone moves at the
    mode's speeds; with --metric distance they are metres and everyone moves at one speed.
    The ring: every road path from the incident to the escape set (the first node beyond B
    on every road, and the exits) passes a ring point, each held by a distinct unit at
    least M before the suspect can be there. Times in the answer are from now.
    """

    public static func run(_ arguments: [String]) -> Int32 {
        do {
            let (options, json) = try parse(arguments)
            let graph = try GraphFile.read(from: try required(options, "--graph"))
            let problem = try problem(options, graph: graph)
            let answer = try Containment.solve(problem)
            print(json ? jsonText(answer, graph: graph) : text(answer, graph: graph))
            return answer.feasible ? 0 : 3
        } catch let error as RingCommandError {
            return fail(error.message)
        } catch let error as GeoError {
            return fail(error.message)
        } catch let error as ContainmentError {
            return fail(error.message)
        } catch {
            return fail("\(error)")
        }
    }

    struct RingCommandError: Error {
        var message: String
    }

    static let valued: Set<String> = ["--graph", "--incident-node", "--head-start", "--boundary", "--units", "--metric", "--mode", "--margin", "--exits"]

    static func parse(_ arguments: [String]) throws -> ([String: String], Bool) {
        var options: [String: String] = [:], json = false, index = 0
        while index < arguments.count {
            let name = arguments[index]
            if name == "--json" {
                json = true
                index += 1
                continue
            }
            guard valued.contains(name) else { throw RingCommandError(message: "unknown option \(name)\n\(usage)") }
            guard index + 1 < arguments.count else { throw RingCommandError(message: "\(name) needs a value\n\(usage)") }
            let value: String = arguments[index + 1]
            options.updateValue(value, forKey: name)
            index += 2
        }
        return (options, json)
    }

    static func required(_ options: [String: String], _ name: String) throws -> String {
        guard let value = options[name], !value.isEmpty else { throw RingCommandError(message: "\(name) is required\n\(usage)") }
        return value
    }

    static func number(_ options: [String: String], _ name: String, default fallback: Double? = nil) throws -> Double {
        guard let text = options[name] else {
            if let fallback { return fallback }
            throw RingCommandError(message: "\(name) is required\n\(usage)")
        }
        guard let value = Double(text), value.isFinite, value >= 0 else { throw RingCommandError(message: "\(name) \"\(text)\" is not a number ≥ 0") }
        return value
    }

    static func node(_ text: String, in graph: RoadGraph, what: String) throws -> Int {
        guard let id = Int64(text.trimmingCharacters(in: .whitespaces)) else { throw RingCommandError(message: "\(what): \"\(text)\" is not an OSM node id") }
        guard let node = graph.node(osmID: id) else { throw RingCommandError(message: "\(what): node \(id) is not in the road graph") }
        return node
    }

    static func problem(_ options: [String: String], graph: RoadGraph) throws -> Containment.Problem {
        let metric: Metric
        switch options["--metric"] ?? "time" {
        case "time":
            let modeName = options["--mode"] ?? "car"
            guard let mode = TravelMode(rawValue: modeName) else {
                throw RingCommandError(message: "--mode \(modeName) is not one of \(TravelMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            metric = .time(mode)
        case "distance":
            guard options["--mode"] == nil else { throw RingCommandError(message: "--mode applies to --metric time only") }
            metric = .distance
        case let other:
            throw RingCommandError(message: "--metric \(other) is not time or distance")
        }
        let incident = try node(try required(options, "--incident-node"), in: graph, what: "--incident-node")
        let unitsPath = try required(options, "--units")
        let units = try lines(unitsPath, header: "id,").map { line, number in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2, !fields[0].isEmpty else { throw RingCommandError(message: "\(unitsPath) line \(number): expected id,node") }
            return Containment.Unit(id: fields[0], node: try node(fields[1], in: graph, what: "\(unitsPath) line \(number) (unit \(fields[0]))"))
        }
        let exits = try options["--exits"].map { path in
            try lines(path, header: "node").map { line, number in try node(line, in: graph, what: "\(path) line \(number)") }
        } ?? []
        let weights = graph.weights(metric)
        return Containment.Problem(graph: graph, suspectWeights: weights, policeWeights: [weights], incident: incident,
                                   headStart: try number(options, "--head-start"), boundary: try number(options, "--boundary"),
                                   margin: try number(options, "--margin", default: 0), units: units, exits: exits)
    }

    /// Non-empty lines with their numbers; a first line starting with `header` is skipped.
    static func lines(_ path: String, header: String) throws -> [(String, Int)] {
        guard let data = FileManager.default.contents(atPath: path) else { throw RingCommandError(message: "cannot read \(path)") }
        guard data.count <= 64 << 20 else { throw RingCommandError(message: "\(path) is larger than 64 MiB") }
        var result: [(String, Int)] = []
        for (offset, raw) in String(decoding: data, as: UTF8.self).split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || (offset == 0 && line.hasPrefix(header)) { continue }
            result.append((line, offset + 1))
        }
        return result
    }

    static func jsonText(_ answer: Containment.Answer, graph: RoadGraph) -> String {
        func point(_ point: Containment.Point) -> [String: Any] {
            ["node": graph.nodeIDs[point.node], "unit": point.unit, "suspect": point.suspect, "police": point.police]
        }
        var object: [String: Any] = [
            "feasible": answer.feasible,
            "ring": answer.ring.map(point),
            "uncovered": answer.uncovered.map { arc in
                ["from": graph.nodeIDs[graph.tail(ofArc: arc)], "to": graph.nodeIDs[Int(graph.arcHead[arc])], "road": graph.name(ofArc: arc)] as [String: Any]
            },
            "proved": answer.proved,
        ]
        if answer.feasible {
            object["latest_police"] = answer.latestPolice
        } else {
            object["reason"] = answer.reason
            object["needed"] = answer.needed.map(point).map { $0.filter { $0.key != "unit" } }
            if let headStart = answer.feasibleHeadStart { object["feasible_head_start"] = headStart }
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func text(_ answer: Containment.Answer, graph: RoadGraph) -> String {
        func number(_ value: Double) -> String { String(format: "%.1f", value) }
        guard answer.feasible else {
            var lines = ["no ring: \(answer.reason)"]
            for arc in answer.uncovered {
                lines.append("  open: \(graph.nodeIDs[graph.tail(ofArc: arc)]) → \(graph.nodeIDs[Int(graph.arcHead[arc])]) \(graph.name(ofArc: arc))")
            }
            if let headStart = answer.feasibleHeadStart { lines.append("a ring could be held with a head start of at most \(number(headStart))") }
            if !answer.needed.isEmpty {
                lines.append("the smallest ring any units could hold: " + answer.needed.map { "\(graph.nodeIDs[$0.node]) by \(number($0.police))" }.joined(separator: ", "))
            }
            return lines.joined(separator: "\n")
        }
        var lines = ["ring of \(answer.ring.count) point(s), latest police arrival \(number(answer.latestPolice))\(answer.proved ? "" : " (not proved smallest)")"]
        for point in answer.ring {
            lines.append("  \(graph.nodeIDs[point.node]): \(point.unit) at \(number(point.police)), suspect at \(number(point.suspect))")
        }
        return lines.joined(separator: "\n")
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang checkpoint ring: \(message)\n".utf8))
        return 1
    }
}
