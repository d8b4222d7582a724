import Foundation
import DispatchPlugin
import Synchronization
import Testing
import XunfangGeo

final class ManualClock: DispatchClock {
    let value = Atomic<Int64>(1_764_000_000_000)
    func now() -> Int64 { value.load(ordering: .relaxed) }
    func advance(seconds: Double) { value.add(Int64(seconds * 1_000), ordering: .relaxed) }
}

let scene = GeoPoint(longitude: 104.28, latitude: 30.98)

func dispatcher(_ clock: ManualClock = ManualClock()) -> Dispatcher {
    let dispatcher = Dispatcher(clock: clock)
    for (callSign, capabilities) in [("A1", Set<String>()), ("A2", ["armed"]), ("A3", []), ("T1", ["traffic"])] {
        _ = dispatcher.addUnit(Unit(callSign: callSign, kind: .car, homeStation: "S1", capabilities: Set(capabilities)))
    }
    return dispatcher
}

@Suite("Unit status machine")
struct StatusMachineTests {
    @Test("every transition outside the availability matrix is refused with FAILED_PRECONDITION, every one inside is allowed; the status a unit has is no change")
    func matrix() throws {
        let allowed: Set<[UnitStatus]> = [
            [.offDuty, .available], [.available, .assigned], [.available, .offDuty], [.available, .outOfService],
            [.assigned, .enRoute], [.assigned, .available], [.assigned, .outOfService],
            [.enRoute, .onScene], [.enRoute, .available], [.enRoute, .outOfService],
            [.onScene, .returning], [.onScene, .available], [.onScene, .outOfService],
            [.returning, .available], [.returning, .assigned], [.returning, .offDuty], [.returning, .outOfService],
            [.outOfService, .available], [.outOfService, .offDuty],
        ]
        for from in UnitStatus.allCases {
            for to in UnitStatus.allCases {
                let subject = Dispatcher(clock: ManualClock())
                _ = subject.addUnit(Unit(callSign: "U", kind: .car, homeStation: "S", status: from))
                do {
                    let events = try subject.updateUnit("U", to: to)
                    #expect(allowed.contains([from, to]) || (from == to && events.isEmpty), "\(from) -> \(to) was allowed")
                    #expect(subject.units["U"]?.status == to)
                } catch {
                    #expect(!allowed.contains([from, to]), "\(from) -> \(to) was refused")
                    #expect(error.code == .failedPrecondition)
                    #expect(subject.units["U"]?.status == from, "a refusal changes nothing")
                }
            }
        }
    }

    @Test("statuses follow the order: assigned, acknowledged en route, on scene by arrival, returning at clearance")
    func lifecycle() throws {
        let clock = ManualClock()
        let subject = dispatcher(clock)
        let (incident, linked, events) = try subject.intake(typeCode: "theft", source: .call110, location: scene, report: "bike stolen")
        #expect(!linked && incident.status == .accepted && events.count == 1)
        _ = try subject.assign(incident.id, to: "A1")
        #expect(subject.units["A1"]?.status == .assigned)
        #expect(subject.incidents[incident.id]?.status == .dispatched)
        clock.advance(seconds: 5)
        _ = try subject.acknowledge(incident.id, by: "A1")
        #expect(subject.units["A1"]?.status == .enRoute)
        #expect(subject.incidents[incident.id]?.times[.acknowledged] == clock.now())
        // Still 500 m away: nothing; within 100 m: on scene.
        #expect(subject.position("A1", at: GeoPoint(longitude: 104.285, latitude: 30.98), time: clock.now()).isEmpty)
        clock.advance(seconds: 60)
        _ = subject.position("A1", at: GeoPoint(longitude: 104.2805, latitude: 30.98), time: clock.now())
        #expect(subject.units["A1"]?.status == .onScene)
        #expect(subject.incidents[incident.id]?.status == .onScene)
        _ = try subject.clear(incident.id, close: true)
        #expect(subject.units["A1"]?.status == .returning)
        #expect(subject.incidents[incident.id]?.status == .closed)
        #expect(throws: DispatchError.self) { try subject.assign(incident.id, to: "A3") }
    }

