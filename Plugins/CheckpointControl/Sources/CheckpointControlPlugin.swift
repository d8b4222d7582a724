public import XunfangPluginKit
public import Foundation
public import XunfangGeo
import CheckpointControlContract
import GridModelContract
import DispatchContract
public import Logging
import XunfangOutbox

/// CheckpointControl: checkpoints, seal plans (关城门) and live containment rings. This
/// version serves the registry (status machine, aggregated reports, board) and
/// interception rings on the county's road graph; see Plugins/CheckpointControl/README.md.
public struct CheckpointControlPlugin: Plugin {
    static let service = "/xunfang.checkpoint.v1.Checkpoint/"
    public static let ringMethod = service + "Ring"
    static let methods = ["Ring", "Put", "List", "Get", "SetStatus", "Report", "Board", "PutPlan", "ImportPlan", "ExportPlan", "GetPlan",
                          "ListPlans", "CheckPlan", "DraftPlan", "Activate", "Acknowledge", "SealBoard", "StandDown", "AfterAction",
                          "Contain", "GetContainment", "StopContainment", "SealMap", "Readiness"].map { service + $0 }
    static let listSites = "/xunfang.grid_model.v1.GridModel/ListSites"
    static let listAreas = "/xunfang.grid_model.v1.GridModel/ListAreas"
    static let listUnits = "/xunfang.dispatch.v1.Dispatch/ListUnits"

    /// Only what the plugin cannot do without is declared (the bus refuses a plugin whose
    /// declarations its ACL does not allow): GridModel's sites and grids, Dispatch's units and
    /// "unit.position" are used when the county's ACL grants them, and missed gracefully when not.
    public static let manifest = PluginManifest(
        name: "checkpoint", version: "0.3.0", publishes: ["checkpoint.>"], serves: methods,
        topicTypes: ["checkpoint.status": "xunfang.checkpoint.v1.StatusChange", "checkpoint.report": "xunfang.checkpoint.v1.CheckReport",
                     "checkpoint.order.*": "xunfang.checkpoint.v1.SealOrder", "checkpoint.escalation": "xunfang.checkpoint.v1.SealEscalation",
                     "checkpoint.seal": "xunfang.checkpoint.v1.SealActivation", "checkpoint.readiness": "xunfang.checkpoint.v1.SealReadiness",
                     "checkpoint.containment": "xunfang.checkpoint.v1.LiveContainment",
                     "unit.position": "xunfang.dispatch.v1.UnitPosition"])

    public static var descriptorSet: Data { CheckpointControlDescriptors.fileDescriptorSet }

    public static var commands: [PluginCommand] {
        [PluginCommand("ring", "the interception ring on a road graph file (no bus)") { RingCommand.run($0) },
         PluginCommand("seal-map", "the 3-minute seal feasibility map of every grid, as JSON, GeoJSON and HTML (over the bus)") { await SealMapCommand.run($0) },
         PluginCommand("bench", "ring latency and the seal map on a county-size graph (xunfang bench checkpoint)") { CheckpointBenchmark.run($0) }]
    }

    let rings: RingService
    let registry: Registry
    let seals: SealDesk
    let containments: LiveContainments
    /// How often live containments are recomputed and published.
    let containmentInterval: Duration
    let seedFromGrid: Bool
    let cityOrders: CityOrders?
    /// How often every plan's readiness is assessed and published (nil: never), on `clock`.
    let readinessInterval: Duration?
    let clock: PluginClock
    let logger: Logger
    static let readinessTopic = "checkpoint.readiness"

