import Foundation
import XunfangTestSupport
import GridModelPlugin
import Logging
import Testing
import XunfangConfig
import XunfangGeo
import XunfangPluginKit
import GridModelContract

@Suite("GridModel store and GeoJSON")
struct GridStoreTests {
    @Test("the store keeps what it is given, and every replace raises the revision")
    func store() throws {
        let store = try GridStore(path: temporaryDirectory() + "/grid.sqlite")
        #expect(try store.load() == nil)
        let (areas, sites) = DemoCounty.layout(roads: demo.roads)
        #expect(try store.replace(areas: areas, sites: sites) == 1)
        let snapshot = try #require(try store.load())
        #expect(snapshot.revision == 1)
        #expect(snapshot.areas.sorted { $0.id < $1.id } == areas.sorted { $0.id < $1.id })
        #expect(snapshot.sites.sorted { $0.id < $1.id } == sites.sorted { $0.id < $1.id })
        #expect(try store.replace(areas: areas, sites: []) == 2)
        #expect(try store.load()?.sites.isEmpty == true)
    }

    @Test("export then import gives back the same county, and a point locates to the same grid")
    func roundTrip() throws {
        let features = CountyGeoJSON.features(areas: demo.areas, sites: demo.sites)
        let parsed = try GeoJSON.parse(GeoJSON.write(features))
        let (areas, sites) = try CountyGeoJSON.records(from: parsed)
        #expect(areas.count == demo.areas.count && sites.count == demo.sites.count)
        // Lines keep their routes (GeoJSON carries positions to 1e-7 degrees, about a centimetre).
        let lines = sites.filter { $0.kind == .patrolLine }, original = demo.sites.filter { $0.kind == .patrolLine }
        #expect(lines.map(\.id) == original.map(\.id))
        for (line, before) in zip(lines, original) {
            #expect(line.path?.count == before.path?.count && Haversine.metres(line.position, before.position) < 0.05)
            #expect(zip(line.path ?? [], before.path ?? []).allSatisfy { Haversine.metres($0, $1) < 0.05 }, "\(line.id)")
        }
        let again = try CountyModel(revision: 2, areas: areas, sites: sites, roads: demo.roads, origin: DemoCounty.parameters.origin)
        var random = SyntheticRoads.Generator(state: 12)
        for _ in 0..<200 {
            let point = at(Double.random(in: -11_000..<11_000, using: &random), Double.random(in: -11_000..<11_000, using: &random))
            #expect(again.locate(point)?.grid.id == demo.locate(point)?.grid.id)
        }
    }

    @Test("import and export commands work on the store; a bad file leaves it untouched")
    func commands() throws {
        let directory = temporaryDirectory()
        let exported = directory + "/county.geojson"
        let environment = ["XUNFANG_DATA_DIR": directory]
        // An empty store exports an empty collection; seed it through an import of the demo.
        try GeoJSON.write(CountyGeoJSON.features(areas: demo.areas, sites: demo.sites)).write(to: URL(fileURLWithPath: exported))
        #expect(GridModelCommands.run(["import", exported], environment: environment) == 0)
        let store = try GridStore(path: directory + "/grid-model/grid-model.sqlite")
        #expect(try store.revision() == 1)
        #expect(GridModelCommands.run(["export", "--out", directory + "/again.geojson"], environment: environment) == 0)
        #expect(try GeoJSON.read(path: directory + "/again.geojson").count == demo.areas.count + demo.sites.count)

        let orphan = #"{"type":"FeatureCollection","features":[{"type":"Feature","id":"G","properties":{"xf_kind":"grid","parent":"nowhere"},"geometry":{"type":"Polygon","coordinates":[[[104,31],[104.1,31],[104.1,31.1],[104,31]]]}}]}"#
        try orphan.write(toFile: directory + "/bad.geojson", atomically: true, encoding: .utf8)
        #expect(GridModelCommands.run(["import", directory + "/bad.geojson"], environment: environment) != 0)
        let unknown = #"{"type":"FeatureCollection","features":[{"type":"Feature","id":"X","properties":{"xf_kind":"spaceport"},"geometry":null}]}"#
        try unknown.write(toFile: directory + "/unknown.geojson", atomically: true, encoding: .utf8)
        #expect(GridModelCommands.run(["import", directory + "/unknown.geojson"], environment: environment) != 0)
        #expect(try store.revision() == 1, "refused imports change nothing")
    }

