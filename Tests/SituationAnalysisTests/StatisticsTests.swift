import Foundation
import SituationAnalysisPlugin
import Testing
import XunfangGeo

let columbus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/columbus.json").path

func hotspots(_ arguments: [String]) throws -> [String: Any] {
    let text = try HotspotsCommand.output(["--polygons", columbus, "--value", "CRIME", "--planar", "--json"] + arguments)
    return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

func near(_ a: Double?, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
    guard let a else { return false }
    return abs(a - b) <= tolerance * max(1, abs(b))
}

@Suite("Spatial statistics against esda (Columbus crime, 49 areas)")
struct EsdaAgreementTests {
    /// (weights, row-standardised?, I, E[I], Var_norm, z) from esda.Moran.
    @Test("global Moran's I, its expectation, variance under normality and z", arguments: [
        ("queen", true, 0.5001885571828611, -0.020833333333333332, 0.00856341311940498, 5.630312787738188),
        ("queen", false, 0.515461436886279, -0.020833333333333332, 0.007349774769383, 6.255565079514329),
        ("rook", true, 0.5236702127502532, -0.020833333333333332, 0.009808900066073292, 5.497820514640764),
        ("knn:4", true, 0.5825517270277237, -0.020833333333333332, 0.008100198412698413, 6.704196337990741),
        ("distance:1.5", false, 0.2262752557157941, -0.020833333333333332, 0.0008246951633029513, 8.60480667036173),
    ])
    func moran(weights: String, row: Bool, i: Double, expected: Double, variance: Double, z: Double) throws {
        let result = try hotspots(["--weights", weights, "--statistic", "moran"] + (row ? ["--row-standardize"] : []))
        #expect(near(result["I"] as? Double, i))
        #expect(near(result["expected"] as? Double, expected))
        #expect(near(result["variance"] as? Double, variance))
        #expect(near(result["z"] as? Double, z))
    }

    /// Areas 0, 5 and 20: esda.Moran_Local (row-standardised) Is, and G_Local star z, binary and "R".
    @Test("local Moran and Gi* (classic and row-standardised) area by area", arguments: [
        ("queen", [0.7217813785551247, -0.17786499619074278, 0.1517773009555609],
         [-1.4327796539664275, 0.06864804381109103, 0.9580126064234571], [-0.8097987005256958, 0.03879947381857153, 0.46379585876685125]),
        ("knn:4", [0.35125780322357153, -0.04337263900544242, 0.08938423119792238],
         [-1.1190878667213673, -0.10442920204444181, 0.7103966474070654], [-0.4791647974666053, -0.04471391294217557, 0.3041736719682579]),
        ("distance:1.5", [-0.0805851222652003, -0.17097793092722607, 0.13829754112172674],
         [-0.15910134110233373, 1.507265942199585, 3.1600394602918094], [-0.042682384862381, 0.2733714109163715, 0.4655177773311275]),
    ])
    func local(weights: String, localMoran: [Double], giBinary: [Double], giRow: [Double]) throws {
        let moran = try #require(try hotspots(["--weights", weights, "--statistic", "local-moran", "--row-standardize"])["areas"] as? [[String: Any]])
        let classic = try #require(try hotspots(["--weights", weights, "--statistic", "gi-star"])["areas"] as? [[String: Any]])
        let row = try #require(try hotspots(["--weights", weights, "--statistic", "gi-star", "--row-standardize"])["areas"] as? [[String: Any]])
        for (position, area) in [0, 5, 20].enumerated() {
            #expect(near(moran[area]["I"] as? Double, localMoran[position]), "\(weights) area \(area)")
            #expect(near(classic[area]["z"] as? Double, giBinary[position]), "\(weights) area \(area)")
            #expect(near(row[area]["z"] as? Double, giRow[position]), "\(weights) area \(area)")
        }
    }
}

@Suite("Spatial statistics by hand")
struct HandCheckedTests {
    @Test("Benjamini–Hochberg on a textbook list")
    func benjaminiHochberg() {
        // m = 6, alpha = 0.05: thresholds 0.0083, 0.0167, 0.025, 0.0333, 0.0417, 0.05.
        let p = [0.01, 0.04, 0.03, 0.005, 0.20, 0.026]
        // Sorted: 0.005 ok, 0.01 ok, 0.026 > 0.025, 0.03 ok, 0.04 <= 0.0417 ok, 0.20 no. The largest passing
        // rank is 5, so the five smallest are discoveries, 0.026 included though it failed its own rank.
        #expect(SpatialStatistics.benjaminiHochberg(p, alpha: 0.05) == [true, true, true, true, false, true])
        #expect(SpatialStatistics.benjaminiHochberg([0.01, 0.04, 0.03, 0.005, 0.20, 0.026], alpha: 0.03) == [true, false, false, true, false, false])
        #expect(SpatialStatistics.benjaminiHochberg([0.5, 0.9], alpha: 0.05) == [false, false])
    }

    @Test("a line of five with a clustered value: Moran's I by hand")
    func lineOfFive() {
        // Path graph 0-1-2-3-4, values 1,1,1,5,5 (mean 2.6, z = -1.6,-1.6,-1.6,2.4,2.4), binary weights, S0 = 8.
        let weights = SpatialWeights(neighbors: [[1], [0, 2], [1, 3], [2, 4], [3]], weights: [[1], [1, 1], [1, 1], [1, 1], [1]])
        let result = SpatialStatistics.moran([1, 1, 1, 5, 5], weights: weights)
        // zᵀWz = 2 Σ_edges z_i z_j = 2(2.56 + 2.56 - 3.84 + 5.76) = 14.08; zᵀz = 3·2.56 + 2·5.76 = 19.2.
        #expect(abs(result.i - 5.0 / 8.0 * 14.08 / 19.2) < 1e-12)
        #expect(result.expected == -0.25)
    }

    @Test("permutation p-values: deterministic for a seed, small where the cluster is, bounded")
    func permutations() throws {
        let first = try hotspots(["--weights", "queen", "--statistic", "gi-star", "--permutations", "499", "--seed", "7"])
        let again = try hotspots(["--weights", "queen", "--statistic", "gi-star", "--permutations", "499", "--seed", "7"])
        let areas = try #require(first["areas"] as? [[String: Any]])
        #expect(areas.map { $0["p_sim"] as? Double } == (again["areas"] as? [[String: Any]])?.map { $0["p_sim"] as? Double })
        let p = areas.compactMap { $0["p_sim"] as? Double }
        #expect(p.count == 49 && p.allSatisfy { $0 >= 1.0 / 500 && $0 <= 0.5 + 1e-12 })
        // The strongest Gi* z scores are the ones with the smallest pseudo p-values.
        let strongest = areas.max { abs($0["z"] as! Double) < abs($1["z"] as! Double) }!
        #expect((strongest["p_sim"] as! Double) <= 0.01)
        let global = try hotspots(["--weights", "queen", "--statistic", "moran", "--row-standardize", "--permutations", "199", "--seed", "3"])
        #expect((global["p_sim"] as! Double) == 1.0 / 200, "no shuffle beats I = 0.50")
    }

    @Test("bad input is refused with the reason")
    func refusals() {
        #expect(throws: (any Error).self) { try HotspotsCommand.output(["--polygons", columbus, "--value", "NOPE", "--weights", "queen", "--statistic", "moran", "--planar"]) }
        #expect(throws: (any Error).self) { try HotspotsCommand.output(["--polygons", columbus, "--value", "CRIME", "--weights", "hexagon", "--statistic", "moran", "--planar"]) }
        #expect(throws: (any Error).self) { try HotspotsCommand.output(["--polygons", columbus, "--value", "CRIME", "--weights", "knn:0", "--statistic", "moran", "--planar"]) }
        #expect(HotspotsCommand.run(["--polygons", "/nonexistent.geojson", "--value", "CRIME", "--weights", "queen", "--statistic", "moran"]) == 1)
    }
}
