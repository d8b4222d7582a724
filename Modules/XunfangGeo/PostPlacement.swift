/// Maximal covering location: choose `k` sites for new posts so that the demand weight
/// within reach of some post (new or already fixed) is largest.
///
/// Reach is given as sets (which demands each site covers), so the same solver serves
/// straight-line radii (`PostPlacement.coverageWithin`) and road travel times (the sets
/// a GridModel search produces).
///
/// The instance is first reduced: demands already covered by a fixed post or by no site
/// drop out, and demands that exactly the same sites cover become one group with their
/// summed weight (on real instances this shrinks the demand side several times).
///
/// Method: when the number of possible choices is small (`exactLimit`) every choice is
/// enumerated. Otherwise greedy by marginal weight, improved by interchange, and a
/// Lagrangian relaxation of the covering constraints (Galvão and ReVelle) solved by
/// subgradient steps: its value is an upper bound on the optimum (as tight as the LP
/// relaxation), and every relaxed solution is a feasible choice of k sites, so the best of
/// them, improved by interchange, often beats greedy. The answer is optimal when it meets
/// the bound (for whole-number weights, the bound rounded down). An exact solver that
/// closes the rest of the gap (branch-and-bound) starts from this answer and bound.
public struct PostPlacement: Sendable {
    public struct Solution: Sendable, Hashable {
        /// Indices into the candidate sites, in the order chosen.
        public var sites: [Int]
        public var coveredWeight: Double
        public var totalWeight: Double
        /// Proved: no choice of k sites covers more.
        public var optimal: Bool
        /// No choice of k sites covers more than this.
        public var upperBound: Double
        /// The Lagrangian multipliers (one per reduced group) that gave the bound; empty when
        /// every choice was enumerated. An exact solver fixes sites with them.
        public var multipliers: [Double]

        public init(sites: [Int], coveredWeight: Double, totalWeight: Double, optimal: Bool, upperBound: Double, multipliers: [Double] = []) {
            self.sites = sites
            self.coveredWeight = coveredWeight
            self.totalWeight = totalWeight
            self.optimal = optimal
            self.upperBound = upperBound
            self.multipliers = multipliers
        }

        /// How far the answer may be from the optimum, as a share of the bound.
        public var gap: Double { upperBound > 0 ? max(0, upperBound - coveredWeight) / upperBound : 0 }
    }

    /// The instance after reduction: what an exact solver models.
    public struct Reduced: Sendable {
        /// Weight of each group of demands covered by the same sites (and by no fixed post).
        public let groupWeights: [Double]
        /// For each candidate site, the groups it covers, ascending.
        public let siteGroups: [[Int32]]
        /// Weight the fixed posts cover already.
        public let fixedWeight: Double
        /// Every weight is a whole number, so is the optimum: a bound can be rounded down.
        public let integral: Bool
        /// For each group, the sites that cover it, ascending.
        public let siteCoverers: [[Int32]]

        public init(groupWeights: [Double], siteGroups: [[Int32]], fixedWeight: Double, integral: Bool) {
            self.groupWeights = groupWeights
            self.siteGroups = siteGroups
            self.fixedWeight = fixedWeight
            self.integral = integral
            var coverers = [[Int32]](repeating: [], count: groupWeights.count)
            for (site, covered) in siteGroups.enumerated() { for group in covered { coverers[Int(group)].append(Int32(site)) } }
            siteCoverers = coverers
        }

        /// Weight covered by the fixed posts plus `sites`.
        public func coveredWeight(_ sites: [Int]) -> Double {
            var covered = [Bool](repeating: false, count: groupWeights.count)
            for site in sites { for group in siteGroups[site] { covered[Int(group)] = true } }
            return fixedWeight + zip(groupWeights, covered).reduce(0) { $0 + ($1.1 ? $1.0 : 0) }
        }

        /// The largest value an optimum can have under `bound`.
        public func attainable(_ bound: Double) -> Double {
            integral ? (bound + 1e-6).rounded(.down) : bound
        }
    }