    /// Settings: `CHECKPOINT_ROADS` (a graph from `xunfang geo import-osm`; default the
    /// demo county's roads), `CHECKPOINT_SPEEDS` (as GridModel's `GRID_MODEL_SPEEDS`) and
    /// `CHECKPOINT_SEED_FROM_GRID` (`on`: an empty registry takes GridModel's checkpoint
    /// and city-exit sites).
    public init(context: PluginContext) throws {
        let roads: RoadGraph
        if let path = context.settings["CHECKPOINT_ROADS"], !path.isEmpty {
            roads = try GraphFile.read(from: path)
        } else {
            roads = SyntheticRoads.county(.demoCounty)
        }
        let seedFromGrid = try context.isOn("CHECKPOINT_SEED_FROM_GRID", default: false)
        let interval = context.settings["CHECKPOINT_CONTAINMENT_SECONDS"] ?? "5"
        guard let seconds = Int(interval), (1...10).contains(seconds) else {
            throw SettingError("CHECKPOINT_CONTAINMENT_SECONDS is \"\(interval)\"; use 1 to 10")
        }
        let standbys = try context.isOn("CHECKPOINT_READINESS_STANDBY", default: true)
        let readiness = context.settings["CHECKPOINT_READINESS_SECONDS"] ?? "60"
        guard let readinessSeconds = Int(readiness), readinessSeconds == 0 || (10...3_600).contains(readinessSeconds) else {
            throw SettingError("CHECKPOINT_READINESS_SECONDS is \"\(readiness)\"; use 10 to 3600, or 0 for none")
        }
        try self.init(roads: roads, speeds: try SpeedTable(setting: context.settings["CHECKPOINT_SPEEDS"], key: "CHECKPOINT_SPEEDS"),
                      dataDirectory: context.dataDirectory, seedFromGrid: seedFromGrid, containmentInterval: .seconds(seconds),
                      cityOrders: try CityOrders(settings: context.settings), citySeals: try CitySeals(settings: context.settings),
                      readinessInterval: readinessSeconds > 0 ? .seconds(readinessSeconds) : nil, asksStandbys: standbys, clock: context.clock,
                      logger: context.logger)
    }

    /// For tests: a graph, speeds, a directory and a clock of their own.
    public init(roads: RoadGraph, speeds: SpeedTable = .default, dataDirectory: String, seedFromGrid: Bool = false,
                containmentInterval: Duration = .seconds(5), cityOrders: CityOrders? = nil, citySeals: CitySeals? = nil,
                readinessInterval: Duration? = nil, asksStandbys: Bool = true, clock: PluginClock = .real, logger: Logger,
                now: (@Sendable () -> Int64)? = nil) throws {
        rings = RingService(roads: roads, speeds: speeds)
        registry = Registry(store: try CheckpointStore(path: "\(dataDirectory)/checkpoint.sqlite"), roads: rings, now: now ?? clock.now)
        seals = SealDesk(registry: registry, citySeals: citySeals, asksStandbys: asksStandbys)
        containments = LiveContainments(registry: registry)
        self.containmentInterval = containmentInterval
        self.seedFromGrid = seedFromGrid
        self.cityOrders = cityOrders
        self.readinessInterval = readinessInterval
        self.clock = clock
        self.logger = logger
    }

    public func register(on bus: BusClient) {
        let rings = self.rings, registry = self.registry
        // A ring runs several road searches and max-flows: off the connection's threads.
        bus.serve(Self.ringMethod) { (request: Xunfang_Checkpoint_V1_RingRequest, _) in
            try await onOwnThread { try rings.ring(request) }
        }
        bus.serve(Self.service + "Put") { (request: Xunfang_Checkpoint_V1_PutRequest, call) in try registry.put(request, caller: call.caller) }
        bus.serve(Self.service + "List") { (request: Xunfang_Checkpoint_V1_ListRequest, _) in try registry.list(request) }
        bus.serve(Self.service + "Get") { (request: Xunfang_Checkpoint_V1_GetRequest, _) in try registry.get(request) }
        bus.serve(Self.service + "SetStatus") { (request: Xunfang_Checkpoint_V1_SetStatusRequest, call) in try registry.setStatus(request, caller: call.caller) }
        bus.serve(Self.service + "Report") { (request: Xunfang_Checkpoint_V1_CheckReport, call) in try registry.report(request, caller: call.caller) }
        bus.serve(Self.service + "Board") { (_: Xunfang_Checkpoint_V1_BoardRequest, _) in try registry.board() }
        registerSeals(on: bus)
    }

