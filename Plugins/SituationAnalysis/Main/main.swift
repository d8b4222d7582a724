import SituationAnalysisPlugin
import XunfangPluginKit

await PluginMain.run(SituationAnalysisPlugin.self)
