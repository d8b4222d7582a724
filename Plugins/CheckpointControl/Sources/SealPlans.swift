import Foundation
import XunfangGeo
import XunfangPluginKit
import CheckpointControlContract

typealias SealPlan = Xunfang_Checkpoint_V1_SealPlan

/// Seal plans checked against the road graph: fields within bounds, positions joined to
/// road nodes (a checkpoint's from the registry), and the ring proved to cut every path
/// out of the boundary, else refused naming the roads left open. GeoJSON in and out.
struct PlanBook: Sendable {
    let rings: RingService
    static let defaultTarget: Int32 = 180
    static let defaultReach = 1_500.0
    static let maxPositions = 200
    static let maxVertices = 2_000
    static let maxGeoJSONBytes = 1 << 20

    /// A plan whose positions are road nodes, with its area and ring check.
    struct Resolved {
        var plan: SealPlan
        var nodes: [Int]
        var check: RingCheck
    }

    /// Checks the plan's fields and joins its positions to the graph; `checkpoint` finds a
    /// registry checkpoint. Does not check the ring (see `gaps`).
    func resolve(_ input: SealPlan, checkpoint: (String) throws -> CheckpointRecord?) throws -> Resolved {
        var plan = input
        try Self.checkFields(plan)
        if plan.targetSeconds == 0 { plan.targetSeconds = Self.defaultTarget }
        if plan.reachMetres == 0 { plan.reachMetres = Self.defaultReach }
        let name = "plan \(plan.id)"
        var nodes: [Int] = [], held: [Int: String] = [:]
        for index in plan.positions.indices {
            var position = plan.positions[index]
            let node: Int
            if !position.checkpoint.isEmpty {
                guard let record = try checkpoint(position.checkpoint) else {
                    throw BusClientError(.notFound, "\(name) position \(position.id): no checkpoint \(position.checkpoint.prefix(64))")
                }
                node = try rings.node(record.node, 0, 0, what: "\(name) position \(position.id)")
                if position.name.isEmpty { position.name = record.name }
            } else {
                node = try rings.node(position.node, position.longitude, position.latitude, what: "\(name) position \(position.id)")
                if position.name.isEmpty { position.name = rings.roadNames(at: node).joined(separator: " × ") }
                if position.name.isEmpty { position.name = "node \(rings.roads.nodeIDs[node])" }
            }
            if let other = held[node] {
                throw BusClientError(.invalidArgument, "\(name): positions \(other) and \(position.id) hold the same road node \(rings.roads.nodeIDs[node])")
            }
            held[node] = position.id
            position.node = rings.roads.nodeIDs[node]
            position.longitude = rings.roads.coordinates[node].longitude
            position.latitude = rings.roads.coordinates[node].latitude
            plan.positions[index] = position
            nodes.append(node)
        }
        let area: PlanArea
        do {
            area = try PlanArea(graph: rings.roads, boundary: plan.boundary.map { GeoPoint(longitude: $0.longitude, latitude: $0.latitude) },
                                reach: plan.reachMetres)
        } catch {
            throw BusClientError(.invalidArgument, "\(name): boundary: \(error.message)")
        }
        guard area.insideCount > 0 else { throw BusClientError(.invalidArgument, "\(name): no road node lies inside the boundary") }
        return Resolved(plan: plan, nodes: nodes, check: RingCheck(graph: rings.roads, area: area))
    }

    /// The plan's answer to CheckPlan: sealed or the roads left open, and positions no path needs.
    func report(_ resolved: Resolved) -> Xunfang_Checkpoint_V1_CheckPlanResponse {
        let gaps = resolved.check.gaps(ring: Set(resolved.nodes))
        return .with {
            $0.sealed = gaps.isEmpty
            $0.insideNodes = Int32(resolved.check.area.insideCount)
            $0.gaps = gaps.prefix(50).map { gap in
                .with {
                    $0.arc = rings.escapeArc(gap.arc)
                    $0.insideNode = rings.roads.nodeIDs[gap.insideNode]
                }
            }
            if gaps.isEmpty {
                let redundant = Set(resolved.check.redundant(ring: resolved.nodes))
                $0.redundant = zip(resolved.plan.positions, resolved.nodes).filter { redundant.contains($0.1) }.map(\.0.id)
            }
        }
    }

