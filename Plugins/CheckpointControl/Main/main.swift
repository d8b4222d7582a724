import CheckpointControlPlugin
import XunfangPluginKit

await PluginMain.run(CheckpointControlPlugin.self)
