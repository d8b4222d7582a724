import ArgumentParser
import Foundation

/// `xunfang bench situation`: the SituationAnalysis figures, measured by the plugin's own
/// executable (the CLI does not link plugins): Gi* with 999 permutations on 100,000 cells
/// and the aggregation of 1,000,000 incidents. `Benchmarks/run-situation` runs it beside
/// PySAL esda and pandas.
struct SituationBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "situation", abstract: "Hot-spot statistics and incident aggregation speed.")
    @Argument(parsing: .captureForPassthrough, help: "Passed on: --cells N --permutations N --incidents N --export-dir DIR --json")
    var options: [String] = []

    func run() throws {
        let path = "\(executableDirectory())/xunfang-plugin-situation"
        guard isExecutableFile(path) else { throw ValidationError("\(path) is not built: swift build -c release --product xunfang-plugin-situation") }
        let argv = [path, "bench"] + options
        var cArguments = argv.map { strdup($0) } + [nil]
        execv(path, &cArguments)
        throw ValidationError("cannot run \(path): \(String(cString: strerror(errno)))")
    }
}
