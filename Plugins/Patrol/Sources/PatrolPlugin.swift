public import XunfangPluginKit
public import Foundation
import XunfangGeo
import Logging
import DispatchContract
import PatrolContract

/// Patrol (巡逻): who is on duty, by the county's rotation (the documents' four teams in
/// three rotations by default), with Dispatch's availability following it; each shift's
/// assignments from Situation's plan; officers' terminals through a gateway; compliance from
/// their fixes; map matching. See Plugins/Patrol/README.md.
public struct PatrolPlugin: Plugin {
    static let service = "/xunfang.patrol.v1.Patrol/"
    static let methods = ["ImportTeams", "RecordLeave", "RecordSwap", "OnDuty", "Roster", "Report", "Act", "Terminals", "Assignments", "Compliance", "ComplianceReport", "ImportCameras", "Cameras", "VideoSchedule", "SeenOnCamera"]
        .map { service + $0 }
    static let positionTopic = "unit.position"
    static let exceptionTopic = "patrol.exception"

    /// Dispatch's units, for the demo county's teams and for keeping their availability on
    /// the roster; optional (a county may run Patrol without Dispatch), so not in the manifest.
    static let listUnits = "/xunfang.dispatch.v1.Dispatch/ListUnits"
    static let updateUnit = "/xunfang.dispatch.v1.Dispatch/UpdateUnit"
    /// What officers press on their terminals, passed on; optional like the two above.
    static let acknowledge = "/xunfang.dispatch.v1.Dispatch/Acknowledge"
    static let clear = "/xunfang.dispatch.v1.Dispatch/Clear"
    /// The longest wait between two passes over Dispatch's units (leave and swaps start at
    /// any minute; shift changes are waited for exactly).
    static let dutyPass = Duration.seconds(30)

    public static let manifest = PluginManifest(
        name: "patrol", version: "0.2.0", publishes: [positionTopic, exceptionTopic, assignmentTopic], serves: methods,
        topicTypes: [positionTopic: "xunfang.dispatch.v1.UnitPosition", exceptionTopic: "xunfang.patrol.v1.PatrolException",
                     assignmentTopic: "xunfang.patrol.v1.Assignment"])

    public static var descriptorSet: Data { PatrolDescriptors.fileDescriptorSet }

    public static var commands: [PluginCommand] {
        [PluginCommand("on-duty", "who is on shift now or at a time, by team and shift") { await RosterCommands.onDuty($0) },
         PluginCommand("terminals", "on-duty units' terminals: newest position, silent ones flagged") { await RosterCommands.terminals($0) },
         PluginCommand("compliance", "a shift's patrol compliance: points, lines, dosage stops, time in each grid (text, JSON, HTML)") { await RosterCommands.compliance($0) },
         PluginCommand("report", "a day's or ten-day period's compliance by station, grid and must-patrol site (text, JSON, HTML with a map)") { await RosterCommands.report($0) },
         PluginCommand("cameras", "the video patrol desk's cameras by grade; --import a CSV or GeoJSON registry") { await VideoCommands.cameras($0) },
         PluginCommand("video-schedule", "which cameras the video desk checks when, each grade at its frequency") { await VideoCommands.schedule($0) },
         PluginCommand("seen-on-camera", "an incident at a camera's place, from what the video desk saw on it") { await VideoCommands.seen($0) },
         PluginCommand("bench", "map matching accuracy and speed, the terminal gateway's cost (xunfang bench patrol)") { PatrolBenchmark.run($0) },
         PluginCommand("match", "map-match a recorded track (t,lon,lat CSV) to a road graph, offline") { MatchCommand.run($0) },
         PluginCommand("assignments", "this shift's assignments: grids, must-patrol points and lines, dosage stops") { await RosterCommands.assignments($0) },
         PluginCommand("roster", "the rotation's calendar: each shift's team, day by day") { await RosterCommands.roster($0) }]
    }