    @Test("a terminal's press keeps the time it was pressed: a late acknowledgement or arrival is stored at its own time, never before the step before it nor after now; a clock far ahead is refused; a late AVL fix puts the unit on scene at the fix's time")
    func pressTimes() throws {
        let clock = ManualClock()
        let subject = dispatcher(clock)
        let (incident, _, _) = try subject.intake(typeCode: "theft", source: .call110, location: scene, report: "bike stolen")
        _ = try subject.assign(incident.id, to: "A1")
        let dispatched = clock.now()
        clock.advance(seconds: 40)
        #expect(throws: DispatchError.self) { try subject.acknowledge(incident.id, by: "A1", at: clock.now() + 11_000) }
        #expect(subject.units["A1"]?.status == .assigned, "a refused press changes nothing")
        _ = try subject.acknowledge(incident.id, by: "A1", at: dispatched + 12_000)
        #expect(subject.incidents[incident.id]?.times[.acknowledged] == dispatched + 12_000)
        clock.advance(seconds: 200)
        _ = try subject.updateUnit("A1", to: .onScene, at: dispatched + 150_000)
        #expect(subject.incidents[incident.id]?.times[.onScene] == dispatched + 150_000, "on scene when pressed, 90 s before it reached the desk")

        let (second, _, _) = try subject.intake(typeCode: "fight", source: .call110, location: GeoPoint(longitude: 104.30, latitude: 30.99), report: "fight")
        _ = try subject.assign(second.id, to: "A3")
        let secondDispatched = clock.now()
        _ = try subject.acknowledge(second.id, by: "A3", at: secondDispatched - 60_000)
        #expect(subject.incidents[second.id]?.times[.acknowledged] == secondDispatched, "never before the dispatch")
        clock.advance(seconds: 120)
        _ = subject.position("A3", at: GeoPoint(longitude: 104.3003, latitude: 30.99), time: secondDispatched + 95_000)
        #expect(subject.incidents[second.id]?.times[.onScene] == secondDispatched + 95_000, "on scene at the fix's time")
    }

    @Test("assignments check the unit's state and capabilities")
    func assignChecks() throws {
        let subject = dispatcher()
        let (robbery, _, _) = try subject.intake(typeCode: "robbery", source: .alarm, location: scene, report: "")
        #expect(throws: DispatchError.self) { try subject.assign(robbery.id, to: "A1") }   // not armed
        _ = try subject.assign(robbery.id, to: "A2")
        let (theft, _, _) = try subject.intake(typeCode: "theft", source: .tip, location: GeoPoint(longitude: 104.3, latitude: 31.0), report: "")
        #expect(throws: DispatchError.self) { try subject.assign(theft.id, to: "A2") }     // already assigned
        #expect(throws: DispatchError.self) { try subject.assign(theft.id, to: "nobody") }
        #expect(throws: DispatchError.self) { try subject.intake(typeCode: "alien", source: .tip, location: scene, report: "") }
    }
}

@Suite("Orders and escalation")
struct EscalationTests {
    @Test("an order not acknowledged in 30 s passes to the next ranked unit, and the note says why")
    func ackTimeout() throws {
        let clock = ManualClock()
        let subject = dispatcher(clock)
        let (incident, _, _) = try subject.intake(typeCode: "fight", source: .call110, location: scene, report: "")
        _ = subject.recordRanking(["A1", "A3", "A2"], for: incident.id)
        let events = try subject.assign(incident.id, to: "A1")
        #expect(events.contains(.order(incidentID: incident.id, callSign: "A1", deadline: clock.now() + 30_000)))
        clock.advance(seconds: 29.9)
        #expect(subject.tick().isEmpty)
        clock.advance(seconds: 0.1)
        let moved = subject.tick()
        #expect(moved.contains { if case .order(_, "A3", _) = $0 { true } else { false } })
        #expect(subject.units["A1"]?.status == .available)
        #expect(subject.units["A3"]?.status == .assigned)
        #expect(subject.incidents[incident.id]?.note == "A1 did not acknowledge within 30 s; order passed to A3 (pass-on 1 of 3)")
        #expect(subject.incidents[incident.id]?.passOns == 1 && subject.incidents[incident.id]?.unacknowledged == ["A1"])
        // A3 acknowledges: no more escalation.
        _ = try subject.acknowledge(incident.id, by: "A3")
        clock.advance(seconds: 60)
        #expect(subject.tick().isEmpty)
        #expect(throws: DispatchError.self) { try subject.acknowledge(incident.id, by: "A1") }
    }

