import ArgumentParser
import Foundation
import XunfangGeo

/// Road-network tools for analysts and scripts; no bus needed.
struct GeoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "geo", abstract: "Road graphs from OSM, routes, OD matrices, isochrones (no bus needed).",
        subcommands: [ImportOSM.self, RouteCommand.self, ODCommand.self, IsochroneCommand.self])

    struct ImportOSM: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-osm", abstract: "Build the car network of an OSM PBF extract into a graph file.")
        @Argument(help: "The .osm.pbf file.") var file: String
        @Option(help: "Graph file to write.") var out: String
        @Flag(help: "Print the import report as JSON.") var json = false

        func run() throws {
            let progress = ProgressBar(label: "importing \(URL(fileURLWithPath: file).lastPathComponent)")
            let (graph, report) = try geo { try OSMCarNetwork.importGraph(path: file, progress: progress.update) }
            progress.finish()
            try geo { try GraphFile.write(graph, to: out) }
            if json {
                printJSON(try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)))
            } else {
                print("""
                \(report.nodes) nodes, \(report.ways) ways, \(report.drivableWays) drivable; \
                \(report.segments) segments (\(report.segmentsMissingNodes) cut by the extract, \(report.segmentsDegenerate) degenerate)
                graph: \(graph.nodeCount) nodes, \(graph.arcCount) arcs -> \(out)
                """)
            }
        }
    }

    struct RouteCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "route", abstract: "Best route between two OSM nodes, as JSON.")
        @Option(help: "Graph file from import-osm.") var graph: String
        @Option(help: "OSM id of the origin node.") var fromNode: Int64
        @Option(help: "OSM id of the destination node.") var toNode: Int64
        @Option(help: "What to minimise: distance or time.") var metric: MetricOption = .distance
        @Option(name: .customLong("mode"), help: "Travel mode for times: car, motorcycle, e-bike, bicycle, foot.") var modeOption: ModeOption = .car

        func run() throws {
            let mode = modeOption.mode
            let roads = try geo { try GraphFile.read(from: graph) }
            let origin = try graphNode(fromNode, in: roads), destination = try graphNode(toNode, in: roads)
            let chosen: Metric = metric == .distance ? .distance : .time(mode)
            guard let route = roads.route(from: origin, to: destination, metric: chosen, mode: mode) else {
                printJSON(["from": fromNode, "to": toNode, "reachable": false] as [String: Any])
                return
            }
            printJSON(["from": fromNode, "to": toNode, "reachable": true, "metric": metric.rawValue, "mode": mode.rawValue,
                       "distance_m": route.metres, "time_s": route.seconds, "nodes": route.nodes.map { roads.nodeIDs[$0] }] as [String: Any])
        }
    }

    struct ODCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "od", abstract: "Distances and times for many origin/destination pairs.",
            discussion: """
            Reads CSV rows `origin_node,dest_node` (OSM ids; a header line is kept) and prints each row \
            with `distance_m,time_s` added: the shortest distance, and the shortest time for the mode. \
            Both are empty when the destination cannot be reached. One search per distinct origin.
            """)
        @Option(help: "Graph file from import-osm.") var graph: String
        @Option(help: "CSV of origin_node,dest_node.") var pairs: String
        @Option(name: .customLong("mode"), help: "Travel mode for times.") var modeOption: ModeOption = .car

        func run() throws {
            let roads = try geo { try GraphFile.read(from: graph) }
            guard let text = try? String(contentsOfFile: pairs, encoding: .utf8) else { throw InputError("cannot read \(pairs)") }
            var rows: [(line: Int, origin: Int, destination: Int)] = []
            var header: String?
            for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
                if line.isEmpty { continue }
                let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                guard fields.count == 2, let a = Int64(fields[0]), let b = Int64(fields[1]) else {
                    if rows.isEmpty && header == nil { header = line; continue }
                    throw InputError("\(pairs) line \(offset + 1): expected origin_node,dest_node as two OSM ids, got \"\(line)\"")
                }
                guard let origin = roads.node(osmID: a) else { throw InputError("\(pairs) line \(offset + 1): node \(a) is not in the graph") }
                guard let destination = roads.node(osmID: b) else { throw InputError("\(pairs) line \(offset + 1): node \(b) is not in the graph") }
                rows.append((offset + 1, origin, destination))
            }
            let byDistance = ShortestPathSearch(graph: roads, weights: roads.weights(.distance))
            let byTime = ShortestPathSearch(graph: roads, weights: roads.weights(.time(modeOption.mode)))
            print((header.map { $0 + "," } ?? "origin_node,dest_node,") + "distance_m,time_s")
            var lastOrigin = -1
            // Rows keep their order; consecutive rows from one origin share its searches.
            for row in rows {
                if row.origin != lastOrigin {
                    byDistance.run(from: [(row.origin, 0)])
                    byTime.run(from: [(row.origin, 0)])
                    lastOrigin = row.origin
                }
                let metres = byDistance.cost(row.destination), seconds = byTime.cost(row.destination)
                print("\(roads.nodeIDs[row.origin]),\(roads.nodeIDs[row.destination]),\(format(metres)),\(format(seconds))")
            }
        }

        func format(_ value: Double) -> String { value.isFinite ? String(format: "%.3f", value) : "" }
    }

    struct IsochroneCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "isochrone", abstract: "How many nodes lie within each distance (or time) of a node, the node included.")
        @Option(help: "Graph file from import-osm.") var graph: String
        @Option(help: "OSM id of the centre node.") var node: Int64
        @Option(help: "Comma-separated distances in metres.") var metres: String?
        @Option(help: "Comma-separated times in seconds (with --mode).") var seconds: String?
        @Option(name: .customLong("mode"), help: "Travel mode for --seconds.") var modeOption: ModeOption = .car

        func run() throws {
            guard (metres == nil) != (seconds == nil) else { throw ValidationError("give exactly one of --metres and --seconds") }
            let limits = try (metres ?? seconds!).split(separator: ",").map { text in
                guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value >= 0, value.isFinite else {
                    throw ValidationError("\"\(text)\" is not a non-negative number")
                }
                return value
            }
            let roads = try geo { try GraphFile.read(from: graph) }
            let centre = try graphNode(node, in: roads)
            let metric: Metric = metres != nil ? .distance : .time(modeOption.mode)
            let counts = roads.reachableCounts(from: centre, within: limits, metric: metric)
            let unit = metres != nil ? "metres" : "seconds"
            printJSON(["node": node, "unit": unit, "limits": limits, "nodes_within": counts] as [String: Any])
        }
    }
}

enum MetricOption: String, ExpressibleByArgument, CaseIterable {
    case distance, time
}

/// TravelMode as a command-line value (`--mode e-bike`).
enum ModeOption: String, ExpressibleByArgument, CaseIterable {
    case car, motorcycle, eBike = "e-bike", bicycle, foot
    var mode: TravelMode { TravelMode(rawValue: rawValue)! }
}

/// Bad input data (as opposed to bad arguments): reported in one line, without usage.
struct InputError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// GeoErrors become the CLI's input errors: one line, the reason, no stack.
func geo<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as GeoError {
        throw InputError(error.message)
    }
}

func graphNode(_ osmID: Int64, in graph: RoadGraph) throws -> Int {
    guard let node = graph.node(osmID: osmID) else { throw InputError("node \(osmID) is not in the graph") }
    return node
}

/// A one-line progress bar on stderr, shown only once a job has run for a second.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let started = Date()
    private var shown = false

    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        guard Date().timeIntervalSince(started) >= 1, total > 0 else { return }
        shown = true
        let fraction = min(1, Double(done) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(Int(fraction * 100))% (\(done / 1_048_576) of \(total / 1_048_576) MiB)".utf8))
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
