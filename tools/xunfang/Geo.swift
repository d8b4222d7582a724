import ArgumentParser
import Foundation
import XunfangExact
import XunfangGeo

/// Road-network tools for analysts and scripts; no bus needed.
struct GeoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "geo", abstract: "Road graphs from OSM, routes, OD matrices, isochrones (no bus needed).",
        subcommands: [ImportOSM.self, RouteCommand.self, ODCommand.self, IsochroneCommand.self, PlacePostsCommand.self])

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
            let table = try CSVTable(path: pairs, columns: ["origin_node", "dest_node"])
            var rows: [(line: Int, origin: Int, destination: Int)] = []
            for row in table.rows {
                let a = try row.integer(0), b = try row.integer(1)
                guard let origin = roads.node(osmID: a) else { throw InputError("\(pairs) line \(row.line): node \(a) is not in the graph") }
                guard let destination = roads.node(osmID: b) else { throw InputError("\(pairs) line \(row.line): node \(b) is not in the graph") }
                rows.append((row.line, origin, destination))
            }
            let header = table.header
            let byDistance = ShortestPathSearch(graph: roads, weights: roads.weights(.distance))
            let byTime = ShortestPathSearch(graph: roads, weights: roads.weights(.time(modeOption.mode)))
            print((header ?? "origin_node,dest_node") + ",distance_m,time_s")
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

    struct PlacePostsCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "place-posts", abstract: "Choose k post sites that cover the most demand weight within a radius.",
            discussion: """
            Demand CSV: id,x,y,weight. Sites CSV: id,x,y. Coordinates are longitude,latitude (haversine \
            distances) unless --planar (x,y in metres). The fast mode (greedy, interchange and a Lagrangian \
            bound) prints the answer with an upper bound on the optimum and the gap; --exact closes the gap \
            with GLPK's branch-and-bound, within --time-limit.
            """)
        @Option(help: "Demand points: id,x,y,weight.") var demand: String
        @Option(help: "Candidate sites: id,x,y.") var sites: String
        @Option(help: "Coverage radius in metres.") var radius: Double
        @Option(help: "Number of posts to place.") var k: Int
        @Option(help: "Ids of sites already holding posts (comma-separated).") var fixed: String?
        @Flag(help: "x,y are planar metres, not longitude,latitude.") var planar = false
        @Flag(help: "Prove the answer optimal (branch-and-bound) instead of stopping at the fast answer and its bound.") var exact = false
        @Option(help: "Seconds the exact mode may take; it then answers its best with the bound reached.") var timeLimit: Double = 30
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            guard radius > 0, radius.isFinite else { throw ValidationError("--radius must be a positive number of metres") }
            let demandTable = try CSVTable(path: demand, columns: ["id", "x", "y", "weight"])
            let siteTable = try CSVTable(path: sites, columns: ["id", "x", "y"])
            let demandPoints = try demandTable.rows.map { try point($0) }
            let weights = try demandTable.rows.map { row in
                let weight = try row.number(3)
                guard weight >= 0 else { throw InputError("\(demand) line \(row.line): weight must not be negative") }
                return weight
            }
            let sitePoints = try siteTable.rows.map { try point($0) }
            let siteIDs = siteTable.rows.map { $0.fields[0] }
            let fixedIDs = Set((fixed ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            for id in fixedIDs where !siteIDs.contains(id) { throw InputError("fixed site \(id) is not in \(sites)") }
            let planar = self.planar
            func distance(_ a: PlanarPoint, _ b: PlanarPoint) -> Double {
                if planar { return a.distance(to: b) }
                return Haversine.metres(GeoPoint(longitude: a.x, latitude: a.y), GeoPoint(longitude: b.x, latitude: b.y))
            }
            let allCovers = PostPlacement.coverageWithin(radius, demands: demandPoints, sites: sitePoints, distance: distance)
            let candidates = siteIDs.indices.filter { !fixedIDs.contains(siteIDs[$0]) }
            let placement = try geo {
                try PostPlacement(weights: weights, covers: candidates.map { allCovers[$0] },
                                  fixedCovers: siteIDs.indices.filter { fixedIDs.contains(siteIDs[$0]) }.map { allCovers[$0] })
            }
            guard timeLimit > 0, timeLimit <= 3_600 else { throw ValidationError("--time-limit must be within 0...3600 seconds") }
            var solution = try geo { try placement.solve(k: k) }
            if exact {
                let fast = solution
                solution = try geo { try ExactPostPlacement.solve(placement, k: k, timeLimit: .milliseconds(Int(timeLimit * 1_000)), start: fast) }
            }
            let chosen = solution.sites.map { siteIDs[candidates[$0]] }
            if json {
                printJSON(["sites": chosen, "covered_weight": solution.coveredWeight, "total_weight": solution.totalWeight,
                           "optimal": solution.optimal, "upper_bound": solution.upperBound, "gap": solution.gap,
                           "fixed": fixedIDs.sorted()] as [String: Any])
            } else {
                print("sites: \(chosen.joined(separator: ","))")
                print(String(format: "covered weight: %.3f of %.3f (%.1f%%)%@", solution.coveredWeight, solution.totalWeight,
                             solution.totalWeight > 0 ? 100 * solution.coveredWeight / solution.totalWeight : 0,
                             solution.optimal ? ", optimal" : String(format: ", optimum at most %.3f (gap %.2f%%)", solution.upperBound, 100 * solution.gap)))
            }
        }

        func point(_ row: CSVTable.Row) throws -> PlanarPoint {
            let x = try row.number(1), y = try row.number(2)
            if !planar {
                guard GeoPoint(longitude: x, latitude: y).isValid else {
                    throw InputError("\(row.source) line \(row.line): \(x),\(y) is not a longitude,latitude (use --planar for metres)")
                }
            }
            return PlanarPoint(x: x, y: y)
        }
    }
}

/// A small CSV file of plain fields (no quoting). A first line equal to the column names
/// is the header (kept); every error names the file and line.
struct CSVTable {
    struct Row {
        let source: String
        let line: Int
        let fields: [String]

        func number(_ column: Int) throws -> Double {
            guard let value = Double(fields[column]), value.isFinite else {
                throw InputError("\(source) line \(line): \"\(fields[column])\" is not a number")
            }
            return value
        }

        func integer(_ column: Int) throws -> Int64 {
            guard let value = Int64(fields[column]) else { throw InputError("\(source) line \(line): \"\(fields[column])\" is not an id") }
            return value
        }
    }

    let header: String?
    let rows: [Row]

    init(path: String, columns: [String]) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw InputError("cannot read \(path)") }
        var header: String?
        var rows: [Row] = []
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if rows.isEmpty, header == nil, fields.map({ $0.lowercased() }) == columns {
                header = line
                continue
            }
            guard fields.count == columns.count else {
                throw InputError("\(path) line \(offset + 1): expected \(columns.count) fields (\(columns.joined(separator: ","))), got \(fields.count)")
            }
            rows.append(Row(source: path, line: offset + 1, fields: fields))
        }
        self.header = header
        self.rows = rows
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
