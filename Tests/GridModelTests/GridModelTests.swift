import Foundation
import GridModelPlugin
import Logging
import Testing
import XunfangBus
import XunfangConfig
import XunfangGeo
import XunfangPluginKit
import GridModelContract

/// Built once: the demo county takes a fraction of a second, and every test reads it.
let demo: CountyModel = try! DemoCounty.build()
let projection = LocalProjection(origin: DemoCounty.parameters.origin)
func at(_ x: Double, _ y: Double) -> GeoPoint { projection.unproject(PlanarPoint(x: x, y: y)) }

@Suite("Demo county")
struct DemoCountyTests {
    @Test("has the documents' figures: 3 branches, 12 stations, 129 grids, 105 lines, 677 points, 8 checkpoints, 5 exits")
    func figures() {
        #expect(demo.areas.count { $0.level == .grid } == 129)
        #expect(demo.areas.count { $0.level == .cityBureau } == 1)
        #expect(demo.areas.count { $0.level == .branch } == 3)
        #expect(demo.areas.count { $0.level == .station } == 12)
        #expect(demo.sites.count { $0.kind == .patrolLine } == 105)
        #expect(demo.sites.count { $0.kind == .patrolPoint } == 677)
        #expect(demo.sites.count { $0.kind == .checkpoint } == 8)
        #expect(demo.sites.count { $0.kind == .cityExit } == 5)
        #expect((500...5_000).contains(demo.roads.nodeCount), "junctions of a county at real road density: \(demo.roads.nodeCount)")
        // Every grid chains up to the city bureau; unified numbers nest.
        for grid in demo.areas where grid.level == .grid {
            let chain = demo.locate(gridCentre(grid))
            #expect(chain?.grid.id == grid.id)
            #expect(chain.map { grid.id.hasPrefix($0.station.id) && $0.station.id.hasPrefix($0.branch.id) } == true)
        }
    }

