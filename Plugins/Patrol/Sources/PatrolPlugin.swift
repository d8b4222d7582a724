public import XunfangPluginKit
public import Foundation
import DispatchContract
import PatrolContract

/// Patrol (巡逻): who is on duty, by the county's rotation (the documents' four teams in
/// three rotations by default), units' teams, leave and swaps. Assignments, terminals,
/// map-matched positions and compliance follow (issue 16). See Plugins/Patrol/README.md.
public struct PatrolPlugin: Plugin {
    static let service = "/xunfang.patrol.v1.Patrol/"
    static let methods = ["ImportTeams", "RecordLeave", "RecordSwap", "OnDuty", "Roster"].map { service + $0 }

    /// Dispatch's units, for the demo county's teams; optional, so not in the manifest.
    static let listUnits = "/xunfang.dispatch.v1.Dispatch/ListUnits"

    public static let manifest = PluginManifest(name: "patrol", version: "0.1.0", serves: methods)

    public static var descriptorSet: Data { PatrolDescriptors.fileDescriptorSet }

    public static var commands: [PluginCommand] {
        [PluginCommand("on-duty", "who is on shift now or at a time, by team and shift") { await RosterCommands.onDuty($0) },
         PluginCommand("roster", "the rotation's calendar: each shift's team, day by day") { await RosterCommands.roster($0) }]
    }

    let duty: Duty
    /// `PATROL_DEMO_TEAMS` on: an empty roster takes Dispatch's units, each station's in turn
    /// into the four teams.
    var demoTeams = false

    /// Settings:
    /// - `PATROL_DEMO_TEAMS` (`on` or `off`, default off): an empty roster takes Dispatch's
    ///   units into the four teams, each station's in turn.
    public init(context: PluginContext) throws {
        try self.init(dataDirectory: context.dataDirectory)
        let demo = context.settings["PATROL_DEMO_TEAMS"] ?? "off"
        guard ["on", "off", ""].contains(demo) else { throw SettingError("PATROL_DEMO_TEAMS is \"\(demo)\"; use on or off") }
        demoTeams = demo == "on"
    }

    /// For tests: a directory and clock of their own.
    public init(dataDirectory: String, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000) }) throws {
        duty = Duty(store: try PatrolStore(path: "\(dataDirectory)/patrol.sqlite"), rotation: .fourTeamsThreeRotations, now: now)
    }

    public func register(on bus: BusClient) {
        let duty = self.duty
        bus.serve(Self.service + "ImportTeams", bounds: MessageBounds(maxFieldBytes: Duty.maxCSVBytes)) { (request: Xunfang_Patrol_V1_ImportTeamsRequest, _) in
            try await onOwnThread { try duty.importTeams(request) }
        }
        bus.serve(Self.service + "RecordLeave") { (request: Xunfang_Patrol_V1_Leave, _) in try duty.record(request) }
        bus.serve(Self.service + "RecordSwap") { (request: Xunfang_Patrol_V1_Swap, _) in try duty.record(request) }
        bus.serve(Self.service + "OnDuty") { (request: Xunfang_Patrol_V1_OnDutyRequest, _) in try duty.onDuty(request) }
        bus.serve(Self.service + "Roster") { (request: Xunfang_Patrol_V1_RosterRequest, _) in try duty.roster(request) }
    }

    public func run(on bus: BusClient) async throws {
        if demoTeams { await seedDemoTeams(bus) }
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3_600)) }
    }

    /// Fills an empty roster from Dispatch's units once Dispatch answers: each station's
    /// units in call-sign order into the teams in turn, so every shift has units everywhere.
    func seedDemoTeams(_ bus: BusClient) async {
        guard (try? duty.store.teams().isEmpty) == true else { return }
        var pause = Duration.milliseconds(200)
        while !Task.isCancelled {
            if let units = try? await bus.call(Self.listUnits, Xunfang_Dispatch_V1_ListUnitsRequest(), as: Xunfang_Dispatch_V1_ListUnitsResponse.self).units,
               !units.isEmpty {
                let teams = duty.rotation.teams
                // Each station starts with the next team, so the teams come out even county-wide.
                let stations = Dictionary(grouping: units, by: \.homeStation).sorted { $0.key < $1.key }
                let rows = stations.enumerated().flatMap { index, station in
                    station.value.sorted { $0.callSign < $1.callSign }.enumerated().map { "\($0.element.callSign),\(teams[($0.offset + index) % teams.count])" }
                }
                var request = Xunfang_Patrol_V1_ImportTeamsRequest()
                request.csv = "call_sign,team\n" + rows.sorted().joined(separator: "\n") + "\n"
                if let imported = try? duty.importTeams(request), imported.errors.isEmpty { return }
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }
}
