import CheckpointControlContract
import CheckpointControlPlugin
import DispatchContract
import Foundation
import SwiftProtobuf
import Testing
import XunfangGeo
import XunfangPluginKit

/// The crossroads town of `RegistryStack`, sealed 250 m around the crossing: checkpoints
/// on the east and west arms, unit posts on the north and south ones.
func townPlan(_ positions: [Xunfang_Checkpoint_V1_PlanPosition]) -> Xunfang_Checkpoint_V1_SealPlan {
    .with {
        $0.id = "TOWN"
        $0.name = "关城门·城区"
        $0.scope = .city
        $0.reachMetres = 100
        $0.boundary = square(250).map { point in .with { $0.longitude = point.longitude; $0.latitude = point.latitude } }
        $0.positions = positions
    }
}

func position(_ id: String, checkpoint: String = "", node: Int64 = 0) -> Xunfang_Checkpoint_V1_PlanPosition {
    .with {
        $0.id = id
        $0.checkpoint = checkpoint
        $0.node = node
    }
}

func call<Response: SwiftProtobuf.Message>(_ desk: BusClient, _ method: String, _ request: some SwiftProtobuf.Message, as: Response.Type) async throws -> Response {
    try await desk.call(checkpointService + method, request, as: Response.self)
}

@Suite("Seal plans over the bus", .serialized)
struct SealBusTests {
    @Test("a plan with a gap is refused naming the road; a sealed one is kept, drafted alike, and survives a GeoJSON round trip")
    func plans() async throws {
        let stack = try await RegistryStack.start()
        let plugin = try await stack.plugin()
        let desk = try await stack.desk()
        _ = try await register(desk, "CP-east", node: 103)
        _ = try await register(desk, "CP-west", node: 97)

        let gap = townPlan([position("E", checkpoint: "CP-east"), position("W", checkpoint: "CP-west"), position("N", node: 203)])
        await #expect {
            try await call(desk, "PutPlan", Xunfang_Checkpoint_V1_PutPlanRequest.with { $0.plan = gap }, as: Xunfang_Checkpoint_V1_PutPlanResponse.self)
        } throws: { ($0 as? BusClientError)?.code == .invalidArgument && "\($0)".contains("leaves a road out of the ring: 路197-198 (node 198 → 197)") }
        let check = try await call(desk, "CheckPlan", gap, as: Xunfang_Checkpoint_V1_CheckPlanResponse.self)
        #expect(!check.sealed && check.gaps.map(\.arc.roadName) == ["路197-198"] && check.insideNodes == 9)

        // The south post by position, 20 m off the road: joined to node 197 and named by its roads.
        let south = LocalProjection(origin: Roads.origin).unproject(PlanarPoint(x: 20, y: -300))
        var sealed = gap
        sealed.positions.append(.with { $0.id = "S"; $0.longitude = south.longitude; $0.latitude = south.latitude })
        let put = try await call(desk, "PutPlan", Xunfang_Checkpoint_V1_PutPlanRequest.with { $0.plan = sealed; $0.officer = "王芳" },
                                 as: Xunfang_Checkpoint_V1_PutPlanResponse.self)
        #expect(put.created && put.plan.targetSeconds == 180 && put.plan.updatedBy == "desk / 王芳")
        #expect(put.plan.positions.map(\.node) == [103, 97, 203, 197])
        #expect(put.plan.positions[0].name == "卡点 CP-east" && put.plan.positions[3].name == "路196-197 × 路197-198")

        let draft = try await call(desk, "DraftPlan", townPlan([]), as: Xunfang_Checkpoint_V1_SealPlan.self)
        #expect(draft.positions.filter { !$0.checkpoint.isEmpty }.map(\.checkpoint).sorted() == ["CP-east", "CP-west"])
        #expect(draft.positions.count == 4)
        #expect(try await call(desk, "CheckPlan", draft, as: Xunfang_Checkpoint_V1_CheckPlanResponse.self).sealed)

        let exported = try await call(desk, "ExportPlan", Xunfang_Checkpoint_V1_PlanRequest.with { $0.id = "TOWN" }, as: Xunfang_Checkpoint_V1_ExportPlanResponse.self)
        let imported = try await call(desk, "ImportPlan", Xunfang_Checkpoint_V1_ImportPlanRequest.with { $0.geojson = exported.geojson },
                                      as: Xunfang_Checkpoint_V1_PutPlanResponse.self)
        #expect(!imported.created && imported.plan.positions.map(\.id) == ["E", "W", "N", "S"] && imported.plan.positions.map(\.node) == [103, 97, 203, 197])
        #expect(imported.plan.boundary.count == 4 && imported.plan.reachMetres == 100)

