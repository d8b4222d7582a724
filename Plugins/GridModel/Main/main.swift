import GridModelPlugin
import XunfangPluginKit

await PluginMain.run(GridModelPlugin.self)