    @Test("when no ranked unit is left the incident is put to the duty officer")
    func exhausted() throws {
        let clock = ManualClock()
        let subject = dispatcher(clock)
        let (incident, _, _) = try subject.intake(typeCode: "theft", source: .call110, location: scene, report: "")
        _ = subject.recordRanking(["A1"], for: incident.id)
        _ = try subject.assign(incident.id, to: "A1")
        clock.advance(seconds: 31)
        let events = subject.tick()
        #expect(subject.incidents[incident.id]?.status == .accepted)
        #expect(subject.incidents[incident.id]?.note.contains("no other recommended unit is free; put to the duty officer") == true)
        #expect(subject.incidents[incident.id]?.escalatedAt == clock.now())
        #expect(events.contains { if case .escalated(incident.id, _) = $0 { true } else { false } })
        #expect(subject.nextDeadline == nil)
    }

    @Test("pass-ons stop at the county's cap and the incident escalates; the rest of the ranking is not ordered")
    func passOnCap() throws {
        let clock = ManualClock()
        var settings = Dispatcher.Settings()
        settings.maxPassOns = 2
        let subject = Dispatcher(settings: settings, clock: clock)
        for callSign in ["A1", "A2", "A3", "A4", "A5"] { _ = subject.addUnit(Unit(callSign: callSign, kind: .car, homeStation: "S1")) }
        let (incident, _, _) = try subject.intake(typeCode: "fight", source: .call110, location: scene, report: "")
        _ = subject.recordRanking(["A1", "A2", "A3", "A4", "A5"], for: incident.id)
        _ = try subject.assign(incident.id, to: "A1")
        var escalations = 0
        for _ in 0..<5 {
            clock.advance(seconds: 30)
            escalations += subject.tick().count { if case .escalated = $0 { true } else { false } }
        }
        let final = try #require(subject.incidents[incident.id])
        #expect(final.ordered == ["A1", "A2", "A3"] && final.unacknowledged == ["A1", "A2", "A3"] && final.passOns == 2)
        #expect(escalations == 1, "escalated once, not at every tick")
        #expect(final.status == .accepted && final.escalatedAt != nil)
        #expect(final.note.hasPrefix("A1, A2, A3 did not acknowledge within 30 s each; 2 pass-on(s) used"))
        #expect(["A1", "A2", "A3", "A4", "A5"].allSatisfy { subject.units[$0]?.status == .available })
        // The duty officer orders A4 by hand; it acknowledges and the incident goes on.
        _ = try subject.assign(incident.id, to: "A4")
        _ = try subject.acknowledge(incident.id, by: "A4")
        #expect(subject.incidents[incident.id]?.status == .enRoute)
    }

    @Test("the ranking and the order trail survive a restart: an order outstanding then still passes on")
    func rankingSurvivesRestart() throws {
        let clock = ManualClock()
        let before = dispatcher(clock)
        let (incident, _, _) = try before.intake(typeCode: "theft", source: .call110, location: scene, report: "")
        _ = before.recordRanking(["A1", "A3"], for: incident.id)
        _ = try before.assign(incident.id, to: "A1")
        // Through the store's encoding, as a restart reads it back.
        let coder = (JSONEncoder(), JSONDecoder())
        let incidents = try before.incidents.values.map { try coder.1.decode(Incident.self, from: try coder.0.encode($0)) }
        let units = try before.units.values.map { try coder.1.decode(Unit.self, from: try coder.0.encode($0)) }
        let after = Dispatcher(clock: clock)
        after.restore(incidents: incidents, units: units)
        #expect(after.incidents[incident.id]?.ranking == ["A1", "A3"] && after.incidents[incident.id]?.ordered == ["A1"])
        clock.advance(seconds: 30)
        let events = after.tick()
        #expect(events.contains { if case .order(incident.id, "A3", _) = $0 { true } else { false } })
    }

    @Test("a record stored before the order trail existed reads with an empty trail")
    func oldRecord() throws {
        let (incident, _, _) = try dispatcher().intake(typeCode: "theft", source: .call110, location: scene, report: "")
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(incident)) as? [String: Any])
        for key in ["ranking", "ordered", "unacknowledged", "passOns", "escalatedAt"] { object[key] = nil }
        let read = try JSONDecoder().decode(Incident.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(read.id == incident.id && read.ranking.isEmpty && read.passOns == 0 && read.escalatedAt == nil)
    }
}

