import BridgeContract
import CheckpointControlContract
import DispatchContract
import Foundation
import SituationAnalysisContract
import Testing
import XunfangTestSupport
import XunfangNATS
import XunfangPluginKit

/// Issue 19's proof on one machine: a 3-node nats-server cluster with JetStream, three
/// county stacks (GridModel, Dispatch, CheckpointControl, the bridge) and one city stack
/// (SituationAnalysis, CheckpointControl, the bridge), all real plugin processes under
/// `xunfang up`, and kill -9 of a NATS node, of a county's bus and of a bridge while
/// incidents flow.
@Suite("Out of process: counties linked into a city over a JetStream cluster", .serialized)
struct BridgeClusterTests {
    static let secret = "bridge-harness-secret-0123456789"
    static let counties = ["county-a", "county-b", "county-c"]

    func config(_ name: String, nats: LocalNATSCluster) -> String {
        let servers = nats.addresses.map(\.description).joined(separator: ",")
        let bridge = #"{ BRIDGE_COUNTY: \#(name), BRIDGE_NATS: "\#(servers)", BRIDGE_REPLICAS: "3", "#
        if name == "city" {
            return testCity(bridge: bridge)
        }
        return testCounty(name, durableTopics: ["incident.>", "checkpoint.seal", "checkpoint.order.>"], plugins: """
          - name: checkpoint
            env: { CHECKPOINT_SEED_FROM_GRID: "on", CHECKPOINT_CITY: city, CHECKPOINT_CITY_PLANS: "CITY-GATES:TOWN" }
            acl:
              publish: ["checkpoint.>"]
              subscribe: ["checkpoint.seal", "unit.position"]
              serve: ["/xunfang.checkpoint.v1.Checkpoint/*"]
              call: ["/xunfang.grid_model.v1.GridModel/ListSites", "/xunfang.grid_model.v1.GridModel/ListAreas", "/xunfang.dispatch.v1.Dispatch/ListUnits"]
          - name: bridge
            env: \(bridge) BRIDGE_EXPORT: "incident.>,checkpoint.seal", BRIDGE_IMPORT: city:checkpoint.seal }
            acl:
              subscribe: ["incident.>", "checkpoint.seal"]
              publish: ["checkpoint.seal"]
              serve: ["/xunfang.bridge.v1.Bridge/*"]

        """, clients: """
          - name: harness
            credential: \(Self.secret)
            acl: { subscribe: ["checkpoint.order.>"], call: ["*"] }
        """)
    }

    func testCity(bridge: String) -> String {
        """
        county: city
        data_dir: data
        bus:
          socket: bus.sock
          durable_topics: ["incident.>", "checkpoint.seal"]
        plugins:
          - name: situation
            acl:
              publish: ["situation.>"]
              subscribe: ["incident.>"]
              serve: ["/xunfang.situation.v1.Situation/*"]
              # Declared by the plugin; the city has no GridModel or Dispatch, so these go unanswered.
              call: ["/xunfang.grid_model.v1.GridModel/Locate", "/xunfang.grid_model.v1.GridModel/ListAreas", "/xunfang.dispatch.v1.Dispatch/ListUnits"]
          - name: checkpoint
            env: { CHECKPOINT_CITY_SEALS: "CITY-GATES:\(Self.counties.joined(separator: "+"))" }
            acl:
              publish: ["checkpoint.>"]
              subscribe: ["checkpoint.seal"]
              serve: ["/xunfang.checkpoint.v1.Checkpoint/*"]
          - name: bridge
            env: \(bridge) BRIDGE_EXPORT: checkpoint.seal, BRIDGE_IMPORT: "*:incident.>,*:checkpoint.seal" }
            acl:
              subscribe: ["checkpoint.seal"]
              publish: ["incident.>", "checkpoint.seal"]
              serve: ["/xunfang.bridge.v1.Bridge/*"]
        clients:
          - name: harness
            credential: \(Self.secret)
            acl: { subscribe: ["incident.>"], call: ["*"] }
        """
    }