    /// Refuses a plan that leaves a road out, naming the roads (INVALID_ARGUMENT).
    func requireSealed(_ resolved: Resolved) throws {
        let gaps = resolved.check.gaps(ring: Set(resolved.nodes))
        guard !gaps.isEmpty else { return }
        var roads: [String] = [], seen = Set<String>()
        for gap in gaps {
            let road = rings.roads.name(ofArc: gap.arc)
            let from = rings.roads.nodeIDs[gap.insideNode], to = rings.roads.nodeIDs[Int(rings.roads.arcHead[gap.arc])]
            guard seen.insert(road.isEmpty ? "\(from)-\(to)" : road).inserted else { continue }
            roads.append("\(road.isEmpty ? "an unnamed road" : road) (node \(from) → \(to))")
        }
        let shown = roads.prefix(5).joined(separator: ", ")
        throw BusClientError(.invalidArgument, "plan \(resolved.plan.id) leaves \(roads.count == 1 ? "a road" : "\(roads.count) roads") out of the ring: "
                             + shown + (roads.count > 5 ? " and \(roads.count - 5) more" : "") + " (CheckPlan lists every gap)")
    }

    /// The smallest ring for the plan's area: needed checkpoints of `registry` and unit posts.
    func draft(_ input: SealPlan, registry: [CheckpointRecord]) throws -> SealPlan {
        var plan = input
        // A placeholder position lets the fields be checked; the ring is drafted below.
        plan.positions = [.with { $0.id = "draft"; $0.node = rings.roads.nodeIDs.first ?? 0 }]
        var resolved = try resolve(plan) { _ in nil }
        var fixed: [Int: CheckpointRecord] = [:]
        for record in registry where record.status != .unstaffed {
            if let node = rings.roads.node(osmID: record.node), !resolved.check.area.away[node] { fixed[node] = record }
        }
        guard let ring = resolved.check.draft(fixed: Array(fixed.keys)) else {
            throw BusClientError(.failedPrecondition, "plan \(plan.id): a road node inside the boundary is next to one beyond the reach: no ring can hold")
        }
        resolved.plan.positions = ring.fixed.map { node in
            .with {
                $0.id = fixed[node]!.id
                $0.checkpoint = fixed[node]!.id
            }
        }
        for (index, node) in ring.posts.sorted(by: { rings.roads.nodeIDs[$0] < rings.roads.nodeIDs[$1] }).enumerated() {
            resolved.plan.positions.append(.with {
                $0.id = String(format: "P%03d", index + 1)
                $0.node = rings.roads.nodeIDs[node]
            })
        }
        return try resolve(resolved.plan) { id in registry.first { $0.id == id } }.plan
    }

    static func checkFields(_ plan: SealPlan) throws {
        try Registry.checkID(plan.id, what: "plan id")
        let name = "plan \(plan.id)"
        guard (1...128).contains(plan.name.utf8.count) else { throw BusClientError(.invalidArgument, "\(name): name must be 1 to 128 bytes") }
        switch plan.scope {
        case .city, .district, .zone: break
        default: throw BusClientError(.invalidArgument, "\(name): scope must be city, district or zone")
        }
        guard (3...maxVertices).contains(plan.boundary.count) else {
            throw BusClientError(.invalidArgument, "\(name): the boundary needs 3 to \(maxVertices) vertices, has \(plan.boundary.count)")
        }
        for (index, vertex) in plan.boundary.enumerated() where !((-180...180).contains(vertex.longitude) && (-90...90).contains(vertex.latitude)) {
            throw BusClientError(.invalidArgument, "\(name): boundary vertex \(index) is not a WGS84 position")
        }
        guard (0...3_600).contains(plan.targetSeconds) else { throw BusClientError(.invalidArgument, "\(name): target_seconds must be 0 to 3,600") }
        guard (0...20_000).contains(plan.reachMetres) else { throw BusClientError(.invalidArgument, "\(name): reach_metres must be 0 to 20,000") }
        guard (1...maxPositions).contains(plan.positions.count) else {
            throw BusClientError(.invalidArgument, "\(name): a plan has 1 to \(maxPositions) positions, this one \(plan.positions.count)")
        }
        var seen = Set<String>()
        for position in plan.positions {
            try Registry.checkID(position.id, what: "\(name) position id")
            guard seen.insert(position.id).inserted else { throw BusClientError(.invalidArgument, "\(name): position \(position.id) appears twice") }
            guard position.name.utf8.count <= 128, position.unit.utf8.count <= 64 else {
                throw BusClientError(.invalidArgument, "\(name) position \(position.id): name is at most 128 bytes, unit 64")
            }
            guard position.checkpoint.isEmpty || position.unit.isEmpty else {
                throw BusClientError(.invalidArgument, "\(name) position \(position.id): a checkpoint position names no unit")
            }
        }
    }