@Suite("Unit and incident state move together")
struct StateConsistencyTests {
    @Test("UpdateUnit en route acknowledges, on scene puts the incident on scene with its time")
    func unitDrivesIncident() throws {
        let clock = ManualClock()
        let subject = dispatcher(clock)
        let (incident, _, _) = try subject.intake(typeCode: "theft", source: .call110, location: scene, report: "")
        _ = try subject.assign(incident.id, to: "A1")
        clock.advance(seconds: 10)
        _ = try subject.updateUnit("A1", to: .enRoute)
        #expect(subject.incidents[incident.id]?.status == .enRoute && subject.incidents[incident.id]?.times[.acknowledged] == clock.now())
        #expect(subject.nextDeadline == nil, "acknowledging by status stops the pass-on clock")
        clock.advance(seconds: 120)
        let events = try subject.updateUnit("A1", to: .onScene)
        #expect(subject.incidents[incident.id]?.status == .onScene && subject.incidents[incident.id]?.times[.onScene] == clock.now())
        #expect(events.contains(.incidentUpdated(subject.incidents[incident.id]!)))
        #expect(subject.units["A1"]?.incidentID == incident.id)
        // The terminal's "arrived" after AVL already put the unit there: nothing changes.
        clock.advance(seconds: 5)
        #expect(try subject.updateUnit("A1", to: .onScene).isEmpty && subject.incidents[incident.id]?.times[.onScene] == clock.now() - 5_000)
    }

    @Test("a cleared unit returns and is available again after the county's return time, or when it says so")
    func returning() throws {
        let clock = ManualClock()
        let subject = dispatcher(clock)
        for callSign in ["A1", "A3"] {
            let (incident, _, _) = try subject.intake(typeCode: "help", source: .call110, location: GeoPoint(longitude: 104.28, latitude: callSign == "A1" ? 30.98 : 30.99), report: "")
            _ = try subject.assign(incident.id, to: callSign)
            _ = try subject.acknowledge(incident.id, by: callSign)
            _ = try subject.updateUnit(callSign, to: .onScene)
            _ = try subject.clear(incident.id, close: true)
        }
        #expect(subject.units["A1"]?.status == .returning && subject.units["A3"]?.status == .returning)
        _ = try subject.updateUnit("A3", to: .available)
        #expect(subject.units["A3"]?.status == .available)
        clock.advance(seconds: 14 * 60)
        #expect(subject.tick().isEmpty)
        clock.advance(seconds: 60)
        let events = subject.tick()
        #expect(subject.units["A1"]?.status == .available && events.contains(.unitUpdated(subject.units["A1"]!)))

        var settings = Dispatcher.Settings()
        settings.returnMilliseconds = nil
        let waiting = Dispatcher(settings: settings, clock: clock)
        _ = waiting.addUnit(Unit(callSign: "R1", kind: .car, homeStation: "S1", status: .returning))
        clock.advance(seconds: 24 * 3_600)
        #expect(waiting.tick().isEmpty && waiting.units["R1"]?.status == .returning)
    }

