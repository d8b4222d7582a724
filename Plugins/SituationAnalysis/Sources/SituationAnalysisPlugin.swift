public import Logging
public import XunfangPluginKit
public import Foundation
import XunfangGeo
import GridModelContract
import DispatchContract
import SituationAnalysisContract
import Synchronization

/// SituationAnalysis: the incident history, breakdowns, the four-colour daily status with
/// its deployment levels, and warnings. See Plugins/SituationAnalysis/README.md.
public struct SituationAnalysisPlugin: Plugin {
    static let service = "/xunfang.situation.v1.Situation/"
    static let gridModel = "/xunfang.grid_model.v1.GridModel/"
    public static let methods = ["Breakdown", "Colours", "Plan", "Report", "Emerging", "RunDaily", "Density"].map { service + $0 }
    public static let coloursTopic = "situation.colours"
    public static let warningTopic = "situation.warning"
    public static let deploymentTopic = "situation.deployment"
    /// The durable consumer name under which the bus keeps this plugin's place in `incident.>`.
    static let historyConsumer = "situation-history"

    public static let manifest = PluginManifest(
        name: "situation", version: "0.2.0", publishes: ["situation.>"], subscribes: ["incident.>"], serves: methods,
        calls: [gridModel + "Locate", gridModel + "ListAreas", "/xunfang.dispatch.v1.Dispatch/ListUnits"],
        topicTypes: [coloursTopic: "xunfang.situation.v1.ColoursResponse", warningTopic: "xunfang.situation.v1.Warning",
                     deploymentTopic: "xunfang.situation.v1.DeploymentPlan"])

    public static var descriptorSet: Data { SituationAnalysisDescriptors.fileDescriptorSet }

    public static var commands: [PluginCommand] {
        [PluginCommand("import", "import incident history from CSV into the plugin's store") { ImportCommand.run($0) },
         PluginCommand("report", "print the situation report for a period") { ReportCommand.run($0) },
         PluginCommand("run-daily", "compute a day's colours and send its warnings now (over the bus; never twice)") { await RunDailyCommand.run($0) },
         PluginCommand("density", "kernel density of incidents as GeoJSON for a map (no bus)") { DensityCommand.run($0) },
         PluginCommand("demo-history", "the demo county's seeded incident history as import CSV (no bus)") { DemoHistoryCommand.run($0) },
         PluginCommand("hotspots", "Gi* hot spots on any polygon file (no bus)") { HotspotsCommand.run($0) },
         PluginCommand("bench", "hot-spot statistics and aggregation speed (xunfang bench situation)") { SituationBenchmark.run($0) }]
    }

    let analyst: Analyst
    /// How often the daily run checks whether a day is due.
    let dailyCheck: Duration
    /// Days of the demo county's history to seed an empty store with (nil: none).
    let demoHistoryDays: Int64?

    /// The history lives in `<data>/situation/situation.sqlite`; `xunfang situation import
    /// FILE.csv` adds old incidents to it. `SITUATION_DEMO_HISTORY_DAYS` (0 to 3660) fills
    /// an empty history with that many days of the demo county's (`tools/up` imports the same instead).
    public init(context: PluginContext) throws {
        let days = try context.number("SITUATION_DEMO_HISTORY_DAYS", in: 0...3_660, default: 0, unit: "whole days")
        guard days == days.rounded() else { throw SettingError("SITUATION_DEMO_HISTORY_DAYS is \(days); use whole days from 0 (none) to 3660") }
        demoHistoryDays = days > 0 ? Int64(days) : nil
        let store = try HistoryStore(path: "\(context.dataDirectory)/situation.sqlite")
        analyst = Analyst(store: store, logger: context.logger, now: context.clock.now,
                          rule: try ColourRule(settings: context.settings))
        dailyCheck = .seconds(30)
    }

    /// For tests: a store and a clock of their own.
    public init(store: HistoryStore, logger: Logger, now: @escaping @Sendable () -> Int64, dailyCheck: Duration = .seconds(30),
                rule: ColourRule = ColourRule(), demoHistoryDays: Int64? = nil) {
        analyst = Analyst(store: store, logger: logger, now: now, rule: rule)
        self.dailyCheck = dailyCheck
        self.demoHistoryDays = demoHistoryDays
    }