    // MARK: GeoJSON

    static let scopeNames: [Xunfang_Checkpoint_V1_PlanScope: String] = [.city: "city", .district: "district", .zone: "zone"]

    /// A FeatureCollection: one Polygon (the boundary and the plan's fields) and a Point per position.
    static func plan(geoJSON data: Data) throws -> SealPlan {
        guard data.count <= maxGeoJSONBytes else { throw BusClientError(.invalidArgument, "the GeoJSON is \(data.count) bytes; at most \(maxGeoJSONBytes)") }
        let features: [GeoJSON.Feature]
        do {
            features = try GeoJSON.parse(data)
        } catch {
            throw BusClientError(.invalidArgument, "GeoJSON: \(error.message)")
        }
        var plan = SealPlan()
        var boundaries = 0
        for (index, feature) in features.enumerated() {
            switch feature.geometry {
            case .polygon(let rings):
                boundaries += 1
                guard rings.count == 1 else { throw BusClientError(.invalidArgument, "GeoJSON feature \(index): the boundary is one ring without holes") }
                plan.id = feature.string("id") ?? feature.id ?? ""
                plan.name = feature.string("name") ?? ""
                let scope = feature.string("scope") ?? "city"
                guard let known = scopeNames.first(where: { $0.value == scope })?.key else {
                    throw BusClientError(.invalidArgument, "GeoJSON feature \(index): scope \"\(scope.prefix(32))\" is not city, district or zone")
                }
                plan.scope = known
                plan.targetSeconds = Int32(feature.string("target_seconds").flatMap(Int32.init) ?? 0)
                plan.reachMetres = feature.string("reach_metres").flatMap(Double.init) ?? 0
                plan.boundary = rings[0].dropLast().map { point in .with { $0.longitude = point.longitude; $0.latitude = point.latitude } }
            case .point(let point):
                plan.positions.append(.with {
                    $0.id = feature.string("id") ?? feature.id ?? ""
                    $0.checkpoint = feature.string("checkpoint") ?? ""
                    $0.unit = feature.string("unit") ?? ""
                    $0.name = feature.string("name") ?? ""
                    $0.node = feature.string("node").flatMap(Int64.init) ?? 0
                    $0.longitude = point.longitude
                    $0.latitude = point.latitude
                })
            default:
                throw BusClientError(.invalidArgument, "GeoJSON feature \(index): a plan has one Polygon (the boundary) and Points (the positions)")
            }
        }
        guard boundaries == 1 else { throw BusClientError(.invalidArgument, "GeoJSON: a plan has exactly one Polygon feature (the boundary), this has \(boundaries)") }
        return plan
    }

    static func geoJSON(_ plan: SealPlan) -> Data {
        var boundary = plan.boundary.map { GeoPoint(longitude: $0.longitude, latitude: $0.latitude) }
        if let first = boundary.first { boundary.append(first) }
        var features = [GeoJSON.Feature(id: plan.id, properties: [
            "id": .string(plan.id), "name": .string(plan.name), "scope": .string(scopeNames[plan.scope] ?? "city"),
            "target_seconds": .number(Double(plan.targetSeconds)), "reach_metres": .number(plan.reachMetres),
            "updated_by": .string(plan.updatedBy), "updated_at": .string(ChinaTime.format(milliseconds: plan.updatedAt)),
        ], geometry: .polygon([boundary]))]
        for position in plan.positions {
            var properties: [String: GeoJSON.Value] = ["id": .string(position.id), "name": .string(position.name), "node": .string(String(position.node))]
            if !position.checkpoint.isEmpty { properties["checkpoint"] = .string(position.checkpoint) }
            if !position.unit.isEmpty { properties["unit"] = .string(position.unit) }
            features.append(GeoJSON.Feature(id: position.id, properties: properties,
                                            geometry: .point(GeoPoint(longitude: position.longitude, latitude: position.latitude))))
        }
        return GeoJSON.write(features)
    }
}