    let duty: Duty
    var terminals: Terminals
    /// CheckpointControl's asks to stand by near seal positions, put into assignments.
    let standbys = Standbys()
    /// `PATROL_DEMO_TEAMS` on: an empty roster takes Dispatch's units, each station's in turn
    /// into the four teams.
    var demoTeams = false
    /// `PATROL_DRIVES_DISPATCH` on: Dispatch's rostered units go on and off duty with it.
    var drivesDispatch = true
    /// `PATROL_ASSIGNMENTS` on: each shift's plan becomes the on-duty units' assignments.
    var assignsUnits = true
    /// `PATROL_VISIT_RADIUS_METRES`, `PATROL_VISIT_SECONDS`: what counts as a visit.
    var complianceSettings = PatrolCompliance.Settings()
    /// `PATROL_TRACK_DAYS`: how long fixes are kept.
    var trackDays: Int64 = 3
    /// `PATROL_DEMO_CAMERAS` on: an empty camera registry takes the demo county's cameras.
    var demoCameras = false
    /// `PATROL_VIDEO_MINUTES`: how often the desk checks a camera of each grade.
    var videoFrequencies = Cameras.Frequencies()
    /// `PATROL_MATCH` on: tracks matched to `PATROL_ROADS` as the fixes come in.
    var matching: TrackMatching?
    var logger = Logger(label: "patrol")
    /// The county's time: a harness run's simulated clock moves shifts and reports with it.
    var clock = PluginClock.real

    /// Settings:
    /// - `PATROL_PATTERN` (a `Pattern` as protobuf JSON; default the documents' four teams in
    ///   three rotations): the county's own shifts, teams and cycle.
    /// - `PATROL_DEMO_TEAMS` (`on` or `off`, default off): an empty roster takes Dispatch's
    ///   units into the four teams, each station's in turn.
    /// - `PATROL_DRIVES_DISPATCH` (`on` or `off`, default on): Dispatch's units that have a
    ///   team are put on duty when their shift starts and off duty when it ends, so an
    ///   off-duty unit is never recommended.
    /// - `PATROL_SILENT_SECONDS` (60 to 3600, default 300): an on-duty unit whose terminal
    ///   sends no fix this long is flagged silent (`patrol.exception`).
    /// - `PATROL_ASSIGNMENTS` (`on` or `off`, default on): at each shift start Situation's
    ///   plan becomes the on-duty units' assignments (`patrol.assignment.<unit>`).
    /// - `PATROL_VISIT_RADIUS_METRES` (10 to 500, default 50) and `PATROL_VISIT_SECONDS`
    ///   (0 to 1800, default 60): a must-patrol point is visited by staying that near that long.
    /// - `PATROL_TRACK_DAYS` (1 to 90, default 3): how long the terminals' fixes are kept
    ///   (each closed shift's results are kept apart from them).
    /// - `PATROL_MATCH` (`on` or `off`, default on): each unit's track is matched to the roads
    ///   as it comes in, and lines count as driven along the matched roads.
    /// - `PATROL_DEMO_CAMERAS` (`on` or `off`, default off): an empty camera registry takes
    ///   the demo county's cameras (at junctions and along roads of `PATROL_ROADS`).
    /// - `PATROL_VIDEO_MINUTES` (three numbers, default `60,240,1440`): minutes between the
    ///   video desk's checks of a key, an attention and a general camera.
    /// - `PATROL_ROADS` (a road graph file from `xunfang geo import-osm`; default the demo
    ///   county's roads): the roads tracks are matched to.
    public init(context: PluginContext) throws {
        try self.init(dataDirectory: context.dataDirectory, rotation: try Self.rotation(context.settings["PATROL_PATTERN"] ?? ""), now: context.clock.now)
        clock = context.clock
        demoTeams = try context.isOn("PATROL_DEMO_TEAMS", default: false)
        drivesDispatch = try context.isOn("PATROL_DRIVES_DISPATCH", default: true)
        assignsUnits = try context.isOn("PATROL_ASSIGNMENTS", default: true)
        complianceSettings.visitRadius = try context.number("PATROL_VISIT_RADIUS_METRES", in: 10...500, default: 50, unit: "metres")
        complianceSettings.dwellSeconds = try context.number("PATROL_VISIT_SECONDS", in: 0...1_800, default: 60, unit: "seconds")
        trackDays = Int64(try context.number("PATROL_TRACK_DAYS", in: 1...90, default: 3, unit: "days"))
        terminals.silentAfter = Int64(try context.number("PATROL_SILENT_SECONDS", in: 60...3_600, default: 300, unit: "seconds")) * 1_000
        demoCameras = try context.isOn("PATROL_DEMO_CAMERAS", default: false)
        videoFrequencies = try Self.frequencies(context.settings["PATROL_VIDEO_MINUTES"] ?? "60,240,1440")
        if try context.isOn("PATROL_MATCH", default: true) {
            let roads = context.settings["PATROL_ROADS"] ?? ""
            do {
                matching = TrackMatching(graph: roads.isEmpty ? SyntheticRoads.county(.demoCounty) : try GraphFile.read(from: roads))
            } catch {
                throw SettingError("PATROL_ROADS: \(error)")
            }
        }
        logger = context.logger
    }

