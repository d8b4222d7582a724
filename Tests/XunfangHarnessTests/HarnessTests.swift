import Foundation
import Testing
import XunfangHarness
import XunfangPluginKit

@Suite("The harness's scenarios, calls and checks")
struct HarnessTests {
    static let minimal = """
    name: t
    start: "2026-11-06 20:00"
    hours: 1
    plugins: [grid-model, dispatch, terminal]
    faults:
      - { at_minutes: 5, kill: terminal }
    expect: { within_5_minutes: 0.9 }
    """

    @Test("a scenario is read with its defaults; a misspelt key, a bad value or a fault on a plugin not started is refused by name")
    func scenarios() throws {
        let scenario = try Scenario.parse(yaml: Self.minimal)
        #expect(scenario.factor == 60 && scenario.seed == 1 && scenario.callsScale == 1 && scenario.faults.first?.kill == "terminal" && scenario.faults.first?.kind == "kill")
        let frozen = try Scenario.parse(yaml: Self.minimal.replacingOccurrences(of: "kill: terminal", with: "freeze: terminal, for_minutes: 3"))
        #expect(frozen.faults == [Scenario.Fault(atMinutes: 5, freeze: "terminal", forMinutes: 3)] && frozen.faults[0].kind == "freeze")
        let slowed = try Scenario.parse(yaml: Self.minimal.replacingOccurrences(of: "kill: terminal", with: "slow: terminal, for_minutes: 4"))
        #expect(slowed.faults == [Scenario.Fault(atMinutes: 5, slow: "terminal", forMinutes: 4)] && slowed.faults[0].kind == "slow")
        let dropped = try Scenario.parse(yaml: Self.minimal.replacingOccurrences(of: "kill: terminal", with: "drop: terminal"))
        #expect(dropped.faults[0].kind == "drop" && dropped.faults[0].target == "terminal")
        let full = try Scenario.parse(yaml: Self.minimal.replacingOccurrences(of: "kill: terminal", with: "full_disk: bus, for_minutes: 2"))
        #expect(full.faults == [Scenario.Fault(atMinutes: 5, fullDisk: "bus", forMinutes: 2)] && full.faults[0].kind == "full-disk")
        #expect(scenario.startMilliseconds == ChinaTime.parse("2026-11-06 20:00") && scenario.endMilliseconds == scenario.startMilliseconds! + 3_600_000)
        let refusals: [(text: String, says: String)] = [
            (Self.minimal + "\nwarmup_minutes: 3", "warmup_minutes is not a scenario key"),
            (Self.minimal.replacingOccurrences(of: "at_minutes", with: "at"), "faults[0].at is not a scenario key"),
            (Self.minimal.replacingOccurrences(of: "hours: 1", with: "hours: 400"), "hours: 400.0 is not 0.1 to 168"),
            (Self.minimal.replacingOccurrences(of: "2026-11-06 20:00", with: "next friday"), "start: \"next friday\" is not yyyy-mm-dd hh:mm"),
            (Self.minimal.replacingOccurrences(of: "kill: terminal", with: "kill: patrol"), "faults: patrol is killed but not in plugins"),
            (Self.minimal.replacingOccurrences(of: "grid-model, ", with: ""), "plugins: grid-model is needed"),
            (Self.minimal.replacingOccurrences(of: "kill: terminal", with: "freeze: patrol"), "faults: patrol is frozen but not in plugins"),
            (Self.minimal.replacingOccurrences(of: "kill: terminal", with: "kill: terminal, freeze: terminal"), "each is one of kill: NAME, freeze: NAME, slow: NAME, drop: NAME or full_disk: bus"),
            (Self.minimal.replacingOccurrences(of: "kill: terminal", with: "drop: patrol"), "faults: patrol is dropped but not in plugins"),
            (Self.minimal.replacingOccurrences(of: "kill: terminal", with: "full_disk: dispatch"), "faults: full_disk is bus (its durable log), not dispatch"),
            (Self.minimal.replacingOccurrences(of: "kill: terminal", with: "drop: terminal, for_minutes: 2"), "for_minutes is for a freeze, a slowdown or a full disk"),
            (Self.minimal.replacingOccurrences(of: "kill: terminal", with: "freeze: terminal, for_minutes: 90"), "for_minutes is for a freeze, a slowdown or a full disk, 0.1 to 60"),
            (Self.minimal.replacingOccurrences(of: "kill: terminal", with: "slow: patrol, for_minutes: 2"), "faults: patrol is slowed but not in plugins"),
            (Self.minimal.replacingOccurrences(of: "kill: terminal", with: "kill: terminal, for_minutes: 2"), "for_minutes is for a freeze"),
            (Self.minimal.replacingOccurrences(of: "terminal]", with: "termnal]"), "plugin \"termnal\" is not one of"),
            (Self.minimal.replacingOccurrences(of: "0.9", with: "90"), "a share must be 0 to 1"),
            (Self.minimal.replacingOccurrences(of: "hours: 1\n", with: ""), "hours is missing"),
            (Self.minimal + "\nevents:\n  - { at_minutes: 5, seal: TOWN }", "events: a seal needs the checkpoint plugin"),
            (Self.minimal.replacingOccurrences(of: "terminal]", with: "terminal, checkpoint]") + "\nevents:\n  - { at_minutes: 5, plan: TOWN }", "events[0].plan is not a scenario key"),
        ]
        for (text, says) in refusals {
            #expect {
                _ = try Scenario.parse(yaml: text)
            } throws: { error in
                (error as? HarnessError)?.description.contains(says) == true
            }
        }
    }

    @Test("the scenarios in scenarios/ all read")
    func shipped() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scenarios").path
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 3, "\(files)")
        for file in files { _ = try Scenario.load(path: "\(directory)/\(file)") }
    }

    static func history(_ count: Int, from: Int64, every: Int64) -> [Call] {
        (0..<count).map { Call(id: "D-\($0)", at: from + Int64($0) * every, type: "theft", longitude: 104.28, latitude: 30.97) }
    }

    @Test("calls: the window only, in time order with the harness's ids; the scale adds whole histories and a seeded share of one more; a bad row is named by its line")
    func calls() throws {
        let start = ChinaTime.parse("2026-11-06 20:00")!
        let first = Self.history(100, from: start - 3_600_000, every: 60_000), second = Self.history(100, from: start - 3_600_000 + 30_000, every: 60_000)
        let one = Calls.select([first], from: start, to: start + 3_600_000, scale: 1, seed: 7)
        #expect(one.count == 40 && one.allSatisfy { $0.at >= start && $0.at < start + 3_600_000 })
        #expect(one.map(\.id) == (1...40).map { "H7-\($0)" })
        let half = Calls.select([first, second], from: start, to: start + 3_600_000, scale: 1.5, seed: 7)
        #expect(half.count > 50 && half.count < 75, "40 and about half of 40: \(half.count)")
        #expect(half.map(\.at) == half.map(\.at).sorted())
        #expect(Calls.select([first, second], from: start, to: start + 3_600_000, scale: 1.5, seed: 7) == half, "the same seed, the same calls")
        #expect(Calls.draws(for: 1.5) == 2 && Calls.draws(for: 3) == 3)
        #expect(Calls.days(from: start, to: start + 6 * 3_600_000) == ChinaTime.dayNumber(start)...ChinaTime.dayNumber(start) + 1)

        let parsed = try Calls.parse(csv: "id,time,type,lon,lat,place_type\nDEMO-1,2026-11-06 20:01:02,fight,104.1,30.9,street\n")
        #expect(parsed == [Call(id: "DEMO-1", at: start + 62_000, type: "fight", longitude: 104.1, latitude: 30.9)])
        #expect {
            _ = try Calls.parse(csv: "id,time,type,lon,lat\nA,2026-11-06 20:01:02,fight,104.1,30.9\nB,yesterday,fight,104.1,30.9\n")
        } throws: { error in
            (error as? HarnessError)?.description.hasPrefix("history line 3:") == true
        }
    }

    @Test("the county: only the scenario's plugins with its settings over the demo's, the harness a client beside ctl")
    func county() throws {
        let demo = """
        county: Demo
        data_dir: data
        bus: { socket: bus.sock, metrics: "127.0.0.1:9464" }
        plugins:
          - { name: grid-model, acl: { serve: ["*"] } }
          - { name: dispatch, env: { DISPATCH_DEMO_CARS: "5" } }
          - { name: terminal }
          - { name: console }
        clients:
          - { name: ctl, acl: { call: ["*"] } }
        """
        let scenario = try Scenario.parse(yaml: Self.minimal + "\nenv:\n  dispatch: { DISPATCH_ACK_TIMEOUT_SECONDS: \"60\" }\n")
        let yaml = try HarnessCounty.yaml(demo: demo, scenario: scenario, credential: "c0ffee-c0ffee-c0ffee-c0ffee")
        #expect(yaml.contains("name: grid-model") && yaml.contains("name: terminal") && !yaml.contains("name: console"))
        #expect(yaml.contains("DISPATCH_ACK_TIMEOUT_SECONDS: '60'") || yaml.contains("DISPATCH_ACK_TIMEOUT_SECONDS: \"60\""), "\(yaml)")
        #expect(yaml.contains("DISPATCH_DEMO_CARS"), "the demo's own settings stay")
        #expect(yaml.contains("name: harness") && yaml.contains("name: ctl") && !yaml.contains("9464"), "\(yaml)")
    }

    static func facts(_ scenario: Scenario) -> RunFacts {
        let start = scenario.startMilliseconds!
        let calls = (0..<4).map { RunFacts.CallOutcome(call: Call(id: "H1-\($0 + 1)", at: start + Int64($0) * 60_000, type: "theft", longitude: 104.2, latitude: 30.9),
                                                       incident: "INC-00000\($0 + 1)", intakeAttempts: 1) }
        let incidents = (0..<4).map { index in
            RunFacts.Incident(id: "INC-00000\(index + 1)", linked: false, received: start + Int64(index) * 60_000, dispatched: start + Int64(index) * 60_000 + 5_000,
                              onScene: start + Int64(index) * 60_000 + [90_000, 170_000, 250_000, 290_000][index], note: "", escalated: false, station: "S1",
                              status: "cleared")
        }
        return RunFacts(scenario: scenario, seed: 1, calls: calls, incidents: incidents, situationTotal: 4,
                        processes: [RunFacts.Process(name: "terminal", kills: 1, restarts: 1, maxRssMegabytes: 40)],
                        faults: [RunFacts.Fault(at: start + 300_000, plugin: "terminal", pid: 42, recoveredAt: start + 320_000)], wallSeconds: 60, simulatedSeconds: 3_600)
    }

    @Test("the checks: a clean run passes each; an incident stored twice, a call never taken, a silent incident, a late response, an extra restart, a plugin that never came back or a stack behind the clock each fail their own check")
    func checks() throws {
        let scenario = try Scenario.parse(yaml: Self.minimal)
        let clean = Self.facts(scenario)
        let checks = Verdict.checks(clean)
        #expect(checks.allSatisfy { $0.passed }, "\(checks.filter { !$0.passed })")
        #expect(Verdict.responseShares(clean) == [1: 0, 3: 0.5, 5: 1])
        func failing(_ change: (inout RunFacts) -> Void) -> [String] {
            var facts = clean
            change(&facts)
            return Verdict.checks(facts).filter { !$0.passed }.map(\.name)
        }
        #expect(failing { $0.incidents.append($0.incidents[0]) }.contains("every call stored exactly once in Dispatch"))
        #expect(failing { $0.calls[1].incident = "" }.contains("every call stored exactly once in Dispatch"))
        #expect(failing { $0.calls[3].incident = ""; $0.calls[3].intakeError = "outside every grid"; $0.incidents.removeLast(); $0.situationTotal = 3 }.isEmpty, "a refusal with its reason is an answer")
        #expect(failing { $0.incidents[2].dispatched = 0 } == ["every incident dispatched or explained"])
        #expect(failing { $0.incidents[2].dispatched = 0; $0.incidents[2].note = "no unit with capability armed" }.isEmpty, "explained")
        #expect(failing { $0.situationTotal = 3 } == ["every incident recorded once by Situation"])
        #expect(failing { $0.incidents[3].onScene += 200_000 } == ["on scene within 5 min"])
        #expect(failing { $0.processes[0].restarts = 2 } == ["no unexpected restarts"])
        #expect(failing { $0.faults[0].recoveredAt = 0 } == ["every fault recovered from"])
        // Dispatch held each call 20 s after it was made: the clock ran faster than the stack.
        #expect(failing { facts in for index in facts.incidents.indices { facts.incidents[index].received += 20_000 } }.contains("the stack kept up with the clock"))
        #expect(failing { facts in for index in facts.incidents.indices { facts.incidents[index].received += 20_000 }; facts.scenario.expect.maxLagSeconds = 30 }.isEmpty)
        #expect(failing { facts in for index in facts.calls.indices { facts.calls[index].intakeAttempts = 4 }; facts.incidents[0].received += 90_000 }.isEmpty,
                "a call held up by a fault (taken at a later try) is not the clock's doing")
        #expect(failing { $0.delivered = Dictionary(uniqueKeysWithValues: $0.incidents.map { ($0.id, ["received", $0.status]) }) }.isEmpty)
        #expect(failing { facts in facts.delivered = ["INC-000001": ["received"]] } == ["no acknowledged message lost"])
        let sealed = RunFacts.Seal(plan: "TOWN", activation: "TOWN-1", activatedAt: 1_000_000, sealedAt: 1_000_000 + 170_000, targetSeconds: 180, positions: 16, inPosition: 16)
        #expect(failing { $0.seals = [sealed] }.isEmpty)
        #expect(failing { facts in var late = sealed; late.sealedAt += 20_000; facts.seals = [late] } == ["every seal in place within its target"])
        var late = sealed
        late.sealedAt += 20_000
        late.slowest = [RunFacts.Seal.Position(id: "P007", responder: "C075", seconds: 190, etaSeconds: 150, passedOver: 1),
                        RunFacts.Seal.Position(id: "P002", responder: "CP-EAST", seconds: 40, etaSeconds: 0, passedOver: 0)]
        var withLate = clean
        withLate.seals = [late]
        let detail = Verdict.checks(withLate).first { $0.name == "every seal in place within its target" }?.detail ?? ""
        #expect(detail == "TOWN sealed in 190 s of 180; late: P007 C075 190 s (road time 150 s, 1 passed over)", "\(detail)")
        #expect(failing { facts in var open = sealed; open.sealedAt = 0; open.inPosition = 15; facts.seals = [open] } == ["every seal in place within its target"])
        let events = try Scenario.parse(yaml: Self.minimal.replacingOccurrences(of: "terminal]", with: "terminal, checkpoint]") + "\nevents:\n  - { at_minutes: 5, seal: TOWN, drill: true }")
        #expect(events.events.count == 1 && events.events[0].seal == "TOWN" && events.events[0].drill == true && events.events[0].atMinutes == 5)
    }

    @Test("the HTML report: every check, the shifts and stations, the time-to-scene bars, the fault and the seal on the timeline, a dot per call; the same facts give the same page")
    func page() throws {
        let scenario = try Scenario.parse(yaml: Self.minimal)
        var facts = Self.facts(scenario)
        facts.incidents[3].onScene = 0
        facts.names = ["S1": "城东派出所"]
        facts.outlines = [[[104.19, 30.89], [104.21, 30.89], [104.21, 30.91], [104.19, 30.89]]]
        let checks = Verdict.checks(facts)
        let page = HarnessPage.html(facts, checks)
        #expect(page.contains("✘ failed") && page.contains("on scene within 5 min"))
        for check in checks { #expect(page.contains(check.name.replacingOccurrences(of: "\"", with: "&quot;"))) }
        #expect(page.contains("<td>全部 all</td><td>4</td><td>4</td><td>3</td><td>0%</td><td>50%</td><td>75%</td>"), "all calls: 4, 3 on scene, 2 within 3 min, 3 within 5")
        #expect(page.contains("晚班 evening 16–24") && page.contains("派出所 城东派出所"), "stations by name")
        #expect(page.contains("<path d=\"M"), "the grids drawn under the calls")
        #expect(page.contains(">20:00</text>"), "the timeline's hours in China time")
        #expect(page.contains("✘ terminal"), "the kill on the timeline")
        #expect(page.components(separatedBy: "<circle").count - 1 == 4)
        #expect(HarnessPage.html(facts, checks) == page)
        #expect(!page.contains("⛔ TOWN"))
        let start = scenario.startMilliseconds!
        facts.seals = [RunFacts.Seal(plan: "TOWN", activation: "TOWN-1", drill: true, activatedAt: start + 600_000, sealedAt: start + 800_000)]
        let sealed = HarnessPage.html(facts, Verdict.checks(facts))
        #expect(sealed.contains("⛔ TOWN drill 200 s") && sealed.contains("stroke=\"#c62828\" stroke-width=\"6\""), "a seal held after its 180 s target, red on the timeline")
    }

    @Test("comparing strategies: paired differences with Student's 95% interval; a clear difference is flagged, noise is not; the two must meet the same calls")
    func comparison() throws {
        #expect(Comparison.studentT975(degrees: 1) == 12.706 && Comparison.studentT975(degrees: 4) == 2.776)
        let (mean, half) = Comparison.interval([1, 2, 3, 4, 5])
        #expect(mean == 3 && abs(half - 2.776 * (2.5 / 5).squareRoot()) < 1e-9)
        #expect(Comparison.interval([7]).halfWidth == .infinity)

        let scenario = try Scenario.parse(yaml: Self.minimal)
        func run(_ late: Int64) -> RunFacts {
            var facts = Self.facts(scenario)
            for index in facts.incidents.indices { facts.incidents[index].onScene += late }
            return facts
        }
        // B gets there two minutes later on every seeded day: the 3-minute share falls.
        let rows = Comparison.rows([(run(0), run(120_000)), (run(1_000), run(121_000)), (run(-1_000), run(119_000))])
        let three = try #require(rows.first { $0.figure == "on scene within 3 min" })
        #expect(three.a == 0.5 && three.b == 0 && three.differs)
        let median = try #require(rows.first { $0.figure == "median minutes to scene" })
        #expect(abs(median.difference - 2) < 1e-9 && median.differs)
        let dispatched = try #require(rows.first { $0.figure == "dispatched share" })
        #expect(dispatched.difference == 0 && !dispatched.differs)

        var other = scenario
        other.hours = 2
        #expect(throws: HarnessError.self) { try Comparison.sameDay(scenario, other) }
    }
}