    @Test("a unit withdrawn before arriving leaves the incident to be recommended again; one withdrawn on scene leaves it on scene")
    func withdrawn() throws {
        let subject = dispatcher()
        let (incident, _, _) = try subject.intake(typeCode: "theft", source: .call110, location: scene, report: "")
        _ = try subject.assign(incident.id, to: "A1")
        _ = try subject.acknowledge(incident.id, by: "A1")
        _ = try subject.updateUnit("A1", to: .outOfService)
        let left = try #require(subject.incidents[incident.id])
        #expect(left.status == .accepted && left.units.isEmpty && left.note.contains("A1 withdrawn (en route -> out of service)"))
        #expect(subject.units["A1"]?.incidentID == nil)

        _ = try subject.assign(incident.id, to: "A3")
        _ = try subject.assign(incident.id, to: "T1")
        for callSign in ["A3", "T1"] { _ = try subject.acknowledge(incident.id, by: callSign) }
        _ = try subject.updateUnit("A3", to: .onScene)
        _ = try subject.updateUnit("T1", to: .available)
        #expect(subject.incidents[incident.id]?.status == .onScene && subject.incidents[incident.id]?.units == ["A3"])
        _ = try subject.updateUnit("A3", to: .returning)
        #expect(subject.units["A3"]?.incidentID == nil && subject.incidents[incident.id]?.status == .onScene,
                "leaving the scene does not clear the incident; the duty officer does")
    }

    @Test("positions are handed over for storing in batches, each moved unit once")
    func movedBatches() {
        let subject = dispatcher()
        _ = subject.position("A1", at: scene, time: 1)
        _ = subject.position("A1", at: GeoPoint(longitude: 104.281, latitude: 30.98), time: 2)
        _ = subject.position("A2", at: scene, time: 1)
        _ = subject.position("A3", at: scene, time: 0)
        _ = subject.position("A3", at: GeoPoint(longitude: 104.3, latitude: 31), time: -1)
        let moved = subject.takeMoved()
        #expect(moved.map(\.callSign) == ["A1", "A2", "A3"] && moved[0].position == GeoPoint(longitude: 104.281, latitude: 30.98))
        #expect(moved[2].position == scene, "an older report does not overwrite a newer one")
        #expect(subject.takeMoved().isEmpty)
    }
}

@Suite("Intake")
struct IntakeTests {
    @Test("a second call of the same type nearby within the window links to the open incident; others do not")
    func duplicates() throws {
        let clock = ManualClock()
        let subject = dispatcher(clock)
        let (first, _, _) = try subject.intake(typeCode: "fight", source: .call110, location: scene, report: "two men fighting")
        clock.advance(seconds: 120)
        let near = GeoPoint(longitude: 104.2805, latitude: 30.9805)   // ~70 m
        let (second, linked, events) = try subject.intake(typeCode: "fight", source: .call110, location: near, report: "fight outside shop")
        #expect(linked && second.status == .linked && second.linkedTo == first.id)
        #expect(subject.incidents[first.id]?.linkedCalls == 1)
        #expect(events.contains(.incidentUpdated(subject.incidents[first.id]!)))
        #expect(subject.incidents[second.id]?.report == "fight outside shop", "the duplicate call is kept, not lost")
        // Another type, farther away, or after the window: new incidents.
        #expect(try !subject.intake(typeCode: "theft", source: .call110, location: near, report: "").linked)
        #expect(try !subject.intake(typeCode: "fight", source: .call110, location: GeoPoint(longitude: 104.29, latitude: 30.98), report: "").linked)
        clock.advance(seconds: 16 * 60)
        #expect(try !subject.intake(typeCode: "fight", source: .call110, location: near, report: "").linked)
    }

    @Test("retrying with the same external id returns the first answer and changes nothing")
    func idempotent() throws {
        let subject = dispatcher()
        let (first, _, _) = try subject.intake(typeCode: "help", source: .tip, location: scene, report: "", externalID: "desk-42")
        let (again, _, events) = try subject.intake(typeCode: "help", source: .tip, location: scene, report: "", externalID: "desk-42")
        #expect(again.id == first.id && events.isEmpty && subject.incidents.count == 1)
    }

    @Test("high-priority incidents make the neighbours aware at once: the adjacent stations by name and their on-duty units")
    func neighbours() throws {
        let subject = dispatcher()
        _ = subject.addUnit(Unit(callSign: "N1", kind: .car, homeStation: "S2"))
        _ = subject.addUnit(Unit(callSign: "N2", kind: .foot, homeStation: "S2", status: .enRoute))
        _ = subject.addUnit(Unit(callSign: "N3", kind: .car, homeStation: "S2", status: .offDuty))
        _ = subject.addUnit(Unit(callSign: "FAR", kind: .car, homeStation: "S9"))
        let neighbourhood = Neighbourhood(station: StationRef(id: "S1", name: "城关派出所"), adjacent: [StationRef(id: "S2", name: "东城派出所")])
        #expect(subject.alertsNeighbours("robbery") && !subject.alertsNeighbours("noise") && !subject.alertsNeighbours("alien"))
        let (urgent, _, events) = try subject.intake(typeCode: "robbery", source: .alarm, location: scene, report: "", stationID: "S1",
                                                     neighbourhood: neighbourhood)
        #expect(events.contains(.neighboursAware(incidentID: urgent.id, neighbourhood: neighbourhood, units: ["N1", "N2"])))
        let (_, _, quiet) = try subject.intake(typeCode: "noise", source: .call110, location: scene, report: "")
        #expect(!quiet.contains { if case .neighboursAware = $0 { true } else { false } })
    }
}

