public import Logging
public import XunfangPluginKit
public import Foundation
import Synchronization
public import XunfangGeo
import GridModelContract

/// GridModel: owns the county's geography and answers where things are and how long it
/// takes to get there. See Plugins/GridModel/README.md for its topics, services and settings.
public struct GridModelPlugin: Plugin {
    static let service = "/xunfang.grid_model.v1.GridModel/"
    public static let methods = ["Locate", "FourZones", "Eta", "Isochrone", "Coverage", "PlacePosts", "ListAreas", "ListSites", "Roads", "Edit"]
        .map { service + $0 }
    public static let changedTopic = "grid.changed"

    public static let manifest = PluginManifest(
        name: "grid-model", version: "0.1.0", publishes: [changedTopic], subscribes: [], serves: methods,
        topicTypes: [changedTopic: "xunfang.grid_model.v1.GridChanged"])

    public static var descriptorSet: Data { GridModelDescriptors.fileDescriptorSet }

    public static var commands: [PluginCommand] {
        [PluginCommand("import", "replace the county's areas and sites from a GeoJSON file (checked first)") { GridModelCommands.run(["import"] + $0) },
         PluginCommand("export", "write the county's areas and sites as GeoJSON") { GridModelCommands.run(["export"] + $0) }]
    }

    /// Inputs are bounded: a request may not make the plugin do unbounded work.
    static let maxUnits = 5_000
    static let maxThresholds = 8
    static let maxSeconds = 3_600.0
    static let maxDemand = 20_000
    static let maxCandidates = 2_000
    /// An Edit carries a GeoJSON FeatureCollection: the one field allowed past 8 KiB.
    static let maxEditBytes = 4 << 20

    private let model: ModelHolder
    private let store: GridStore?
    private let base: ModelBase
    private let logger: Logger

    /// Settings (county config `env` or environment):
    /// - `GRID_MODEL_ROADS`: a road graph file from `xunfang geo import-osm`; default the demo county's roads.
    /// - `GRID_MODEL_HIERARCHIES`: travel modes to build contraction hierarchies for at
    ///   start, comma-separated, or `none`; default all five. Eta answers from plain
    ///   searches until a mode's hierarchy is ready.
    /// - `GRID_MODEL_SPEEDS`: km/h per travel mode and road class, e.g. `car.primary=45`.
    /// - `GRID_MODEL_RESPONSE_TARGETS`: the county's response circles in seconds per place
    ///   class, e.g. `core=60,urban=180,support=300` (the documents' figures, the default);
    ///   a class left out keeps its default. Locate and FourZones answer with them.
    /// The hierarchy and sites live in `<data>/grid-model/grid-model.sqlite`, seeded with
    /// the demo county on first start; `xunfang grid-model import FILE.geojson` replaces them.
    public init(context: PluginContext) throws {
        logger = context.logger
        let started = ContinuousClock.now
        let roads = try Self.roads(settings: context.settings)
        let modes = try Self.hierarchyModes(context.settings["GRID_MODEL_HIERARCHIES"])
        let hierarchies = TravelHierarchies(roads: roads, speeds: try Self.speeds(context.settings["GRID_MODEL_SPEEDS"]))
        base = ModelBase(roads: roads, hierarchies: hierarchies, responseTargets: try Self.responseTargets(context.settings["GRID_MODEL_RESPONSE_TARGETS"]))
        let store = try GridStore(path: "\(context.dataDirectory)/grid-model.sqlite")
        self.store = store
        let county = try Self.load(store: store, base: base)
        model = ModelHolder(county)
        let logger = self.logger
        let cache = "\(context.dataDirectory)/hierarchies"
        try? FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        Thread.detachNewThread {
            for (mode, took, loaded) in hierarchies.build(modes, cacheDirectory: cache) {
                logger.info("contraction hierarchy ready", metadata: [
                    "xunfang.mode": "\(mode.rawValue)", "xunfang.took": "\(took)", "xunfang.source": "\(loaded ? "cache" : "built")"])
            }
        }
        logger.info("county model ready", metadata: [
            "xunfang.revision": "\(county.revision)", "xunfang.grids": "\(county.areas.count { $0.level == .grid })",
            "xunfang.sites": "\(county.sites.count)", "xunfang.road_nodes": "\(county.roads.nodeCount)",
            "xunfang.build": "\(ContinuousClock.now - started)"])
    }