    @Test("an import that removes much needs --replace, an empty file is refused, and rollback restores the kept revision")
    func importNeverDestroysByAccident() throws {
        let directory = temporaryDirectory()
        let environment = ["XUNFANG_DATA_DIR": directory]
        let store = try GridStore(path: { try! FileManager.default.createDirectory(atPath: directory + "/grid-model", withIntermediateDirectories: true)
            return directory + "/grid-model/grid-model.sqlite" }())
        try store.replace(areas: demo.areas, sites: demo.sites)
        func file(_ name: String, areas: [AreaRecord], sites: [SiteRecord]) throws -> String {
            let path = directory + "/" + name
            try GeoJSON.write(CountyGeoJSON.features(areas: areas, sites: sites)).write(to: URL(fileURLWithPath: path))
            return path
        }
        let empty = directory + "/empty.geojson"
        try #"{"type":"FeatureCollection","features":[]}"#.write(toFile: empty, atomically: true, encoding: .utf8)
        #expect(GridModelCommands.run(["import", empty], environment: environment) != 0)
        #expect(GridModelCommands.run(["import", empty, "--replace"], environment: environment) != 0, "an empty county is never imported")
        #expect(try store.load()?.areas.count == demo.areas.count)

        // The core grids only: most grids would go. Refused by default, with the share in the message.
        let core = try file("core.geojson", areas: demo.areas.filter { $0.level != .grid || $0.placeClass == .core }, sites: demo.sites)
        #expect(GridModelCommands.run(["import", core], environment: environment) != 0)
        #expect(GridModelCommands.run(["import", core, "--max-removal", "95"], environment: environment) == 0, "a county may raise the share")
        #expect(try store.revision() == 2)
        #expect(GridModelCommands.run(["rollback"], environment: environment) == 0)
        #expect(try store.revision() == 3)
        #expect(try store.load()?.areas == demo.areas.sorted { ($0.level.rawValue, $0.id) < ($1.level.rawValue, $1.id) })

        // One site removed of many is under the share: no flag needed. A dry run changes nothing.
        let fewer = try file("fewer.geojson", areas: demo.areas, sites: Array(demo.sites.dropFirst()))
        #expect(GridModelCommands.run(["import", fewer, "--dry-run"], environment: environment) == 0)
        #expect(try store.revision() == 3)
        #expect(GridModelCommands.run(["import", fewer], environment: environment) == 0)
        #expect(try store.load()?.sites.count == demo.sites.count - 1)
        #expect(GridModelCommands.run(["import", core], environment: environment.merging(["GRID_MODEL_MAX_REMOVAL_PERCENT": "1"]) { $1 }) != 0)
        #expect(GridModelCommands.run(["import", core, "--replace"], environment: environment) == 0)

        let kept = try store.keptRevisions()
        #expect(kept.map(\.revision) == [4, 3, 2, 1] && kept[0].reason == "import of core.geojson" && kept[2].reason == "rollback to 1")
        #expect(GridModelCommands.run(["rollback", "--to", "99"], environment: environment) != 0)
        #expect(GridModelCommands.run(["rollback", "--to", "2"], environment: environment) == 0)
        #expect(try store.load()?.areas.count == demo.areas.count { $0.level != .grid || $0.placeClass == .core })
        #expect(GridModelCommands.run(["revisions"], environment: environment) == 0)
    }

    @Test("the grid store of the previous release opens, keeps its county, and starts keeping revisions")
    func upgradeFromPreviousRelease() throws {
        let directory = temporaryDirectory()
        let fixture = try #require(Bundle.module.path(forResource: "release-0.1-grid-model", ofType: "sqlite", inDirectory: "Fixtures"))
        try FileManager.default.copyItem(atPath: fixture, toPath: directory + "/grid-model.sqlite")
        let store = try GridStore(path: directory + "/grid-model.sqlite")
        let snapshot = try #require(try store.load())
        #expect(snapshot.areas.count == demo.areas.count && snapshot.sites.count == demo.sites.count)
        #expect(try store.keptRevisions().isEmpty)
        try store.replace(areas: snapshot.areas, sites: Array(snapshot.sites.dropFirst()), reason: "test")
        #expect(try store.keptRevisions().map(\.revision) == [snapshot.revision])
    }