    public func register(on bus: BusClient) {
        let analyst = self.analyst
        bus.serve(Self.service + "Breakdown") { (request: Xunfang_Situation_V1_BreakdownRequest, _) in try analyst.breakdown(request) }
        bus.serve(Self.service + "Colours") { (request: Xunfang_Situation_V1_ColoursRequest, _) in
            try await analyst.colours(request, bus: bus)
        }
        bus.serve(Self.service + "RunDaily") { (request: Xunfang_Situation_V1_RunDailyRequest, _) in
            try await analyst.runDaily(request, bus: bus)
        }
        bus.serve(Self.service + "Density") { (request: Xunfang_Situation_V1_DensityRequest, _) in
            try await onOwnThread { try analyst.density(request) }
        }
        bus.serve(Self.service + "Emerging") { (request: Xunfang_Situation_V1_EmergingRequest, _) in try analyst.emerging(request) }
        bus.serve(Self.service + "Report") { (request: Xunfang_Situation_V1_ReportRequest, _) in
            try await analyst.report(request, bus: bus)
        }
        bus.serve(Self.service + "Plan") { (request: Xunfang_Situation_V1_PlanRequest, _) in
            let plan = try await analyst.plan(request, bus: bus)
            try await bus.publish(Self.deploymentTopic, plan)
            return plan
        }
    }

