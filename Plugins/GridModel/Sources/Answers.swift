import Foundation
import XunfangExact
import XunfangGeo
import XunfangPluginKit
import GridModelContract

/// The service handlers: wire messages in, model queries, wire messages out. Every bad
/// input is refused with INVALID_ARGUMENT naming the field, before any work is done.
enum Answers {
    typealias Position = Xunfang_GridModel_V1_Position

    static func point(_ position: Position, field: String) throws -> GeoPoint { try position.wgs84(field: field) }

    static func position(_ point: GeoPoint) -> Position { Position(point) }

    static func mode(_ mode: Xunfang_GridModel_V1_TravelMode) -> TravelMode { TravelMode(mode) }

    static func area(_ record: AreaRecord) -> Xunfang_GridModel_V1_Area {
        var area = Xunfang_GridModel_V1_Area()
        area.id = record.id
        area.name = record.name
        area.kind = Xunfang_GridModel_V1_AreaKind(rawValue: record.level.rawValue) ?? .unspecified
        area.parentID = record.parentID ?? ""
        area.placeClass = record.placeClass.flatMap { Xunfang_GridModel_V1_PlaceClass(rawValue: $0.rawValue) } ?? .unspecified
        return area
    }

    static func site(_ model: CountyModel, _ index: Int) -> Xunfang_GridModel_V1_Site {
        let record = model.sites[index]
        var site = Xunfang_GridModel_V1_Site()
        site.id = record.id
        site.name = record.name
        site.kind = Xunfang_GridModel_V1_SiteKind(rawValue: record.kind.rawValue) ?? .unspecified
        site.position = position(record.position)
        site.path = record.path?.map(position) ?? []
        site.gridID = model.gridID(ofSite: index) ?? ""
        site.stationID = model.station(ofSite: index) ?? ""
        return site
    }

    static func locate(_ model: CountyModel, _ request: Xunfang_GridModel_V1_LocateRequest) throws -> Xunfang_GridModel_V1_LocateResponse {
        if !request.placeID.isEmpty {
            guard !request.hasPosition else { throw BusClientError(.invalidArgument, "give a position or a place_id, not both") }
            guard let place = model.position(ofPlace: request.placeID) else {
                throw BusClientError(.notFound, "place_id: no grid or site \(request.placeID)")
            }
            return locate(model, place)
        }
        return locate(model, try point(request.position, field: "position"))
    }

    static func locate(_ model: CountyModel, _ point: GeoPoint) -> Xunfang_GridModel_V1_LocateResponse {
        var response = Xunfang_GridModel_V1_LocateResponse()
        response.position = position(point)
        if let segment = model.roadSegment(near: point) {
            response.roadSegmentID = segment.id
            response.roadName = segment.name
            response.roadSegmentMetres = segment.metres
        }
        guard let chain = model.locate(point) else {
            if let nearest = model.nearestGrid(to: point) {
                response.nearestGrid = area(nearest.grid)
                if let station = nearest.station { response.nearestStation = area(station) }
                response.outsideMetres = nearest.metres
            }
            return response
        }
        response.found = true
        response.grid = area(chain.grid)
        response.station = area(chain.station)
        response.branch = area(chain.branch)
        response.city = area(chain.city)
        let placeClass = chain.grid.placeClass ?? .support
        response.placeClass = Xunfang_GridModel_V1_PlaceClass(rawValue: placeClass.rawValue) ?? .unspecified
        response.responseTargetSeconds = UInt32(model.targetSeconds(placeClass))
        return response
    }

    static let zoneSiteKinds: Set<SiteKind> = [.fixedPost, .mobilePost, .serviceStation, .policeRoom, .stationHouse]

