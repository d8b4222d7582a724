import ConsolePlugin
import XunfangPluginKit

await PluginMain.run(ConsolePlugin.self, commands: [
    PluginCommand("bench", "first paint of a county at OSM density and live marker delay in headless Chromium (xunfang bench console)") { await ConsoleBenchmark.run($0) },
])
