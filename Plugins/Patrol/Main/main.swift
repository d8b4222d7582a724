import PatrolPlugin
import XunfangPluginKit

await PluginMain.run(PatrolPlugin.self)
