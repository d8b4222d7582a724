import ConsolePlugin
import XunfangPluginKit

await PluginMain.run(ConsolePlugin.self)
