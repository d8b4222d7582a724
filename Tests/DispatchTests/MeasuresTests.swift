import DispatchPlugin
import Foundation
import Testing
import XunfangGeo

@Suite("KPIs and EIDO export")
struct MeasuresTests {
    /// 2026-11-25 00:00 China time: 2026-11-25 00:00 UTC (1,795,564,800,000 ms) less 8 hours.
    let midnight: Int64 = 1_795_564_800_000 - 8 * 3_600_000

    @Test("shifts are China time: day 08-16, evening 16-24, night 00-08")
    func shifts() {
        #expect(Measures.shift(at: midnight + 7 * 3_600_000) == "night")
        #expect(Measures.shift(at: midnight + 8 * 3_600_000) == "day")
        #expect(Measures.shift(at: midnight + 23 * 3_600_000) == "evening")
        #expect(Measures.shiftStart(containing: midnight + 9 * 3_600_000 + 5) == midnight + 8 * 3_600_000)
        #expect(Measures.shiftStart(containing: midnight + 3_600_000) == midnight)
    }

    @Test("times to dispatch and arrival, the response-circle share and utilisation, counted by hand")
    func kpis() throws {
        let clock = ManualClock()
        clock.value.store(midnight + 9 * 3_600_000, ordering: .relaxed)   // 09:00, day shift
        let subject = Dispatcher(clock: clock)
        _ = subject.addUnit(Unit(callSign: "A", kind: .car, homeStation: "S1"))
        _ = subject.addUnit(Unit(callSign: "B", kind: .car, homeStation: "S2"))
        let start = clock.now()
        // Incident 1 (core, 60 s circle): dispatched after 20 s, on scene after 50 s -> within.
        let (first, _, _) = try subject.intake(typeCode: "theft", source: .call110, location: scene, report: "", gridID: "G1", stationID: "S1",
                                               responseTargetSeconds: 60)
        clock.advance(seconds: 20)
        _ = try subject.assign(first.id, to: "A")
        _ = try subject.acknowledge(first.id, by: "A")
        clock.advance(seconds: 30)
        _ = subject.position("A", at: scene, time: clock.now())
        // Incident 2 (urban, 180 s): dispatched after 40 s, on scene after 240 s -> outside.
        let far = GeoPoint(longitude: 104.35, latitude: 31.05)
        let (second, _, _) = try subject.intake(typeCode: "theft", source: .call110, location: far, report: "", gridID: "G2", stationID: "S2",
                                                responseTargetSeconds: 180)
        clock.advance(seconds: 40)
        _ = try subject.assign(second.id, to: "B")
        _ = try subject.acknowledge(second.id, by: "B")
        clock.advance(seconds: 200)
        _ = subject.position("B", at: far, time: clock.now())
        clock.advance(seconds: 60)
        _ = try subject.clear(first.id, close: true)   // A busy from start+20 to now
        let end = clock.now()
        let report = Measures.kpis(incidents: Array(subject.incidents.values), units: Array(subject.units.values), from: start, to: end)
        #expect(report.overall.incidents == 2 && report.overall.dispatched == 2 && report.overall.arrived == 2)
        #expect(report.overall.medianDispatchSeconds == 30)   // (20 + 40) / 2
        #expect(report.overall.medianArrivalSeconds == 145)   // (50 + 240) / 2
        #expect(report.overall.withinCircleShare == 0.5)
        #expect(report.byStation.map(\.key) == ["S1", "S2"])
        #expect(report.byGrid.first { $0.key == "G1" }?.withinCircleShare == 1)
        #expect(report.byShift.map(\.key) == ["day"])
        let span = Double(end - start)
        #expect(abs(report.utilisation["A"]! - Double(end - (start + 20_000)) / span) < 1e-9)
        #expect(abs(report.utilisation["B"]! - Double(end - (start + 50_000 + 40_000)) / span) < 1e-9)
    }

    @Test("EIDO-style export carries the incident, its WGS84 location, units and every timestamp")
    func eido() throws {
        let clock = ManualClock()
        let subject = Dispatcher(clock: clock)
        _ = subject.addUnit(Unit(callSign: "A", kind: .motorcycle, homeStation: "S1", crew: 1))
        let (incident, _, _) = try subject.intake(typeCode: "fight", source: .call110, location: scene, report: "两人斗殴", gridID: "G1")
        clock.advance(seconds: 10)
        _ = try subject.assign(incident.id, to: "A")
        let object = Measures.eido(subject.incidents[incident.id]!, units: subject.units, agency: "demo")
        let data = try JSONSerialization.data(withJSONObject: object)
        let parsed = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let component = try #require((parsed["incidentComponent"] as? [[String: Any]])?.first)
        #expect(component["incidentTrackingIdentifier"] as? String == incident.id)
        #expect(component["incidentTypeCommonRegistryText"] as? [String] == ["fight"])
        let location = try #require((parsed["locationComponent"] as? [[String: Any]])?.first?["locationByValue"] as? [String: Any])
        #expect(location["coordinates"] as? [Double] == [scene.longitude, scene.latitude])
        #expect((parsed["vehicleComponent"] as? [[String: Any]])?.first?["unitIdentifier"] as? String == "A")
        #expect((parsed["statusHistory"] as? [[String: Any]])?.map { $0["status"] as? String } == ["Received", "Accepted", "Dispatched"])
        #expect((parsed["notesComponent"] as? [[String: Any]])?.first?["notesActionComment"] as? String == "两人斗殴")
    }
}
