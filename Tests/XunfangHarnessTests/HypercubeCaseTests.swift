import Foundation
import Testing
import XunfangHarness

@Suite("Hypercube validation cases: the scenario section, its calls and its verdict")
struct HypercubeCaseTests {
    static let scenario = """
    name: hc
    start: "2026-11-04 08:20"
    hours: 7
    plugins: [grid-model, dispatch, patrol, terminal]
    env:
      dispatch: { DISPATCH_DUPLICATE_METRES: "150" }
    hypercube:
      stations: [S1, S2]
      type: dispute
      scene_minutes: 6
      atoms:
        - { station: S1, east_metres: 400, north_metres: 300, per_hour: 3 }
        - { station: S2, east_metres: -300, north_metres: 0, per_hour: 2 }
    """

    @Test("the section is read and checked by name; the county it runs sets the model's world over the scenario's settings")
    func section() throws {
        let scenario = try Scenario.parse(yaml: Self.scenario)
        #expect(scenario.hypercube == HypercubeCase(stations: ["S1", "S2"], type: "dispute", sceneMinutes: 6,
                                                    atoms: [.init(station: "S1", eastMetres: 400, northMetres: 300, perHour: 3),
                                                            .init(station: "S2", eastMetres: -300, northMetres: 0, perHour: 2)], batches: 8))
        let refusals: [(text: String, says: String)] = [
            (Self.scenario.replacingOccurrences(of: "per_hour: 2", with: "rate: 2"), "hypercube.atoms[1].rate is not a scenario key"),
            (Self.scenario.replacingOccurrences(of: "scene_minutes", with: "scene"), "hypercube.scene is not a scenario key"),
            (Self.scenario.replacingOccurrences(of: "station: S2,", with: "station: S9,"), "hypercube.atoms[1]: station S9 is not one of hypercube.stations"),
            (Self.scenario.replacingOccurrences(of: "[S1, S2]", with: "[S1]"), "hypercube.stations: 2 to 12 different stations"),
            (Self.scenario.replacingOccurrences(of: "patrol, ", with: ""), "a hypercube case needs patrol"),
            (Self.scenario + "\nfaults:\n  - { at_minutes: 5, kill: terminal }", "runs without faults and seals"),
        ]
        for (text, says) in refusals {
            #expect(throws: HarnessError.self, "\(says)") { try Scenario.parse(yaml: text) }
            do { _ = try Scenario.parse(yaml: text) } catch { #expect(error.description.contains(says), "\(error.description)") }
        }
        let county = try HarnessCounty.yaml(demo: """
            county: demo
            plugins:
              - { name: grid-model }
              - { name: dispatch, env: { DISPATCH_AUTO_MOVE_UP: "on" } }
              - { name: patrol }
              - { name: terminal }
            """, scenario: scenario, credential: "c")
        #expect(county.contains("DISPATCH_DUPLICATE_METRES: '0'") && county.contains("DISPATCH_AUTO_MOVE_UP: 'off'") && county.contains("TERMINAL_WAIT_AT_STATION: 'on'")
                && county.contains("TERMINAL_SCENE_EXPONENTIAL_MINUTES: '6.0'"), "\(county)")
    }

    @Test("calls: each atom's Poisson stream at its rate, at its place east and north of its station's house, seeded, in time order")
    func calls() throws {
        let hypercube = try #require(try Scenario.parse(yaml: Self.scenario).hypercube)
        let places = try hypercube.places(houses: ["S1": (104.0, 30.0), "S2": (104.1, 30.0)])
        #expect(abs(places[0].latitude - (30 + 300 / 111_320.0)) < 1e-9 && abs((places[0].longitude - 104) * 111_320 * cos(30 * Double.pi / 180) - 400) < 1e-6)
        #expect(throws: HarnessError.self) { try hypercube.places(houses: ["S1": (104.0, 30.0)]) }
        let hours = 2_000.0
        let calls = hypercube.calls(at: places, from: 0, to: Int64(hours * 3_600_000), seed: 5)
        #expect(calls == hypercube.calls(at: places, from: 0, to: Int64(hours * 3_600_000), seed: 5) && calls != hypercube.calls(at: places, from: 0, to: Int64(hours * 3_600_000), seed: 6))
        #expect(zip(calls, calls.dropFirst()).allSatisfy { $0.at <= $1.at } && calls.first?.id == "H5-1" && calls.allSatisfy { $0.type == "dispute" })
        for (atom, place) in places.enumerated() {
            let count = Double(calls.filter { $0.longitude == place.longitude && $0.latitude == place.latitude }.count), expected = hypercube.atoms[atom].perHour * hours
            #expect(abs(count - expected) < 4 * expected.squareRoot(), "atom \(atom): \(count) calls, \(expected) expected")
        }
        // Poisson: gaps exponential, so their coefficient of variation is 1.
        let gaps = zip(calls, calls.dropFirst()).map { Double($1.at - $0.at) }
        let mean = gaps.reduce(0, +) / Double(gaps.count), deviation = (gaps.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(gaps.count)).squareRoot()
        #expect(abs(deviation / mean - 1) < 0.05, "coefficient of variation \(deviation / mean)")
        let junction = HypercubeCase.nearestJunction(to: (104.0, 30.0), coordinates: [104_010_000, 30_000_000, 104_001_000, 30_000_500, 103_000_000, 30_000_000, 104_002_000, 30_000_000])
        #expect(junction.map { abs($0.longitude - 104.001) < 1e-9 && abs($0.latitude - 30.0005) < 1e-9 } == true)
    }

    @Test("the model: each atom's units nearest first by the measured road times, each unit out for acknowledging, its own mean drives both ways and the scene")
    func model() throws {
        let hypercube = try #require(try Scenario.parse(yaml: Self.scenario).hypercube)
        let model = try hypercube.model(travel: [[60, 300], [240, 90]], acknowledgeSeconds: 15)
        #expect(model.atoms.map(\.preference) == [[0, 1], [1, 0]])
        // Each unit out for its own mean drive: unit 0 mostly to atom 0 (60 s), sometimes to atom 1 (300 s).
        let dispatches = model.solve().dispatches
        for unit in 0..<2 {
            let drive = (0..<2).map { dispatches[unit][$0] * [[60.0, 300], [240, 90]][unit][$0] }.reduce(0, +) / dispatches[unit].reduce(0, +)
            #expect(abs(1 / model.serviceRates[unit] - (15 + 360 + 2 * drive)) < 1e-3, "unit \(unit): out \(1 / model.serviceRates[unit]) s, drive \(drive) s")
        }
        #expect(1 / model.serviceRates[0] > 15 + 360 + 120 && 1 / model.serviceRates[0] < 15 + 360 + 600)
        #expect(throws: HarnessError.self) { try hypercube.model(travel: [[60, 300]], acknowledgeSeconds: 15) }
    }

    /// The case's world simulated event by event (Poisson calls, each to the first free unit of
    /// its preference, exponential time out, lost when all are busy), as the harness records it.
    static func observe(_ hypercube: HypercubeCase, travel: [[Double]], hours: Double, seed: UInt64, busyFactor: Double = 1) throws -> HypercubeObservation {
        let model = try hypercube.model(travel: travel, acknowledgeSeconds: 15)
        let places = hypercube.atoms.indices.map { (longitude: Double($0), latitude: 0.0) }
        let calls = hypercube.calls(at: places, from: 0, to: Int64(hours * 3_600_000), seed: seed)
        var observation = HypercubeObservation(units: hypercube.stations, travel: travel, from: 0, to: Int64(hours * 3_600_000))
        var freeAt = [Int64](repeating: 0, count: hypercube.stations.count), state = seed | 1
        func exponential(_ mean: Double) -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return -log(1 - Double(state >> 11) / Double(1 << 53)) * mean
        }
        for call in calls {
            let atom = Int(call.longitude)
            guard let unit = model.atoms[atom].preference.first(where: { freeAt[$0] <= call.at }) else {
                observation.dispatches.append(.init(at: call.at, incident: call.id, atom: atom, unit: nil))
                continue
            }
            let out = Int64(exponential(busyFactor / model.serviceRates[unit]) * 1_000)
            freeAt[unit] = call.at + out
            observation.changes += [.init(unit: unit, busy: true, at: call.at), .init(unit: unit, busy: false, at: call.at + out)]
            var dispatch = HypercubeObservation.Dispatch(at: call.at, incident: call.id, atom: atom, unit: unit)
            dispatch.acknowledgeSeconds = 15
            dispatch.travelSeconds = travel[unit][atom]
            observation.dispatches.append(dispatch)
        }
        return observation
    }

    @Test("the verdict: a world that behaves as the model passes every check; units kept out twice as long fail (at least) the busy and lost shares")
    func verdict() throws {
        let hypercube = try #require(try Scenario.parse(yaml: Self.scenario).hypercube)
        let travel: [[Double]] = [[60, 300], [240, 90]]
        let faithful = try Self.observe(hypercube, travel: travel, hours: 400, seed: 11)
        let checks = faithful.checks(hypercube)
        #expect(checks.count == 3 && checks.allSatisfy(\.passed), "\(checks)")
        let slow = try Self.observe(hypercube, travel: travel, hours: 400, seed: 11, busyFactor: 2).checks(hypercube)
        #expect(Set(slow.filter { !$0.passed }.map(\.name)).isSuperset(of: ["hypercube: busy shares agree", "hypercube: lost share agrees"]), "\(slow)")
    }

    @Test("busy time is counted within each batch's window: a stretch across a boundary is split, one still open runs to the window's end")
    func busyTime() {
        var observation = HypercubeObservation(units: ["A", "B"], travel: [[1], [1]], from: 0, to: 4_000)
        observation.changes = [.init(unit: 0, busy: true, at: 500), .init(unit: 0, busy: false, at: 1_500), .init(unit: 1, busy: true, at: 3_500),
                               .init(unit: 0, busy: true, at: 2_900), .init(unit: 0, busy: false, at: 3_100)]
        let busy = observation.intervals(batches: 4).busy
        // Batches of 1,000 ms; the first left out: A busy 500 of [1000, 2000), 100 of [2000, 3000), 100 of [3000, 4000); B 500 of the last.
        #expect(abs(busy[0].mean - 0.7 / 3) < 1e-12 && abs(busy[1].mean - 0.5 / 3) < 1e-12, "\(busy)")
    }
}
