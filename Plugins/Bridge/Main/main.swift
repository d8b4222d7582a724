import BridgePlugin
import XunfangPluginKit

await PluginMain.run(BridgePlugin.self, commands: [
    PluginCommand("bench", "county bus → bridge → JetStream → bridge → county bus, beside plain NATS and JetStream (xunfang bench bridge)") { await BridgeBenchmark.run($0) },
])
