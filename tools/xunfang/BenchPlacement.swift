import ArgumentParser
import Foundation
import XunfangExact
import XunfangGeo
import XunfangPluginKit

/// `xunfang bench place-posts`: PlacePosts' fast and exact modes on the GeoDaNet crime
/// points (a real instance) and on county-size generated instances (1,000 sites, 10,000
/// weighted demand points, k up to 50). `Benchmarks/run-placement` solves the very same
/// coverage sets with COIN-OR CBC (through PuLP) beside it.
struct PlacementBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "place-posts", abstract: "Post placement: fast and exact modes, answers, bounds and times.")
    @Option(help: "The GeoDaNet crimes CSV (id,x,y,weight; feet).") var crimes = "Tests/XunfangExactTests/Fixtures/geodanet-crimes.csv"
    @Option(help: "Time limit of the exact mode per instance, seconds.") var timeLimit: Double = 60
    @Option(help: "Write each instance (weights, coverage sets, k) here as JSON, for the baseline.") var exportDir: String?
    @Option(help: "Only instances whose name contains this.") var only: String?
    @Flag(help: "Print only the JSON line.") var json = false

    struct Instance {
        var name: String
        var placement: PostPlacement
        var ks: [Int]
    }

    func run() throws {
        var results: [(String, String, Double)] = []
        for instance in try instances() where only.map(instance.name.contains) ?? true {
            if let exportDir { try export(instance, to: exportDir) }
            results.append(("\(instance.name).groups", "count", Double(instance.placement.reduced.groupWeights.count)))
            for k in instance.ks {
                let name = "\(instance.name).k\(k)"
                var started = ContinuousClock.now
                let fast = try instance.placement.solve(k: k, exactLimit: 0)
                let fastTime = (ContinuousClock.now - started).seconds * 1_000
                started = ContinuousClock.now
                let exact = try ExactPostPlacement.solve(instance.placement, k: k, timeLimit: .milliseconds(Int(timeLimit * 1_000)), start: fast)
                let exactTime = (ContinuousClock.now - started).seconds * 1_000 + fastTime
                results += [("\(name).fast.ms", "ms", fastTime), ("\(name).fast.covered", "weight", fast.coveredWeight),
                            ("\(name).fast.gap", "share", fast.gap), ("\(name).exact.ms", "ms", exactTime),
                            ("\(name).exact.covered", "weight", exact.coveredWeight), ("\(name).exact.proved", "0/1", exact.optimal ? 1 : 0),
                            ("\(name).fast.of-optimum", "share", exact.optimal ? fast.coveredWeight / exact.coveredWeight : -1)]
            }
        }
        BenchReport.print(bench: "place-posts", title: "xunfang bench place-posts (exact time includes the fast start; limit \(timeLimit) s)",
                         parameters: ["time_limit_s": timeLimit], results: results, jsonOnly: json)
    }

    func instances() throws -> [Instance] {
        let rows = try CSVTable(path: crimes, columns: ["id", "x", "y", "weight"]).rows
        let points = try rows.map { PlanarPoint(x: try $0.number(1), y: try $0.number(2)) }
        let crimeCovers = PostPlacement.coverageWithin(1_000, demands: points, sites: points) { $0.distance(to: $1) }
        var instances = [Instance(name: "crimes-1000ft", placement: try PostPlacement(weights: try rows.map { try $0.number(3) }, covers: crimeCovers),
                                  ks: [3, 5, 8, 11, 13])]
        for (radius, seed) in [(1_500.0, UInt64(1)), (2_500.0, UInt64(2))] {
            instances.append(Instance(name: "county-1000x10000-\(Int(radius))m", placement: try county(radius: radius, seed: seed), ks: [10, 25, 50]))
        }
        return instances
    }

    /// A county of about 600 km²: demand clustered around 40 hot spots over a background,
    /// whole-number weights 1 to 5, candidate sites spread over the county.
    func county(radius: Double, seed: UInt64) throws -> PostPlacement {
        var random = SyntheticRoads.Generator(state: seed)
        let side = 25_000.0
        let hotSpots = (0..<40).map { _ in PlanarPoint(x: .random(in: 0..<side, using: &random), y: .random(in: 0..<side, using: &random)) }
        let demand = (0..<10_000).map { index -> PlanarPoint in
            guard index % 3 != 0 else { return PlanarPoint(x: .random(in: 0..<side, using: &random), y: .random(in: 0..<side, using: &random)) }
            let centre = hotSpots[Int.random(in: 0..<hotSpots.count, using: &random)]
            let distance = -800 * log(Double.random(in: 1e-9..<1, using: &random)), angle = Double.random(in: 0..<(2 * .pi), using: &random)
            return PlanarPoint(x: centre.x + distance * cos(angle), y: centre.y + distance * sin(angle))
        }
        let weights = demand.map { _ in Double(Int.random(in: 1...5, using: &random)) }
        let sites = (0..<1_000).map { _ in PlanarPoint(x: .random(in: 0..<side, using: &random), y: .random(in: 0..<side, using: &random)) }
        return try PostPlacement(weights: weights, covers: PostPlacement.coverageWithin(radius, demands: demand, sites: sites) { $0.distance(to: $1) })
    }

    func export(_ instance: Instance, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let document: [String: Any] = ["name": instance.name, "weights": instance.placement.weights,
                                       "covers": instance.placement.covers.map { $0.map(Int.init) }, "k": instance.ks]
        try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: "\(directory)/\(instance.name).json"))
    }
}