    @Test("must-patrol lines follow the roads: each step is an arc, and the line sits at its middle")
    func patrolLines() throws {
        var arcs: Set<[Int]> = []
        for tail in 0..<demo.roads.nodeCount {
            for arc in demo.roads.arcs(from: tail) { arcs.insert([tail, Int(demo.roads.arcHead[arc])]) }
        }
        let nodeAt = Dictionary(demo.roads.coordinates.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
        for line in demo.sites where line.kind == .patrolLine {
            let path = try #require(line.path)
            #expect(path.count >= 2 && line.position == path[path.count / 2])
            let nodes = path.compactMap { nodeAt[$0] }
            #expect(nodes.count == path.count)
            for index in 1..<nodes.count { #expect(arcs.contains([nodes[index - 1], nodes[index]]), "\(line.id) step \(index)") }
            let metres = zip(path, path.dropFirst()).reduce(0) { $0 + Haversine.metres($1.0, $1.1) }
            #expect(metres > 300 && metres < 6_000, "\(line.id): \(metres) m")
        }
        #expect(demo.sites.filter { $0.kind != .patrolLine }.allSatisfy { $0.path == nil })
    }

    @Test("the nearest road segment is one a point lies on, named the same from both ends")
    func roadSegment() throws {
        let arc = try #require(demo.roads.arcClass.indices.first { demo.roads.arcClass[$0] == .primary && $0 > demo.roads.arcCount / 3 })
        let tail = try #require((0..<demo.roads.nodeCount).first { demo.roads.arcs(from: $0).contains(arc) })
        let head = Int(demo.roads.arcHead[arc])
        let a = demo.roads.coordinates[tail], b = demo.roads.coordinates[head]
        let middle = GeoPoint(longitude: (a.longitude + b.longitude) / 2, latitude: (a.latitude + b.latitude) / 2)
        let segment = try #require(demo.roadSegment(near: middle))
        let ids = [demo.roads.nodeIDs[tail], demo.roads.nodeIDs[head]].sorted()
        #expect(segment.id == "\(ids[0])-\(ids[1])" && segment.metres < 0.5)
        #expect(segment.name == demo.roads.name(ofArc: arc) && !segment.name.isEmpty, "the demo town's streets have names")
    }

    @Test("the demo has a real county's road density: about 8 km per km² in the town, 2 outside; a 3-minute car ride reaches the town, not 584 km")
    func plausibleRoads() throws {
        let projection = LocalProjection(origin: DemoCounty.parameters.origin)
        let coreHalf = DemoCounty.parameters.coreSideMetres / 2
        var coreMetres = 0.0, ruralMetres = 0.0
        for tail in 0..<demo.roads.nodeCount {
            for arc in demo.roads.arcs(from: tail) {
                let head = Int(demo.roads.arcHead[arc])
                // Each two-way road once; a one-way street has a single arc.
                let twoWay = demo.roads.arcs(from: head).contains { Int(demo.roads.arcHead[$0]) == tail }
                guard !twoWay || tail < head else { continue }
                let middle = projection.project(demo.roads.coordinates[tail])
                if abs(middle.x) < coreHalf && abs(middle.y) < coreHalf { coreMetres += demo.roads.arcLength[arc] } else { ruralMetres += demo.roads.arcLength[arc] }
            }
        }
        let coreArea = pow(DemoCounty.parameters.coreSideMetres / 1_000, 2), countyArea = pow(DemoCounty.parameters.sideMetres / 1_000, 2)
        let coreDensity = coreMetres / 1_000 / coreArea, ruralDensity = ruralMetres / 1_000 / (countyArea - coreArea)
        #expect((6...12).contains(coreDensity), "town: \(coreDensity) km/km²")
        #expect((1...4).contains(ruralDensity), "countryside: \(ruralDensity) km/km²")
        let reach = try #require(demo.isochrone(from: DemoCounty.parameters.origin, seconds: 180, mode: .car))
        #expect(reach.roadMetres > 30_000 && reach.roadMetres < 250_000, "\(reach.roadMetres / 1_000) km within 3 minutes")
    }

    @Test("grids tile the county: every point inside lies in exactly one grid, points outside in none")
    func tiling() throws {
        var random = SyntheticRoads.Generator(state: 9)
        let half = DemoCounty.parameters.sideMetres / 2
        let gridCount = demo.areas.count { $0.level == .grid }
        for _ in 0..<3_000 {
            let point = at(Double.random(in: -half..<half, using: &random), Double.random(in: -half..<half, using: &random))
            let holders = demo.areas.filter { $0.level == .grid }.filter { grid in
                let rings = grid.boundary![0][0].map(projection.project)
                return (try? Polygon(outer: Ring(rings)).contains(projection.project(point))) == true
            }
            #expect(holders.count == 1, "\(point) lies in \(holders.map(\.id))")
            #expect(demo.locate(point)?.grid.id == holders.first?.id)
        }
        #expect(gridCount == 129)
        #expect(demo.locate(at(half + 500, 0)) == nil)
    }

    @Test("the core is the core: its centre answers the 1-minute circle, the edge the 5-minute one")
    func placeClasses() {
        #expect(demo.locate(at(10, 10))?.grid.placeClass == .core)
        #expect(demo.targetSeconds(.core) == 60)
        #expect(demo.locate(at(11_000, 11_000))?.grid.placeClass == .support)
    }

    func gridCentre(_ grid: AreaRecord) -> GeoPoint {
        let ring = grid.boundary![0][0].map(projection.project)
        return projection.unproject(BoundingBox(covering: ring).centre)
    }
}

@Suite("County queries")
struct CountyQueryTests {
    @Test("four zones partition the stations: own, adjacent (touching grids), same branch, the rest")
    func fourZones() throws {
        let station = try #require(demo.locate(at(100, 100))?.station.id)
        let zones = demo.fourZones(aroundStation: station)
        let all = demo.areas.filter { $0.level == .station }.map(\.id)
        let listed = zones.own + zones.adjacent + zones.branchSupport + zones.citySupport
        #expect(listed.sorted() == all.sorted())
        #expect(Set(listed).count == listed.count)
        #expect(!zones.adjacent.isEmpty)
        // The four urban quadrant stations all meet at the centre.
        #expect(zones.adjacent.filter { demo.area($0)?.parentID == demo.area(station)?.parentID }.count == 3)
    }

    @Test("ETAs from one backward search equal each unit's own forward route")
    func etaMatchesForward() throws {
        var random = SyntheticRoads.Generator(state: 4)
        let units: [(position: GeoPoint, mode: TravelMode)] = (0..<40).map { index in
            (at(Double.random(in: -9_000..<9_000, using: &random), Double.random(in: -9_000..<9_000, using: &random)),
             [TravelMode.car, .foot, .eBike][index % 3])
        }
        let target = at(300, -200)
        let (times, targetSnap) = try #require(demo.travelTimes(to: target, units: units))
        #expect(abs(targetSnap - (try #require(demo.snap(target))).metres) < 1e-9)
        for (index, unit) in units.enumerated() {
            let start = try #require(demo.snap(unit.position, mode: unit.mode))
            let targetNode = try #require(demo.snap(target, mode: unit.mode))
            let forward = ShortestPathSearch(graph: demo.roads, weights: demo.roads.weights(.time(unit.mode)))
            forward.run(from: [(start.node, 0)])
            // To the road and along it to the junction, at each end.
            let expected = forward.cost(targetNode.node) + start.seconds + targetNode.seconds
            #expect(abs(times[index].seconds - expected) < 1e-6 * max(1, expected), "unit \(index) \(unit.mode)")
        }
    }

    @Test("with a car hierarchy built, car ETAs and road metres equal the plain search's; other modes still answer")
    func etaThroughHierarchy() throws {
        let hierarchies = TravelHierarchies(roads: demo.roads)
        let model = try CountyModel(revision: 1, areas: demo.areas, sites: demo.sites, roads: demo.roads,
                                    origin: DemoCounty.parameters.origin, hierarchies: hierarchies)
        #expect(hierarchies.build([.car]).count == 1 && hierarchies.modes == [.car])
        #expect(hierarchies.build([.car]).isEmpty, "a built mode is not built again")
        // With a cache, the next start loads what this one built.
        let cache = NSTemporaryDirectory() + "xf-hierarchies-\(UInt64.random(in: 0..<UInt64.max))"
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        var small = DemoCounty.parameters
        small.sideMetres = 4_000
        small.coreSideMetres = 1_000
        let roads = SyntheticRoads.county(small)
        #expect(TravelHierarchies(roads: roads).build([.foot], cacheDirectory: cache).map(\.loaded) == [false])
        let restarted = TravelHierarchies(roads: roads)
        #expect(restarted.build([.foot], cacheDirectory: cache).map(\.loaded) == [true] && restarted.modes == [.foot])
        var random = SyntheticRoads.Generator(state: 8)
        let units: [(position: GeoPoint, mode: TravelMode)] = (0..<60).map { index in
            (at(Double.random(in: -11_000..<11_000, using: &random), Double.random(in: -11_000..<11_000, using: &random)),
             index % 4 == 0 ? .foot : .car)
        }
        for target in [at(300, -200), at(-8_000, 9_500)] {
            let fast = try #require(model.travelTimes(to: target, units: units, maxSeconds: 900))
            let plain = try #require(model.travelTimes(to: target, units: units, maxSeconds: 900, useHierarchies: false))
            #expect(fast.times.contains { $0.seconds.isFinite } && fast.times.contains { !$0.seconds.isFinite })
            for (a, b) in zip(fast.times, plain.times) {
                #expect(a.seconds == b.seconds || abs(a.seconds - b.seconds) < 1e-6, "unit \(a.unitIndex)")
                if b.seconds.isFinite { #expect(abs(a.metres - b.metres) < 1e-6, "unit \(a.unitIndex) metres") }
            }
        }
    }

    @Test("isochrones grow with time and contain their origin")
    func isochrone() throws {
        let origin = at(0, 0)
        let small = try #require(demo.isochrone(from: origin, seconds: 120, mode: .car))
        let large = try #require(demo.isochrone(from: origin, seconds: 300, mode: .car))
        #expect(small.reachableNodes >= 3 && large.reachableNodes > small.reachableNodes)
        #expect(large.roadMetres > small.roadMetres)
        let hull = try Polygon(outer: Ring(large.hull.map(projection.project)))
        #expect(hull.contains(projection.project(origin)))
        let onFoot = try #require(demo.isochrone(from: origin, seconds: 300, mode: .foot))
        #expect(onFoot.reachableNodes < large.reachableNodes)
    }

    @Test("an isochrone's reachable network has every arc entered in time with its times, and its area claims less than the hull and holds every reached node")
    func reachableNetwork() throws {
        let origin = at(0, 0)
        let reach = try #require(demo.isochrone(from: origin, seconds: 180, mode: .car))
        let roads = demo.roads
        #expect(!reach.network.isEmpty && !reach.networkTruncated)
        #expect(reach.network.allSatisfy { $0.enter < 180 && $0.share > 0 && $0.share <= 1 && ($0.share < 1) == ($0.leave > 180) })
        // Partial arcs in part, as road_metres counts them.
        let metres = reach.network.reduce(0) { $0 + $1.share * roads.arcLength[$1.arc] }
        #expect(abs(metres - reach.roadMetres) < 1e-6 * reach.roadMetres)
        #expect(zip(reach.network, reach.network.dropFirst()).allSatisfy { $0.enter <= $1.enter })
        let area = try reach.area.map { rings in Polygon(outer: try Ring(rings[0].map(projection.project)), holes: try rings.dropFirst().map { try Ring($0.map(projection.project)) }) }
        let hull = try Polygon(outer: Ring(reach.hull.map(projection.project)))
        #expect(reach.areaSquareMetres < hull.area && abs(area.reduce(0) { $0 + $1.area } - reach.areaSquareMetres) < 1)
        for arc in reach.network.map(\.arc) {
            let tail = projection.project(roads.coordinates[roads.tail(ofArc: arc)])
            #expect(area.contains { $0.contains(tail) }, "arc \(arc)'s start is outside the area")
        }
    }

    @Test("coverage grows with the threshold and reaches every patrol point that has a unit on it")
    func coverage() throws {
        let points = demo.sites.filter { $0.kind == .patrolPoint }
        let units = points.map { (position: $0.position, mode: TravelMode.car) }
        let shares = demo.coverage(units: units, thresholds: [1, 60, 180])
        #expect(shares.patrolPointShare[2] == 1)
        #expect(shares.roadShare[0] <= shares.roadShare[1] && shares.roadShare[1] <= shares.roadShare[2])
        // One car at the junction nearest the centre (the centre itself is mid-block, a minute's walk from a street).
        let junction = demo.roads.coordinates[try #require(demo.snap(at(0, 0))).node]
        let few = demo.coverage(units: [(junction, .car)], thresholds: [60, 300])
        #expect(few.roadShare[0] > 0 && few.roadShare[0] < few.roadShare[1] && few.roadShare[1] < 0.2, "\(few.roadShare)")
        #expect(few.grids.count == 129)
        let centreGrid = demo.locate(at(0, 0))!.grid.id
        #expect(few.grids[centreGrid]!.road[1] > 0.5)
    }
}

@Suite("GridModel over the bus")
struct GridModelBusTests {
    let secret = "grid-test-secret-0123456789"
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func stack() async throws -> (InProcessBus, BusClient, BusClient) {
        var config = CountyConfig(county: "Test", dataDirectory: "/tmp/unused", principals: [
            PrincipalConfig(name: "grid-model", credential: secret, acl: AccessControl(
                publish: [try TopicPattern("grid.>")], subscribe: [], serve: [try MethodPattern("/xunfang.grid_model.v1.GridModel/*")])),
            PrincipalConfig(name: "dispatch", credential: secret, acl: AccessControl(
                publish: [], subscribe: [try TopicPattern("grid.>")], call: [try MethodPattern("/xunfang.grid_model.v1.GridModel/*")])),
        ])
        // Liveness has its own tests; here a busy machine (heavy tests beside these on two
        // cores) must not make the bus drop an in-process client that missed its pings.
        config.bus.pingIntervalMilliseconds = 600_000
        let bus = InProcessBus(config: config, credentials: ["grid-model": secret, "dispatch": secret], logger: quiet)
        let plugin = GridModelPlugin(model: demo, logger: quiet)
        let server = BusClient(transport: .inProcess(bus), manifest: GridModelPlugin.manifest, credential: secret, logger: quiet, callTimeout: .seconds(120))
        plugin.register(on: server)
        try await server.start()
        let caller = BusClient(transport: .inProcess(bus), manifest: PluginManifest(name: "dispatch", version: "1.0.0"), credential: secret, logger: quiet, callTimeout: .seconds(120))
        try await caller.start()
        return (bus, server, caller)
    }

    func position(_ point: GeoPoint, datum: Xunfang_GridModel_V1_Datum = .wgs84) -> Xunfang_GridModel_V1_Position {
        var position = Xunfang_GridModel_V1_Position()
        position.longitude = point.longitude
        position.latitude = point.latitude
        position.datum = datum
        return position
    }

    @Test("Locate answers in WGS84 and GCJ-02 alike, and refuses a position that is not one")
    func locate() async throws {
        let (bus, server, caller) = try await stack()
        let point = at(50, 60)
        var request = Xunfang_GridModel_V1_LocateRequest()
        request.position = position(point)
        let plain = try await caller.call("/xunfang.grid_model.v1.GridModel/Locate", request, as: Xunfang_GridModel_V1_LocateResponse.self)
        #expect(plain.found && plain.placeClass == .core && plain.responseTargetSeconds == 60)
        #expect(!plain.roadName.isEmpty && plain.roadName == demo.roadSegment(near: point)?.name, "the core street it lies by, named")
        request.position = position(Datum.wgs84.convert(point, to: .gcj02), datum: .gcj02)
        let shifted = try await caller.call("/xunfang.grid_model.v1.GridModel/Locate", request, as: Xunfang_GridModel_V1_LocateResponse.self)
        #expect(shifted.grid.id == plain.grid.id)
        request.position.latitude = 123
        await #expect(throws: BusClientError.self) {
            let _ = try await caller.call("/xunfang.grid_model.v1.GridModel/Locate", request, as: Xunfang_GridModel_V1_LocateResponse.self)
        }
        // Outlines only when asked: a map needs them, a name lookup does not.
        var list = Xunfang_GridModel_V1_ListAreasRequest()
        list.kind = .grid
        let bare = try await caller.call("/xunfang.grid_model.v1.GridModel/ListAreas", list, as: Xunfang_GridModel_V1_ListAreasResponse.self)
        #expect(bare.areas.count == 129 && bare.areas.allSatisfy { $0.outline.isEmpty })
        list.withOutlines = true
        let drawn = try await caller.call("/xunfang.grid_model.v1.GridModel/ListAreas", list, as: Xunfang_GridModel_V1_ListAreasResponse.self)
        let holder = try #require(drawn.areas.first { $0.id == plain.grid.id })
        let ring = try #require(holder.outline.first).points.map { GeoPoint(longitude: $0.longitude, latitude: $0.latitude) }
        #expect(ring.count >= 4 && ring.first == ring.last, "a closed ring")
        let projection = LocalProjection(origin: point)
        let shape = try MultiPolygon(rings: [[ring]], project: projection.project)
        #expect(shape.contains(projection.project(point)), "the grid's outline holds the point it located")
        await caller.close()
        await server.close()
        await bus.shutdown()
    }

    @Test("Eta ranks units fastest first with unreachable ones last, and bounds its input")
    func eta() async throws {
        let (bus, server, caller) = try await stack()
        var request = Xunfang_GridModel_V1_EtaRequest()
        request.target = position(at(0, 0))
        request.units = [("far", at(9_000, 9_000)), ("near", at(300, 0)), ("middle", at(2_000, 1_000))].map { id, point in
            var unit = Xunfang_GridModel_V1_Unit()
            unit.id = id
            unit.position = position(point)
            return unit
        }
        let answer = try await caller.call("/xunfang.grid_model.v1.GridModel/Eta", request, as: Xunfang_GridModel_V1_EtaResponse.self)
        #expect(answer.etas.map(\.unitID) == ["near", "middle", "far"])
        #expect(answer.etas.allSatisfy { $0.reachable && $0.seconds > 0 && $0.metres > 0 })
        request.maxSeconds = UInt32(answer.etas[1].seconds.rounded(.up))
        let bounded = try await caller.call("/xunfang.grid_model.v1.GridModel/Eta", request, as: Xunfang_GridModel_V1_EtaResponse.self)
        #expect(bounded.etas.map(\.reachable) == [true, true, false])
        request.units = Array(repeating: request.units[0], count: 5_001)
        await #expect(throws: BusClientError.self) {
            let _ = try await caller.call("/xunfang.grid_model.v1.GridModel/Eta", request, as: Xunfang_GridModel_V1_EtaResponse.self)
        }
        await caller.close()
        await server.close()
        await bus.shutdown()
    }
}

extension GridModelBusTests {
    @Test("the exact effort proves the demo's answer optimal from the fast one, with a bound and gap; bad limits are refused")
    func effort() async throws {
        let (bus, server, caller) = try await stack()
        let method = "/xunfang.grid_model.v1.GridModel/PlacePosts"
        var request = Xunfang_GridModel_V1_PlacePostsRequest()
        request.k = 6
        request.thresholdSeconds = 60
        let fast = try await caller.call(method, request, as: Xunfang_GridModel_V1_PlacePostsResponse.self)
        #expect(fast.siteIds.count == 6)
        #expect(fast.upperBound >= fast.coveredWeight && fast.upperBound <= fast.totalWeight)
        let gap = (fast.upperBound - fast.coveredWeight) / fast.upperBound
        #expect(abs(fast.gap - gap) < 1e-12)
        request.effort = .exact
        request.timeLimitSeconds = 60
        // One exact solve at a time in a process: the exact solver's own tests may hold it.
        var answer: Xunfang_GridModel_V1_PlacePostsResponse?
        while answer == nil {
            do {
                answer = try await caller.call(method, request, as: Xunfang_GridModel_V1_PlacePostsResponse.self)
            } catch let error as BusClientError where error.code == .resourceExhausted {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        let exact = try #require(answer)
        #expect(exact.optimal && exact.gap == 0)
        #expect(exact.upperBound == exact.coveredWeight)
        #expect(exact.coveredWeight >= fast.coveredWeight)
        #expect(exact.coveredWeight <= fast.upperBound)
        request.timeLimitSeconds = 121
        await #expect(throws: BusClientError.self) {
            let _ = try await caller.call(method, request, as: Xunfang_GridModel_V1_PlacePostsResponse.self)
        }
        await caller.close()
        await server.close()
        await bus.shutdown()
    }
}

