import Foundation
import GridModelPlugin
import XunfangPluginKit

let arguments = Array(CommandLine.arguments.dropFirst())
if let command = arguments.first, GridModelCommands.names.contains(command) {
    exit(GridModelCommands.run(arguments))
}
await PluginMain.run(GridModelPlugin.self)
