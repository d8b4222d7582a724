/// Maximal covering location: choose `k` sites for new posts so that the demand weight
/// within reach of some post (new or already fixed) is largest.
///
/// Reach is given as sets (which demands each site covers), so the same solver serves
/// straight-line radii (`PostPlacement.coverageWithin`) and road travel times (the sets
/// a GridModel search produces).
///
/// Method: greedy by marginal weight, then interchange (swap a chosen site for an unchosen
/// one while that raises the covered weight) until no swap helps. When the number of
/// possible choices is small (`exactLimit`), every choice is enumerated instead and the
/// answer is optimal. Otherwise an upper bound on the optimum is reported beside the
/// answer: the lesser of the total demand, the fixed posts' coverage plus the k largest
/// single-site gains, and greedy / (1 − 1/e) (Nemhauser–Wolsey–Fisher).
public struct PostPlacement: Sendable {
    public struct Solution: Sendable, Hashable {
        /// Indices into the candidate sites, in the order chosen.
        public var sites: [Int]
        public var coveredWeight: Double
        public var totalWeight: Double
        /// True when every choice was enumerated.
        public var optimal: Bool
        /// No choice of k sites covers more than this.
        public var upperBound: Double
    }

    public let weights: [Double]
    /// For each candidate site, the demands it covers.
    public let covers: [[Int32]]
    /// Demands already covered by fixed posts.
    public let coveredByFixed: [Bool]

    public init(weights: [Double], covers: [[Int32]], fixedCovers: [[Int32]] = []) throws(GeoError) {
        guard weights.allSatisfy({ $0 >= 0 && $0.isFinite }) else { throw GeoError(.invalidInput, "demand weights must be finite and not negative") }
        for set in covers + fixedCovers {
            guard set.allSatisfy({ $0 >= 0 && Int($0) < weights.count }) else {
                throw GeoError(.invalidInput, "a coverage set refers to a demand outside 0..<\(weights.count)")
            }
        }
        self.weights = weights
        self.covers = covers
        var fixed = [Bool](repeating: false, count: weights.count)
        for set in fixedCovers { for demand in set { fixed[Int(demand)] = true } }
        coveredByFixed = fixed
    }

    /// Coverage sets by straight-line distance: site j covers demand i when
    /// `distance(i, j) <= radius`.
    public static func coverageWithin<D, S>(_ radius: Double, demands: [D], sites: [S], distance: (D, S) -> Double) -> [[Int32]] {
        sites.map { site in demands.indices.filter { distance(demands[$0], site) <= radius }.map(Int32.init) }
    }

    public func solve(k: Int, exactLimit: Int = 200_000) throws(GeoError) -> Solution {
        guard k >= 0 else { throw GeoError(.invalidInput, "k must not be negative") }
        let total = weights.reduce(0, +)
        let k = min(k, covers.count)
        if let combinations = Self.binomial(covers.count, k, cap: exactLimit), combinations <= exactLimit {
            let (sites, covered) = exhaustive(k: k)
            return Solution(sites: sites, coveredWeight: covered, totalWeight: total, optimal: true, upperBound: covered)
        }
        var chosen = greedy(k: k)
        let greedyWeight = coveredWeight(chosen)
        chosen = interchange(chosen)
        let covered = coveredWeight(chosen)
        let fixedWeight = zip(weights, coveredByFixed).reduce(0) { $0 + ($1.1 ? $1.0 : 0) }
        let gains = covers.map { set in set.reduce(0.0) { $0 + (coveredByFixed[Int($1)] ? 0 : weights[Int($1)]) } }.sorted(by: >)
        let topK = fixedWeight + gains.prefix(k).reduce(0, +)
        let bound = min(total, topK, fixedWeight + (greedyWeight - fixedWeight) / (1 - 1 / 2.718_281_828_459_045))
        return Solution(sites: chosen, coveredWeight: covered, totalWeight: total, optimal: covered >= bound, upperBound: max(bound, covered))
    }