    public func run(on bus: BusClient) async throws {
        let (analyst, dailyCheck) = (self.analyst, self.dailyCheck)
        // Before the consumer starts, so that the first live incident does not make the
        // history look like a county's own.
        if let days = demoHistoryDays {
            try await onOwnThread { try analyst.seedDemoHistory(days: days) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Durable: what arrives while this plugin is down waits in the bus's log.
                try await bus.consume("incident.>", as: Xunfang_Dispatch_V1_Incident.self, durable: Self.historyConsumer) { incident, delivery in
                    try analyst.record(incident, county: delivery.headers["xunfang-origin-county"] ?? "")
                }
            }
            group.addTask {
                // One loop: the daily run waits until imported incidents are placed, or
                // a day would be coloured without them (and not coloured again).
                let clock = ContinuousClock()
                var dailyDue = clock.now
                while !Task.isCancelled {
                    let placed = await analyst.locatePending(bus: bus)
                    if placed == 0, clock.now >= dailyDue {
                        await analyst.dailyRun(bus: bus)
                        dailyDue = clock.now.advanced(by: dailyCheck)
                    }
                    try await Task.sleep(for: placed > 0 ? .milliseconds(100) : min(.seconds(5), dailyCheck))
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}

/// The plugin's working half: requests in, history and GridModel answers through the
/// pure analyses, messages out.
final class Analyst: Sendable {
    let store: HistoryStore
    let logger: Logger
    let now: @Sendable () -> Int64
    let rule: ColourRule
    /// The daily run waits this long after midnight, so that incidents of the day's last
    /// minutes (and a backlog after a restart) are in the history first.
    static let dailyRunAfter: Int64 = 30 * 60_000
    private let daysInTurn = SerialRunner()
    /// The area names last kept, so an unchanged county is not rewritten at every call.
    private let areaNames = Mutex<[String: String]>([:])

    init(store: HistoryStore, logger: Logger, now: @escaping @Sendable () -> Int64, rule: ColourRule) {
        self.rule = rule
        self.store = store
        self.logger = logger
        self.now = now
    }

    /// The day a request names ("yyyy-mm-dd"), or yesterday for "".
    func day(_ label: String) throws -> Int64 {
        if label.isEmpty { return ChinaTime.dayNumber(now()) - 1 }
        guard let day = ChinaTime.dayNumber(label: label) else { throw BusClientError(.invalidArgument, "day \"\(label)\" is not yyyy-mm-dd") }
        return day
    }

    /// Keeps an incident from `incident.>`; linked duplicate calls are not incidents of
    /// their own and are skipped. One from another county (a city's history, fed by the
    /// bridge) is kept under `<county>/<id>`: every county's Dispatch numbers from 1.
    func record(_ incident: Xunfang_Dispatch_V1_Incident, county: String = "") throws {
        guard incident.status != .linked, !incident.id.isEmpty, incident.times.received > 0 else { return }
        var record = HistoryRecord(
            id: county.isEmpty ? incident.id : "\(county)/\(incident.id)", at: incident.times.received, type: incident.typeCode,
            longitude: incident.location.longitude, latitude: incident.location.latitude,
            grid: incident.gridID, station: incident.stationID, typeName: incident.typeName)
        record.county = county
        try store.upsert([record])
    }

    /// Fills an empty history with the demo county's last `days` days; a history holding
    /// anything (a county's own, or the demo's from an earlier start) is left alone.
    func seedDemoHistory(days: Int64) throws {
        guard try store.count() == 0 else { return }
        let yesterday = ChinaTime.dayNumber(now()) - 1
        let added = try store.upsert(DemoIncidents().incidents(days: yesterday - days + 1...yesterday))
        try store.markImported()
        logger.info("demo history seeded", metadata: ["xunfang.incidents": "\(added)", "xunfang.days": "\(days)"])
    }

    /// Asks GridModel where imported incidents lie; returns how many were placed (0 when
    /// there were none or GridModel is not answering).
    func locatePending(bus: BusClient) async -> Int {
        guard let pending = try? store.unlocated(limit: 500), !pending.isEmpty else { return 0 }
        var places: [(id: String, grid: String, station: String, segment: String)] = []
        var roads: [String: String] = [:]
        for record in pending {
            var request = Xunfang_GridModel_V1_LocateRequest()
            request.position.longitude = record.longitude
            request.position.latitude = record.latitude
            guard let answer = try? await bus.call(SituationAnalysisPlugin.gridModel + "Locate", request,
                                                   as: Xunfang_GridModel_V1_LocateResponse.self, timeout: .seconds(2)) else { break }
            places.append((record.id, answer.found ? answer.grid.id : "-", answer.found ? answer.station.id : "-",
                           answer.roadSegmentID.isEmpty ? "-" : answer.roadSegmentID))
            if !answer.roadSegmentID.isEmpty { roads[answer.roadSegmentID] = answer.roadName }
        }
        do {
            try store.setLabels(.road, roads)
            try store.locate(places)
        } catch {
            logger.error("cannot store incident places", metadata: ["xunfang.error": "\(error)"])
            return 0
        }
        return places.count
    }

    func breakdown(_ request: Xunfang_Situation_V1_BreakdownRequest) throws -> Xunfang_Situation_V1_BreakdownResponse {
        let to = request.to == 0 ? now() : request.to
        let from = request.from == 0 ? to - 7 * ChinaTime.day : request.from
        guard from < to else { throw BusClientError(.invalidArgument, "from must be before to") }
        guard to - from <= 366 * ChinaTime.day else { throw BusClientError(.invalidArgument, "a window of at most 366 days") }
        guard request.by.count <= 4 else { throw BusClientError(.invalidArgument, "by: at most 4 dimensions") }
        let dimensions = try request.by.map { dimension -> Breakdown.Dimension in
            guard let known = Breakdown.Dimension(rawValue: dimension.rawValue) else {
                throw BusClientError(.invalidArgument, "by: unknown dimension \(dimension.rawValue)")
            }
            return known
        }
        let limit = request.limit == 0 ? 1_000 : Int(min(request.limit, 100_000))
        let history = try store.columns(from: from - Breakdown.year, to: to)
        let (total, rows) = Breakdown.compute(history, from: from, to: to, by: dimensions, limit: limit)
        var response = Xunfang_Situation_V1_BreakdownResponse()
        response.from = from
        response.to = to
        response.total = UInt32(total)
        let labels = try store.labels()
        response.rows = rows.map { row in
            var message = Xunfang_Situation_V1_BreakdownRow()
            message.key = row.key
            message.names = zip(dimensions, row.key).map { labels.key($0, $1) }
            message.count = UInt32(row.count)
            message.previousWeek = UInt32(row.previousWeek)
            message.lastYear = UInt32(row.lastYear)
            message.weekChange = row.weekChange
            message.yearChange = row.yearChange
            return message
        }
        return response
    }

    func colours(_ request: Xunfang_Situation_V1_ColoursRequest, bus: BusClient) async throws -> Xunfang_Situation_V1_ColoursResponse {
        let day = try day(request.day)
        return try await colours(day: day, bus: bus).response
    }

    /// The stations and grids GridModel knows, so that quiet ones are coloured too; none
    /// when GridModel is not answering (the history's own then stand alone).
    func knownAreas(bus: BusClient) async -> (stations: [String], grids: [String]) {
        let areas = await gridModelAreas(bus: bus, withOutlines: false)
        return (areas.filter { $0.kind == .station }.map(\.id), areas.filter { $0.kind == .grid }.map(\.id))
    }

    /// Every area GridModel has (none when it is not answering); their names are kept as
    /// labels, written only when they changed.
    func gridModelAreas(bus: BusClient, withOutlines: Bool) async -> [Xunfang_GridModel_V1_Area] {
        var request = Xunfang_GridModel_V1_ListAreasRequest()
        request.withOutlines = withOutlines
        guard let areas = try? await bus.call(SituationAnalysisPlugin.gridModel + "ListAreas", request,
                                              as: Xunfang_GridModel_V1_ListAreasResponse.self, timeout: .seconds(withOutlines ? 5 : 2)).areas else { return [] }
        let names = Dictionary(areas.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        if areaNames.withLock({ $0 }) != names {
            do {
                try store.setLabels(.area, names)
                areaNames.withLock { $0 = names }
            } catch {
                logger.warning("cannot keep the area names", metadata: ["xunfang.error": "\(error)"])
            }
        }
        return areas
    }

    /// Colours of every station and grid on `day`: the areas GridModel knows and those the
    /// history names, each with its name.
    func colours(day: Int64, bus: BusClient) async throws
        -> (response: Xunfang_Situation_V1_ColoursResponse, history: HistoryColumns) {
        let history = try store.columns(from: ChinaTime.start(ofDay: day - 364), to: ChinaTime.start(ofDay: day + 1))
        let known = await knownAreas(bus: bus)
        let stations = Set(history.distinct(\.station) + known.stations).sorted()
        let grids = Set(history.distinct(\.grid) + known.grids).sorted()
        let result = DailyColours.compute(history, day: day, stations: stations, grids: grids, rule: rule)
        let labels = try store.labels()
        var response = Xunfang_Situation_V1_ColoursResponse()
        response.day = ChinaTime.label(ofDay: day)
        func message(_ area: DailyColours.Area) -> Xunfang_Situation_V1_AreaColour {
            var colour = Xunfang_Situation_V1_AreaColour()
            colour.areaID = area.id
            colour.areaName = labels.area(area.id)
            colour.colour = Xunfang_Situation_V1_Colour(rawValue: area.judgement.colour.rawValue) ?? .green
            colour.count = UInt32(area.count)
            colour.baselineMean = area.judgement.baselineMean
            colour.pUpper = area.judgement.pUpper
            colour.overdispersed = area.judgement.overdispersed
            colour.deploymentLevel = UInt32(area.judgement.colour.deploymentLevel)
            colour.minimumPatrolShare = rule.minimumPatrolShare(area.judgement.colour)
            return colour
        }
        response.stations = result.stations.map(message)
        response.grids = result.grids.map(message)
        return (response, history)
    }

    func density(_ request: Xunfang_Situation_V1_DensityRequest) throws -> Xunfang_Situation_V1_DensityResponse {
        let last = try day(request.day)
        let days = request.days == 0 ? 28 : Int64(request.days)
        guard (1...366).contains(days) else { throw BusClientError(.invalidArgument, "days: \(days) is outside 1…366") }
        guard request.typeCode.utf8.count <= 64 else { throw BusClientError(.invalidArgument, "type_code: at most 64 bytes") }
        let records = try store.records(from: ChinaTime.start(ofDay: last - days + 1), to: ChinaTime.start(ofDay: last + 1))
            .filter { request.typeCode.isEmpty || $0.type == request.typeCode }
        var response = Xunfang_Situation_V1_DensityResponse()
        response.from = ChinaTime.label(ofDay: last - days + 1)
        response.to = ChinaTime.label(ofDay: last)
        response.incidents = UInt32(records.count)
        response.bandwidthMetres = request.bandwidthMetres == 0 ? 500 : request.bandwidthMetres
        response.cellMetres = request.cellMetres == 0 ? 100 : request.cellMetres
        let surface: DensitySurface?
        do {
            surface = try DensitySurface.make(records.map { GeoPoint(longitude: $0.longitude, latitude: $0.latitude) },
                                              bandwidthMetres: Double(response.bandwidthMetres), cellMetres: Double(response.cellMetres))
        } catch {
            throw BusClientError(.invalidArgument, error.message)
        }
        guard let surface else { return response }
        response.columns = UInt32(surface.columns)
        response.rows = UInt32(surface.rows)
        response.perKm2 = surface.perKm2
        let corner = surface.corners(column: 0, row: 0)[0]
        (response.southWestLongitude, response.southWestLatitude) = (corner.longitude, corner.latitude)
        response.peaks = surface.peaks(10).map { peak in
            var message = Xunfang_Situation_V1_DensityPeak()
            let centre = surface.centre(column: peak.column, row: peak.row)
            (message.longitude, message.latitude, message.perKm2) = (centre.longitude, centre.latitude, peak.perKm2)
            return message
        }
        return response
    }

    func emerging(_ request: Xunfang_Situation_V1_EmergingRequest) throws -> Xunfang_Situation_V1_EmergingResponse {
        let weeks = request.weeks == 0 ? 8 : Int(request.weeks)
        guard (2...52).contains(weeks) else { throw BusClientError(.invalidArgument, "weeks: \(weeks) is outside 2...52") }
        let last = try day(request.day)
        let first = last - Int64(7 * weeks) + 1
        let records = try store.records(from: ChinaTime.start(ofDay: first), to: ChinaTime.start(ofDay: last + 1))
        let cells = EmergingHotSpots.find(records.map { record in
            (GeoPoint(longitude: record.longitude, latitude: record.latitude), record.station, Int((ChinaTime.dayNumber(record.at) - first) / 7))
        }, slices: weeks)
        var response = Xunfang_Situation_V1_EmergingResponse()
        response.from = ChinaTime.label(ofDay: first)
        response.to = ChinaTime.label(ofDay: last)
        let classes: [Trends.EmergingClass: Xunfang_Situation_V1_EmergingClass] = [
            .new: .new, .intensifying: .intensifying, .persistent: .persistent, .diminishing: .diminishing, .sporadic: .sporadic, .notSignificant: .notSignificant,
        ]
        response.cells = cells.map { cell in
            var message = Xunfang_Situation_V1_EmergingCell()
            message.id = cell.id
            message.longitude = cell.centre.longitude
            message.latitude = cell.centre.latitude
            message.stationID = cell.station
            message.class = classes[cell.kind] ?? .notSignificant
            message.z = cell.z
            message.trendZ = cell.trend.z
            message.trendP = cell.trend.p
            return message
        }
        return response
    }

    func report(_ request: Xunfang_Situation_V1_ReportRequest, bus: BusClient) async throws -> Xunfang_Situation_V1_ReportResponse {
        let day = try day(request.day)
        // One call for the stations, their names and the grids' outlines.
        let areas = await gridModelAreas(bus: bus, withOutlines: true)
        let stations = areas.filter { $0.kind == .station }.map(\.id)
        let outlines = areas.filter { $0.kind == .grid }.map { grid in
            Report.GridOutline(id: grid.id, name: grid.name, station: grid.parentID,
                               rings: grid.outline.map { ring in ring.points.map { [$0.longitude, $0.latitude] } })
        }
        // A ten-day report judges every station on every day: not on the connection's threads.
        let (store, rule) = (self.store, self.rule)
        let content = try await onOwnThread {
            try Report.make(request.kind == .tenDay ? .tenDay : .daily, day: day, store: store, extraStations: stations, rule: rule, outlines: outlines)
        }
        var response = Xunfang_Situation_V1_ReportResponse()
        response.from = content.from
        response.to = content.to
        response.json = try Report.json(content)
        response.html = Report.html(content)
        return response
    }

    /// A patrol plan for a shift: yesterday's colours set each station's share on patrol;
    /// the last four weeks give the grids' risk and the hot cells for dosage stops.
    func plan(_ request: Xunfang_Situation_V1_PlanRequest, bus: BusClient) async throws -> Xunfang_Situation_V1_DeploymentPlan {
        let now = now()
        let hours = request.shiftHours == 0 ? 8 : Int(request.shiftHours)
        guard (1...24).contains(hours) else { throw BusClientError(.invalidArgument, "shift_hours: \(hours) is outside 1...24") }
        guard request.units.count <= 20_000 else { throw BusClientError(.invalidArgument, "units: at most 20000") }
        let shiftStart = request.shiftStart != 0 ? request.shiftStart
            : ChinaTime.start(ofDay: ChinaTime.dayNumber(now)) + Int64(ChinaTime.hour(now) / 8 * 8) * 3_600_000
        var units = request.units.map { PatrolPlan.Unit(callSign: $0.callSign, station: $0.stationID) }
        if units.isEmpty {
            guard let roster = try? await bus.call("/xunfang.dispatch.v1.Dispatch/ListUnits", Xunfang_Dispatch_V1_ListUnitsRequest(),
                                                   as: Xunfang_Dispatch_V1_ListUnitsResponse.self, timeout: .seconds(3)) else {
                throw BusClientError(.failedPrecondition, "no units given and Dispatch is not answering for its roster")
            }
            units = roster.units.filter { $0.status != .offDuty && $0.status != .outOfService }
                .map { PatrolPlan.Unit(callSign: $0.callSign, station: $0.homeStation) }
        }
        let day = ChinaTime.dayNumber(shiftStart) - 1
        let (colours, _) = try await colours(day: day, bus: bus)
        let colourOf = Dictionary(uniqueKeysWithValues: colours.stations.map { ($0.areaID, Colour(rawValue: $0.colour.rawValue) ?? .green) })
        let recent = try store.records(from: ChinaTime.start(ofDay: day - 27), to: ChinaTime.start(ofDay: day + 1))
        var gridRisk: [String: [String: Int]] = [:]
        for record in recent where record.station != "" && record.station != "-" && record.grid != "-" {
            gridRisk[record.station, default: [:]][record.grid, default: 0] += 1
        }
        let seed = request.seed != 0 ? request.seed : UInt64(bitPattern: now) ^ 0x9E37_79B9_7F4A_7C15
        let cells = HotCells.find(recent.map { (GeoPoint(longitude: $0.longitude, latitude: $0.latitude), $0.station) }, seed: seed)
        let plan = PatrolPlan.make(
            units: units, colours: colourOf, gridRisk: gridRisk.mapValues { $0.map { (grid: $0.key, count: $0.value) } },
            hotCells: cells.map { PatrolPlan.HotCell(id: $0.id, station: $0.station, centre: $0.centre) },
            shiftStart: shiftStart, shiftHours: hours, seed: seed, rules: { var rules = PatrolPlan.Rules(); rules.redShare = rule.redShare; return rules }())
        var message = Xunfang_Situation_V1_DeploymentPlan()
        message.shiftStart = plan.shiftStart
        message.shiftEnd = plan.shiftEnd
        message.coloursDay = colours.day
        message.stations = plan.stations.map { station in
            var entry = Xunfang_Situation_V1_StationPlan()
            entry.stationID = station.station
            entry.colour = Xunfang_Situation_V1_Colour(rawValue: station.colour.rawValue) ?? .green
            entry.units = UInt32(station.units)
            entry.onPatrol = UInt32(station.onPatrol)
            entry.minimumShare = station.minimumShare
            return entry
        }
        message.hotCells = cells.map { cell in
            var entry = Xunfang_Situation_V1_HotCell()
            entry.id = cell.id
            entry.longitude = cell.centre.longitude
            entry.latitude = cell.centre.latitude
            entry.stationID = cell.station
            entry.incidents = UInt32(cell.incidents)
            entry.z = cell.z
            entry.p = cell.p
            return entry
        }
        message.assignments = plan.assignments.map { assignment in
            var entry = Xunfang_Situation_V1_PatrolAssignment()
            entry.callSign = assignment.callSign
            entry.stationID = assignment.station
            entry.onPatrol = assignment.onPatrol
            entry.gridIds = assignment.grids
            entry.stops = assignment.stops.map { stop in
                var entry = Xunfang_Situation_V1_PatrolStop()
                entry.cellID = stop.cell
                entry.start = stop.start
                entry.minutes = UInt32(stop.minutes)
                return entry
            }
            return entry
        }
        message.longestRevisitMinutes = UInt32(plan.longestRevisitMinutes)
        message.notes = plan.notes
        return message
    }

    /// Once a day, half an hour after midnight (checked every 30 s), and again after an
    /// import added history: yesterday's colours and warnings (`runDay`). The day done and
    /// the imports seen are kept in the store, so a restart neither skips nor repeats it.
    func dailyRun(bus: BusClient) async {
        let yesterday = ChinaTime.dayNumber(now() - Self.dailyRunAfter) - 1
        guard let done = try? store.meta("colours_day").flatMap(Int64.init) ?? (yesterday - 1),
              let imports = try? store.meta("imports") ?? "0", let seen = try? store.meta("colours_imports") ?? "0",
              done < yesterday || imports != seen else { return }
        do {
            let outcome = try await runDay(yesterday, bus: bus)
            try store.setMeta("colours_day", String(max(done, yesterday)))
            // While GridModel leaves imported incidents unplaced, colour the day again later.
            if try store.unlocated(limit: 1).isEmpty { try store.setMeta("colours_imports", imports) }
            logger.info("daily colours published", metadata: [
                "xunfang.day": "\(outcome.colours.day)", "xunfang.warned": "\(outcome.warned.joined(separator: ","))",
                "xunfang.reason": "\(done < yesterday ? "new day" : "history imported")"])
        } catch {
            logger.warning("daily colours not published yet; retrying", metadata: ["xunfang.error": "\(error)"])
        }
    }

    func runDaily(_ request: Xunfang_Situation_V1_RunDailyRequest, bus: BusClient) async throws -> Xunfang_Situation_V1_RunDailyResponse {
        let outcome = try await runDay(try day(request.day), bus: bus)
        var response = Xunfang_Situation_V1_RunDailyResponse()
        response.colours = outcome.colours
        response.warned = outcome.warned
        response.alreadyWarned = outcome.alreadyWarned
        return response
    }

    /// `day`'s colours on `situation.colours`, and a durable warning for each station yellow
    /// or worse that was not already warned at that colour or above for the day. Warnings
    /// carry ids (day, station, colour) so consumers drop a repeat after a crash between
    /// publish and record.
    func runDay(_ day: Int64, bus: BusClient) async throws
        -> (colours: Xunfang_Situation_V1_ColoursResponse, warned: [String], alreadyWarned: [String]) {
        // The daily run and RunDaily requests take turns: two at once could both find a
        // station not yet warned and warn it twice.
        try await daysInTurn.run { try await self.runDayNow(day, bus: bus) }
    }

    private func runDayNow(_ day: Int64, bus: BusClient) async throws
        -> (colours: Xunfang_Situation_V1_ColoursResponse, warned: [String], alreadyWarned: [String]) {
        let (colours, history) = try await colours(day: day, bus: bus)
        try await bus.publish(SituationAnalysisPlugin.coloursTopic, colours)
        let before = try store.warned(day: day)
        let labels = try store.labels()
        var warned: [String] = [], alreadyWarned: [String] = []
        for station in colours.stations where station.colour != .green {
            guard station.colour.rawValue > before[station.areaID] ?? 0 else {
                alreadyWarned.append(station.areaID)
                continue
            }
            let spots = DailyColours.hotSpots(history, station: station.areaID, day: day)
            var warning = Xunfang_Situation_V1_Warning()
            warning.day = colours.day
            warning.stationID = station.areaID
            warning.colour = station.colour
            warning.count = station.count
            warning.baselineMean = station.baselineMean
            warning.hotHours = spots.hours.map(UInt32.init)
            warning.topTypes = spots.types
            warning.hotGrids = spots.grids
            warning.roadSegments = spots.segments
            warning.stationName = station.areaName
            warning.topTypeNames = spots.types.map(labels.type)
            warning.hotGridNames = spots.grids.map(labels.area)
            warning.roadNames = spots.segments.map { labels.roads[$0] ?? "" }
            try await bus.publishConfirmed(SituationAnalysisPlugin.warningTopic, payload: warning.serializedData(),
                                           messageID: "warning-\(colours.day)-\(station.areaID)-\(station.colour.rawValue)")
            try store.recordWarned(day: day, station: station.areaID, colour: station.colour.rawValue)
            warned.append(station.areaID)
        }
        return (colours, warned, alreadyWarned)
    }
}
