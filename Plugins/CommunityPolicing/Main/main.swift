import CommunityPolicingPlugin
import XunfangPluginKit

await PluginMain.run(CommunityPlugin.self)