    static func frequencies(_ text: String) throws(SettingError) -> Cameras.Frequencies {
        let minutes = text.split(separator: ",").map { Int64($0.trimmingCharacters(in: .whitespaces)) }
        guard minutes.count == 3, let key = minutes[0], let attention = minutes[1], let general = minutes[2],
              (5...10_080).contains(key), key <= attention, attention <= general, general <= 10_080 else {
            throw SettingError("PATROL_VIDEO_MINUTES is \"\(text)\"; use three numbers of minutes from 5 to 10080, key ≤ attention ≤ general (60,240,1440)")
        }
        return Cameras.Frequencies(key: key, attention: attention, general: general)
    }

    /// The county's rotation from `PATROL_PATTERN`; the documents' default when it is empty.
    static func rotation(_ json: String) throws -> Rotation {
        guard !json.isEmpty else { return .fourTeamsThreeRotations }
        do {
            return try Rotation(Xunfang_Patrol_V1_Pattern(jsonString: json))
        } catch let error as BusClientError {
            throw SettingError("PATROL_PATTERN: \(error.message)")
        } catch {
            throw SettingError("PATROL_PATTERN is not a Pattern in protobuf JSON ({\"shifts\":[{\"name\":\"白班\",\"startMinute\":480,\"minutes\":480}],\"teams\":[…],\"cycle\":[…],\"offsetDays\":2,\"epoch\":\"2026-01-01\"}): \(error)")
        }
    }

