public import XunfangPluginKit

/// SituationAnalysis: hotspots, four-colour daily status, deployment levels, patrol plans
/// and reports (issue 5). This slice has the statistics and the analyst command
/// (`xunfang situation hotspots`); the bus services, the incident history and the colour
/// rule come next (see README.md), so the plugin does not join the demo county yet.
public struct SituationAnalysisPlugin: Plugin {
    public static let manifest = PluginManifest(name: "situation", version: "0.1.0", publishes: [], subscribes: [], serves: [])

    public init(context: PluginContext) throws {}

    public func register(on bus: BusClient) {}

    public func run(on bus: BusClient) async throws {
        while !Task.isCancelled { try await Task.sleep(for: .seconds(3_600)) }
    }
}