    /// For tests and embedding: serve a model built elsewhere.
    public init(model county: CountyModel, logger: Logger) {
        self.logger = logger
        model = ModelHolder(county)
        base = ModelBase(roads: county.roads, hierarchies: county.hierarchies, responseTargets: county.responseTargets)
        store = nil
    }

    static func hierarchyModes(_ setting: String?) throws -> [TravelMode] {
        guard let setting, !setting.isEmpty else { return [.car, .motorcycle, .eBike, .foot, .bicycle] }
        if setting == "none" { return [] }
        return try setting.split(separator: ",").map { name in
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let mode = TravelMode(rawValue: trimmed) else {
                throw GeoError(.invalidInput, "GRID_MODEL_HIERARCHIES: unknown travel mode \"\(trimmed)\" (car, motorcycle, e-bike, bicycle, foot or none)")
            }
            return mode
        }
    }

    /// `core=60,urban=180,support=300`, any subset; each 10 s to 1 hour.
    public static func responseTargets(_ setting: String?) throws -> [PlaceClass: Double] {
        guard let setting, !setting.isEmpty else { return [:] }
        let names: [String: PlaceClass] = ["core": .core, "urban": .urban, "support": .support]
        var targets: [PlaceClass: Double] = [:]
        for entry in setting.split(separator: ",") {
            let parts = entry.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let placeClass = names[parts[0]], let seconds = Double(parts[1]), (10...3_600).contains(seconds) else {
                throw GeoError(.invalidInput, "GRID_MODEL_RESPONSE_TARGETS: \"\(entry)\" is not class=seconds (core, urban or support; 10 to 3600 s)")
            }
            guard targets.updateValue(seconds, forKey: placeClass) == nil else {
                throw GeoError(.invalidInput, "GRID_MODEL_RESPONSE_TARGETS: \(parts[0]) appears twice")
            }
        }
        return targets
    }

    /// `car.primary=45,car.residential=20,e-bike.*=20`: km/h per travel mode and road class
    /// (OSM `highway` values; `*` for every class the mode may use), 0 to close, at most
    /// 150. What is not named keeps `SpeedTable.default`.
    public static func speeds(_ setting: String?) throws -> SpeedTable {
        try SpeedTable(setting: setting, key: "GRID_MODEL_SPEEDS")
    }

    static func roads(settings: [String: String]) throws -> RoadGraph {
        if let path = settings["GRID_MODEL_ROADS"], !path.isEmpty { return try GraphFile.read(from: path) }
        return SyntheticRoads.county(DemoCounty.parameters)
    }

    /// The stored county, seeding the demo county into an empty store.
    static func load(store: GridStore, base: ModelBase) throws -> CountyModel {
        if let snapshot = try store.load() {
            return try base.model(snapshot)
        }
        let (areas, sites) = DemoCounty.layout(roads: base.roads)
        let revision = try store.replace(areas: areas, sites: sites, reason: "demo seed")
        return try base.model(GridStore.Snapshot(revision: revision, areas: areas, sites: sites))
    }

    /// The middle of the grids' extent: where the local projection is most exact.
    static func origin(of areas: [AreaRecord]) -> GeoPoint? {
        GeoPoint.middle(of: areas.compactMap(\.boundary).flatMap { $0.flatMap { $0.flatMap { $0 } } })
    }

