import DispatchPlugin
import XunfangPluginKit

await PluginMain.run(DispatchPlugin.self)
