public import Logging
public import XunfangPluginKit
import Foundation
import Synchronization
import XunfangGeo
import XunfangProto

/// GridModel: owns the county's geography and answers where things are and how long it
/// takes to get there. See Plugins/GridModel/README.md for its topics, services and settings.
public struct GridModelPlugin: Plugin {
    static let service = "/xunfang.grid_model.v1.GridModel/"
    public static let methods = ["Locate", "FourZones", "Eta", "Isochrone", "Coverage", "PlacePosts", "ListAreas", "ListSites"]
        .map { service + $0 }
    public static let changedTopic = "grid.changed"

    public static let manifest = PluginManifest(
        name: "grid-model", version: "0.1.0", publishes: [changedTopic], subscribes: [], serves: methods)

    /// Inputs are bounded: a request may not make the plugin do unbounded work.
    static let maxUnits = 5_000
    static let maxThresholds = 8
    static let maxSeconds = 3_600.0
    static let maxDemand = 20_000
    static let maxCandidates = 2_000

    private let model: ModelHolder
    private let logger: Logger

    public init(context: PluginContext) throws {
        logger = context.logger
        let started = ContinuousClock.now
        let county = try DemoCounty.build()
        model = ModelHolder(county)
        logger.info("county model ready", metadata: [
            "xunfang.grids": "\(county.areas.count { $0.level == .grid })", "xunfang.sites": "\(county.sites.count)",
            "xunfang.road_nodes": "\(county.roads.nodeCount)", "xunfang.build": "\(ContinuousClock.now - started)"])
    }

    /// For tests and embedding: serve a model built elsewhere.
    public init(model county: CountyModel, logger: Logger) {
        self.logger = logger
        model = ModelHolder(county)
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
            try Answers.placePosts(model.current, request)
        }
        bus.serve(Self.service + "ListAreas") { (request: Xunfang_GridModel_V1_ListAreasRequest, _) in
            Answers.listAreas(model.current, request)
        }
        bus.serve(Self.service + "ListSites") { (request: Xunfang_GridModel_V1_ListSitesRequest, _) in
            Answers.listSites(model.current, request)
        }
    }

    public func run(on bus: BusClient) async throws {
        var changed = Xunfang_GridModel_V1_GridChanged()
        changed.revision = model.current.revision
        changed.reason = "loaded"
        try await bus.publish(Self.changedTopic, changed)
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3_600))
        }
    }
}

/// The model in use; replaced whole on reload, read without waiting.
final class ModelHolder: Sendable {
    private let model: Mutex<CountyModel>
    init(_ model: CountyModel) { self.model = Mutex(model) }
    var current: CountyModel { model.withLock { $0 } }
    func replace(_ new: CountyModel) { model.withLock { $0 = new } }
}