    static func fourZones(_ model: CountyModel, _ request: Xunfang_GridModel_V1_LocateRequest) throws -> Xunfang_GridModel_V1_FourZonesResponse {
        let location = locate(model, try point(request.position, field: "position"))
        var response = Xunfang_GridModel_V1_FourZonesResponse()
        response.location = location
        guard location.found else { return response }
        let zones = model.fourZones(aroundStation: location.station.id)
        func zone(_ stations: [String]) -> Xunfang_GridModel_V1_Zone {
            var zone = Xunfang_GridModel_V1_Zone()
            zone.stations = stations.compactMap { model.area($0).map(area) }
            let members = Set(stations)
            zone.sites = model.sites.indices
                .filter { zoneSiteKinds.contains(model.sites[$0].kind) && model.station(ofSite: $0).map(members.contains) == true }
                .map { site(model, $0) }
            return zone
        }
        response.own = zone(zones.own)
        response.adjacent = zone(zones.adjacent)
        response.branchSupport = zone(zones.branchSupport)
        response.citySupport = zone(zones.citySupport)
        return response
    }

    static func eta(_ model: CountyModel, _ request: Xunfang_GridModel_V1_EtaRequest) throws -> Xunfang_GridModel_V1_EtaResponse {
        guard request.units.count <= GridModelPlugin.maxUnits else {
            throw BusClientError(.invalidArgument, "units: \(request.units.count) is more than \(GridModelPlugin.maxUnits)")
        }
        let target = try point(request.target, field: "target")
        var units: [(position: GeoPoint, mode: TravelMode)] = []
        for (index, unit) in request.units.enumerated() {
            units.append((try point(unit.position, field: "units[\(index)].position"), mode(unit.mode)))
        }
        let limit = request.maxSeconds == 0 ? Double.infinity : Double(request.maxSeconds)
        let ready = model.hierarchies.modes
        guard let (times, targetSnap) = model.travelTimes(to: target, units: units, maxSeconds: limit, useHierarchies: !request.plainSearch) else {
            throw BusClientError(.failedPrecondition, "the county has no road network")
        }
        var response = Xunfang_GridModel_V1_EtaResponse()
        response.targetSnapMetres = targetSnap
        response.throughHierarchies = !request.plainSearch && units.allSatisfy { ready.contains($0.mode) }
        response.etas = times.sorted { ($0.seconds, $0.unitIndex) < ($1.seconds, $1.unitIndex) }.map { time in
            var eta = Xunfang_GridModel_V1_UnitEta()
            eta.unitID = request.units[time.unitIndex].id
            eta.reachable = time.seconds.isFinite
            eta.seconds = time.seconds.isFinite ? time.seconds : 0
            eta.metres = time.seconds.isFinite ? time.metres : 0
            eta.snapMetres = time.snapMetres
            return eta
        }
        return response
    }

    static func isochrone(_ model: CountyModel, _ request: Xunfang_GridModel_V1_IsochroneRequest) throws -> Xunfang_GridModel_V1_IsochroneResponse {
        guard request.minutes > 0, request.minutes <= 60 else {
            throw BusClientError(.invalidArgument, "minutes: \(request.minutes) is outside (0, 60]")
        }
        let origin = try point(request.origin, field: "origin")
        guard let result = model.isochrone(from: origin, seconds: request.minutes * 60, mode: mode(request.mode)) else {
            throw BusClientError(.failedPrecondition, "the county has no road network")
        }
        var response = Xunfang_GridModel_V1_IsochroneResponse()
        response.reachableNodes = UInt32(result.reachableNodes)
        response.roadMetres = result.roadMetres
        response.polygon = result.hull.map(position)
        response.area = result.area.map { rings in
            .with {
                $0.outer = ring(rings[0])
                $0.holes = rings.dropFirst().map(ring)
            }
        }
        response.areaCellMetres = result.areaCellMetres
        response.areaSquareMetres = result.areaSquareMetres
        if request.withNetwork {
            let roads = model.roads
            response.network = result.network.map { reached in
                .with {
                    $0.fromNode = roads.nodeIDs[roads.tail(ofArc: reached.arc)]
                    $0.toNode = roads.nodeIDs[Int(roads.arcHead[reached.arc])]
                    $0.enterSeconds = reached.enter
                    $0.leaveSeconds = reached.leave
                    $0.share = reached.share
                    $0.roadName = roads.name(ofArc: reached.arc)
                }
            }
            response.networkTruncated = result.networkTruncated
        }
        return response
    }

    /// A closed ring of positions (the last point is the first).
    static func ring(_ points: [GeoPoint]) -> Xunfang_GridModel_V1_Ring {
        .with { $0.points = (points + points.prefix(1)).map(position) }
    }