    @Test("records refuse what GridModel cannot store, naming the feature", arguments: [
        (#"{"type":"Feature","properties":{"xf_kind":"grid"},"geometry":null}"#, "an id of 1 to 64 characters"),
        (#"{"type":"Feature","id":"A","properties":{},"geometry":null}"#, "xf_kind is required"),
        (#"{"type":"Feature","id":"A","properties":{"xf_kind":"grid","parent":"S"},"geometry":{"type":"Point","coordinates":[104,31]}}"#, "needs a Polygon"),
        (#"{"type":"Feature","id":"A","properties":{"xf_kind":"checkpoint"},"geometry":null}"#, "needs a Point"),
        (#"{"type":"Feature","id":"A","properties":{"xf_kind":"station"},"geometry":null}"#, "needs a parent"),
        (#"{"type":"Feature","id":"A","properties":{"xf_kind":"patrol_line"},"geometry":{"type":"Point","coordinates":[104,31]}}"#, "needs a LineString"),
        (#"{"type":"Feature","id":"A","properties":{"xf_kind":"grid","parent":"S","place_class":"downtown"},"geometry":null}"#, "place_class"),
    ])
    func refuses(feature: String, expected: String) throws {
        let features = try GeoJSON.parse(Data(feature.utf8))
        do {
            _ = try CountyGeoJSON.records(from: features)
            Issue.record("accepted \(feature)")
        } catch {
            #expect(error.message.contains("feature 0"), "\(error.message)")
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test("a running plugin seeds an empty store, then reloads after an import and announces grid.changed")
    func reload() async throws {
        let stack = try await PluginOnBus.start(peer: "watcher")
        let (directory, changes) = (stack.directory, try await stack.peer.subscribe("grid.changed"))
        let running = Task { try await stack.plugin.run(on: stack.client) }

        var iterator = changes.makeAsyncIterator()
        let first = try #require(await iterator.next()).decode(Xunfang_GridModel_V1_GridChanged.self)
        #expect(first.reason == "loaded" && first.revision == 1 && first.areaIds.count == 129)

        // Keep only the core's 25 grids and their parents.
        let core = demo.areas.filter { $0.level != .grid || $0.placeClass == .core }
        let file = directory + "/core.geojson"
        try GeoJSON.write(CountyGeoJSON.features(areas: core, sites: [])).write(to: URL(fileURLWithPath: file))
        #expect(GridModelCommands.run(["import", file, "--replace"], environment: ["XUNFANG_DATA_DIR": directory]) == 0)
        let second = try #require(await iterator.next()).decode(Xunfang_GridModel_V1_GridChanged.self)
        #expect(second.reason == "reloaded" && second.revision == 2 && second.areaIds.count == 25)
        running.cancel()
        await stack.stop()
    }

    @Test("the county's response circles come from GRID_MODEL_RESPONSE_TARGETS and stay after an edit; a bad value is refused by name")
    func responseTargets() async throws {
        #expect(try GridModelPlugin.responseTargets("core=45, support=600") == [.core: 45, .support: 600])
        #expect(try GridModelPlugin.responseTargets(nil).isEmpty)
        // Road speeds are the county's too.
        let speeds = try GridModelPlugin.speeds("car.primary=45, e-bike.*=20, foot.motorway=0")
        #expect(speeds.kilometresPerHour[.car]?[.primary] == 45 && speeds.kilometresPerHour[.car]?[.residential] == 25)
        #expect(speeds.kilometresPerHour[.eBike]?[.residential] == 20 && speeds.kilometresPerHour[.eBike]?[.motorway] == 0, "* keeps closed roads closed")
        for bad in ["car.primary=200", "boat.primary=10", "car.footway=10", "car.primary", "car.primary=40,car.primary=45"] {
            #expect(throws: GeoError.self, "\(bad)") { try GridModelPlugin.speeds(bad) }
        }
        for bad in ["core=5", "centre=60", "core", "core=60,core=90", "urban=three"] {
            #expect(throws: (any Error).self, "\(bad)") { try GridModelPlugin.responseTargets(bad) }
        }
        let stack = try await PluginOnBus.start(peer: "desk", settings: ["GRID_MODEL_RESPONSE_TARGETS": "core=45,urban=150"])
        let desk = stack.peer
        func target(_ point: GeoPoint) async throws -> UInt32 {
            var request = Xunfang_GridModel_V1_LocateRequest()
            request.position.longitude = point.longitude
            request.position.latitude = point.latitude
            return try await desk.call("/xunfang.grid_model.v1.GridModel/Locate", request, as: Xunfang_GridModel_V1_LocateResponse.self)
                .responseTargetSeconds
        }
        let core = try #require(demo.areas.first { $0.level == .grid && $0.placeClass == .core })
        let centre = try #require(core.boundary.flatMap { GeoPoint.middle(of: $0.flatMap { $0.flatMap { $0 } }) })
        #expect(try await target(centre) == 45)
        var edit = Xunfang_GridModel_V1_EditRequest()
        let added = SiteRecord(id: "510000-PP901", name: "加的必巡点", kind: .patrolPoint, position: at(-100, 50))
        edit.featuresGeojson = String(decoding: GeoJSON.write(CountyGeoJSON.features(areas: [], sites: [added])), as: UTF8.self)
        _ = try await desk.call("/xunfang.grid_model.v1.GridModel/Edit", edit, as: Xunfang_GridModel_V1_EditResponse.self)
        #expect(try await target(centre) == 45, "an edited county keeps the county's circles")
        await stack.stop()
    }

    @Test("Edit puts and removes by id, stores, swaps the model and announces; a bad or stale edit changes nothing")
    func editOverTheBus() async throws {
        let stack = try await PluginOnBus.start(peer: "desk")
        let (desk, pluginDirectory) = (stack.peer, stack.directory + "/grid-model")
        let changes = try await desk.subscribe("grid.changed")
        let running = Task { try await stack.plugin.run(on: stack.client) }
        var iterator = changes.makeAsyncIterator()
        _ = try #require(await iterator.next())  // loaded

        let method = "/xunfang.grid_model.v1.GridModel/Edit"
        let point = try #require(demo.sites.first { $0.kind == .patrolPoint })
        let moved = SiteRecord(id: point.id, name: "新必巡点", kind: .patrolPoint, position: at(100, 100))
        let added = SiteRecord(id: "510000-PP900", name: "加的必巡点", kind: .patrolPoint, position: at(-100, 50))
        var request = Xunfang_GridModel_V1_EditRequest()
        request.featuresGeojson = String(decoding: GeoJSON.write(CountyGeoJSON.features(areas: [], sites: [moved, added])), as: UTF8.self)
        request.removeIds = ["510000-CP001"]
        request.expectedRevision = 1
        let answer = try await desk.call(method, request, as: Xunfang_GridModel_V1_EditResponse.self)
        #expect(answer.revision == 2 && answer.sites == UInt32(demo.sites.count))
        let changed = try #require(await iterator.next()).decode(Xunfang_GridModel_V1_GridChanged.self)
        #expect(changed.revision == 2 && changed.reason == "edited by desk")
        var list = Xunfang_GridModel_V1_ListSitesRequest()
        list.kind = .patrolPoint
        let points = try await desk.call("/xunfang.grid_model.v1.GridModel/ListSites", list, as: Xunfang_GridModel_V1_ListSitesResponse.self).sites
        #expect(points.contains { $0.id == added.id } && points.first { $0.id == point.id }?.name == "新必巡点")
        list.kind = .checkpoint
        #expect(try await desk.call("/xunfang.grid_model.v1.GridModel/ListSites", list, as: Xunfang_GridModel_V1_ListSitesResponse.self).sites.count == 7)

        // Refused whole: a stale revision, a station removed under its grids, an unknown id.
        func refusal(_ edit: Xunfang_GridModel_V1_EditRequest) async -> BusClientError? {
            do {
                _ = try await desk.call(method, edit, as: Xunfang_GridModel_V1_EditResponse.self)
                return nil
            } catch { return error as? BusClientError }
        }
        #expect(await refusal(request)?.code == .aborted)
        var orphaning = Xunfang_GridModel_V1_EditRequest()
        orphaning.removeIds = ["510000-01-01"]
        let orphaned = await refusal(orphaning)
        #expect(orphaned?.code == .invalidArgument && orphaned?.message.contains("510000-01-01") == true)
        var unknown = Xunfang_GridModel_V1_EditRequest()
        unknown.removeIds = ["510000-XX999"]
        #expect(await refusal(unknown)?.code == .notFound)
        #expect(await refusal(Xunfang_GridModel_V1_EditRequest())?.code == .invalidArgument)
        let store = try GridStore(path: pluginDirectory + "/grid-model.sqlite")
        #expect(try store.revision() == 2, "refused edits store nothing")

        running.cancel()
        await stack.stop()
    }

    @Test("edits merge by id and refuse ambiguous or unknown ids")
    func editMerge() throws {
        let areas = demo.areas, sites = demo.sites
        let renamed = SiteRecord(id: sites[0].id, name: "改名", kind: sites[0].kind, position: sites[0].position)
        let result = try CountyEdit.apply(areas: areas, sites: sites, putAreas: [], putSites: [renamed], remove: [sites[1].id])
        #expect(result.sites.count == sites.count - 1 && result.sites.contains(renamed) && !result.sites.contains { $0.id == sites[1].id })
        #expect(result.areas == areas)
        #expect(throws: GeoError.self) { try CountyEdit.apply(areas: areas, sites: sites, putAreas: [], putSites: [renamed], remove: [renamed.id]) }
        #expect(throws: GeoError.self) { try CountyEdit.apply(areas: areas, sites: sites, putAreas: [], putSites: [renamed, renamed], remove: []) }
        #expect(throws: GeoError.self) { try CountyEdit.apply(areas: areas, sites: sites, putAreas: [], putSites: [], remove: ["nope", "nope"]) }
        do {
            _ = try CountyEdit.apply(areas: areas, sites: sites, putAreas: [], putSites: [], remove: ["nope"])
            Issue.record("removed an unknown id")
        } catch {
            #expect(error.code == .notFound && error.message.contains("nope"))
        }
    }
}

/// GridModel from its own store in a temporary data directory, on an in-process bus, and
/// one more client (`peer`) that may subscribe to `grid.>` and call GridModel.
struct PluginOnBus {
    static let secret = "grid-test-secret-0123456789"
    let directory: String
    let plugin: GridModelPlugin
    let bus: InProcessBus
    let client: BusClient
    let peer: BusClient

    static func start(peer name: String, settings: [String: String] = [:]) async throws -> PluginOnBus {
        let directory = temporaryDirectory()
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        var config = CountyConfig(county: "Test", dataDirectory: directory, principals: [
            PrincipalConfig(name: "grid-model", credential: secret, acl: AccessControl(publish: [try TopicPattern("grid.>")],
                                                                                     serve: [try MethodPattern("/xunfang.grid_model.v1.GridModel/*")])),
            PrincipalConfig(name: name, credential: secret, acl: AccessControl(subscribe: [try TopicPattern("grid.>")],
                                                                             call: [try MethodPattern("/xunfang.grid_model.v1.GridModel/*")])),
        ])
        // Liveness has its own tests; here a busy machine (heavy tests beside these on two
        // cores) must not make the bus drop an in-process client that missed its pings.
        config.bus.pingIntervalMilliseconds = 600_000
        // The county is built before anyone connects: under load that takes seconds, and
        // the bus would meanwhile be pinging an idle test client.
        let pluginDirectory = directory + "/grid-model"
        try FileManager.default.createDirectory(atPath: pluginDirectory, withIntermediateDirectories: true)
        let plugin = try GridModelPlugin(context: PluginContext(instance: "grid-model", dataDirectory: pluginDirectory,
                                                                settings: settings.merging(["GRID_MODEL_HIERARCHIES": "none"]) { mine, _ in mine },
                                                                logger: quiet))
        let bus = InProcessBus(config: config, credentials: ["grid-model": secret, name: secret], logger: quiet)
        let peer = BusClient(transport: .inProcess(bus), manifest: PluginManifest(name: name, version: "1.0.0"), credential: secret, logger: quiet, callTimeout: .seconds(120))
        try await peer.start()
        let client = BusClient(transport: .inProcess(bus), manifest: GridModelPlugin.manifest, credential: secret, logger: quiet, callTimeout: .seconds(120))
        plugin.register(on: client)
        try await client.start()
        return PluginOnBus(directory: directory, plugin: plugin, bus: bus, client: client, peer: peer)
    }

    func stop() async {
        await client.close()
        await peer.close()
        await bus.shutdown()
    }
}