    private func registerSeals(on bus: BusClient) {
        let seals = self.seals, logger = self.logger
        bus.serve(Self.service + "PutPlan") { (request: Xunfang_Checkpoint_V1_PutPlanRequest, call) in
            try await onOwnThread { try seals.putPlan(request, caller: call.caller) }
        }
        bus.serve(Self.service + "ImportPlan") { (request: Xunfang_Checkpoint_V1_ImportPlanRequest, call) in
            try await onOwnThread { try seals.importPlan(request, caller: call.caller) }
        }
        bus.serve(Self.service + "ExportPlan") { (request: Xunfang_Checkpoint_V1_PlanRequest, _) in try seals.exportPlan(request) }
        bus.serve(Self.service + "GetPlan") { (request: Xunfang_Checkpoint_V1_PlanRequest, _) in try seals.plan(request.id) }
        bus.serve(Self.service + "ListPlans") { (_: Xunfang_Checkpoint_V1_ListPlansRequest, _) in try seals.listPlans() }
        bus.serve(Self.service + "CheckPlan") { (request: Xunfang_Checkpoint_V1_SealPlan, _) in try await onOwnThread { try seals.checkPlan(request) } }
        bus.serve(Self.service + "DraftPlan") { (request: Xunfang_Checkpoint_V1_SealPlan, _) in try await onOwnThread { try seals.draftPlan(request) } }
        bus.serve(Self.service + "Activate") { (request: Xunfang_Checkpoint_V1_ActivateRequest, call) in
            try await Self.activate(request, caller: call.caller, seals: seals, bus: bus, logger: logger)
        }
        bus.serve(Self.service + "Acknowledge") { (request: Xunfang_Checkpoint_V1_AcknowledgeRequest, call) in try seals.acknowledge(request, caller: call.caller) }
        bus.serve(Self.service + "SealBoard") { (request: Xunfang_Checkpoint_V1_SealBoardRequest, _) in try seals.board(request) }
        bus.serve(Self.service + "StandDown") { (request: Xunfang_Checkpoint_V1_StandDownRequest, call) in try seals.standDown(request, caller: call.caller) }
        bus.serve(Self.service + "Readiness") { (request: Xunfang_Checkpoint_V1_ReadinessRequest, _) in
            let units = await Self.availableUnits(bus, logger: logger)
            let plans = try await onOwnThread { try seals.readiness(units: units, only: request.plan) }
            return Xunfang_Checkpoint_V1_ReadinessResponse.with { $0.plans = plans }
        }
        bus.serve(Self.service + "AfterAction") { (request: Xunfang_Checkpoint_V1_AfterActionRequest, _) in try seals.afterAction(request) }
        let containments = self.containments
        bus.serve(Self.service + "Contain") { (request: Xunfang_Checkpoint_V1_ContainRequest, call) in
            try await onOwnThread { try containments.contain(request, caller: call.caller) }
        }
        bus.serve(Self.service + "GetContainment") { (request: Xunfang_Checkpoint_V1_ContainmentRequest, _) in try containments.get(request.id) }
        bus.serve(Self.service + "StopContainment") { (request: Xunfang_Checkpoint_V1_ContainmentRequest, call) in
            try containments.stop(request.id, caller: call.caller)
        }
        let maps = SealMapService(rings: rings, containments: containments)
        bus.serve(Self.service + "SealMap") { (request: Xunfang_Checkpoint_V1_SealMapRequest, _) in
            let grids = request.grids.isEmpty ? await Self.gridModelGrids(bus, logger: logger) : []
            return try await onOwnThread { try maps.map(request, gridModelGrids: grids) }
        }
    }