    static func thresholds(_ values: [Double]) throws -> [Double] {
        guard !values.isEmpty, values.count <= GridModelPlugin.maxThresholds else {
            throw BusClientError(.invalidArgument, "threshold_seconds: give 1 to \(GridModelPlugin.maxThresholds) thresholds")
        }
        for value in values where !(value > 0 && value <= GridModelPlugin.maxSeconds) {
            throw BusClientError(.invalidArgument, "threshold_seconds: \(value) is outside (0, \(Int(GridModelPlugin.maxSeconds))]")
        }
        return values
    }

    static func coverage(_ model: CountyModel, _ request: Xunfang_GridModel_V1_CoverageRequest) throws -> Xunfang_GridModel_V1_CoverageResponse {
        guard request.units.count <= GridModelPlugin.maxUnits else {
            throw BusClientError(.invalidArgument, "units: \(request.units.count) is more than \(GridModelPlugin.maxUnits)")
        }
        let limits = try thresholds(request.thresholdSeconds)
        var units: [(position: GeoPoint, mode: TravelMode)] = []
        for (index, unit) in request.units.enumerated() {
            units.append((try point(unit.position, field: "units[\(index)].position"), mode(unit.mode)))
        }
        let shares = model.coverage(units: units, thresholds: limits)
        func list(_ roads: [Double], _ points: [Double], core: [Double]? = nil) -> [Xunfang_GridModel_V1_CoverageShare] {
            limits.indices.map { index in
                var share = Xunfang_GridModel_V1_CoverageShare()
                share.thresholdSeconds = limits[index]
                share.roadShare = roads[index]
                share.patrolPointShare = points[index]
                if let core { share.coreRoadShare = core[index] }
                return share
            }
        }
        var response = Xunfang_GridModel_V1_CoverageResponse()
        response.overall = list(shares.roadShare, shares.patrolPointShare, core: shares.coreRoadShare)
        response.grids = shares.grids.keys.sorted().map { id in
            var grid = Xunfang_GridModel_V1_GridCoverage()
            grid.gridID = id
            grid.shares = list(shares.grids[id]!.road, shares.grids[id]!.points)
            return grid
        }
        return response
    }

    static func placePosts(_ model: CountyModel, _ request: Xunfang_GridModel_V1_PlacePostsRequest) async throws -> Xunfang_GridModel_V1_PlacePostsResponse {
        guard request.k >= 1, request.k <= 200 else { throw BusClientError(.invalidArgument, "k: \(request.k) is outside 1...200") }
        _ = try thresholds([request.thresholdSeconds])
        guard request.timeLimitSeconds >= 0, request.timeLimitSeconds <= 120 else {
            throw BusClientError(.invalidArgument, "time_limit_seconds: \(request.timeLimitSeconds) is outside 0...120")
        }
        guard request.demand.count <= GridModelPlugin.maxDemand else {
            throw BusClientError(.invalidArgument, "demand: \(request.demand.count) points is more than \(GridModelPlugin.maxDemand)")
        }
        guard request.candidates.count <= GridModelPlugin.maxCandidates, request.fixed.count <= GridModelPlugin.maxCandidates else {
            throw BusClientError(.invalidArgument, "candidates and fixed: at most \(GridModelPlugin.maxCandidates) each")
        }
        var demand: [(position: GeoPoint, weight: Double)] = []
        for (index, item) in request.demand.enumerated() {
            guard item.weight >= 0, item.weight.isFinite else { throw BusClientError(.invalidArgument, "demand[\(index)].weight must be >= 0") }
            demand.append((try point(item.position, field: "demand[\(index)].position"), item.weight))
        }
        if demand.isEmpty {
            demand = model.sites.filter { $0.kind == .patrolPoint }.map { ($0.position, 1) }
        }
        var candidates: [(id: String, point: GeoPoint)] = []
        for (index, site) in request.candidates.enumerated() {
            candidates.append((site.id.isEmpty ? "candidate-\(index)" : site.id, try point(site.position, field: "candidates[\(index)].position")))
        }
        if candidates.isEmpty {
            let movable: Set<SiteKind> = [.fixedPost, .mobilePost, .serviceStation, .policeRoom, .patrolPoint]
            candidates = model.sites.filter { movable.contains($0.kind) }.map { ($0.id, $0.position) }
        }
        var fixed: [GeoPoint] = []
        for (index, site) in request.fixed.enumerated() { fixed.append(try point(site.position, field: "fixed[\(index)].position")) }
        if request.fixed.isEmpty { fixed = model.sites.filter { $0.kind == .fixedPost }.map(\.position) }
        let (threshold, travel, points, sites) = (request.thresholdSeconds, mode(request.mode), candidates.map(\.point), fixed)
        let (k, exact, limit) = (Int(request.k), request.effort == .exact, request.timeLimitSeconds > 0 ? request.timeLimitSeconds : 10)
        let demandPoints = demand
        let solution: PostPlacement.Solution
        do {
            // Hundreds of road searches, then the solvers: seconds of work, on a thread of its own.
            solution = try await onOwnThread {
                let placement = try model.postPlacement(threshold: threshold, mode: travel, demand: demandPoints, candidates: points, fixed: sites)
                let fast = try placement.solve(k: k)
                return exact ? try ExactPostPlacement.solve(placement, k: k, timeLimit: .milliseconds(Int(limit * 1_000)), start: fast) : fast
            }
        } catch let error as GeoError {
            throw BusClientError(error)
        }
        var response = Xunfang_GridModel_V1_PlacePostsResponse()
        response.siteIds = solution.sites.map { candidates[$0].id }
        response.positions = solution.sites.map { position(candidates[$0].point) }
        response.coveredWeight = solution.coveredWeight
        response.totalWeight = solution.totalWeight
        response.optimal = solution.optimal
        response.upperBound = solution.upperBound
        response.gap = solution.gap
        return response
    }

