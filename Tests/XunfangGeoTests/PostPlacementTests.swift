import Testing
@testable import XunfangGeo

@Suite("Post placement (maximal covering)")
struct PostPlacementTests {
    /// Every k-subset, the test's own way.
    func bruteForce(weights: [Double], covers: [[Int32]], fixed: [[Int32]], k: Int) -> Double {
        var best = 0.0
        func subsets(_ start: Int, _ chosen: [Int]) {
            if chosen.count == k {
                var covered = Set(fixed.flatMap { $0 })
                for site in chosen { covered.formUnion(covers[site]) }
                best = max(best, covered.reduce(0) { $0 + weights[Int($1)] })
                return
            }
            guard start < covers.count else { return }
            for site in start..<covers.count { subsets(site + 1, chosen + [site]) }
        }
        subsets(0, [])
        return best
    }

    func instance(seed: UInt64) -> (weights: [Double], covers: [[Int32]], fixed: [[Int32]]) {
        var random = SplitMix64(state: seed)
        let demands = (0..<40).map { _ in PlanarPoint(x: Double.random(in: 0..<1_000, using: &random), y: Double.random(in: 0..<1_000, using: &random)) }
        let sites = (0..<12).map { _ in PlanarPoint(x: Double.random(in: 0..<1_000, using: &random), y: Double.random(in: 0..<1_000, using: &random)) }
        let weights = demands.map { _ in Double(Int.random(in: 1...9, using: &random)) }
        let planar = { (a: PlanarPoint, b: PlanarPoint) in a.distance(to: b) }
        let covers = PostPlacement.coverageWithin(220, demands: demands, sites: sites, distance: planar)
        let fixed = PostPlacement.coverageWithin(220, demands: demands, sites: [PlanarPoint(x: 500, y: 500)], distance: planar)
        return (weights, covers, fixed)
    }

    @Test("small instances are solved exactly and equal brute force", arguments: 0..<12)
    func exact(seed: Int) throws {
        let (weights, covers, fixed) = instance(seed: UInt64(seed))
        for k in [1, 3, 5] {
            let solution = try PostPlacement(weights: weights, covers: covers, fixedCovers: fixed).solve(k: k)
            let expected = bruteForce(weights: weights, covers: covers, fixed: fixed, k: k)
            #expect(solution.optimal)
            #expect(solution.coveredWeight == expected, "seed \(seed) k \(k)")
            #expect(Set(solution.sites).count == k)
        }
    }

    @Test("greedy with interchange stays within its bound and (1 - 1/e) of the optimum", arguments: 0..<12)
    func heuristic(seed: Int) throws {
        let (weights, covers, fixed) = instance(seed: UInt64(100 + seed))
        let placement = try PostPlacement(weights: weights, covers: covers, fixedCovers: fixed)
        for k in [2, 4] {
            let solution = try placement.solve(k: k, exactLimit: 0)
            let optimum = bruteForce(weights: weights, covers: covers, fixed: fixed, k: k)
            #expect(solution.coveredWeight <= optimum + 1e-9)
            #expect(solution.upperBound >= optimum - 1e-9, "the bound must hold")
            #expect(solution.coveredWeight >= (1 - 1 / 2.718281828) * optimum)
            #expect(solution.coveredWeight == placement.coveredWeight(solution.sites))
        }
    }

    @Test("interchange ends where no single swap raises the covered weight, never below its start", arguments: 0..<12)
    func interchangeIsLocallyOptimal(seed: Int) throws {
        let (weights, covers, fixed) = instance(seed: UInt64(200 + seed))
        let reduced = try PostPlacement(weights: weights, covers: covers, fixedCovers: fixed).reduced
        var random = SplitMix64(state: UInt64(seed))
        for k in [2, 4, 6] {
            let start = Array(Array(covers.indices).shuffled(using: &random).prefix(k))
            let ended = reduced.interchange(start)
            #expect(Set(ended).count == k)
            #expect(reduced.coveredWeight(ended) >= reduced.coveredWeight(start))
            for position in ended.indices {
                for entering in covers.indices where !ended.contains(entering) {
                    var swapped = ended
                    swapped[position] = entering
                    #expect(reduced.coveredWeight(swapped) <= reduced.coveredWeight(ended) + 1e-9, "seed \(seed) k \(k): swapping in \(entering) helps")
                }
            }
        }
    }

    @Test("iterated local search climbs out of a local optimum to the brute-force one, says each new best, and stops when told or at its target", arguments: 0..<12)
    func iteratedLocalSearch(seed: Int) throws {
        let (weights, covers, fixed) = instance(seed: UInt64(300 + seed))
        let reduced = try PostPlacement(weights: weights, covers: covers, fixedCovers: fixed).reduced
        var random = SplitMix64(state: UInt64(seed))
        for k in [3, 5] {
            let optimum = bruteForce(weights: weights, covers: covers, fixed: fixed, k: k)
            let start = reduced.interchange(Array(Array(covers.indices).shuffled(using: &random).prefix(k)))
            var tries = 0, told: [Double] = []
            let found = reduced.iteratedLocalSearch(start, target: optimum, seed: UInt64(seed), stop: {
                tries += 1
                return tries > 5_000
            }) { sites, value in
                #expect(Set(sites).count == k && reduced.coveredWeight(sites) == value)
                told.append(value)
            }
            #expect(Set(found).count == k)
            #expect(reduced.coveredWeight(found) == optimum, "seed \(seed) k \(k): \(reduced.coveredWeight(found)) of \(optimum) after \(tries) tries")
            #expect(told == told.sorted() && Set(told).count == told.count && (told.last ?? reduced.coveredWeight(start)) == optimum)
            #expect(tries <= 5_000, "it stops at the target")
            let stopped = reduced.iteratedLocalSearch(start, target: optimum + 1, stop: { true })
            #expect(stopped == start, "told to stop at once, it answers its start")
        }
    }

    @Test("bad input is refused")
    func refuses() {
        #expect(throws: GeoError.self) { try PostPlacement(weights: [1, -1], covers: []) }
        #expect(throws: GeoError.self) { try PostPlacement(weights: [1], covers: [[3]]) }
        #expect(throws: GeoError.self) { try PostPlacement(weights: [1], covers: [[0]]).solve(k: -1) }
    }
}

