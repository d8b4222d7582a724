import ArgumentParser
import Foundation
import XunfangConfig
import XunfangPluginKit

/// `--config FILE`, or the built-in demo county.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "County config (YAML). Default: the built-in demo county with data in ./data.")
    var config: String?

    func load() throws -> CountyConfig {
        do throws(ConfigError) {
            if let config { return try ConfigLoader.load(path: config) }
            var demo = try ConfigLoader.parse(yaml: DemoCounty.yaml)
            demo.dataDirectory = FileManager.default.currentDirectoryPath + "/" + demo.dataDirectory
            return demo
        } catch {
            throw ValidationError("\(config ?? "demo config"): \(error)")
        }
    }
}

/// Directory holding this executable, where `xunfang-plugin-*` binaries live too.
func executableDirectory() -> String { ToolConnection.executableDirectory() }
