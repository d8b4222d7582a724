import Foundation
import SituationAnalysisPlugin
import XunfangPluginKit

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "hotspots" {
    exit(HotspotsCommand.run(Array(arguments.dropFirst())))
}
await PluginMain.run(SituationAnalysisPlugin.self)