    static func listAreas(_ model: CountyModel, _ request: Xunfang_GridModel_V1_ListAreasRequest) -> Xunfang_GridModel_V1_ListAreasResponse {
        var response = Xunfang_GridModel_V1_ListAreasResponse()
        response.areas = model.areas.filter { request.kind == .unspecified || $0.level.rawValue == request.kind.rawValue }.map { record in
            var message = area(record)
            if request.withOutlines {
                message.outline = (record.boundary ?? []).compactMap(\.first).map { ring in
                    let closed = ring.first == ring.last ? ring : ring + ring.prefix(1)
                    return Xunfang_GridModel_V1_Ring.with { $0.points = closed.map(position) }
                }
            }
            return message
        }
        return response
    }

    static func listSites(_ model: CountyModel, _ request: Xunfang_GridModel_V1_ListSitesRequest) -> Xunfang_GridModel_V1_ListSitesResponse {
        var response = Xunfang_GridModel_V1_ListSitesResponse()
        response.sites = model.sites.indices
            .filter { request.kind == .unspecified || model.sites[$0].kind.rawValue == request.kind.rawValue }
            .filter { request.stationID.isEmpty || model.station(ofSite: $0) == request.stationID }
            .map { site(model, $0) }
        return response
    }
}

extension Answers {
    /// Every road piece once: an arc whose reverse is also in the graph is drawn from its lower
    /// node only. Classes by rank (links with their roads): 0 motorway … 4 tertiary, 5 and up smaller.
    static func roads(_ graph: RoadGraph) -> Xunfang_GridModel_V1_RoadsResponse {
        var response = Xunfang_GridModel_V1_RoadsResponse()
        response.arcs = UInt32(graph.arcCount)
        func micro(_ degrees: Double) -> Int32 { Int32((degrees * 1_000_000).rounded()) }
        for arc in 0..<graph.arcCount {
            let tail = graph.tail(ofArc: arc), head = Int(graph.arcHead[arc])
            if tail > head, graph.arcs(from: head).contains(where: { Int(graph.arcHead[$0]) == tail }) { continue }
            let from = graph.coordinates[tail], to = graph.coordinates[head]
            response.coordinates += [micro(from.longitude), micro(from.latitude), micro(to.longitude), micro(to.latitude)]
            let rank = graph.arcClass[arc].rawValue
            response.classes.append(UInt32(rank < 10 ? rank / 2 : rank - 5))
        }
        return response
    }
}