    public let weights: [Double]
    /// For each candidate site, the demands it covers.
    public let covers: [[Int32]]
    /// Demands already covered by fixed posts.
    public let coveredByFixed: [Bool]
    public let reduced: Reduced

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
        reduced = Self.reduce(weights: weights, covers: covers, coveredByFixed: fixed)
    }

    static func reduce(weights: [Double], covers: [[Int32]], coveredByFixed: [Bool]) -> Reduced {
        var profiles = [[Int32]](repeating: [], count: weights.count)
        for (site, set) in covers.enumerated() {
            for demand in set where !coveredByFixed[Int(demand)] && weights[Int(demand)] > 0 && profiles[Int(demand)].last != Int32(site) {
                profiles[Int(demand)].append(Int32(site))
            }
        }
        var groupOf: [[Int32]: Int32] = [:]
        var groupWeights: [Double] = []
        var demandGroup = [Int32](repeating: -1, count: weights.count)
        for (demand, profile) in profiles.enumerated() where !profile.isEmpty {
            let group = groupOf[profile] ?? {
                groupWeights.append(0)
                groupOf[profile] = Int32(groupWeights.count - 1)
                return Int32(groupWeights.count - 1)
            }()
            groupWeights[Int(group)] += weights[demand]
            demandGroup[demand] = group
        }
        var lastSite = [Int32](repeating: -1, count: groupWeights.count)
        let siteGroups = covers.enumerated().map { site, set in
            var groups: [Int32] = []
            for demand in set {
                let group = demandGroup[Int(demand)]
                guard group >= 0, lastSite[Int(group)] != Int32(site) else { continue }
                lastSite[Int(group)] = Int32(site)
                groups.append(group)
            }
            return groups.sorted()
        }
        let fixedWeight = zip(weights, coveredByFixed).reduce(0) { $0 + ($1.1 ? $1.0 : 0) }
        return Reduced(groupWeights: groupWeights, siteGroups: siteGroups, fixedWeight: fixedWeight,
                       integral: weights.allSatisfy { $0 == $0.rounded() })
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
            let sites = exhaustive(k: k)
            let covered = coveredWeight(sites)
            return Solution(sites: sites, coveredWeight: covered, totalWeight: total, optimal: true, upperBound: covered)
        }
        var chosen = reduced.interchange(greedy(k: k))
        let relaxation = lagrangian(k: k, incumbent: reduced.coveredWeight(chosen))
        for start in relaxation.starts {
            let improved = reduced.interchange(start)
            if reduced.coveredWeight(improved) > reduced.coveredWeight(chosen) { chosen = improved }
        }
        let covered = coveredWeight(chosen)
        let bound = max(covered, min(total, reduced.attainable(relaxation.bound)))
        return Solution(sites: chosen, coveredWeight: covered, totalWeight: total, optimal: covered >= bound - 1e-9 * max(1, bound),
                        upperBound: bound, multipliers: relaxation.multipliers)
    }

    /// Weight covered by the fixed posts plus `sites`.
    public func coveredWeight(_ sites: [Int]) -> Double {
        var covered = coveredByFixed
        for site in sites { for demand in covers[site] { covered[Int(demand)] = true } }
        return zip(weights, covered).reduce(0) { $0 + ($1.1 ? $1.0 : 0) }
    }

    func greedy(k: Int) -> [Int] {
        let groups = reduced.groupWeights, siteGroups = reduced.siteGroups
        var covered = [Bool](repeating: false, count: groups.count)
        var chosen: [Int] = []
        var taken = [Bool](repeating: false, count: siteGroups.count)
        for _ in 0..<k {
            var best = -1, bestGain = -1.0
            for site in siteGroups.indices where !taken[site] {
                let gain = siteGroups[site].reduce(0.0) { $0 + (covered[Int($1)] ? 0 : groups[Int($1)]) }
                if gain > bestGain { (best, bestGain) = (site, gain) }
            }
            guard best >= 0 else { break }
            chosen.append(best)
            taken[best] = true
            for group in siteGroups[best] { covered[Int(group)] = true }
        }
        return chosen
    }

    /// The Lagrangian dual of the covering constraints y_g <= sum of x_j over sites j
    /// covering g, with multipliers 0 <= u_g <= w_g: L(u) = sum(w_g - u_g) + the k largest
    /// site scores sum(u_g over the site's groups). Every L(u) bounds the optimum; the k
    /// sites L(u) picks are a feasible answer. Polyak steps toward the best answer known.
    /// Returns the bound, the multipliers that gave it and the best distinct relaxed
    /// answers, to start interchange from.
    func lagrangian(k: Int, incumbent: Double, iterations: Int = 800, starts: Int = 8) -> (bound: Double, multipliers: [Double], starts: [[Int]]) {
        let groups = reduced.groupWeights, siteGroups = reduced.siteGroups
        guard k > 0, !groups.isEmpty else { return (reduced.fixedWeight + (k > 0 ? 0 : groups.reduce(0, +)), [], []) }
        var bestMultipliers: [Double] = []
        var multipliers = groups.map { $0 / 2 }
        var bestBound = Double.infinity, bestValue = incumbent - reduced.fixedWeight
        var pool: [(value: Double, sites: [Int])] = []
        var stepScale = 2.0, sinceImprovement = 0
        var counts = [Int32](repeating: 0, count: groups.count)
        var scores = [Double](repeating: 0, count: siteGroups.count)
        var slopes = [Double](repeating: 0, count: groups.count)
        for _ in 0..<iterations {
            for site in siteGroups.indices { scores[site] = siteGroups[site].reduce(0.0) { $0 + multipliers[Int($1)] } }
            let chosen = Self.largest(k, of: scores)
            let value = zip(groups, multipliers).reduce(0.0) { $0 + $1.0 - $1.1 } + chosen.reduce(0.0) { $0 + scores[$1] }
            if value < bestBound - 1e-9 {
                (bestBound, bestMultipliers, sinceImprovement) = (value, multipliers, 0)
            } else {
                sinceImprovement += 1
                if sinceImprovement >= 25 { (stepScale, sinceImprovement) = (stepScale / 2, 0) }
            }
            for index in counts.indices { counts[index] = 0 }
            for site in chosen { for group in siteGroups[site] { counts[Int(group)] += 1 } }
            let covered = zip(groups, counts).reduce(0.0) { $0 + ($1.1 > 0 ? $1.0 : 0) }
            bestValue = max(bestValue, covered)
            let sorted = chosen.sorted()
            if pool.count < starts || covered > pool[pool.count - 1].value, !pool.contains(where: { $0.sites == sorted }) {
                pool.append((covered, sorted))
                pool.sort { $0.value > $1.value }
                if pool.count > starts { pool.removeLast() }
            }
            guard reduced.attainable(bestBound + reduced.fixedWeight) > bestValue + reduced.fixedWeight + 1e-9, stepScale > 1e-4 else { break }
            for group in groups.indices { slopes[group] = (multipliers[group] < groups[group] ? 1.0 : 0.0) - Double(counts[group]) }
            let norm = slopes.reduce(0.0) { $0 + $1 * $1 }
            guard norm > 0 else { break }
            let step = stepScale * max(value - bestValue, 1e-6 * max(1, value)) / norm
            for group in groups.indices { multipliers[group] = min(groups[group], max(0, multipliers[group] + step * slopes[group])) }
        }
        return (bestBound + reduced.fixedWeight, bestMultipliers, pool.map(\.sites))
    }

    /// Indices of the `k` largest values, ties to the lower index.
    static func largest(_ k: Int, of values: [Double]) -> [Int] {
        Array(values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }.prefix(k))
    }

    func exhaustive(k: Int) -> [Int] {
        let groups = reduced.groupWeights, siteGroups = reduced.siteGroups
        var best: [Int] = [], bestWeight = -1.0
        var counts = [Int32](repeating: 0, count: groups.count)
        var current: [Int] = []
        var weight = 0.0
        func visit(from next: Int) {
            if current.count == k {
                if weight > bestWeight + 1e-12 { (best, bestWeight) = (current, weight) }
                return
            }
            guard siteGroups.count - next >= k - current.count else { return }
            for site in next..<siteGroups.count {
                for group in siteGroups[site] {
                    if counts[Int(group)] == 0 { weight += groups[Int(group)] }
                    counts[Int(group)] += 1
                }
                current.append(site)
                visit(from: site + 1)
                current.removeLast()
                for group in siteGroups[site] {
                    counts[Int(group)] -= 1
                    if counts[Int(group)] == 0 { weight -= groups[Int(group)] }
                }
            }
        }
        visit(from: 0)
        return best
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

extension PostPlacement.Reduced {
    /// Interchange: swap a chosen site for an unchosen one while that raises the covered
    /// weight, taking the best swap each round. A swap's value is the entering site's gain
    /// (weight nobody covers yet), less the leaving site's loss (weight only it covers),
    /// plus the part of that loss the entering site covers too; the last term comes from
    /// the sites covering each group, so a round costs the chosen sites' sets and their
    /// groups' covering sites instead of a trial of every pair.
    public func interchange(_ start: [Int]) -> [Int] {
        let groups = groupWeights
        var chosen = start
        var counts = [Int32](repeating: 0, count: groups.count)
        for site in chosen { for group in siteGroups[site] { counts[Int(group)] += 1 } }
        var inSolution = [Bool](repeating: false, count: siteGroups.count)
        for site in chosen { inSolution[site] = true }
        var gain = [Double](repeating: 0, count: siteGroups.count)
        var kept = [Double](repeating: 0, count: siteGroups.count)
        var touched: [Int32] = []
        // Each swap raises the covered weight, so the rounds end; the cap guards rounding.
        for _ in 0..<(4 * siteGroups.count + 16) {
            for site in siteGroups.indices where !inSolution[site] {
                gain[site] = siteGroups[site].reduce(0.0) { $0 + (counts[Int($1)] == 0 ? groups[Int($1)] : 0) }
            }
            var best: (position: Int, entering: Int, value: Double)?
            for (position, leaving) in chosen.enumerated() {
                var loss = 0.0
                for group in siteGroups[leaving] where counts[Int(group)] == 1 {
                    loss += groups[Int(group)]
                    for site in siteCoverers[Int(group)] where !inSolution[Int(site)] {
                        if kept[Int(site)] == 0 { touched.append(site) }
                        kept[Int(site)] += groups[Int(group)]
                    }
                }
                for entering in siteGroups.indices where !inSolution[entering] {
                    let value = gain[entering] + kept[entering] - loss
                    if value > (best?.value ?? 1e-9) { best = (position, entering, value) }
                }
                for site in touched { kept[Int(site)] = 0 }
                touched.removeAll(keepingCapacity: true)
            }
            guard let best else { break }
            let leaving = chosen[best.position]
            for group in siteGroups[leaving] { counts[Int(group)] -= 1 }
            for group in siteGroups[best.entering] { counts[Int(group)] += 1 }
            chosen[best.position] = best.entering
            (inSolution[leaving], inSolution[best.entering]) = (false, true)
        }
        return chosen
    }
}

extension PostPlacement.Reduced {
    /// Iterated local search from `start`: a few chosen sites swapped for random others, then
    /// interchange; a result as good as the current one is taken (so it drifts along the
    /// plateaus dense instances have), and after `patience` tries without a new best it goes
    /// back to the best. Each new best goes to `improved`. Runs until `stop()` says so, or the
    /// answer reaches `target` (a bound: nothing better exists). Returns the best found.
    public func iteratedLocalSearch(_ start: [Int], target: Double, entering pool: [Int]? = nil, seed: UInt64 = 1, patience: Int = 20,
                                    stop: () -> Bool, improved: ([Int], Double) -> Void = { _, _ in }) -> [Int] {
        let pool = pool.flatMap { Set($0).union(start).count > start.count ? $0 : nil } ?? Array(siteGroups.indices)
        guard !start.isEmpty, start.count < siteGroups.count else { return start }
        var random = SyntheticRoads.Generator(state: seed)
        var best = start, bestValue = coveredWeight(start)
        var current = best, currentValue = bestValue, sinceBest = 0
        while bestValue < target - 1e-9, !stop() {
            var trial = current
            var chosen = Set(trial)
            for _ in 0..<Int.random(in: 2...4, using: &random) {
                let position = Int.random(in: 0..<trial.count, using: &random)
                // Mostly from the pool, sometimes from anywhere: the optimum may hold a site the pool misses.
                func draw() -> Int {
                    Int.random(in: 0..<4, using: &random) == 0 ? Int.random(in: 0..<siteGroups.count, using: &random) : pool[Int.random(in: 0..<pool.count, using: &random)]
                }
                var entering = draw()
                while chosen.contains(entering) { entering = draw() }
                chosen.remove(trial[position])
                chosen.insert(entering)
                trial[position] = entering
            }
            trial = interchange(trial)
            let value = coveredWeight(trial)
            if value > bestValue + 1e-9 {
                (best, bestValue, sinceBest) = (trial, value, 0)
                improved(best, bestValue)
            } else {
                sinceBest += 1
            }
            if value >= currentValue - 1e-9 { (current, currentValue) = (trial, value) }
            if sinceBest >= patience { (current, currentValue, sinceBest) = (best, bestValue, 0) }
        }
        return best
    }
}
