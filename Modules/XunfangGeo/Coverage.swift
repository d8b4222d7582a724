extension RoadGraph {
    /// Metres of road reachable within each threshold from the nearest source, after a
    /// search has run from those sources (forward, same metric as `weights`).
    ///
    /// An arc counts in part when the threshold runs out along it: an arc of 200 m and
    /// 20 s entered at 50 s with a 60 s threshold contributes 100 m. Arcs count in their
    /// direction of travel, so a one-way street is covered only from its entry end.
    /// `arcFilter` restricts the sum (to the arcs of one grid, say).
    public func coveredMetres(after search: ShortestPathSearch, weights: [Double], thresholds: [Double],
                              arcFilter: ((Int) -> Bool)? = nil) -> [Double] {
        precondition(search.direction == .forward, "coverage is measured from the sources outward")
        var covered = [Double](repeating: 0, count: thresholds.count)
        for tail in search.reached {
            let entered = search.cost(tail)
            for arc in arcs(from: tail) where arcFilter?(arc) ?? true {
                let cost = weights[arc]
                guard cost.isFinite else { continue }
                for (index, threshold) in thresholds.enumerated() where entered <= threshold {
                    let fraction = cost > 0 ? min(1, (threshold - entered) / cost) : 1
                    covered[index] += fraction * arcLength[arc]
                }
            }
        }
        return covered
    }

    /// Total metres of road, optionally of the arcs `arcFilter` keeps.
    public func totalMetres(arcFilter: ((Int) -> Bool)? = nil) -> Double {
        var total = 0.0
        for arc in 0..<arcCount where arcFilter?(arc) ?? true { total += arcLength[arc] }
        return total
    }
}
