public import XunfangGeo

/// Move-up: after a dispatch takes a unit away, suggest the fewest relocations of idle
/// units that bring coverage back to what it was, for both figures the documents name:
/// the core area's roads and the must-patrol points within the response time.
///
/// Each round considers the spots the dispatched units left and the sites that together
/// add most coverage for the moves still allowed (PlacePosts with k = the moves left, so
/// two gaps are filled as a pair, not by the one site that best splits them), tries
/// moving each of the `tryNearest` idle units nearest each spot, and keeps the move that
/// leaves the smallest shortfall. It stops when coverage is restored, when no move
/// helps, or after `maxMoves`.
public struct MoveUpPlanner: Sendable {
    /// Shares (0...1) within the response time.
    public struct Coverage: Sendable, Hashable {
        public var core: Double
        public var points: Double

        public init(core: Double, points: Double) {
            self.core = core
            self.points = points
        }
    }

    public struct Move: Sendable, Hashable {
        public var callSign: String
        public var from: GeoPoint
        public var to: GeoPoint
        public var coverageAfter: Coverage
    }

    public struct Plan: Sendable, Hashable {
        public var baseline: Coverage
        /// With the idle units where they stand.
        public var now: Coverage
        public var after: Coverage
        public var moves: [Move]
        public var restored: Bool
    }

    public var maxMoves = 3
    public var tryNearest = 5
    /// Coverage counts as restored within this of the baseline (a share of it).
    public var tolerance = 0.001

    public init() {}

    /// How far `coverage` falls short of `baseline`: the relative shortfalls of both
    /// figures added, 0 when both are restored.
    func shortfall(_ coverage: Coverage, of baseline: Coverage) -> Double {
        func part(_ value: Double, _ target: Double) -> Double {
            target > 0 ? max(0, target * (1 - tolerance) - value) / target : 0
        }
        return part(coverage.core, baseline.core) + part(coverage.points, baseline.points)
    }

    /// - Parameters:
    ///   - baseline: coverage before the dispatch.
    ///   - idle: the units still idle, where they stand.
    ///   - vacated: where the dispatched units stood.
    ///   - coverage: coverage with units at these positions.
    ///   - bestSites: the sites, as many as asked, that together add most coverage to units
    ///     standing at these positions.
    public func plan(baseline: Coverage, idle: [(callSign: String, position: GeoPoint)], vacated: [GeoPoint] = [],
                     coverage: ([GeoPoint]) async throws -> Coverage,
                     bestSites: ([GeoPoint], Int) async throws -> [GeoPoint]) async throws -> Plan {
        var positions = idle
        let start = try await coverage(positions.map(\.position))
        var current = start
        var moves: [Move] = []
        var moved: Set<String> = []
        var open = vacated
        while shortfall(current, of: baseline) > 0, moves.count < maxMoves {
            var spots = open
            for site in try await bestSites(positions.map(\.position), maxMoves - moves.count) where !spots.contains(site) { spots.append(site) }
            var best: (index: Int, spot: GeoPoint, value: Coverage)?
            var bestShortfall = shortfall(current, of: baseline)
            for spot in spots {
                let nearest = positions.indices.filter { !moved.contains(positions[$0].callSign) }
                    .sorted { Haversine.metres(positions[$0].position, spot) < Haversine.metres(positions[$1].position, spot) }
                    .prefix(tryNearest)
                for index in nearest {
                    var trial = positions.map(\.position)
                    trial[index] = spot
                    let value = try await coverage(trial)
                    let remaining = shortfall(value, of: baseline)
                    if remaining < bestShortfall {
                        best = (index, spot, value)
                        bestShortfall = remaining
                    }
                }
            }
            guard let best else { break }
            moves.append(Move(callSign: positions[best.index].callSign, from: positions[best.index].position, to: best.spot, coverageAfter: best.value))
            moved.insert(positions[best.index].callSign)
            positions[best.index].position = best.spot
            open.removeAll { $0 == best.spot }
            current = best.value
        }
        return Plan(baseline: baseline, now: start, after: current, moves: moves, restored: shortfall(current, of: baseline) == 0)
    }
}
