import BridgePlugin
import XunfangPluginKit

await PluginMain.run(BridgePlugin.self)
