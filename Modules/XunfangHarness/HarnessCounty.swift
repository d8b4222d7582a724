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
            for (key, value) in (scenario.env[name] ?? [:]).merging(Self.hypercubeSettings(scenario)[name] ?? [:], uniquingKeysWith: { _, model in model }) {
                env[key] = value
            }
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

    /// A hypercube case's world, over anything the scenario says: units wait at their
    /// stations and are back in service when home, scenes last an exponential time, fixes
    /// are exact; every call is an incident of its own (no linking of calls at one atom),
    /// and no unit is moved up or counted free before it is home.
    static func hypercubeSettings(_ scenario: Scenario) -> [String: [String: String]] {
        guard let hypercube = scenario.hypercube else { return [:] }
        return ["terminal": ["TERMINAL_WAIT_AT_STATION": "on", "TERMINAL_SCENE_EXPONENTIAL_MINUTES": "\(hypercube.sceneMinutes)", "TERMINAL_NOISE_METRES": "0"],
                "dispatch": ["DISPATCH_DUPLICATE_METRES": "0", "DISPATCH_AUTO_MOVE_UP": "off", "DISPATCH_RETURN_MINUTES": "0"]]
    }
}