    /// GridModel's grids with their outlines; none (logged) when GridModel does not answer
    /// or the county's ACL does not grant the call.
    static func gridModelGrids(_ bus: BusClient, logger: Logger) async -> [Xunfang_Checkpoint_V1_SealMapGrid] {
        do {
            let areas = try await bus.call(listAreas, Xunfang_GridModel_V1_ListAreasRequest.with {
                $0.kind = .grid
                $0.withOutlines = true
            }, as: Xunfang_GridModel_V1_ListAreasResponse.self, timeout: .seconds(5)).areas
            return areas.compactMap { area in
                guard let outline = area.outline.first else { return nil }
                return .with {
                    $0.id = area.id
                    $0.name = area.name
                    $0.outline = outline.points.map { point in .with { $0.longitude = point.longitude; $0.latitude = point.latitude } }
                }
            }
        } catch {
            logger.warning("no grids from GridModel for the seal map", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// Dispatch's available units, each where its terminal last reported it or, with no
    /// report yet, at its station house (GridModel's site "<station>-H"), by kind's mode.
    /// None when Dispatch does not answer: the seal goes ahead, checkpoints are ordered
    /// and unit posts go to the duty officer.
    static func availableUnits(_ bus: BusClient, logger: Logger) async -> [Xunfang_Checkpoint_V1_RingUnit] {
        do {
            let units = try await bus.call(listUnits, Xunfang_Dispatch_V1_ListUnitsRequest(), as: Xunfang_Dispatch_V1_ListUnitsResponse.self,
                                           timeout: .seconds(3)).units
            // A free unit that has not reported where it is counts from its station house.
            let unplaced = units.contains { $0.status == .available && !$0.hasPosition }
            let houses = unplaced ? try? await bus.call(listSites, Xunfang_GridModel_V1_ListSitesRequest.with { $0.kind = .stationHouse },
                                                        as: Xunfang_GridModel_V1_ListSitesResponse.self, timeout: .seconds(3)).sites : []
            let stationHouse = Dictionary((houses ?? []).map { ($0.id, $0.position) }, uniquingKeysWith: { first, _ in first })
            return units.compactMap { unit in
                guard unit.status == .available, let mode = unit.kind.travelModeName,
                      let position = unit.hasPosition ? unit.position : stationHouse[unit.homeStation + "-H"] else { return nil }
                return .with {
                    $0.id = unit.callSign
                    $0.longitude = position.longitude
                    $0.latitude = position.latitude
                    $0.mode = mode
                }
            }
        } catch {
            logger.warning("Dispatch's units are unavailable: seals go ahead, and readiness is assessed, with checkpoints only", metadata: ["xunfang.error": "\(error)"])
            return []
        }
    }

    /// Every plan's readiness on "checkpoint.readiness", once an `interval` of the county's
    /// time; never more than a fifth of a core (a fast harness clock would otherwise keep
    /// the searches running back to back).
    static func keepReadiness(_ seals: SealDesk, every interval: Duration, clock: PluginClock, bus: BusClient, logger: Logger) async {
        while !Task.isCancelled {
            try? await clock.sleep(for: interval)
            // Every plan running, or none drafted: nothing to assess, nobody to ask.
            guard (try? seals.hasIdlePlans()) != false else { continue }
            let started = ContinuousClock.now
            let units = await availableUnits(bus, logger: logger)
            do {
                for readiness in try await onOwnThread({ try seals.readiness(units: units, keep: true) }) {
                    try await bus.publish(readinessTopic, readiness)
                }
            } catch {
                logger.warning("seal readiness not assessed this time", metadata: ["xunfang.error": "\(error)"])
            }
            try? await Task.sleep(for: (ContinuousClock.now - started) * 4)
        }
    }

    /// An activation with Dispatch's available units when the request names none.
    static func activate(_ request: Xunfang_Checkpoint_V1_ActivateRequest, caller: String, seals: SealDesk, bus: BusClient,
                         logger: Logger) async throws -> Xunfang_Checkpoint_V1_SealActivation {
        var request = request
        if request.units.isEmpty, seals.citySeals?.plans[request.plan] == nil { request.units = await Self.availableUnits(bus, logger: logger) }
        return try await seals.activate(request, caller: caller)
    }

    /// Publishes the outbox until shutdown; first, when asked, seeds an empty registry
    /// from GridModel's sites.
    public func run(on bus: BusClient) async throws {
        if seedFromGrid { await seed(from: bus) }
        let registry = self.registry, seals = self.seals, logger = self.logger
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await Outbox.drain(registry.store.queue, bus: { bus }, wake: registry.wake.stream, logger: logger) }
            let containments = self.containments, interval = self.containmentInterval
            group.addTask {
                do {
                    try await bus.consume("unit.position", as: Xunfang_Dispatch_V1_UnitPosition.self) { position, _ in containments.position(position) }
                } catch {
                    // Without positions, containments use the staffed checkpoints alone; the rest of the plugin runs on.
                    logger.warning("unit.position is not available; live containments use checkpoints only", metadata: ["xunfang.error": "\(error)"])
                    while !Task.isCancelled { try? await Task.sleep(for: .seconds(60)) }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    do {
                        for containment in try await onOwnThread({ try containments.recompute() }) {
                            try await bus.publish("checkpoint.containment", containment)
                        }
                    } catch {
                        logger.warning("live containments could not be recomputed", metadata: ["xunfang.error": "\(error)"])
                    }
                }
            }
            if let cityOrders {
                group.addTask {
                    do {
                        try await cityOrders.follow(on: bus, seals: seals, activate: { request in
                            _ = try await Self.activate(request, caller: "bridge", seals: seals, bus: bus, logger: logger)
                        }, logger: logger)
                    } catch {
                        logger.error("the city's seal orders cannot be followed", metadata: ["xunfang.error": "\(error)"])
                    }
                }
            }
            if let citySeals = seals.citySeals {
                group.addTask {
                    do {
                        try await citySeals.follow(on: bus, seals: seals, logger: logger)
                    } catch {
                        logger.error("the counties' seal boards cannot be followed", metadata: ["xunfang.error": "\(error)"])
                    }
                }
            }
            if let readinessInterval {
                let clock = self.clock
                group.addTask { await Self.keepReadiness(seals, every: readinessInterval, clock: clock, bus: bus, logger: logger) }
            }
            group.addTask {
                // Seal deadlines are checked every 250 ms: a position passes on within a quarter second of its deadline.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    do {
                        try seals.tick()
                    } catch {
                        logger.error("seal deadlines could not be checked", metadata: ["xunfang.error": "\(error)"])
                    }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// The demo county's 8 public-security checkpoints and 5 city exits, from GridModel
    /// (which may start after this plugin: asked again until it answers).
    func seed(from bus: BusClient) async {
        guard (try? registry.store.isEmpty) == true else { return }
        var pause = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                var sites: [Xunfang_GridModel_V1_Site] = []
                for kind in [Xunfang_GridModel_V1_SiteKind.checkpoint, .cityExit] {
                    sites += try await bus.call(Self.listSites, Xunfang_GridModel_V1_ListSitesRequest.with { $0.kind = kind },
                                                as: Xunfang_GridModel_V1_ListSitesResponse.self).sites
                }
                for site in sites { _ = try registry.put(Self.demoCheckpoint(site), caller: "checkpoint") }
                logger.info("registry seeded from GridModel's sites", metadata: ["xunfang.count": "\(sites.count)"])
                seedTownPlan()
                return
            } catch {
                logger.info("waiting for GridModel's sites to seed the registry", metadata: ["xunfang.error": "\(error)"])
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(5))
            }
        }
    }

