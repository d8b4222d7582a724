import Foundation
import Yams

/// The county a harness run starts: the demo county's config with only the scenario's
/// plugins, their settings over the demo's, and the harness itself as a client.
public enum HarnessCounty {
    public static func yaml(demo: String, scenario: Scenario, credential: String) throws(HarnessError) -> String {
        guard var county = (try? Yams.load(yaml: demo)) as? [String: Any], let plugins = county["plugins"] as? [[String: Any]] else {
            throw HarnessError("the demo county's config is not a mapping with plugins")
        }
        var kept: [[String: Any]] = []
        for var plugin in plugins {
            guard let name = plugin["name"] as? String, scenario.plugins.contains(name) else { continue }
            var env = plugin["env"] as? [String: Any] ?? [:]
            for (key, value) in scenario.env[name] ?? [:] { env[key] = value }
            plugin["env"] = env.isEmpty ? nil : env
            kept.append(plugin)
        }
        for name in scenario.plugins where !kept.contains(where: { $0["name"] as? String == name }) {
            throw HarnessError("plugin \(name) is not in the demo county")
        }
        county["county"] = "Harness \(scenario.name)"
        county["plugins"] = kept
        var bus = county["bus"] as? [String: Any] ?? [:]
        bus["metrics"] = nil
        bus["tcp"] = nil
        county["bus"] = bus
        // `xunfang ctl` keeps working in the run's directory, beside the harness.
        county["clients"] = (county["clients"] as? [[String: Any]] ?? []) + [["name": "harness", "credential": credential,
                                                                             "acl": ["publish": [">"], "subscribe": [">"], "call": ["*"]]]]
        do {
            return try Yams.dump(object: county, sortKeys: true)
        } catch {
            throw HarnessError("the harness county could not be written: \(error)")
        }
    }
}
