import Foundation
import SituationAnalysisPlugin
import XunfangPluginKit

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "hotspots": exit(HotspotsCommand.run(Array(arguments.dropFirst())))
case "import": exit(ImportCommand.run(Array(arguments.dropFirst())))
case "bench": exit(SituationBenchmark.run(Array(arguments.dropFirst())))
case "report": exit(ReportCommand.run(Array(arguments.dropFirst())))
default: break
}
await PluginMain.run(SituationAnalysisPlugin.self)