    /// The demo county's "close the town gates" plan: the town (its 4.2 km core and 100 m
    /// more) sealed within 1.5 km of its edge, drafted on the roads: the registry's
    /// checkpoints where they cut a road out, unit posts for the rest.
    func seedTownPlan() {
        guard (try? registry.store.plans().isEmpty) == true else { return }
        do {
            let plan = try seals.draftPlan(Self.demoTownPlan)
            _ = try seals.putPlan(.with { $0.plan = plan; $0.officer = "demo county" }, caller: "checkpoint")
            logger.info("seal plan TOWN drafted", metadata: ["xunfang.positions": "\(plan.positions.count)"])
        } catch {
            logger.warning("the demo town's seal plan could not be drafted on these roads", metadata: ["xunfang.error": "\(error)"])
        }
    }

    static var demoTownPlan: Xunfang_Checkpoint_V1_SealPlan {
        let parameters = SyntheticRoads.Parameters.demoCounty
        let projection = LocalProjection(origin: parameters.origin), half = parameters.coreSideMetres / 2 + 100
        return .with {
            $0.id = "TOWN"
            $0.name = "关城门·城区"
            $0.scope = .city
            $0.boundary = [(-half, -half), (half, -half), (half, half), (-half, half)].map { corner in
                let point = projection.unproject(PlanarPoint(x: corner.0, y: corner.1))
                return .with { $0.longitude = point.longitude; $0.latitude = point.latitude }
            }
        }
    }

