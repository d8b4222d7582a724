public import XunfangGeo

extension CountyModel {
    public struct CoverageShares: Sendable {
        public var thresholds: [Double]
        public var roadShare: [Double]
        public var patrolPointShare: [Double]
        /// Share of the road length in core-class grids (the 1-minute circle's area).
        public var coreRoadShare: [Double]
        /// Per grid id, the same figures for the grid's roads and points.
        public var grids: [String: (road: [Double], points: [Double])]
    }

    /// How much road and how many must-patrol points lie within each threshold of the
    /// nearest unit (road time, walks to and from the road included).
    ///
    /// Units are grouped by mode, one multi-source search per group; an arc counts as far
    /// as the best group reaches along it.
    public func coverage(units: [(position: GeoPoint, mode: TravelMode)], thresholds: [Double]) -> CoverageShares {
        let limit = thresholds.max() ?? 0
        let points = sites.indices.filter { sites[$0].kind == .patrolPoint }
        var arcFraction = [[Double]](repeating: [Double](repeating: 0, count: roads.arcCount), count: thresholds.count)
        var pointSeconds = [Double](repeating: .infinity, count: points.count)
        for mode in Set(units.map(\.mode)) {
            let sources: [(node: Int, cost: Double)] = units.filter { $0.mode == mode }.compactMap { unit in
                snap(unit.position, mode: mode).map { ($0.node, $0.seconds) }
            }
            let pointSnaps = points.map { snap(sites[$0].position, mode: mode) }
            searches.withSearch(.time(mode), direction: .forward) { search, weights in
                search.run(from: sources, limit: limit)
                for tail in search.reached {
                    let entered = search.cost(tail)
                    for arc in roads.arcs(from: tail) where weights[arc].isFinite {
                        for (index, threshold) in thresholds.enumerated() where entered <= threshold {
                            let fraction = weights[arc] > 0 ? min(1, (threshold - entered) / weights[arc]) : 1
                            arcFraction[index][arc] = max(arcFraction[index][arc], fraction)
                        }
                    }
                }
                for (position, snapped) in pointSnaps.enumerated() {
                    guard let snapped else { continue }
                    pointSeconds[position] = min(pointSeconds[position], search.cost(snapped.node) + snapped.seconds)
                }
            }
        }
        var totalByGrid = [Double](repeating: 0, count: grids.count)
        var coveredByGrid = [[Double]](repeating: [Double](repeating: 0, count: grids.count), count: thresholds.count)
        var total = 0.0
        var covered = [Double](repeating: 0, count: thresholds.count)
        for arc in 0..<roads.arcCount {
            let length = roads.arcLength[arc]
            let grid = Int(arcGrid[arc])
            total += length
            if grid >= 0 { totalByGrid[grid] += length }
            for index in thresholds.indices where arcFraction[index][arc] > 0 {
                covered[index] += arcFraction[index][arc] * length
                if grid >= 0 { coveredByGrid[index][grid] += arcFraction[index][arc] * length }
            }
        }
        var pointsByGrid = [Int](repeating: 0, count: grids.count)
        var pointsCoveredByGrid = [[Int]](repeating: [Int](repeating: 0, count: grids.count), count: thresholds.count)
        for (position, site) in points.enumerated() {
            let grid = siteGrid[site]
            if let grid { pointsByGrid[grid] += 1 }
            for (index, threshold) in thresholds.enumerated() where pointSeconds[position] <= threshold {
                if let grid { pointsCoveredByGrid[index][grid] += 1 }
            }
        }
        func share(_ part: Double, _ whole: Double) -> Double { whole > 0 ? part / whole : 0 }
        let core = grids.indices.filter { grids[$0].placeClass == .core }
        let coreTotal = core.reduce(0) { $0 + totalByGrid[$1] }
        var perGrid: [String: (road: [Double], points: [Double])] = [:]
        for (index, grid) in grids.enumerated() {
            perGrid[grid.id] = (thresholds.indices.map { share(coveredByGrid[$0][index], totalByGrid[index]) },
                                thresholds.indices.map { share(Double(pointsCoveredByGrid[$0][index]), Double(pointsByGrid[index])) })
        }
        return CoverageShares(
            thresholds: thresholds,
            roadShare: covered.map { share($0, total) },
            patrolPointShare: thresholds.map { threshold in share(Double(pointSeconds.count { $0 <= threshold }), Double(points.count)) },
            coreRoadShare: thresholds.indices.map { index in share(core.reduce(0) { $0 + coveredByGrid[index][$1] }, coreTotal) },
            grids: perGrid)
    }

    /// The covering problem of placing posts among `candidates` so that the most demand
    /// weight is within `threshold` seconds by road from a post (new or `fixed`).
    public func postPlacement(threshold: Double, mode: TravelMode, demand: [(position: GeoPoint, weight: Double)],
                              candidates: [GeoPoint], fixed: [GeoPoint]) throws(GeoError) -> PostPlacement {
        let demandSnaps = demand.map { snap($0.position, mode: mode) }
        func covers(from site: GeoPoint, _ search: ShortestPathSearch) -> [Int32] {
            guard let start = snap(site, mode: mode) else { return [] }
            search.run(from: [(start.node, start.seconds)], limit: threshold)
            return demandSnaps.indices.filter { index in
                guard let snapped = demandSnaps[index] else { return false }
                return search.cost(snapped.node) + snapped.seconds <= threshold
            }.map(Int32.init)
        }
        // Reach from a site to a demand is a forward search from the site.
        let (candidateSets, fixedSets) = searches.withSearch(.time(mode), direction: .forward) { search, _ in
            (candidates.map { covers(from: $0, search) }, fixed.map { covers(from: $0, search) })
        }
        return try PostPlacement(weights: demand.map(\.weight), covers: candidateSets, fixedCovers: fixedSets)
    }
}