        // Bad input: each a clear error naming the problem.
        await #expect { try await call(desk, "ImportPlan", Xunfang_Checkpoint_V1_ImportPlanRequest.with { $0.geojson = Data("{\"type\":1}".utf8) },
                                       as: Xunfang_Checkpoint_V1_PutPlanResponse.self) } throws: { ($0 as? BusClientError)?.code == .invalidArgument }
        await #expect { try await call(desk, "PutPlan", Xunfang_Checkpoint_V1_PutPlanRequest.with { $0.plan = townPlan([position("X", checkpoint: "CP-none")]) },
                                       as: Xunfang_Checkpoint_V1_PutPlanResponse.self) } throws: { "\($0)".contains("position X: no checkpoint CP-none") }
        await #expect { try await call(desk, "PutPlan", Xunfang_Checkpoint_V1_PutPlanRequest.with { $0.plan = townPlan([position("X", node: 999)]) },
                                       as: Xunfang_Checkpoint_V1_PutPlanResponse.self) } throws: { ($0 as? BusClientError)?.code == .notFound && "\($0)".contains("node 999") }
        await #expect { try await call(desk, "PutPlan", Xunfang_Checkpoint_V1_PutPlanRequest.with { $0.plan = townPlan([position("X", node: 97), position("Y", node: 97)]) },
                                       as: Xunfang_Checkpoint_V1_PutPlanResponse.self) } throws: { "\($0)".contains("hold the same road node 97") }
        await plugin.close()
        await desk.close()
    }

    @Test("a city's seal order (through the bridge) activates the county's mapped plan once, as a drill when the city drills; the city's stand-down stands it down; other counties and plans are ignored")
    func cityOrder() async throws {
        let stack = try await RegistryStack.start()
        let plugin = try await stack.plugin(cityOrders: CityOrders(city: "chengdu", plans: ["CITY-GATES": "TOWN"]))
        let desk = try await stack.desk()
        _ = try await register(desk, "CP-east", node: 103)
        _ = try await register(desk, "CP-west", node: 97)
        let plan = townPlan([position("E", checkpoint: "CP-east"), position("W", checkpoint: "CP-west"), position("N", node: 203), position("S", node: 197)])
        _ = try await call(desk, "PutPlan", Xunfang_Checkpoint_V1_PutPlanRequest.with { $0.plan = plan }, as: Xunfang_Checkpoint_V1_PutPlanResponse.self)
        let boards = try await desk.subscribe("checkpoint.seal")
        func cityBoard(_ plan: String, _ state: Xunfang_Checkpoint_V1_SealState, from county: String = "chengdu") async throws {
            let board = Xunfang_Checkpoint_V1_SealActivation.with {
                $0.id = "\(plan)-1"
                $0.plan = plan
                $0.drill = true
                $0.state = state
                $0.reason = "全市关城门演练"
            }
            try await desk.publishConfirmed("checkpoint.seal", board, headers: ["xunfang-origin-county": county])
        }
        func ours(_ state: Xunfang_Checkpoint_V1_SealState) async throws -> Xunfang_Checkpoint_V1_SealActivation? {
            for await delivery in boards where delivery.publisher == "checkpoint" {
                let board = try delivery.decode(Xunfang_Checkpoint_V1_SealActivation.self)
                if board.state == state { return board }
            }
            return nil
        }
        try await cityBoard("CITY-GATES", .sealing, from: "county-b")   // a neighbour's board: not an order
        try await cityBoard("OTHER", .sealing)                          // a city plan this county has no part in
        try await cityBoard("CITY-GATES", .sealing)
        try await cityBoard("CITY-GATES", .sealed)                      // the city's board again: no second activation
        let activated = try #require(try await ours(.sealing))
        #expect(activated.id == "TOWN-1" && activated.drill && activated.reason.hasPrefix("市局指令 CITY-GATES-1:"))
        #expect(activated.positions.count == 4 && activated.activatedBy.contains("chengdu"))
        try await cityBoard("CITY-GATES", .stoodDown)
        let stoodDown = try #require(try await ours(.stoodDown))
        #expect(stoodDown.id == "TOWN-1", "the one activation the city's order made, stood down")
        let plans = try await call(desk, "ListPlans", Xunfang_Checkpoint_V1_ListPlansRequest(), as: Xunfang_Checkpoint_V1_ListPlansResponse.self)
        #expect(plans.plans.map(\.id) == ["TOWN"])
        #expect(throws: SettingError.self) { try CityOrders(settings: ["CHECKPOINT_CITY": "chengdu"]) }
        #expect(throws: SettingError.self) { try CityOrders(settings: ["CHECKPOINT_CITY": "chengdu", "CHECKPOINT_CITY_PLANS": "A:B,A:C"]) }
        #expect(try CityOrders(settings: [:]) == nil)
        await plugin.close()
        await desk.close()
    }

    @Test("a city plan orders its counties by its board; each county's board answering it puts that county in position, the city sealed when all are; late counties go to the duty officer; stand-down goes out on the board")
    func citySeal() async throws {
        let stack = try await RegistryStack.start()
        let plugin = try await stack.plugin(citySeals: CitySeals(plans: ["CITY-GATES": ["county-a", "county-b", "county-c"]], targetSeconds: 240))
        let desk = try await stack.desk()
        let boards = try await desk.subscribe("checkpoint.seal")
        let escalations = try await desk.subscribe("checkpoint.escalation")
        let orders = try await desk.subscribe("checkpoint.order.>")
        func cityBoard(_ matching: (Xunfang_Checkpoint_V1_SealActivation) -> Bool) async throws -> Xunfang_Checkpoint_V1_SealActivation? {
            for await delivery in boards where delivery.publisher == "checkpoint" {
                let board = try delivery.decode(Xunfang_Checkpoint_V1_SealActivation.self)
                if matching(board) { return board }
            }
            return nil
        }
        func countyBoard(_ county: String, _ state: Xunfang_Checkpoint_V1_SealState, answering city: String = "CITY-GATES-1") async throws {
            let board = Xunfang_Checkpoint_V1_SealActivation.with {
                $0.id = "TOWN-1"
                $0.plan = "TOWN"
                $0.state = state
                $0.reason = "市局指令 \(city): 全市关城门"
            }
            try await desk.publishConfirmed("checkpoint.seal", board, headers: ["xunfang-origin-county": county])
        }
        /// Sends a county's board again until the city's board shows it: the plugin subscribes
        /// as it starts, and a repeat changes nothing.
        func report(_ county: String, _ state: Xunfang_Checkpoint_V1_SealState,
                    until shown: (Xunfang_Checkpoint_V1_SealActivation) -> Bool) async throws -> Xunfang_Checkpoint_V1_SealActivation {
            while true {
                try await countyBoard(county, state)
                let board = try await call(desk, "SealBoard", Xunfang_Checkpoint_V1_SealBoardRequest.with { $0.activation = "CITY-GATES-1" },
                                           as: Xunfang_Checkpoint_V1_SealActivation.self)
                if shown(board) { return board }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let plans = try await call(desk, "ListPlans", Xunfang_Checkpoint_V1_ListPlansRequest(), as: Xunfang_Checkpoint_V1_ListPlansResponse.self)
        #expect(plans.plans.map(\.id) == ["CITY-GATES"] && plans.plans[0].positions.map(\.id) == ["county-a", "county-b", "county-c"])
        await #expect { _ = try await call(desk, "Activate", Xunfang_Checkpoint_V1_ActivateRequest.with { $0.plan = "CITY-GATES"; $0.units = [.with { $0.id = "car-1" }] },
                                           as: Xunfang_Checkpoint_V1_SealActivation.self) } throws: { "\($0)".contains("orders counties, not units") }
        let activated = try await call(desk, "Activate", Xunfang_Checkpoint_V1_ActivateRequest.with { $0.plan = "CITY-GATES"; $0.reason = "全市关城门" },
                                       as: Xunfang_Checkpoint_V1_SealActivation.self)
        #expect(activated.id == "CITY-GATES-1" && activated.state == .sealing && activated.positions.map(\.responder) == ["county-a", "county-b", "county-c"])
        #expect(try await cityBoard { $0.state == .sealing }?.positions.allSatisfy { $0.state == .ordered } == true)

        _ = try await report("county-a", .sealing) { $0.timeline.contains { $0.kind == "county-activated" } }
        try await countyBoard("county-d", .sealed)                          // not in the plan
        try await countyBoard("county-b", .sealed, answering: "OTHER-1")    // another city activation
        let halfway = try await report("county-a", .sealed) { $0.inPosition > 0 }
        #expect(halfway.positions.map(\.state) == [.inPosition, .ordered, .ordered] && halfway.positions[0].acknowledgedBy == "county-a")
        #expect(halfway.inPosition == 1)
        #expect(halfway.timeline.filter { $0.kind == "county-activated" }.map(\.position) == ["county-a"])
        #expect(halfway.timeline.filter { $0.kind == "in-position" }.count == 1, "county-a's repeats changed nothing")

        stack.advance(minutes: 5)                                           // county-b is past the 240 s target
        let escalation = try #require(await escalations.first { _ in true })
        let late = try escalation.decode(Xunfang_Checkpoint_V1_SealEscalation.self)
        #expect(late.activation == "CITY-GATES-1" && late.position.id == "county-b" && late.reason.contains("not reported sealed"))
        _ = try await report("county-b", .sealed) { $0.inPosition == 2 }
        // County C's link is cut: the city's duty officer has its word by phone.
        let byPhone = try await call(desk, "Acknowledge", Xunfang_Checkpoint_V1_AcknowledgeRequest.with {
            $0.activation = "CITY-GATES-1"; $0.position = "county-c"; $0.responder = "county-c"; $0.officer = "值班长 by phone"
        }, as: Xunfang_Checkpoint_V1_AcknowledgeResponse.self)
        #expect(!byPhone.duplicate && byPhone.position.state == .inPosition)
        let sealed = try #require(try await cityBoard { $0.state == .sealed })
        #expect(sealed.positions.allSatisfy { $0.state == .inPosition } && sealed.positions[1].late && !sealed.positions[0].late)
        #expect(sealed.timeline.contains { $0.kind == "in-position" && $0.position == "county-c" && $0.responder == "county-c" })

        _ = try await call(desk, "StandDown", Xunfang_Checkpoint_V1_StandDownRequest.with { $0.activation = "CITY-GATES-1"; $0.reason = "解除" },
                           as: Xunfang_Checkpoint_V1_SealActivation.self)
        #expect(try await cityBoard { $0.state == .stoodDown }?.id == "CITY-GATES-1")
        try await desk.publishConfirmed("checkpoint.order.marker", Xunfang_Checkpoint_V1_SealOrder.with { $0.activation = "marker" })
        let firstOrder = await orders.first { _ in true }
        #expect(firstOrder?.topic == "checkpoint.order.marker", "no order topic for counties on the city's bus")

        #expect(try CitySeals(settings: ["CHECKPOINT_CITY_SEALS": "CITY-GATES:county-a+county-b,WEST:county-a"])?.plans["WEST"] == ["county-a"])
        for bad in ["CITY-GATES", "CITY-GATES:", "A:x+x", "A:x,A:y", "A:x y"] {
            #expect(throws: SettingError.self) { try CitySeals(settings: ["CHECKPOINT_CITY_SEALS": bad]) }
        }
        await plugin.close()
        await desk.close()
    }

    @Test("activation orders every position, acknowledgements seal it, a late one escalates, and the board outlives a restart")
    func activation() async throws {
        let stack = try await RegistryStack.start()
        var plugin = try await stack.plugin()
        let desk = try await stack.desk()
        _ = try await register(desk, "CP-east", node: 103)
        _ = try await register(desk, "CP-west", node: 97)
        let plan = townPlan([position("E", checkpoint: "CP-east"), position("W", checkpoint: "CP-west"), position("N", node: 203), position("S", node: 197)])
        _ = try await call(desk, "PutPlan", Xunfang_Checkpoint_V1_PutPlanRequest.with { $0.plan = plan }, as: Xunfang_Checkpoint_V1_PutPlanResponse.self)
        let orders = try await desk.subscribe("checkpoint.order.>")
        let escalations = try await desk.subscribe("checkpoint.escalation")

        let activate = Xunfang_Checkpoint_V1_ActivateRequest.with {
            $0.plan = "TOWN"
            $0.officer = "王芳"
            $0.reason = "抢劫案 嫌疑人驾车逃离"
            $0.units = [("U-north", Int64(204)), ("U-south", 196)].map { unit in .with { $0.id = unit.0; $0.node = unit.1 } }
        }
        let board = try await call(desk, "Activate", activate, as: Xunfang_Checkpoint_V1_SealActivation.self)
        #expect(board.id == "TOWN-1" && board.state == .sealing && !board.drill)
        #expect(board.positions.map(\.responder) == ["CP-east", "CP-west", "U-north", "U-south"])
        await #expect { try await call(desk, "Activate", activate, as: Xunfang_Checkpoint_V1_SealActivation.self) } throws: {
            ($0 as? BusClientError)?.code == .failedPrecondition && "\($0)".contains("already active (activation TOWN-1)")
        }
        var ordered: Set<String> = []
        var iterator = orders.makeAsyncIterator()
        while ordered.count < 4, let delivery = await iterator.next() {
            ordered.insert(delivery.topic)
            #expect(try delivery.decode(Xunfang_Checkpoint_V1_SealOrder.self).activation == "TOWN-1")
        }
        #expect(ordered == ["checkpoint.order.CP-east", "checkpoint.order.CP-west", "checkpoint.order.U-north", "checkpoint.order.U-south"])
        #expect(try await checkpoint(desk, "CP-east").status == .alert)

        func acknowledge(_ position: String, by responder: String) async throws -> Xunfang_Checkpoint_V1_AcknowledgeResponse {
            try await call(desk, "Acknowledge", Xunfang_Checkpoint_V1_AcknowledgeRequest.with {
                $0.activation = "TOWN-1"
                $0.position = position
                $0.responder = responder
            }, as: Xunfang_Checkpoint_V1_AcknowledgeResponse.self)
        }
        stack.clock.advance(45_000)
        #expect(try await acknowledge("E", by: "CP-east").position.secondsToSeal == 45)
        #expect(try await checkpoint(desk, "CP-east").status == .sealed)
        await #expect { try await acknowledge("N", by: "U-south") } throws: { ($0 as? BusClientError)?.code == .permissionDenied }
        // The terminal's press time is kept (sent 30 s late), not before the activation, and a clock 11 s ahead is refused.
        func pressed(_ at: Int64) async throws -> Xunfang_Checkpoint_V1_AcknowledgeResponse {
            try await call(desk, "Acknowledge", Xunfang_Checkpoint_V1_AcknowledgeRequest.with {
                $0.activation = "TOWN-1"
                $0.position = "N"
                $0.responder = "U-north"
                $0.at = at
            }, as: Xunfang_Checkpoint_V1_AcknowledgeResponse.self)
        }
        await #expect { try await pressed(stack.now + 11_000) } throws: { ($0 as? BusClientError)?.code == .invalidArgument && "\($0)".contains("ahead") }
        #expect(try await pressed(stack.now - 30_000).position.secondsToSeal == 15)

        // A restart finds the board as it was.
        await plugin.close()
        plugin = try await stack.plugin()
        let again = try await call(desk, "SealBoard", Xunfang_Checkpoint_V1_SealBoardRequest(), as: Xunfang_Checkpoint_V1_SealActivation.self)
        #expect(again.positions.map(\.state) == [.inPosition, .ordered, .inPosition, .ordered] && again.inPosition == 2)
        #expect(try await acknowledge("E", by: "CP-east").duplicate)

        // Past the 3-minute target: CP-west and U-south are passed on; no unit is free, so both go to the duty officer.
        stack.clock.advance(200_000)
        var escalated: Set<String> = []
        var escalationIterator = escalations.makeAsyncIterator()
        while escalated.count < 2, let delivery = await escalationIterator.next() {
            escalated.insert(try delivery.decode(Xunfang_Checkpoint_V1_SealEscalation.self).position.id)
        }
        #expect(escalated == ["W", "S"])
        _ = try await acknowledge("S", by: "U-south")

        let ended = try await call(desk, "StandDown", Xunfang_Checkpoint_V1_StandDownRequest.with { $0.activation = "TOWN-1"; $0.reason = "嫌疑人已抓获" },
                                   as: Xunfang_Checkpoint_V1_SealActivation.self)
        #expect(ended.state == .stoodDown)
        #expect(try await checkpoint(desk, "CP-east").status == .standDown)
        let report = try await call(desk, "AfterAction", Xunfang_Checkpoint_V1_AfterActionRequest.with { $0.activation = "TOWN-1" },
                                    as: Xunfang_Checkpoint_V1_AfterActionReport.self)
        #expect(report.missed == 1 && report.slowestPosition == "W" && report.late == 1)
        #expect(report.html.contains("关城门·城区") && report.html.contains("Not sealed"))
        await #expect { try await acknowledge("W", by: "CP-west") } throws: { ($0 as? BusClientError)?.code == .failedPrecondition }
        await #expect {
            try await call(desk, "Activate", Xunfang_Checkpoint_V1_ActivateRequest.with { $0.plan = "NONE" }, as: Xunfang_Checkpoint_V1_SealActivation.self)
        } throws: { ($0 as? BusClientError)?.code == .notFound }
        await plugin.close()
        await desk.close()
    }

    @Test("readiness: each position's responder and road time from Dispatch's available units, the unit asked to stand by for an uncovered one, published on checkpoint.readiness; a running plan has its board instead")
    func readiness() async throws {
        let stack = try await RegistryStack.start()
        let plugin = try await stack.plugin(readiness: .milliseconds(100))
        let desk = try await stack.desk()
        // Dispatch's units, served as Dispatch would: near the north post, 100 m east of the crossing (400 m by road from either post), and one busy.
        func unit(_ callSign: String, at node: Int64, _ status: Xunfang_Dispatch_V1_UnitStatus) -> Xunfang_Dispatch_V1_Unit {
            let point = stack.graph.coordinates[stack.graph.node(osmID: node)!]
            return .with {
                $0.callSign = callSign
                $0.kind = .car
                $0.status = status
                $0.position = .with { $0.longitude = point.longitude; $0.latitude = point.latitude }
            }
        }
        let dispatch = try await stack.dispatch([unit("U-near", at: 204, .available), unit("U-far", at: 101, .available), unit("U-busy", at: 197, .onScene)])
        _ = try await register(desk, "CP-east", node: 103)
        _ = try await register(desk, "CP-west", node: 97)
        var plan = townPlan([position("E", checkpoint: "CP-east"), position("W", checkpoint: "CP-west"), position("N", node: 203), position("S", node: 197)])
        plan.targetSeconds = 60
        _ = try await call(desk, "PutPlan", Xunfang_Checkpoint_V1_PutPlanRequest.with { $0.plan = plan }, as: Xunfang_Checkpoint_V1_PutPlanResponse.self)
        let published = try await desk.subscribe("checkpoint.readiness")

        let answer = try await call(desk, "Readiness", Xunfang_Checkpoint_V1_ReadinessRequest.with { $0.plan = "TOWN" }, as: Xunfang_Checkpoint_V1_ReadinessResponse.self)
        let town = try #require(answer.plans.first)
        #expect(answer.plans.count == 1 && town.availableUnits == 2 && town.targetSeconds == 60 && town.marginSeconds == 15)
        #expect(town.positions.map(\.responder) == ["CP-east", "CP-west", "U-near", "U-far"])
        // 100 m and 400 m of 25 km/h street: 14 s (covered within 45 s) and 58 s (not).
        #expect(town.positions.map { Int($0.etaSeconds.rounded()) } == [0, 0, 14, 58] && town.positions.map(\.covered) == [true, true, true, false])
        #expect(town.positions.map(\.standby) == ["", "", "", "U-far"] && town.covered == 3 && Int(town.expectedSeconds.rounded()) == 58)

        var iterator = published.makeAsyncIterator()
        let delivery = try #require(await iterator.next())
        let broadcast = try delivery.decode(Xunfang_Checkpoint_V1_SealReadiness.self)
        #expect(broadcast.plan == "TOWN" && broadcast.positions.last?.standby == "U-far")

        await #expect { try await call(desk, "Readiness", Xunfang_Checkpoint_V1_ReadinessRequest.with { $0.plan = "NONE" }, as: Xunfang_Checkpoint_V1_ReadinessResponse.self) } throws: {
            ($0 as? BusClientError)?.code == .notFound
        }
        _ = try await call(desk, "Activate", Xunfang_Checkpoint_V1_ActivateRequest.with { $0.plan = "TOWN"; $0.drill = true }, as: Xunfang_Checkpoint_V1_SealActivation.self)
        await #expect { try await call(desk, "Readiness", Xunfang_Checkpoint_V1_ReadinessRequest.with { $0.plan = "TOWN" }, as: Xunfang_Checkpoint_V1_ReadinessResponse.self) } throws: {
            ($0 as? BusClientError)?.code == .failedPrecondition && "\($0)".contains("is active")
        }
        #expect(try await call(desk, "Readiness", Xunfang_Checkpoint_V1_ReadinessRequest(), as: Xunfang_Checkpoint_V1_ReadinessResponse.self).plans.isEmpty)
        await plugin.close()
        await dispatch.close()
        await desk.close()
    }

    func checkpoint(_ desk: BusClient, _ id: String) async throws -> Xunfang_Checkpoint_V1_CheckpointRecord {
        try await call(desk, "Get", Xunfang_Checkpoint_V1_GetRequest.with { $0.id = id }, as: Xunfang_Checkpoint_V1_GetResponse.self).checkpoint
    }
}
