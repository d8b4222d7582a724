public import XunfangGeo

/// Move-up: after a dispatch takes a unit away, suggest the fewest relocations of idle
/// units that bring coverage (of the core area and must-patrol points, within the
/// response time) back to what it was.
///
/// Greedy and cheap in calls to GridModel: each round asks for the one site that adds
/// most coverage given where the idle units stand (PlacePosts with k = 1), then tries
/// moving each of the `tryNearest` idle units nearest that site and keeps the move that
/// leaves coverage highest. It stops when coverage is restored, when no move helps, or
/// after `maxMoves`.
public struct MoveUpPlanner: Sendable {
    public struct Move: Sendable, Hashable {
        public var callSign: String
        public var to: GeoPoint
        public var coverageAfter: Double
    }

    public struct Plan: Sendable, Hashable {
        public var before: Double
        public var after: Double
        public var moves: [Move]
        public var restored: Bool
    }

    public var maxMoves = 3
    public var tryNearest = 5
    /// Coverage counts as restored within this of the baseline (a share of it).
    public var tolerance = 0.001

    public init() {}

    /// - Parameters:
    ///   - baseline: coverage before the dispatch.
    ///   - idle: the units still idle, where they stand.
    ///   - coverage: coverage with units at these positions.
    ///   - bestSite: the site that adds most coverage to units standing at these positions.
    public func plan(baseline: Double, idle: [(callSign: String, position: GeoPoint)],
                     coverage: ([GeoPoint]) async throws -> Double,
                     bestSite: ([GeoPoint]) async throws -> GeoPoint?) async throws -> Plan {
        var positions = idle
        let start = try await coverage(positions.map(\.position))
        var current = start
        var moves: [Move] = []
        var moved: Set<String> = []
        while current < baseline * (1 - tolerance), moves.count < maxMoves {
            guard let site = try await bestSite(positions.map(\.position)) else { break }
            let nearest = positions.indices.filter { !moved.contains(positions[$0].callSign) }
                .sorted { Haversine.metres(positions[$0].position, site) < Haversine.metres(positions[$1].position, site) }
                .prefix(tryNearest)
            var best: (index: Int, value: Double)?
            for index in nearest {
                var trial = positions.map(\.position)
                trial[index] = site
                let value = try await coverage(trial)
                if value > (best?.value ?? current) { best = (index, value) }
            }
            guard let best else { break }
            moves.append(Move(callSign: positions[best.index].callSign, to: site, coverageAfter: best.value))
            moved.insert(positions[best.index].callSign)
            positions[best.index].position = site
            current = best.value
        }
        return Plan(before: start, after: current, moves: moves, restored: current >= baseline * (1 - tolerance))
    }
}