@Suite("The adaptive clock's governor")
struct ClockGovernorTests {
    @Test("the pace keeps a probe's round trip within its budget (here half a simulated second): slower at once when the stack is slow, faster by a quarter a step when it is quick, never past the scenario's factor nor under the floor")
    func pace() {
        var governor = ClockGovernor(ceiling: 600, floor: 5, budget: 0.5, start: 30)
        #expect(governor.factor == 30)
        var paces: [Double] = []
        for _ in 0..<30 { paces.append(governor.observe(roundTrip: 0.0005)) }
        #expect(paces[0] == 37.5 && paces[1] == 46.875, "a quarter faster a step: \(paces.prefix(3))")
        #expect(paces.last == 600, "quick answers: up to the scenario's factor, no further")
        #expect(governor.observe(roundTrip: 0.01) == 50, "an answer in 10 ms: at once down to 50 times (half a simulated second)")
        #expect(governor.observe(roundTrip: 0.0005) < 50 * 1.25 + 1e-9, "one quick answer after a slow one speeds up by a quarter at most")
        #expect(governor.observe(roundTrip: 2) == 5, "a stack that takes seconds: the floor")
        var capped = ClockGovernor(ceiling: 20, start: 60)
        #expect(capped.factor == 20 && capped.observe(roundTrip: 0.0001) == 20)
    }
}