    /// A site as a checkpoint with the demo county's staffing: a public-security
    /// checkpoint two lanes checked by hand (about 40 vehicles a lane an hour), 4 officers
    /// by day and 3 by night; a city exit four lanes with plate cameras (about 100), 6 and 4.
    static func demoCheckpoint(_ site: Xunfang_GridModel_V1_Site) -> Xunfang_Checkpoint_V1_PutRequest {
        let exit = site.kind == .cityExit
        return .with {
            $0.checkpoint = .with {
                $0.id = site.id
                $0.name = site.name
                $0.kind = exit ? .cityExit : .publicSecurity
                $0.longitude = site.position.longitude
                $0.latitude = site.position.latitude
                $0.lanes = exit ? 4 : 2
                $0.capacityPerHour = exit ? 400 : 80
                $0.staffDay = exit ? 6 : 4
                $0.staffNight = exit ? 4 : 3
            }
            $0.officer = "seeded from GridModel"
        }
    }
}

/// Ring requests in, `Containment` answers out: ids and positions turned into graph
/// nodes, limits checked, and errors as the wire's status codes.
/// One weight table per distinct metric, shared by the suspect and every unit using it.
struct WeightSets {
    let roads: RoadGraph
    let speeds: SpeedTable
    private(set) var sets: [[Double]] = []
    private var known: [Metric: Int] = [:]

    init(roads: RoadGraph, speeds: SpeedTable) {
        self.roads = roads
        self.speeds = speeds
    }

    mutating func index(of metric: Metric) -> Int {
        if let index = known[metric] { return index }
        sets.append(roads.weights(metric, speeds: speeds))
        known[metric] = sets.count - 1
        return sets.count - 1
    }
}

struct RingService: Sendable {
    let roads: RoadGraph
    let speeds: SpeedTable
    let nodes: PointIndex
    let projection: LocalProjection
    static let maxUnits = 500
    static let maxExits = 200

    init(roads: RoadGraph, speeds: SpeedTable) {
        self.roads = roads
        self.speeds = speeds
        let origin = roads.coordinates.first ?? GeoPoint(longitude: 0, latitude: 0)
        projection = LocalProjection(origin: origin)
        nodes = PointIndex(points: roads.coordinates.map(projection.project))
    }

    func ring(_ request: Xunfang_Checkpoint_V1_RingRequest) throws -> Xunfang_Checkpoint_V1_RingResponse {
        guard request.exits.count <= Self.maxExits else { throw BusClientError(.invalidArgument, "more than \(Self.maxExits) exits") }
        let metric: Metric
        switch request.metric {
        case .distance: metric = .distance
        case .time, .unspecified: metric = .time(try mode(request.suspectMode, what: "suspect_mode"))
        case .UNRECOGNIZED(let value): throw BusClientError(.invalidArgument, "metric \(value) is not a Metric")
        }
        var weightSets = WeightSets(roads: roads, speeds: speeds)
        let units = try self.units(request.units, metric: metric, weightSets: &weightSets)
        let suspectSet = weightSets.index(of: metric)
        let suspectWeights = weightSets.sets[suspectSet]
        let exits = try request.exits.enumerated().map { index, id in try self.node(id, 0, 0, what: "exits[\(index)]") }
        let problem = Containment.Problem(
            graph: roads, suspectWeights: suspectWeights, policeWeights: weightSets.sets,
            incident: try node(request.incidentNode, request.incidentLongitude, request.incidentLatitude, what: "incident"),
            headStart: request.headStart, boundary: request.boundary, margin: request.margin, units: units, exits: exits)
        let answer: Containment.Answer
        do {
            answer = try Containment.solve(problem)
        } catch {
            throw BusClientError(error.code == .notFound ? .notFound : .invalidArgument, error.message)
        }
        return response(answer)
    }

