import Foundation
import Testing
@testable import XunfangExact
import XunfangGeo

/// The exact solver takes one problem at a time in a process and refuses a second with
/// `.busy`; GridModel's tests in this process solve too, so a test waits for its turn. Each
/// solve runs on a thread of its own: seconds of GLPK on one of Swift concurrency's two
/// threads here would hold up other suites' bus calls past their deadlines.
func exactWhenFree(_ placement: PostPlacement, k: Int, timeLimit: Duration, start: PostPlacement.Solution) async throws -> PostPlacement.Solution {
    while true {
        let attempt = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: Result { () throws(GeoError) in
                    try ExactPostPlacement.solve(placement, k: k, timeLimit: timeLimit, start: start)
                })
            }
        }
        if case .failure(let error) = attempt, error.code == .busy {
            try await Task.sleep(for: .milliseconds(20))
            continue
        }
        return try attempt.get()
    }
}

@Suite("Exact post placement (GLPK branch-and-bound)", .serialized)
struct ExactPostPlacementTests {
    /// The GeoDaNet crime points: each distinct location is a demand (weight = crimes there)
    /// and a candidate site; coverage within 1,000 ft, planar.
    func crimes() throws -> PostPlacement {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/geodanet-crimes.csv")
        let rows = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
        let points = try rows.map { row in
            PlanarPoint(x: try #require(Double(row[1])), y: try #require(Double(row[2])))
        }
        let weights = try rows.map { try #require(Double($0[3])) }
        let covers = PostPlacement.coverageWithin(1_000, demands: points, sites: points, distance: planar)
        return try PostPlacement(weights: weights, covers: covers)
    }

    func planar(_ a: PlanarPoint, _ b: PlanarPoint) -> Double { a.distance(to: b) }

    @Test("on a real crime-point instance the fast answer is within 1% of the proved optimum, and its bound holds")
    func realInstance() async throws {
        let placement = try crimes()
        #expect(placement.reduced.groupWeights.count < placement.weights.count, "demands covered by the same sites are merged")
        for k in 1...16 {
            let fast = try placement.solve(k: k, exactLimit: 0)
            let exact = try await exactWhenFree(placement, k: k, timeLimit: .seconds(60), start: fast)
            #expect(exact.optimal, "k \(k): proved")
            #expect(exact.upperBound == exact.coveredWeight)
            #expect(exact.coveredWeight == placement.coveredWeight(exact.sites) && Set(exact.sites).count == k)
            #expect(fast.upperBound >= exact.coveredWeight, "k \(k): the Lagrangian bound holds")
            #expect(fast.coveredWeight >= 0.99 * exact.coveredWeight, "k \(k): fast \(fast.coveredWeight) of \(exact.coveredWeight)")
            if fast.optimal { #expect(fast.coveredWeight == exact.coveredWeight, "k \(k): a fast answer called optimal is") }
        }
    }

    @Test("Lagrangian fixing drops sites before branch-and-bound, and the optimum survives it")
    func fixing() async throws {
        let placement = try crimes()
        let fast = try placement.solve(k: 11, exactLimit: 0)
        let exact = try await exactWhenFree(placement, k: 11, timeLimit: .seconds(60), start: fast)
        let fixed = ExactPostPlacement.fixing(placement.reduced, k: 11, multipliers: fast.multipliers, incumbent: fast.coveredWeight)
        #expect(fixed.free.count + fixed.open.count < placement.covers.count, "\(fixed.free.count) free, \(fixed.open.count) open")
        let restricted = ExactPostPlacement.restrict(placement.reduced, open: fixed.open, free: fixed.free)
        #expect(restricted.fixedWeight >= placement.reduced.fixedWeight)
        #expect(exact.coveredWeight > fast.coveredWeight, "the better answer lies among the sites left free")
        #expect(Set(fixed.open).isSubset(of: exact.sites) && Set(exact.sites).isSubset(of: fixed.open + fixed.free))
    }

    @Test("random instances with fractional weights and fixed posts: exact equals enumeration", arguments: 0..<8)
    func enumeration(seed: Int) async throws {
        var random = SyntheticRoads.Generator(state: UInt64(seed) &* 7_919 &+ 11)
        let demands = (0..<60).map { _ in PlanarPoint(x: Double.random(in: 0..<1_000, using: &random), y: Double.random(in: 0..<1_000, using: &random)) }
        let sites = (0..<18).map { _ in PlanarPoint(x: Double.random(in: 0..<1_000, using: &random), y: Double.random(in: 0..<1_000, using: &random)) }
        let weights = demands.map { _ in Double.random(in: 0.1..<5, using: &random) }
        let covers = PostPlacement.coverageWithin(200, demands: demands, sites: sites, distance: planar)
        let fixed = PostPlacement.coverageWithin(200, demands: demands, sites: [PlanarPoint(x: 500, y: 500)], distance: planar)
        let placement = try PostPlacement(weights: weights, covers: covers, fixedCovers: fixed)
        for k in [2, 4, 6] {
            let enumerated = try placement.solve(k: k)
            #expect(enumerated.optimal)
            let exact = try await exactWhenFree(placement, k: k, timeLimit: .seconds(60), start: placement.solve(k: k, exactLimit: 0))
            #expect(exact.optimal)
            #expect(abs(exact.coveredWeight - enumerated.coveredWeight) < 1e-9, "seed \(seed) k \(k)")
        }
    }

    @Test("an answer already proved by its bound is returned as it is")
    func provedStart() async throws {
        let placement = try PostPlacement(weights: [1, 2, 3], covers: [[0], [1], [2]])
        let fast = try placement.solve(k: 2, exactLimit: 0)
        #expect(fast.optimal && fast.coveredWeight == 5)
        let again = try await exactWhenFree(placement, k: 2, timeLimit: .seconds(1), start: fast)
        #expect(again == fast)
    }
}
