import Foundation
import XunfangGeo
import XunfangPluginKit
import CheckpointControlContract

typealias SealMapResponse = Xunfang_Checkpoint_V1_SealMapResponse

/// The 3-minute seal feasibility map over the bus (`SealMap`): the request's units, or the
/// live ones (fresh positions and staffed checkpoints, as Contain takes them); the
/// request's grids, or GridModel's. Runs off the connection's threads.
struct SealMapService: Sendable {
    let rings: RingService
    let containments: LiveContainments
    static let maxGrids = 1_000
    static let maxOutline = 1_000

    func map(_ request: Xunfang_Checkpoint_V1_SealMapRequest, gridModelGrids: [Xunfang_Checkpoint_V1_SealMapGrid]) throws -> SealMapResponse {
        let started = Date()
        let target = request.targetSeconds == 0 ? 180 : request.targetSeconds
        let reach = request.reachMetres == 0 ? 1_500 : request.reachMetres
        guard (30...900).contains(target) else { throw BusClientError(.invalidArgument, "target_seconds \(target) must be 30 to 900") }
        guard (100...5_000).contains(reach) else { throw BusClientError(.invalidArgument, "reach_metres \(reach) must be 100 to 5000") }
        let grids = try Self.grids(request.grids.isEmpty ? gridModelGrids : request.grids)
        guard !grids.isEmpty else {
            throw BusClientError(.failedPrecondition, "no grids: give them in the request, or let the plugin call GridModel's ListAreas")
        }
        let now = containments.now
        let given = request.units.isEmpty ? try containments.liveUnits(at: now) : request.units
        var weightSets = WeightSets(roads: rings.roads, speeds: rings.speeds)
        let units = try rings.units(given, metric: .time(.car), weightSets: &weightSets)
        let map = SealFeasibility(graph: rings.roads, weights: weightSets.sets, units: units, target: target, reach: reach)
        let cells: [SealFeasibility.Cell]
        do {
            cells = try map.cells(grids)
        } catch {
            throw BusClientError(.invalidArgument, "a grid outline is not a simple polygon: \(error)")
        }
        var response = SealMapResponse.with {
            $0.cells = cells.map { cell($0, units: units) }
            $0.feasibleGrids = UInt32(cells.filter(\.feasible).count)
            $0.units = UInt32(units.count)
            $0.targetSeconds = target
            $0.computedAt = now
        }
        response.computeMs = Date().timeIntervalSince(started) * 1_000
        if request.withGeojson { response.geojson = SealMapPage.geojson(response, grids: grids) }
        if request.withHtml { response.html = SealMapPage.html(response, grids: grids) }
        return response
    }

    private func cell(_ cell: SealFeasibility.Cell, units: [Containment.Unit]) -> Xunfang_Checkpoint_V1_SealMapCell {
        let roads = rings.roads
        return .with {
            $0.gridID = cell.grid.id
            $0.gridName = cell.grid.name
            $0.feasible = cell.feasible
            $0.proved = cell.proved
            $0.ring = cell.ring.map { point in
                .with {
                    $0.node = roads.nodeIDs[point.node]
                    $0.unit = units[point.unit].id
                    $0.seconds = point.seconds
                    $0.longitude = roads.coordinates[point.node].longitude
                    $0.latitude = roads.coordinates[point.node].latitude
                    $0.roadName = rings.roadNames(at: point.node).first ?? ""
                }
            }
            $0.insideNodes = UInt32(cell.insideNodes)
            $0.pointsNeeded = UInt32(cell.pointsNeeded)
            $0.latestSeconds = cell.latest
            $0.reason = cell.reason
        }
    }

    /// The grids checked by name: ids unique and short, outlines of real positions.
    static func grids(_ list: [Xunfang_Checkpoint_V1_SealMapGrid]) throws -> [SealFeasibility.Grid] {
        guard list.count <= maxGrids else { throw BusClientError(.invalidArgument, "more than \(maxGrids) grids") }
        var seen: Set<String> = []
        return try list.enumerated().map { index, grid in
            guard (1...64).contains(grid.id.utf8.count) else { throw BusClientError(.invalidArgument, "grids[\(index)]: id must be 1 to 64 bytes") }
            guard seen.insert(grid.id).inserted else { throw BusClientError(.invalidArgument, "grids[\(index)]: grid \(grid.id) appears twice") }
            var outline = grid.outline.map { GeoPoint(longitude: $0.longitude, latitude: $0.latitude) }
            if outline.count > 1, outline.first == outline.last { outline.removeLast() }
            guard (3...maxOutline).contains(outline.count) else {
                throw BusClientError(.invalidArgument, "grid \(grid.id): the outline needs 3 to \(maxOutline) points, has \(outline.count)")
            }
            guard outline.allSatisfy({ (-180...180).contains($0.longitude) && (-90...90).contains($0.latitude) }) else {
                throw BusClientError(.invalidArgument, "grid \(grid.id): an outline point is not a WGS84 position")
            }
            return SealFeasibility.Grid(id: grid.id, name: String(grid.name.prefix(64)), outline: outline)
        }
    }
}