    public func register(on bus: BusClient) {
        let model = self.model
        bus.serve(Self.service + "Locate") { (request: Xunfang_GridModel_V1_LocateRequest, _) in
            try Answers.locate(model.current, request)
        }
        bus.serve(Self.service + "FourZones") { (request: Xunfang_GridModel_V1_LocateRequest, _) in
            try Answers.fourZones(model.current, request)
        }
        bus.serve(Self.service + "Eta") { (request: Xunfang_GridModel_V1_EtaRequest, _) in
            try Answers.eta(model.current, request)
        }
        bus.serve(Self.service + "Isochrone") { (request: Xunfang_GridModel_V1_IsochroneRequest, _) in
            try Answers.isochrone(model.current, request)
        }
        bus.serve(Self.service + "Coverage") { (request: Xunfang_GridModel_V1_CoverageRequest, _) in
            try Answers.coverage(model.current, request)
        }
        bus.serve(Self.service + "PlacePosts") { (request: Xunfang_GridModel_V1_PlacePostsRequest, _) in
            try await Answers.placePosts(model.current, request)
        }
        bus.serve(Self.service + "ListAreas") { (request: Xunfang_GridModel_V1_ListAreasRequest, _) in
            Answers.listAreas(model.current, request)
        }
        bus.serve(Self.service + "ListSites") { (request: Xunfang_GridModel_V1_ListSitesRequest, _) in
            Answers.listSites(model.current, request)
        }
        bus.serve(Self.service + "Roads") { (_: Xunfang_GridModel_V1_RoadsRequest, _) in
            try await onOwnThread { Answers.roads(model.current.roads) }
        }
        guard let store else { return }
        let editor = CountyEditor(store: store, base: base, model: model)
        let logger = self.logger
        bus.serve(Self.service + "Edit", bounds: MessageBounds(maxFieldBytes: Self.maxEditBytes)) { [bus] (request: Xunfang_GridModel_V1_EditRequest, context) in
            let edited = try editor.edit(request)
            // Who changed the map is kept in the log (the bus has already checked they may).
            logger.notice("county edited", metadata: [
                "xunfang.caller": "\(context.caller)", "xunfang.revision": "\(edited.revision)",
                "xunfang.put_bytes": "\(request.featuresGeojson.utf8.count)", "xunfang.removed": "\(request.removeIds.joined(separator: ","))"])
            try await Self.announce(edited, on: bus, reason: "edited by \(context.caller)")
            var response = Xunfang_GridModel_V1_EditResponse()
            response.revision = edited.revision
            response.areas = UInt32(edited.areas.count)
            response.sites = UInt32(edited.sites.count)
            return response
        }
    }

    /// Announces the model, then watches the store: an import (or any edit) raises its
    /// revision, and the plugin reloads and announces `grid.changed` again.
    public func run(on bus: BusClient) async throws {
        // Subscribers that missed an announcement while the bus was away hear the current revision.
        let model = self.model
        bus.onConnect { Task { try? await Self.announce(model.current, on: bus, reason: "reconnected") } }
        await announce(on: bus, reason: "loaded")
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(2))
            guard let store, let stored = try? store.revision(), stored != model.current.revision else { continue }
            do {
                guard let snapshot = try store.load() else { continue }
                model.replace(try base.model(snapshot))
                logger.info("county model reloaded", metadata: ["xunfang.revision": "\(snapshot.revision)"])
                await announce(on: bus, reason: "reloaded")
            } catch {
                // A bad store keeps the last good model in service; the error says why.
                logger.error("cannot reload the county model; keeping revision \(model.current.revision)", metadata: ["xunfang.error": "\(error)"])
                try? await Task.sleep(for: .seconds(30))
            }
        }
    }

    /// A bus that is away (restarting) does not stop the plugin: the announcement is made
    /// again when the client reconnects.
    private func announce(on bus: BusClient, reason: String) async {
        do {
            try await Self.announce(model.current, on: bus, reason: reason)
        } catch {
            logger.warning("cannot announce grid.changed now; will on reconnecting", metadata: ["xunfang.error": "\(error)"])
        }
    }

    static func announce(_ county: CountyModel, on bus: BusClient, reason: String) async throws {
        var changed = Xunfang_GridModel_V1_GridChanged()
        changed.revision = county.revision
        changed.reason = reason
        changed.areaIds = county.areas.filter { $0.level == .grid }.map(\.id)
        try await bus.publish(changedTopic, changed)
    }
}

/// The model in use; replaced whole on reload, read without waiting.
final class ModelHolder: Sendable {
    private let model: Mutex<CountyModel>
    init(_ model: CountyModel) { self.model = Mutex(model) }
    var current: CountyModel { model.withLock { $0 } }
    func replace(_ new: CountyModel) { model.withLock { $0 = new } }
}

/// What every revision of the county is built on: the road graph, its hierarchies and the
/// county's response circles. Only the areas and sites change between revisions.
struct ModelBase: Sendable {
    let roads: RoadGraph
    let hierarchies: TravelHierarchies
    let responseTargets: [PlaceClass: Double]

    func model(_ snapshot: GridStore.Snapshot) throws(GeoError) -> CountyModel {
        try CountyModel(revision: snapshot.revision, areas: snapshot.areas, sites: snapshot.sites, roads: roads,
                        origin: GridModelPlugin.origin(of: snapshot.areas) ?? roads.coordinates.first ?? DemoCounty.parameters.origin,
                        responseTargets: responseTargets, hierarchies: hierarchies)
    }
}
