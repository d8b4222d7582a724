import DispatchPlugin
import XunfangPluginKit

await PluginMain.run(DispatchPlugin.self, commands: DispatchTool.commands)
