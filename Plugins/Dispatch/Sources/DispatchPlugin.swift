public import Logging
public import XunfangPluginKit
public import Foundation
import XunfangGeo
import DispatchContract

/// Dispatch: incidents, units, road-ETA recommendation and point-to-point orders. See
/// Plugins/Dispatch/README.md for its topics, services and settings.
public struct DispatchPlugin: Plugin {
    static let service = "/xunfang.dispatch.v1.Dispatch/"
    static let gridModel = "/xunfang.grid_model.v1.GridModel/"
    static let activateSeal = "/xunfang.checkpoint.v1.Checkpoint/Activate"
    /// CommunityPolicing's watch and report, asked with a major incident; optional, so not in the manifest.
    static let requestWatch = "/xunfang.community.v1.Community/RequestWatch"
    public static let methods = ["Intake", "Recommend", "Assign", "Acknowledge", "UpdateUnit", "Clear", "ListIncidents", "ListUnits",
                                 "Kpis", "ExportEido", "MoveUp", "AcceptMoveUp", "MajorIncident",
                                 "ReadPersonal", "Audit", "RotateKey"]
        .map { service + $0 }

    public static let manifest = PluginManifest(
        name: "dispatch", version: "0.1.0",
        publishes: ["incident.>", "dispatch.>", "unit.status"], subscribes: ["unit.position"], serves: methods,
        // Not declared: CheckpointControl's Activate, called only for a MajorIncident that asks for a
        // seal, so a county whose ACL does not grant it still runs Dispatch (the bus refuses undeclarable calls).
        calls: ["Locate", "FourZones", "Eta", "Coverage", "PlacePosts"].map { gridModel + $0 },
        topicTypes: ["incident.>": "xunfang.dispatch.v1.Incident", "unit.status": "xunfang.dispatch.v1.Unit",
                     "dispatch.order.*": "xunfang.dispatch.v1.Order", "dispatch.alert.neighbours": "xunfang.dispatch.v1.NeighboursAlert",
                     "dispatch.escalation": "xunfang.dispatch.v1.Escalation",
                     "dispatch.moveup": "xunfang.dispatch.v1.MoveUpResponse", "dispatch.kpis.shift": "xunfang.dispatch.v1.ShiftKpis",
                     "unit.position": "xunfang.dispatch.v1.UnitPosition"])

    public static var descriptorSet: Data { DispatchDescriptors.fileDescriptorSet }

    let desk: Desk

