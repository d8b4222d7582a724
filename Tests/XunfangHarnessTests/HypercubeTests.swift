import Foundation
import Testing
import XunfangHarness

@Suite("Larson's hypercube model, the simulator's analytical anchor")
struct HypercubeTests {
    /// Units alike and every atom indifferent: the hypercube is M/M/N/N, whose loss is Erlang's B.
    @Test("alike units with zero line capacity lose Erlang B's share of calls, and each is busy a(1 − B)/N")
    func erlang() throws {
        let atoms = (0..<4).map { j in Hypercube.Atom(rate: 0.5, preference: [(j) % 3, (j + 1) % 3, (j + 2) % 3], travel: [1, 1, 1]) }
        let solution = try Hypercube(servers: 3, atoms: atoms, serviceRate: 1).solve()
        let b = Hypercube.erlangB(servers: 3, load: 2)
        #expect(abs(b - 4.0 / 19) < 1e-12)
        #expect(abs(solution.lost - b) < 1e-9, "\(solution.lost)")
        #expect(abs(solution.busy.reduce(0, +) - 2 * (1 - b)) < 1e-9)
    }

    @Test("with a long queue it is M/M/N: the share of calls that wait is Erlang C")
    func erlangC() throws {
        let atoms = [Hypercube.Atom(rate: 1.5, preference: [0, 1], travel: [2, 5]), Hypercube.Atom(rate: 0, preference: [1, 0], travel: [4, 1])]
        let solution = try Hypercube(servers: 2, atoms: atoms, serviceRate: 1, queueLimit: 400).solve()
        // Erlang C for N = 2, a = 1.5: B = 0.3462 (a²/2 / (1 + a + a²/2)), C = N·B / (N − a(1 − B)).
        let b = Hypercube.erlangB(servers: 2, load: 1.5), c = 2 * b / (2 - 1.5 * (1 - b))
        #expect(abs(solution.queued - c) < 1e-6, "\(solution.queued) against \(c)")
        #expect(solution.lost < 1e-12)
    }

    /// Two districts, each unit first to its own: the textbook case where the busier
    /// district's unit works more and the other covers for it.
    static func twoDistricts() throws -> Hypercube {
        try Hypercube(servers: 2, atoms: [Hypercube.Atom(rate: 0.6, preference: [0, 1], travel: [2, 6]),
                                          Hypercube.Atom(rate: 0.3, preference: [1, 0], travel: [5, 1.5])], serviceRate: 1)
    }

    @Test("two districts: the balance equations by hand give the same busy shares and dispatches")
    func byHand() throws {
        let solution = try Self.twoDistricts().solve()
        // States 00, 10 (unit 0 busy), 01, 11; λ1 = 0.6, λ2 = 0.3, μ = 1, zero line capacity.
        // With one unit busy both atoms' calls go to the other (0.9); with both busy they are lost:
        //   0.9·p00 = p10 + p01,  1.9·p10 = 0.6·p00 + p11,  1.9·p01 = 0.3·p00 + p11,  2·p11 = 0.9·(p10 + p01).
        let p00 = 1.0, p11 = 0.9 * 0.9 / 2
        let p10 = (0.6 + p11) / 1.9, p01 = (0.3 + p11) / 1.9
        #expect(abs(p10 + p01 - 0.9) < 1e-12)
        let sum = p00 + p10 + p01 + p11
        #expect(abs(solution.busy[0] - (p10 + p11) / sum) < 1e-9 && abs(solution.busy[1] - (p01 + p11) / sum) < 1e-9, "\(solution.busy)")
        #expect(abs(solution.lost - p11 / sum) < 1e-9)
        #expect(solution.busy[0] > solution.busy[1])
        #expect(abs(solution.dispatches.joined().reduce(0, +) - 1) < 1e-9)
    }

    @Test("the call-by-call simulation agrees with the hypercube within its 95% intervals: busy shares, losses and mean travel")
    func simulationAgrees() throws {
        let models = [try Self.twoDistricts(),
                      try Hypercube(servers: 3, atoms: [Hypercube.Atom(rate: 0.9, preference: [0, 1, 2], travel: [1, 3, 6]),
                                                        Hypercube.Atom(rate: 0.5, preference: [1, 2, 0], travel: [4, 1, 2]),
                                                        Hypercube.Atom(rate: 0.4, preference: [2, 1, 0], travel: [7, 3, 1])], serviceRate: 1, queueLimit: 30)]
        for model in models {
            let exact = model.solve()
            let simulated = HypercubeSimulation.run(model, calls: 400_000, seed: 17)
            for unit in 0..<model.servers {
                let (mean, half) = simulated.busy[unit]
                #expect(abs(mean - exact.busy[unit]) <= half, "unit \(unit): simulated \(mean) ± \(half), hypercube \(exact.busy[unit])")
            }
            // (With a queue of 30 hardly a call is lost: a millionth is allowed beside the interval.)
            #expect(abs(simulated.lost.mean - exact.lost) <= simulated.lost.halfWidth + 1e-6, "lost \(simulated.lost) against \(exact.lost)")
            #expect(abs(simulated.meanTravel.mean - exact.meanTravel) <= simulated.meanTravel.halfWidth, "travel \(simulated.meanTravel) against \(exact.meanTravel)")
        }
    }
}
