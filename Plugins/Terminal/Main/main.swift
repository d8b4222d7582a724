import TerminalPlugin
import XunfangPluginKit

await PluginMain.run(TerminalPlugin.self)
