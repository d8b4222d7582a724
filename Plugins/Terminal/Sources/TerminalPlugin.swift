public import XunfangPluginKit
public import Foundation
import Logging
import XunfangGeo

/// Terminal (终端模拟): officers' terminals, simulated, for a county that has none wired
/// in yet: the demo county and the integration harness. Every on-duty unit patrols its beat
/// on the roads and reports through Patrol's terminal gateway, answers Dispatch's orders
/// the way an officer does, and clears its incidents. See Plugins/Terminal/README.md.
public struct TerminalPlugin: Plugin {
    public static let manifest = PluginManifest(name: "terminal", version: "0.1.0", subscribes: [Simulator.orders, Simulator.assignments, Simulator.sealOrders], calls: Simulator.calls)

    public static var commands: [PluginCommand] {
        [PluginCommand("simulate", "drive every on-duty unit on the roads: positions, answers to orders (xunfang terminal simulate)") { await SimulateCommand.run($0) }]
    }

    let simulator: Simulator

    /// Settings:
    /// - `TERMINAL_INTERVAL_SECONDS` (1 to 60, default 5): how often each terminal reports.
    /// - `TERMINAL_NOISE_METRES` (0 to 100, default 8): GPS error.
    /// - `TERMINAL_ROADS`: the county's road graph file (GridModel's `GRID_MODEL_ROADS`);
    ///   empty: the demo county's roads.
    /// - `TERMINAL_SEED`: the drive's seed (default 1).
    /// - `TERMINAL_TIME_SCALE` (0.001 to 1, default 1): the officers' times (acknowledging,
    ///   on scene, back in service) shortened by this factor, for drills and tests.
    /// - `TERMINAL_WAIT_AT_STATION` (default off): units wait at their station houses instead
    ///   of patrolling, go out only on orders and are back in service when home again (as
    ///   Larson's hypercube model assumes; the harness's validation cases).
    /// - `TERMINAL_SCENE_EXPONENTIAL_MINUTES` (0.1 to 600; default none: by priority): time on
    ///   scene drawn from an exponential distribution of this mean, whatever the incident.
    public init(context: PluginContext) throws {
        simulator = try Simulator(context: context)
    }

    public func run(on bus: BusClient) async throws {
        try await simulator.run(on: bus)
    }
}
