import ArgumentParser
import Foundation

/// Benchmarks a plugin measures itself, through its own executable (the CLI links no
/// plugin): `xunfang bench NAME ARGS` runs `xunfang-plugin-NAME bench ARGS`.
protocol PluginBench: ParsableCommand {
    static var plugin: String { get }
    var options: [String] { get }
}

extension PluginBench {
    func run() throws {
        let path = "\(executableDirectory())/xunfang-plugin-\(Self.plugin)"
        guard isExecutableFile(path) else { throw ValidationError("\(path) is not built: swift build -c release --product xunfang-plugin-\(Self.plugin)") }
        let argv = [path, "bench"] + options
        var cArguments = argv.map { strdup($0) } + [nil]
        execv(path, &cArguments)
        throw ValidationError("cannot run \(path): \(String(cString: strerror(errno)))")
    }
}

/// `xunfang bench situation`: Gi* with 999 permutations on 100,000 cells and the
/// aggregation of 1,000,000 incidents. `Benchmarks/run-situation` runs it beside PySAL
/// esda and pandas.
struct SituationBench: PluginBench {
    static let configuration = CommandConfiguration(commandName: "situation", abstract: "Hot-spot statistics and incident aggregation speed.")
    static let plugin = "situation"
    @Argument(parsing: .captureForPassthrough, help: "Passed on: --cells N --permutations N --incidents N --export-dir DIR --json")
    var options: [String] = []
}

/// `xunfang bench dispatch`: the real stack (`xunfang up`) on the demo county; Recommend
/// latency through the bus beside GridModel's Eta alone, and intake with 16 calls in flight.
struct DispatchBench: PluginBench {
    static let configuration = CommandConfiguration(commandName: "dispatch", abstract: "Recommend latency and intake rate on the demo county.")
    static let plugin = "dispatch"
    @Argument(parsing: .captureForPassthrough, help: "Passed on: --units N --calls N --intakes N --json")
    var options: [String] = []
}

/// `xunfang bench checkpoint`: containment rings with 30 cars on the demo county's roads at
/// OSM node density (at least 50,000 nodes). `Benchmarks/run-checkpoint` runs it beside
/// networkx's minimum cut on the very same problems.
struct CheckpointBench: PluginBench {
    static let configuration = CommandConfiguration(commandName: "checkpoint", abstract: "Containment ring latency on a county-size road graph.")
    static let plugin = "checkpoint"
    @Argument(parsing: .captureForPassthrough, help: "Passed on: --incidents N --units N --head-start S --boundary S --margin S --shape-every M --export-dir DIR --json")
    var options: [String] = []
}

/// `xunfang bench community`: targeted-alert matching for 100,000 members against 500 hot
/// segment × hour pairs beside scanning every member, and one warning's fan-out to 10,000
/// members through the store and the outbox directory.
struct CommunityBench: PluginBench {
    static let configuration = CommandConfiguration(commandName: "community", abstract: "Alert matching and fan-out speed.")
    static let plugin = "community"
    @Argument(parsing: .captureForPassthrough, help: "Passed on: --members N --warnings N --segments N --hours N --fan-out N --json")
    var options: [String] = []
}

/// `xunfang bench patrol`: map matching's F1 and points a second on simulated drives (1, 5
/// and 15 s sampling, 5, 10 and 20 m error), and the terminal gateway's cost for 1,852
/// terminals at one fix a second. `Benchmarks/run-patrol` runs Valhalla (Meili) beside it.
/// `xunfang bench console`: the county's first paint at OSM node density (about 60,000 road
/// pieces) and a position's way from the bus to its marker with 1,852 units reporting every
/// second, in headless Chromium, beside a bare page's paint and the bus's own delivery.
struct ConsoleBench: PluginBench {
    static let configuration = CommandConfiguration(commandName: "console", abstract: "The console's first paint and live marker delay in headless Chromium.")
    static let plugin = "console"
    @Argument(parsing: .captureForPassthrough, help: "Passed on: --units N --seconds N --loads N --shape-every M --json")
    var options: [String] = []
}

struct PatrolBench: PluginBench {
    static let configuration = CommandConfiguration(commandName: "patrol", abstract: "Map matching accuracy and speed; the terminal gateway's cost.")
    static let plugin = "patrol"
    @Argument(parsing: .captureForPassthrough, help: "Passed on: --drives N --osm PBF --export-dir DIR --json")
    var options: [String] = []
}

/// `xunfang bench bridge`: a message from one county's bus to another's through both bridges
/// and a 3-node JetStream cluster, at a steady rate and in a burst, beside plain NATS
/// publish → subscribe and JetStream's acknowledged publish on the same cluster.
struct BridgeBench: PluginBench {
    static let configuration = CommandConfiguration(commandName: "bridge", abstract: "Cross-county latency and throughput through the bridge.")
    static let plugin = "bridge"
    @Argument(parsing: .captureForPassthrough, help: "Passed on: --rate N --seconds N --burst N --payload BYTES --replicas 1|3 --json")
    var options: [String] = []
}
