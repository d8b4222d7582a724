import DispatchPlugin
import Foundation
import XunfangTestSupport
import Testing
import XunfangGeo
import XunfangPluginKit
import GridModelContract
import DispatchContract

func assign(_ desk: BusClient, _ incident: String, _ callSign: String) async throws -> Xunfang_Dispatch_V1_AssignResponse {
    var request = Xunfang_Dispatch_V1_AssignRequest()
    request.incidentID = incident
    request.callSign = callSign
    return try await desk.call("/xunfang.dispatch.v1.Dispatch/Assign", request, as: Xunfang_Dispatch_V1_AssignResponse.self)
}

func units(_ desk: BusClient) async throws -> [String: Xunfang_Dispatch_V1_Unit] {
    let list = try await desk.call("/xunfang.dispatch.v1.Dispatch/ListUnits", Xunfang_Dispatch_V1_ListUnitsRequest(),
                                   as: Xunfang_Dispatch_V1_ListUnitsResponse.self)
    return Dictionary(uniqueKeysWithValues: list.units.map { ($0.callSign, $0) })
}

/// Polls `condition` until it holds (an observed event, not a guessed delay); false after many tries.
func observed(_ condition: () async throws -> Bool) async throws -> Bool {
    for _ in 0..<2_000 {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return false
}

@Suite("Dispatch explains its choices and keeps its state", .serialized)
struct DispatchStateBusTests {
    @Test("the demo roster has armed response and traffic cars in every station")
    func demoRosterCapabilities() async throws {
        let stack = try await Stack.start(directory: temporaryDirectory(), gridModel: false)
        let desk = try await stack.desk()
        let cars = try await units(desk).values.filter { $0.kind == .car }
        let stations = Dictionary(grouping: cars, by: \.homeStation)
        #expect(stations.count == 12)
        for (station, cars) in stations {
            #expect(cars.contains { $0.capabilities.contains("armed") }, "\(station) has no armed car")
            #expect(cars.contains { $0.capabilities.contains("traffic") }, "\(station) has no traffic car")
        }
        await desk.close()
        await stack.stop()
    }

    @Test("a recommendation names the nearer units it passed over and why; with none able to go, it says who could not and why")
    func passedOver() async throws {
        let stack = try await Stack.start(directory: temporaryDirectory(), gridModel: true)
        let desk = try await stack.desk()
        // Station 510000-01-01's cars: C001 and C049 armed, C013 plain, C025 traffic.
        try await report(desk, [("C013", at(320, 260)), ("C025", at(350, 280)), ("C049", at(310, 255))])
        let elsewhere = try await intake(desk, "theft", at(2_000, 2_000))
        _ = try await assign(desk, elsewhere.incident.id, "C049")
        let robbery = try await intake(desk, "robbery", at(300, 250))

        let nobody = try await recommend(desk, robbery.incident.id)
        #expect(nobody.units.isEmpty)
        #expect(nobody.note.contains("no unit can go:") && nobody.note.contains("lack armed"), "\(nobody.note)")
        let reasons = Dictionary(uniqueKeysWithValues: nobody.passedOver.map { ($0.callSign, $0) })
        #expect(reasons["C013"]?.reason == .lacksCapability && reasons["C013"]?.detail == "lacks armed")
        #expect(reasons["C049"]?.reason == .busy && reasons["C049"]?.detail == "assigned on \(elsewhere.incident.id)")
        #expect(reasons["C001"]?.reason == .noPosition, "an armed own-station car that never reported is named too")
        #expect(nobody.passedOver.first?.callSign == "C049", "nearest first")

        try await report(desk, [("C001", at(700, 600))])
        let ranking = try await recommend(desk, robbery.incident.id)
        #expect(ranking.units.first?.callSign == "C001")
        #expect(Set(ranking.passedOver.map(\.callSign)) == ["C049", "C013", "C025"])
        #expect(ranking.note.contains("3 nearer unit(s) passed over: 2 lack armed, 1 busy"), "\(ranking.note)")
        #expect(ranking.units[0].explanation.contains("passes over nearer C049 (assigned on \(elsewhere.incident.id)"), "\(ranking.units[0].explanation)")
        await desk.close()
        await stack.stop()
    }

    @Test("a priority-1 incident alerts the adjacent stations by name and reaches their units on their order topics")
    func neighboursAlert() async throws {
        let stack = try await Stack.start(directory: temporaryDirectory(), gridModel: true)
        let desk = try await stack.desk()
        let alerts = try await desk.subscribe("dispatch.alert.neighbours")
        let orders = try await desk.subscribe("dispatch.order.>", durable: "terminals")
        let robbery = try await intake(desk, "robbery", at(300, 250))
        var iterator = alerts.makeAsyncIterator()
        let alert = try #require(await iterator.next()).decode(Xunfang_Dispatch_V1_NeighboursAlert.self)
        #expect(alert.incident.id == robbery.incident.id)
        #expect(!alert.stationName.isEmpty && alert.stationName != robbery.incident.stationID)
        #expect(!alert.stations.isEmpty && alert.stations.allSatisfy { !$0.name.isEmpty && $0.id != robbery.incident.stationID })
        let roster = try await units(desk)
        let adjacent = Set(alert.stations.map(\.id))
        let expected = roster.values.filter { adjacent.contains($0.homeStation) }.map(\.callSign).sorted()
        #expect(alert.callSigns == expected && !expected.isEmpty)
        var orderIterator = orders.makeAsyncIterator()
        let delivered = try #require(await orderIterator.next())
        let order = try delivered.decode(Xunfang_Dispatch_V1_Order.self)
        delivered.ack()
        #expect(order.hasAlert && order.ackDeadline == 0 && expected.contains(order.callSign))
        #expect(delivered.topic == "dispatch.order.\(order.callSign)")
        await desk.close()
        await stack.stop()
    }

    @Test("after a restart: positions are kept, the ranking goes on passing the order, and the capped pass-ons escalate on a durable topic")
    func restartKeepsState() async throws {
        let directory = temporaryDirectory()
        let clock = ManualClock()
        var settings = Dispatcher.Settings()
        settings.maxPassOns = 1
        var stack = try await Stack.start(directory: directory, gridModel: false, clock: clock, settings: settings)
        var desk = try await stack.desk()
        let positions = [("C001", at(100, 100)), ("C013", at(200, 150)), ("C025", at(400, 300))]
        try await report(desk, positions)
        let theft = try await intake(desk, "theft", at(0, 0))
        let ranking = try await recommend(desk, theft.incident.id).units.map(\.callSign)
        #expect(Array(ranking.prefix(3)) == ["C001", "C013", "C025"])
        _ = try await assign(desk, theft.incident.id, "C001")
        // Positions are stored in batches by the plugin's tick: wait until the file has them.
        #expect(try await observed { try openStore(directory).load().units.count { $0.position != nil } == positions.count })
        await desk.close()
        await stack.stop()

        stack = try await Stack.start(directory: directory, gridModel: false, clock: clock, settings: settings)
        desk = try await stack.desk()
        let escalations = try await desk.subscribe("dispatch.escalation", durable: "duty-officer")
        let restored = try await units(desk)
        for (callSign, point) in positions {
            #expect(abs((restored[callSign]?.position.longitude ?? 0) - point.longitude) < 1e-9, "\(callSign) lost its position")
        }
        clock.advance(seconds: 30)
        var iterator = escalations.makeAsyncIterator()
        // The first lapse passes the order to C013 (the stored ranking); C013's lapse escalates.
        #expect(try await observed { try await units(desk)["C013"]?.status == .assigned })
        clock.advance(seconds: 30)
        let delivered = try #require(await iterator.next())
        let escalation = try delivered.decode(Xunfang_Dispatch_V1_Escalation.self)
        delivered.ack()
        #expect(escalation.incident.id == theft.incident.id && escalation.unacknowledged == ["C001", "C013"])
        #expect(escalation.incident.escalatedAt == clock.now() && escalation.incident.passOns == 1)
        #expect(escalation.incident.status == .accepted && escalation.incident.note.hasSuffix("put to the duty officer"))
        await desk.close()
        await stack.stop()
    }
}