@Suite("Incident type table")
struct TypeTableTests {
    @Test("a county's table replaces the defaults; bad entries are refused naming them")
    func table() throws {
        let table = try IncidentType.table(json: Data(#"[{"code":"theft","name":"盗窃","priority":3},{"code":"gun","priority":1,"capabilities":["armed"]}]"#.utf8))
        #expect(table.map(\.code) == ["theft", "gun"] && table[1].capabilities == ["armed"] && table[1].name == "gun")
        var settings = Dispatcher.Settings()
        settings.types = table
        let subject = Dispatcher(settings: settings, clock: ManualClock())
        #expect(throws: DispatchError.self) { try subject.intake(typeCode: "fight", source: .call110, location: scene, report: "") }
        let (gun, _, _) = try subject.intake(typeCode: "gun", source: .call110, location: scene, report: "")
        #expect(gun.type.priority == 1)
        for (bad, reason) in [(#"{"code":"x"}"#, "JSON array"), (#"[{"code":"x","priority":9}]"#, "entry 0 (x): priority"),
                              (#"[{"code":"x","priority":1},{"code":"x","priority":2}]"#, "entry 1: code x appears twice"), ("[]", "empty")] {
            do {
                _ = try IncidentType.table(json: Data(bad.utf8))
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.message.contains(reason), "\(error.message)")
            }
        }
    }
}

@Suite("Recommendation")
struct RecommendationTests {
    @Test("a major incident takes the fastest of each zone in turn, then the fastest of the rest")
    func majorSelection() {
        let candidates = [
            Candidate(callSign: "own-1", etaSeconds: 50, metres: 500, zone: .own), Candidate(callSign: "own-2", etaSeconds: 70, metres: 700, zone: .own),
            Candidate(callSign: "own-3", etaSeconds: 90, metres: 900, zone: .own), Candidate(callSign: "adj-1", etaSeconds: 200, metres: 2_000, zone: .adjacent),
            Candidate(callSign: "city-1", etaSeconds: 600, metres: 6_000, zone: .city),
        ]
        #expect(Dispatcher.majorSelection(candidates, count: 3).map(\.callSign) == ["own-1", "adj-1", "city-1"])
        #expect(Dispatcher.majorSelection(candidates, count: 5).map(\.callSign) == ["own-1", "adj-1", "city-1", "own-2", "own-3"])
        #expect(Dispatcher.majorSelection(candidates, count: 9).count == 5)
    }

    @Test("widens zone by zone only while no unit can meet the target")
    func widening() {
        let target = 180.0
        let own = Candidate(callSign: "own-slow", etaSeconds: 400, metres: 4_000, zone: .own)
        let adjacent = Candidate(callSign: "adj-fast", etaSeconds: 150, metres: 1_500, zone: .adjacent)
        let branch = Candidate(callSign: "branch-fast", etaSeconds: 100, metres: 1_000, zone: .branch)
        // Own misses, adjacent meets: the list stops at adjacent even though branch is faster.
        let (list, widened) = Dispatcher.rank([own, adjacent, branch], targetSeconds: target)
        #expect(widened == .adjacent)
        #expect(list.map(\.candidate.callSign) == ["adj-fast", "own-slow"])
        #expect(list[0].meetsTarget && !list[1].meetsTarget)
        #expect(list[0].explanation.contains("adjacent station zone") && list[0].explanation.contains("meets"))
        // An own unit that meets the target keeps the list to the own zone.
        let ownFast = Candidate(callSign: "own-fast", etaSeconds: 170, metres: 1_700, zone: .own)
        #expect(Dispatcher.rank([own, adjacent, branch, ownFast], targetSeconds: target).widenedTo == .own)
        // Nobody meets it: everyone, city-wide, fastest first.
        let (all, city) = Dispatcher.rank([own, Candidate(callSign: "city", etaSeconds: 900, metres: 9_000, zone: .city)], targetSeconds: 60)
        #expect(city == .city && all.map(\.candidate.callSign) == ["own-slow", "city"])
    }
}