    /// For tests: a directory and clock of their own.
    public init(dataDirectory: String, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000) }) throws {
        try self.init(dataDirectory: dataDirectory, rotation: .fourTeamsThreeRotations, now: now)
    }

    init(dataDirectory: String, rotation: Rotation, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000) }) throws {
        let store = try PatrolStore(path: "\(dataDirectory)/patrol.sqlite")
        duty = Duty(store: store, rotation: rotation, now: now)
        terminals = Terminals(store: store, now: now)
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
        let terminals = self.terminals, matching = self.matching
        bus.serve(Self.service + "Report") { (request: Xunfang_Patrol_V1_ReportRequest, _) in
            let (response, accepted) = try await onOwnThread {
                let (response, accepted) = try terminals.report(request)
                try matching?.take(accepted.map { ($0.callSign, PatrolStore.Fix(at: $0.at, longitude: $0.position.longitude, latitude: $0.position.latitude)) },
                                   store: terminals.store, now: terminals.now())
                return (response, accepted)
            }
            for ping in accepted {
                var position = Xunfang_Dispatch_V1_UnitPosition()
                position.callSign = ping.callSign
                position.position = ping.position
                position.at = ping.at
                try await bus.publish(Self.positionTopic, position)
            }
            return response
        }
        bus.serve(Self.service + "Act") { [self] (request: Xunfang_Patrol_V1_ActRequest, _) in
            request.action == .checkIn ? try await onOwnThread { try checkIn(request) } : try await Self.act(request, bus: bus)
        }
        bus.serve(Self.service + "Compliance") { [self] (request: Xunfang_Patrol_V1_ComplianceRequest, _) in try await compliance(request, bus: bus) }
        bus.serve(Self.service + "ComplianceReport") { [self] (request: Xunfang_Patrol_V1_ComplianceReportRequest, _) in
            try await onOwnThread { try complianceReport(request) }
        }
        bus.serve(Self.service + "ImportCameras", bounds: MessageBounds(maxFieldBytes: Cameras.maxImportBytes)) { [self] (request: Xunfang_Patrol_V1_ImportCamerasRequest, _) in
            try await importCameras(request, bus: bus)
        }
        bus.serve(Self.service + "Cameras") { [self] (request: Xunfang_Patrol_V1_CamerasRequest, _) in try await onOwnThread { try cameras(request) } }
        bus.serve(Self.service + "VideoSchedule") { [self] (request: Xunfang_Patrol_V1_VideoScheduleRequest, _) in try await onOwnThread { try videoSchedule(request) } }
        bus.serve(Self.service + "SeenOnCamera") { [self] (request: Xunfang_Patrol_V1_SeenOnCameraRequest, _) in try await seenOnCamera(request, bus: bus) }
        bus.serve(Self.service + "Assignments") { [self] (request: Xunfang_Patrol_V1_AssignmentsRequest, _) in try assignments(request) }
        bus.serve(Self.service + "Terminals") { (request: Xunfang_Patrol_V1_TerminalsRequest, _) in
            try terminals.list(request, onDuty: try duty.onDuty(Xunfang_Patrol_V1_OnDutyRequest()).onDuty)
        }
    }

    /// A check-in at a must-patrol point, kept for compliance (no Dispatch call: the unit's
    /// status does not change).
    func checkIn(_ request: Xunfang_Patrol_V1_ActRequest) throws -> Xunfang_Patrol_V1_ActResponse {
        let now = duty.now()
        let shift = try duty.onDuty(Xunfang_Patrol_V1_OnDutyRequest()).onDuty.first { $0.callSign == request.callSign }
        let assignment = try shift.flatMap { try duty.store.assignments(shiftStart: $0.shiftStart)[request.callSign] }
        let site = try Terminals.checkIn(request, assignment: assignment, newest: try duty.store.terminals()[request.callSign]?.fix,
                                         radius: complianceSettings.visitRadius, now: now)
        try duty.store.checkIn(request.callSign, at: site.siteID, time: now)
        var response = Xunfang_Patrol_V1_ActResponse()
        response.note = "\(request.callSign) checked in at \(site.name) (\(site.siteID)) \(ChinaTime.hourMinute(milliseconds: now))"
        return response
    }

    /// An officer's action as Dispatch's own call; the unit's status after it.
    static func act(_ request: Xunfang_Patrol_V1_ActRequest, bus: BusClient) async throws -> Xunfang_Patrol_V1_ActResponse {
        var response = Xunfang_Patrol_V1_ActResponse()
        switch try Terminals.dispatchCall(for: request) {
        case .acknowledge(let acknowledge):
            let answer = try await bus.call(Self.acknowledge, acknowledge, as: Xunfang_Dispatch_V1_AssignResponse.self)
            response.unitStatus = answer.unit.status.label
            response.note = "\(request.callSign) en route to \(acknowledge.incidentID)"
        case .updateUnit(let update):
            let unit = try await bus.call(Self.updateUnit, update, as: Xunfang_Dispatch_V1_Unit.self)
            response.unitStatus = unit.status.label
            response.note = unit.incidentID.isEmpty ? "\(unit.callSign) \(unit.status.label)" : "\(unit.callSign) \(unit.status.label) at \(unit.incidentID)"
        case .clear(let clear, let callSign):
            let units = try await bus.call(Self.listUnits, Xunfang_Dispatch_V1_ListUnitsRequest(), as: Xunfang_Dispatch_V1_ListUnitsResponse.self).units
            guard let unit = units.first(where: { $0.callSign == callSign }) else { throw BusClientError(.notFound, "Dispatch has no unit \(callSign)") }
            guard unit.incidentID == clear.incidentID else {
                throw BusClientError(.failedPrecondition, "\(callSign) is not on \(clear.incidentID)" + (unit.incidentID.isEmpty ? "" : " (it is on \(unit.incidentID))"))
            }
            let incident = try await bus.call(Self.clear, clear, as: Xunfang_Dispatch_V1_Incident.self)
            response.unitStatus = Xunfang_Dispatch_V1_UnitStatus.returning.label
            response.note = "\(incident.id) cleared; \(callSign) returning"
        }
        return response
    }

    public func run(on bus: BusClient) async throws {
        if demoTeams { await seedDemoTeams(bus) }
        let plans = assignsUnits ? Task { await takePlans(bus) } : nil
        let asks = assignsUnits ? Task { await takeStandbys(bus) } : nil
        let cameras = demoCameras ? Task { await seedDemoCameras(bus) } : nil
        defer {
            plans?.cancel()
            asks?.cancel()
            cameras?.cancel()
        }
        while !Task.isCancelled {
            var wait = Self.dutyPass
            do {
                // One reading of the roster and of Dispatch's units serves the whole pass.
                let roster = try duty.onDuty(Xunfang_Patrol_V1_OnDutyRequest())
                wait = min(wait, Self.untilChange(roster))
                await flagSilentTerminals(roster.onDuty, bus)
                if drivesDispatch || assignsUnits {
                    let units = try await bus.call(Self.listUnits, Xunfang_Dispatch_V1_ListUnitsRequest(), as: Xunfang_Dispatch_V1_ListUnitsResponse.self).units
                    if drivesDispatch { try await keepDispatchOnRoster(roster, units: units, bus) }
                    if assignsUnits { try await keepAssignments(roster, units: units, bus) }
                }
            } catch {
                logger.debug("the roster's pass stopped early; the next one tries again", metadata: ["xunfang.error": "\(error)"])
            }
            do {
                if let matching { try await onOwnThread { [duty] in try matching.settleQuiet(store: duty.store, now: duty.now()) } }
                try await closeShifts(bus)
            } catch {
                logger.warning("closed shifts not judged this pass", metadata: ["xunfang.error": "\(error)"])
            }
            try? await clock.sleep(for: wait)
        }
    }

    /// How long until the next shift change (a second past it).
    static func untilChange(_ roster: Xunfang_Patrol_V1_OnDutyResponse) -> Duration {
        .milliseconds(max(1_000, (roster.onDuty.map(\.shiftEnd).min() ?? roster.at) - roster.at + 1_000))
    }

    /// On-duty units whose terminals went quiet, each silence announced once.
    func flagSilentTerminals(_ onDuty: [Xunfang_Patrol_V1_UnitDuty], _ bus: BusClient) async {
        do {
            for silence in try terminals.newlySilent(onDuty) {
                _ = try await bus.publishConfirmed(Self.exceptionTopic, silence.exception)
                try terminals.announced(silence)
            }
        } catch {
            logger.warning("silent terminals not flagged this pass", metadata: ["xunfang.error": "\(error)"])
        }
    }

    /// Dispatch's rostered units put on or off duty as the roster says now.
    func keepDispatchOnRoster(_ roster: Xunfang_Patrol_V1_OnDutyResponse, units: [Xunfang_Dispatch_V1_Unit], _ bus: BusClient) async throws {
        let rostered = Set(try duty.store.teams().keys)
        var came = 0, went = 0
        for change in DutySync.changes(units: units, onDuty: Set(roster.onDuty.map(\.callSign)), rostered: rostered) {
            var request = Xunfang_Dispatch_V1_UpdateUnitRequest()
            request.callSign = change.callSign
            request.status = change.status
            // A unit ordered meanwhile refuses going off duty; the next pass tries again.
            guard (try? await bus.call(Self.updateUnit, request, as: Xunfang_Dispatch_V1_Unit.self)) != nil else { continue }
            if change.status == .available { came += 1 } else { went += 1 }
        }
        if came + went > 0 {
            logger.info("units brought onto the roster", metadata: ["xunfang.on_duty": "\(came) came on", "xunfang.off_duty": "\(went) went off",
                                                                    "xunfang.teams": "\(roster.teamsOnShift.joined(separator: ","))"])
        }
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
