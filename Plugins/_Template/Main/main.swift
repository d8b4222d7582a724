import TemplatePlugin
import XunfangPluginKit

await PluginMain.run(TemplatePlugin.self)