    @Test("incidents taken by three counties' Dispatch reach the city's analysis once each through kill -9 of a NATS node, a county bus and a bridge; the city's seal activates every county's plan and its board turns sealed county by county")
    func cityThroughFaults() async throws {
        let root = NSTemporaryDirectory() + "xf-bridge-cluster-\(UUID().uuidString.prefix(8))"
        let nats = try LocalNATSCluster(in: root, nodes: 3)
        try nats.start()
        defer { nats.stop() }
        var directories: [String: String] = [:]
        var stacks: [String: Process] = [:]
        defer { for process in stacks.values where process.isRunning { process.terminate(); process.waitUntilExit() } }
        for name in ["city"] + Self.counties {
            let directory = "\(root)/\(name)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try config(name, nats: nats).write(toFile: "\(directory)/county.yaml", atomically: true, encoding: .utf8)
            directories[name] = directory
        }
        stacks["city"] = try startXunfang(["up", "--config", "county.yaml"], in: directories["city"]!, log: "\(root)/city/up.log")
        let city = try #require(await harnessClient(in: directories["city"]!, secret: Self.secret))
        let arrivals = try await city.subscribe("incident.>", durable: "harness-arrivals")
        var desks: [String: BusClient] = [:]
        var orders: [String: Subscription] = [:]
        for name in Self.counties {
            stacks[name] = try startXunfang(["up", "--config", "county.yaml"], in: directories[name]!, log: "\(root)/\(name)/up.log")
            let desk = try #require(await harnessClient(in: directories[name]!, secret: Self.secret))
            desks[name] = desk
            orders[name] = try await desk.subscribe("checkpoint.order.>", durable: "harness-terminals")
        }
        let perPhase = 25
        var taken: [String: Set<String>] = [:]
        func phase(_ number: Int) async throws {
            for name in Self.counties {
                for index in number * perPhase..<(number + 1) * perPhase {
                    taken[name, default: []].insert(try await acknowledgedIntake(desks[name]!, index: index, prefix: name))
                }
            }
        }

        try await phase(0)
        nats.kill(node: 0)                       // every bridge linked to it first
        try await phase(1)
        try nats.start(node: 0)
        let busKilled = stacks["county-a"]!
        kill(busKilled.processIdentifier, SIGKILL)   // the county's bus, and so its plugins with it
        try await exited(busKilled)
        stacks["county-a"] = try startXunfang(["up", "--config", "county.yaml"], in: directories["county-a"]!, log: "\(root)/county-a/up-2.log")
        try await phase(2)
        let bridgeB = try #require(try await pluginChild("xunfang-plugin-bridge", of: stacks["county-b"]!.processIdentifier))
        kill(bridgeB, SIGKILL)                   // the supervisor starts it again
        try await phase(3)
        for name in Self.counties { #expect(taken[name]?.count == 4 * perPhase, "\(name)'s Dispatch took each call once") }

        // What crossed: every incident's announcement, labelled with its county.
        let expected = Set(Self.counties.flatMap { name in taken[name]!.map { "\(name)/\($0)" } })
        let collector = Task { () -> Set<String> in
            var seen = Set<String>()
            for await delivery in arrivals {
                delivery.ack()
                guard let incident = try? delivery.decode(Xunfang_Dispatch_V1_Incident.self) else { continue }
                seen.insert("\(delivery.headers["xunfang-origin-county"] ?? "?")/\(incident.id)")
                if seen.isSuperset(of: expected) { break }
            }
            return seen
        }
        // Bounded so a lost message fails the test instead of hanging CI.
        let watchdog = Task { try await Task.sleep(for: .seconds(240)); collector.cancel() }
        let arrived = await collector.value
        watchdog.cancel()
        #expect(arrived == expected, "missing at the city: \(expected.subtracting(arrived).sorted().prefix(10)) (logs under \(root))")

        // The city's SituationAnalysis counts each county's incidents once.
        let byCounty = Xunfang_Situation_V1_BreakdownRequest.with { $0.by = [.county] }
        var counts: [String: UInt32] = [:]
        _ = try await eventually(within: 120) {
            let answer = try await city.call("/xunfang.situation.v1.Situation/Breakdown", byCounty, as: Xunfang_Situation_V1_BreakdownResponse.self)
            counts = Dictionary(answer.rows.map { ($0.key.first ?? "", $0.count) }, uniquingKeysWith: +)
            return answer.total >= UInt32(expected.count)
        }
        #expect(counts == Dictionary(uniqueKeysWithValues: Self.counties.map { ($0, UInt32(4 * perPhase)) }), "the city's breakdown by county")
        print("bridge cluster: \(expected.count) incidents taken by three counties' Dispatch, \(arrived.count) arrived at the city; its analysis by county: \(counts.sorted { $0.key < $1.key })")

        // Read once the last PubAck is back (the city may have the message first).
        var status = Xunfang_Bridge_V1_StatusResponse()
        let counted = try await eventually(within: 60) {
            status = try await desks["county-c"]!.call("/xunfang.bridge.v1.Bridge/Status", Xunfang_Bridge_V1_StatusRequest(),
                                                       as: Xunfang_Bridge_V1_StatusResponse.self)
            return status.exports.first { $0.pattern == "incident.>" }.map { $0.durable && $0.exported >= UInt64(4 * perPhase) } == true
        }
        #expect(counted, "county C's bridge stored every incident of its county: \(status.exports)")
        #expect(status.connected && status.reconnects >= 1, "county C's bridge lost its NATS node and found another")

        try await citySeal(city: city, desks: desks, orders: orders, logs: root)
        for client in desks.values { await client.close() }
        await city.close()
    }

    /// The city activates CITY-GATES; each county's CheckpointControl activates its TOWN plan
    /// and orders its checkpoints and units, which the harness acknowledges as they would; the
    /// city's board turns sealed; the city's stand-down stands every county down.
    func citySeal(city: BusClient, desks: [String: BusClient], orders: [String: Subscription], logs: String) async throws {
        let checkpoint = "/xunfang.checkpoint.v1.Checkpoint/"
        let terminals = Task {
            await withTaskGroup(of: Void.self) { group in
                for (name, subscription) in orders {
                    let desk = desks[name]!
                    group.addTask {
                        for await delivery in subscription {
                            if let order = try? delivery.decode(Xunfang_Checkpoint_V1_SealOrder.self), !order.standDown {
                                let acknowledge = Xunfang_Checkpoint_V1_AcknowledgeRequest.with {
                                    $0.activation = order.activation
                                    $0.position = order.position.id
                                    $0.responder = order.position.responder
                                }
                                _ = try? await desk.call(checkpoint + "Acknowledge", acknowledge, as: Xunfang_Checkpoint_V1_AcknowledgeResponse.self)
                            }
                            delivery.ack()
                        }
                    }
                }
            }
        }
        defer { terminals.cancel() }
        let activated = try await city.call(checkpoint + "Activate", Xunfang_Checkpoint_V1_ActivateRequest.with {
            $0.plan = "CITY-GATES"
            $0.drill = true
            $0.reason = "全市关城门演练"
        }, as: Xunfang_Checkpoint_V1_SealActivation.self)
        #expect(activated.positions.map(\.id) == Self.counties)
        let board = Xunfang_Checkpoint_V1_SealBoardRequest.with { $0.activation = activated.id }
        var cityBoard = activated
        let sealed = try await eventually(within: 180) {
            cityBoard = try await city.call(checkpoint + "SealBoard", board, as: Xunfang_Checkpoint_V1_SealActivation.self)
            return cityBoard.state == .sealed
        }
        #expect(sealed, "the city's board: \(cityBoard.positions.map { "\($0.id) \($0.state)" }) (logs under \(logs))")
        #expect(cityBoard.positions.allSatisfy { $0.state == .inPosition && $0.acknowledgedBy == $0.id })
        for name in Self.counties {
            #expect(cityBoard.timeline.contains { $0.kind == "county-activated" && $0.position == name && $0.detail == "TOWN-1" })
            let own = try await desks[name]!.call(checkpoint + "SealBoard", Xunfang_Checkpoint_V1_SealBoardRequest.with { $0.activation = "TOWN-1" },
                                                  as: Xunfang_Checkpoint_V1_SealActivation.self)
            #expect(own.state == .sealed && own.drill && own.reason.hasPrefix("市局指令 \(activated.id):"), "\(name)'s own seal")
        }
        print("city seal: \(cityBoard.positions.map { String(format: "%@ sealed after %.1f s", $0.id, $0.secondsToSeal) }.joined(separator: ", "))")

        _ = try await city.call(checkpoint + "StandDown", Xunfang_Checkpoint_V1_StandDownRequest.with {
            $0.activation = activated.id
            $0.reason = "演练结束"
        }, as: Xunfang_Checkpoint_V1_SealActivation.self)
        for name in Self.counties {
            let stoodDown = try await eventually(within: 120) {
                let own = try await desks[name]!.call(checkpoint + "SealBoard", Xunfang_Checkpoint_V1_SealBoardRequest.with { $0.activation = "TOWN-1" },
                                                      as: Xunfang_Checkpoint_V1_SealActivation.self)
                return own.state == .stoodDown
            }
            #expect(stoodDown, "\(name) stood down with the city")
        }
    }
}