    /// Weight covered by the fixed posts plus `sites`.
    public func coveredWeight(_ sites: [Int]) -> Double {
        var covered = coveredByFixed
        for site in sites { for demand in covers[site] { covered[Int(demand)] = true } }
        return zip(weights, covered).reduce(0) { $0 + ($1.1 ? $1.0 : 0) }
    }

    func greedy(k: Int) -> [Int] {
        var covered = coveredByFixed
        var chosen: [Int] = []
        var available = Set(covers.indices)
        for _ in 0..<k {
            var best = -1, bestGain = -1.0
            for site in available.sorted() {
                let gain = covers[site].reduce(0.0) { $0 + (covered[Int($1)] ? 0 : weights[Int($1)]) }
                if gain > bestGain { (best, bestGain) = (site, gain) }
            }
            guard best >= 0 else { break }
            chosen.append(best)
            available.remove(best)
            for demand in covers[best] { covered[Int(demand)] = true }
        }
        return chosen
    }

    /// First-improvement swaps with coverage counts, so each trial costs the two sites' sets.
    func interchange(_ start: [Int]) -> [Int] {
        var chosen = start
        var counts = coveredByFixed.map { $0 ? 1 : 0 }
        for site in chosen { for demand in covers[site] { counts[Int(demand)] += 1 } }
        var improved = true
        while improved {
            improved = false
            let inSolution = Set(chosen)
            outer: for (position, leaving) in chosen.enumerated() {
                // Weight only `leaving` covers is lost when it goes.
                for demand in covers[leaving] { counts[Int(demand)] -= 1 }
                let loss = covers[leaving].reduce(0.0) { $0 + (counts[Int($1)] == 0 ? weights[Int($1)] : 0) }
                for entering in covers.indices where !inSolution.contains(entering) {
                    let gain = covers[entering].reduce(0.0) { $0 + (counts[Int($1)] == 0 ? weights[Int($1)] : 0) }
                    if gain > loss + 1e-9 {
                        chosen[position] = entering
                        for demand in covers[entering] { counts[Int(demand)] += 1 }
                        improved = true
                        break outer
                    }
                }
                for demand in covers[leaving] { counts[Int(demand)] += 1 }
            }
        }
        return chosen
    }

    func exhaustive(k: Int) -> ([Int], Double) {
        var best: [Int] = [], bestWeight = -1.0
        var counts = coveredByFixed.map { $0 ? 1 : 0 }
        var current: [Int] = []
        var weight = zip(weights, coveredByFixed).reduce(0) { $0 + ($1.1 ? $1.0 : 0) }
        func visit(from next: Int) {
            if current.count == k {
                if weight > bestWeight + 1e-12 { (best, bestWeight) = (current, weight) }
                return
            }
            guard covers.count - next >= k - current.count else { return }
            for site in next..<covers.count {
                for demand in covers[site] {
                    if counts[Int(demand)] == 0 { weight += weights[Int(demand)] }
                    counts[Int(demand)] += 1
                }
                current.append(site)
                visit(from: site + 1)
                current.removeLast()
                for demand in covers[site] {
                    counts[Int(demand)] -= 1
                    if counts[Int(demand)] == 0 { weight -= weights[Int(demand)] }
                }
            }
        }
        visit(from: 0)
        // Reported from a fresh sum: the running one collects rounding over many steps.
        return (best, coveredWeight(best))
    }

    /// C(n, k), or nil once it passes `cap`.
    static func binomial(_ n: Int, _ k: Int, cap: Int) -> Int? {
        guard k >= 0, k <= n else { return 0 }
        let k = min(k, n - k)
        var result = 1
        for i in 0..<k {
            let (product, overflow) = result.multipliedReportingOverflow(by: n - i)
            if overflow { return nil }
            result = product / (i + 1)
            if result > cap { return nil }
        }
        return result
    }
}