    /// The request's units on the graph, each with the weight set of its mode (or of
    /// distance), checked by name.
    func units(_ list: [Xunfang_Checkpoint_V1_RingUnit], metric: Metric, weightSets: inout WeightSets) throws -> [Containment.Unit] {
        guard list.count <= Self.maxUnits else { throw BusClientError(.invalidArgument, "more than \(Self.maxUnits) units") }
        var units: [Containment.Unit] = [], seen: Set<String> = []
        for (index, unit) in list.enumerated() {
            guard (1...64).contains(unit.id.utf8.count) else { throw BusClientError(.invalidArgument, "units[\(index)]: id must be 1 to 64 bytes") }
            guard seen.insert(unit.id).inserted else { throw BusClientError(.invalidArgument, "units[\(index)]: unit \(unit.id) appears twice") }
            let unitMode = try mode(unit.mode, what: "units[\(index)] (\(unit.id)) mode")
            let node = try self.node(unit.node, unit.longitude, unit.latitude, what: "units[\(index)] (\(unit.id))")
            let unitMetric: Metric = if case .time = metric { .time(unitMode) } else { .distance }
            units.append(Containment.Unit(id: unit.id, node: node, weightSet: weightSets.index(of: unitMetric), fixed: unit.fixed))
        }
        return units
    }

    func mode(_ name: String, what: String) throws -> TravelMode {
        guard let mode = TravelMode(rawValue: name.isEmpty ? "car" : name) else {
            throw BusClientError(.invalidArgument, "\(what) \"\(name)\" is not one of \(TravelMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return mode
    }

    /// A node by OSM id, or the road node nearest a WGS84 position when the id is 0.
    func node(_ id: Int64, _ longitude: Double, _ latitude: Double, what: String) throws -> Int {
        if id != 0 {
            guard let node = roads.node(osmID: id) else { throw BusClientError(.notFound, "\(what): node \(id) is not in the road graph") }
            return node
        }
        guard (-180...180).contains(longitude), (-90...90).contains(latitude), longitude != 0 || latitude != 0 else {
            throw BusClientError(.invalidArgument, "\(what): give a node id or a WGS84 position")
        }
        guard let nearest = nodes.nearest(to: projection.project(GeoPoint(longitude: longitude, latitude: latitude))) else {
            throw BusClientError(.notFound, "\(what): the road graph is empty")
        }
        return nearest.index
    }

    /// The named roads through a node, each once.
    func roadNames(at node: Int) -> [String] {
        var names: [String] = []
        for arc in roads.arcs(from: node) where !roads.name(ofArc: arc).isEmpty && !names.contains(roads.name(ofArc: arc)) { names.append(roads.name(ofArc: arc)) }
        return names
    }

    func escapeArc(_ arc: Int) -> Xunfang_Checkpoint_V1_EscapeArc {
        .with {
            $0.fromNode = roads.nodeIDs[roads.tail(ofArc: arc)]
            $0.toNode = roads.nodeIDs[Int(roads.arcHead[arc])]
            $0.roadName = roads.name(ofArc: arc)
        }
    }

    func response(_ answer: Containment.Answer) -> Xunfang_Checkpoint_V1_RingResponse {
        func point(_ point: Containment.Point) -> Xunfang_Checkpoint_V1_RingPoint {
            Xunfang_Checkpoint_V1_RingPoint.with {
                $0.node = roads.nodeIDs[point.node]
                $0.unit = point.unit
                $0.suspect = point.suspect
                $0.police = point.police
                $0.longitude = roads.coordinates[point.node].longitude
                $0.latitude = roads.coordinates[point.node].latitude
                $0.roadName = roadNames(at: point.node).first ?? ""
            }
        }
        return Xunfang_Checkpoint_V1_RingResponse.with {
            $0.feasible = answer.feasible
            $0.ring = answer.ring.map(point)
            $0.uncovered = answer.uncovered.map(escapeArc)
            $0.proved = answer.proved
            $0.latestPolice = answer.latestPolice
            $0.reason = answer.reason
            $0.hasFeasibleHeadStart_p = answer.feasibleHeadStart != nil
            $0.feasibleHeadStart = answer.feasibleHeadStart ?? 0
            $0.needed = answer.needed.map(point)
        }
    }
}