    /// Settings:
    /// - `DISPATCH_TYPES`: a JSON file with the county's incident type table (see
    ///   `IncidentType.table(json:)`); default `IncidentType.defaults`. A bad file stops the plugin with the reason.
    /// - `DISPATCH_ROSTER`: a CSV file with the county's units (see `Roster.parse`), merged
    ///   into the store at every start. Without it an empty store gets the demo roster.
    /// - `DISPATCH_DEMO_CARS` (default 126): patrol cars in the demo roster seeded into an
    ///   empty store (load tests use more).
    /// - `DISPATCH_AUTO_MOVE_UP` (default `on`): after each dispatch, compute move-up
    ///   suggestions and publish them on `dispatch.moveup`; `off` leaves it to `MoveUp` calls.
    /// - `DISPATCH_KEY_FILE` (default `<data>/sealing.key`, created 0600): the keys that seal
    ///   callers' reports and phone numbers at rest (`SealingKeys`; rotate with `RotateKey`).
    /// - `DISPATCH_PERSONAL_RETENTION_DAYS` (default 180, 1 to 3650): how long after an
    ///   incident ends its personal fields are kept before they are erased.
    /// - `DISPATCH_ACCEPT_OUTSIDE_METRES` (default 0, at most 50000): a call this close
    ///   outside the county's grids is taken as a neighbouring county's incident (marked,
    ///   given the nearest station); farther calls are refused, naming the nearest grid.
    /// - `DISPATCH_ACK_TIMEOUT_SECONDS` (default 30, 5 to 600): an order not acknowledged
    ///   this long passes to the next ranked unit.
    /// - `DISPATCH_MAX_PASS_ONS` (default 3, 0 to 20): how often an order passes on before
    ///   the incident is put to the duty officer (`dispatch.escalation`).
    /// - `DISPATCH_DUPLICATE_METRES` (default 150, 0 to 5000) and `DISPATCH_DUPLICATE_MINUTES`
    ///   (default 15, 0 to 1440): a call of the same type this near an open incident, this
    ///   soon after it, is linked to it; 0 metres links nothing.
    /// - `DISPATCH_RETURN_MINUTES` (default 15, 0 to 240): a returning unit is available
    ///   again after this long unless it says so sooner; 0 waits for the unit.
    /// - `DISPATCH_GRID_MODEL_WAIT_MS` (default 2000, 100 to 60000): how long a call waits
    ///   for GridModel before it is taken unlocated and units are ranked by straight line.
    public init(context: PluginContext) throws {
        let keyFile = context.settings["DISPATCH_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(context.dataDirectory)/sealing.key"
        let keys: SealingKeys
        do {
            keys = try SealingKeys(path: keyFile)
        } catch {
            throw DispatchError(.invalidArgument, "DISPATCH_KEY_FILE: \(error)")
        }
        let retentionDays = try context.number("DISPATCH_PERSONAL_RETENTION_DAYS", in: 1...3650, default: 180, unit: "days")
        let store = try DispatchStore(path: "\(context.dataDirectory)/dispatch.sqlite", keys: keys)
        let cars = context.settings["DISPATCH_DEMO_CARS"].flatMap(Int.init).map { min(max($0, 1), 10_000) } ?? 126
        var settings = try Self.settings(context)
        if let path = context.settings["DISPATCH_TYPES"], !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else { throw DispatchError(.invalidArgument, "cannot read DISPATCH_TYPES file \(path)") }
            settings.types = try IncidentType.table(json: data)
        }
        var roster: [Unit]?
        if let path = context.settings["DISPATCH_ROSTER"], !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else { throw DispatchError(.invalidArgument, "cannot read DISPATCH_ROSTER file \(path)") }
            do {
                roster = try Roster.parse(csv: String(decoding: data, as: UTF8.self))
            } catch {
                throw DispatchError(.invalidArgument, "DISPATCH_ROSTER \(path): \(error.message)")
            }
        }
        let autoMoveUp = try context.isOn("DISPATCH_AUTO_MOVE_UP", default: true)
        let outside = try context.number("DISPATCH_ACCEPT_OUTSIDE_METRES", in: 0...50_000, default: 0, unit: "metres")
        desk = try Desk(store: store, clock: context.clock, logger: context.logger, demoCars: cars, settings: settings, autoMoveUp: autoMoveUp,
                        roster: roster, retentionDays: Int(retentionDays), acceptOutsideMetres: outside)
    }

    /// The county's timings and distances for orders and duplicate calls.
    public static func settings(_ context: PluginContext) throws(SettingError) -> Dispatcher.Settings {
        var settings = Dispatcher.Settings()
        settings.ackTimeoutMilliseconds = Int64(try context.number("DISPATCH_ACK_TIMEOUT_SECONDS", in: 5...600, default: 30, unit: "seconds") * 1_000)
        settings.maxPassOns = Int(try context.number("DISPATCH_MAX_PASS_ONS", in: 0...20, default: 3, unit: "a count"))
        settings.duplicateRadiusMetres = try context.number("DISPATCH_DUPLICATE_METRES", in: 0...5_000, default: 150, unit: "metres")
        settings.duplicateWindowMilliseconds = Int64(try context.number("DISPATCH_DUPLICATE_MINUTES", in: 0...1_440, default: 15, unit: "minutes") * 60_000)
        let returnMinutes = try context.number("DISPATCH_RETURN_MINUTES", in: 0...240, default: 15, unit: "minutes")
        settings.returnMilliseconds = returnMinutes == 0 ? nil : Int64(returnMinutes * 60_000)
        settings.gridModelWaitMilliseconds = Int64(try context.number("DISPATCH_GRID_MODEL_WAIT_MS", in: 100...60_000, default: 2_000, unit: "milliseconds"))
        return settings
    }

    /// For tests: a desk on a given store and clock.
    public init(store: DispatchStore, clock: any DispatchClock, logger: Logger, settings: Dispatcher.Settings = .init(), autoMoveUp: Bool = false,
                retentionDays: Int = 180, acceptOutsideMetres: Double = 0) throws {
        desk = try Desk(store: store, clock: clock, logger: logger, settings: settings, autoMoveUp: autoMoveUp, retentionDays: retentionDays,
                        acceptOutsideMetres: acceptOutsideMetres)
    }

    public func register(on bus: BusClient) {
        let desk = self.desk
        desk.attach(bus)
        bus.serve(Self.service + "Intake") { (request: Xunfang_Dispatch_V1_IntakeRequest, call) in try await desk.intake(request, caller: call.caller) }
        bus.serve(Self.service + "Recommend") { (request: Xunfang_Dispatch_V1_RecommendRequest, _) in try await desk.recommend(request) }
        bus.serve(Self.service + "Assign") { (request: Xunfang_Dispatch_V1_AssignRequest, _) in try await desk.assign(request) }
        bus.serve(Self.service + "Acknowledge") { (request: Xunfang_Dispatch_V1_AcknowledgeRequest, _) in try await desk.acknowledge(request) }
        bus.serve(Self.service + "UpdateUnit") { (request: Xunfang_Dispatch_V1_UpdateUnitRequest, _) in try await desk.updateUnit(request) }
        bus.serve(Self.service + "Clear") { (request: Xunfang_Dispatch_V1_ClearRequest, _) in try await desk.clear(request) }
        bus.serve(Self.service + "ListIncidents") { (request: Xunfang_Dispatch_V1_ListIncidentsRequest, _) in desk.listIncidents(request) }
        bus.serve(Self.service + "ListUnits") { (_: Xunfang_Dispatch_V1_ListUnitsRequest, _) in desk.listUnits() }
        bus.serve(Self.service + "Kpis") { (request: Xunfang_Dispatch_V1_KpisRequest, _) in desk.kpis(request) }
        bus.serve(Self.service + "ExportEido") { (request: Xunfang_Dispatch_V1_ExportRequest, call) in try desk.exportEido(request, caller: call.caller) }
        bus.serve(Self.service + "MajorIncident") { (request: Xunfang_Dispatch_V1_MajorIncidentRequest, _) in try await desk.majorIncident(request) }
        bus.serve(Self.service + "MoveUp") { (request: Xunfang_Dispatch_V1_MoveUpRequest, _) in try await desk.moveUp(request) }
        bus.serve(Self.service + "ReadPersonal") { (request: Xunfang_Dispatch_V1_ReadPersonalRequest, call) in
            try desk.readPersonal(request, caller: call.caller)
        }
        bus.serve(Self.service + "Audit") { (request: Xunfang_Dispatch_V1_AuditRequest, call) in try desk.audit(request, caller: call.caller) }
        bus.serve(Self.service + "RotateKey") { (_: Xunfang_Dispatch_V1_RotateKeyRequest, call) in try desk.rotateKey(caller: call.caller) }
        bus.serve(Self.service + "AcceptMoveUp") { (request: Xunfang_Dispatch_V1_AcceptMoveUpRequest, _) in try desk.acceptMoveUp(request) }
    }

    public func run(on bus: BusClient) async throws {
        let desk = self.desk
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await bus.consume("unit.position", as: Xunfang_Dispatch_V1_UnitPosition.self) { position, _ in
                    await desk.position(position)
                }
            }
            group.addTask {
                // Ack deadlines are checked every 250 ms: a 30 s timeout fires within a quarter second.
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(250))
                    await desk.tick()
                }
            }
            defer { desk.storePositions() }
            try await group.next()
            group.cancelAll()
        }
    }
}

/// A harness run's simulated clock drives ack deadlines, return times and KPIs alike.
extension PluginClock: DispatchClock {}

public struct SystemDispatchClock: DispatchClock {
    public init() {}
    public func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000) }
}
