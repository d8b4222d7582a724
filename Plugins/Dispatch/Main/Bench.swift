import ArgumentParser
import Foundation
import Logging
import XunfangGeo
import XunfangPluginKit
import DispatchContract
import GridModelContract

/// `xunfang bench dispatch` (`xunfang dispatch bench`): the real stack (`xunfang up`: bus, GridModel, Dispatch as
/// processes) on the demo county with `--units` positioned patrol units; Recommend
/// latency through the bus, beside GridModel's Eta alone (its floor), and sustained
/// intake with 16 calls in flight.
struct DispatchBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Recommend latency and intake rate on the demo county.")
    @Option(help: "Patrol units with positions.") var units: Int = 500
    @Option(help: "Recommend calls timed.") var calls: Int = 1_000
    @Option(help: "Incidents taken in for the intake rate.") var intakes: Int = 2_000
    @Flag(help: "Print only the JSON line.") var json = false

    static let secret = "bench-dispatch-secret-0123456789"

    func run() async throws {
        let directory = NSTemporaryDirectory() + "xunfang-bench-dispatch-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try countyYAML.write(toFile: "\(directory)/county.yaml", atomically: true, encoding: .utf8)
        let up = try ToolConnection.startStack(in: directory)
        defer {
            up.terminate()
            up.waitUntilExit()
        }
        let client = BusClient(transport: .socket(.unixSocket("\(directory)/data/bus.sock")), manifest: PluginManifest(name: "bench", version: "0.1.0"),
                               credential: Self.secret, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await PluginMain.connectWithRetry(client, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        defer { Task { await client.close() } }

        // Units report positions at random points of the county until Dispatch has them all.
        var random = SyntheticRoads.Generator(state: 500)
        let parameters = SyntheticRoads.Parameters.demoCounty
        let projection = LocalProjection(origin: parameters.origin)
        let half = parameters.sideMetres / 2 - 500
        let callSigns = (1...units).map { "C\(String(format: "%03d", $0))" }
        let positions = callSigns.map { _ in projection.unproject(PlanarPoint(x: Double.random(in: -half...half, using: &random),
                                                                              y: Double.random(in: -half...half, using: &random))) }
        let started = ContinuousClock.now
        while true {
            for (callSign, point) in zip(callSigns, positions) {
                var update = Xunfang_Dispatch_V1_UnitPosition()
                update.callSign = callSign
                update.position.longitude = point.longitude
                update.position.latitude = point.latitude
                try await client.publish("unit.position", update)
            }
            let roster = try? await client.call("/xunfang.dispatch.v1.Dispatch/ListUnits", Xunfang_Dispatch_V1_ListUnitsRequest(),
                                                as: Xunfang_Dispatch_V1_ListUnitsResponse.self)
            if (roster?.units.count { $0.positionAt > 0 } ?? 0) >= units { break }
            guard ContinuousClock.now - started < .seconds(60) else { throw ValidationError("Dispatch did not take the positions within 60 s") }
            try await Task.sleep(for: .milliseconds(200))
        }

        // Incidents across the county, then Recommend on them in turn.
        var incidents: [String] = []
        for index in 0..<100 {
            let point = projection.unproject(PlanarPoint(x: Double.random(in: -half...half, using: &random), y: Double.random(in: -half...half, using: &random)))
            let answer = try await intake(client, point, external: "bench-r-\(index)")
            incidents.append(answer.linked ? answer.incident.linkedTo : answer.incident.id)
        }
        var recommend = [Double](), eta = [Double]()
        var request = Xunfang_Dispatch_V1_RecommendRequest()
        var etaRequest = Xunfang_GridModel_V1_EtaRequest()
        etaRequest.units = zip(callSigns, positions).map { callSign, point in
            var unit = Xunfang_GridModel_V1_Unit()
            unit.id = callSign
            unit.position.longitude = point.longitude
            unit.position.latitude = point.latitude
            return unit
        }
        // GridModel builds its contraction hierarchies in the background after start;
        // time the figures once every mode the roster uses has one.
        etaRequest.target.longitude = positions[0].longitude
        etaRequest.target.latitude = positions[0].latitude
        while !(try await client.call("/xunfang.grid_model.v1.GridModel/Eta", etaRequest, as: Xunfang_GridModel_V1_EtaResponse.self)).throughHierarchies {
            guard ContinuousClock.now - started < .seconds(180) else { throw ValidationError("GridModel's hierarchies were not ready within 180 s") }
            try await Task.sleep(for: .milliseconds(500))
        }
        var plainEta = [Double]()
        var straightLine = false
        for index in 0..<calls {
            request.incidentID = incidents[index % incidents.count]
            var begin = ContinuousClock.now
            let answer = try await client.call("/xunfang.dispatch.v1.Dispatch/Recommend", request, as: Xunfang_Dispatch_V1_RecommendResponse.self)
            recommend.append(Self.milliseconds(ContinuousClock.now - begin))
            straightLine = straightLine || answer.straightLineEstimates
            etaRequest.target.longitude = positions[index % positions.count].longitude
            etaRequest.target.latitude = positions[index % positions.count].latitude
            begin = ContinuousClock.now
            _ = try await client.call("/xunfang.grid_model.v1.GridModel/Eta", etaRequest, as: Xunfang_GridModel_V1_EtaResponse.self)
            eta.append(Self.milliseconds(ContinuousClock.now - begin))
            // The baseline: the same Eta from plain backward searches.
            etaRequest.plainSearch = true
            begin = ContinuousClock.now
            _ = try await client.call("/xunfang.grid_model.v1.GridModel/Eta", etaRequest, as: Xunfang_GridModel_V1_EtaResponse.self)
            plainEta.append(Self.milliseconds(ContinuousClock.now - begin))
            etaRequest.plainSearch = false
        }
        plainEta.sort()
        if straightLine { throw ValidationError("Dispatch fell back to straight lines: GridModel did not answer") }
        recommend.sort()
        eta.sort()

        // Sustained intake: 16 desks in flight, each call located by GridModel and stored with its outbox.
        let intakeStart = ContinuousClock.now
        let perDesk = max(1, intakes / 16)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for desk in 0..<16 {
                group.addTask {
                    var local = SyntheticRoads.Generator(state: UInt64(desk + 1))
                    for index in 0..<perDesk {
                        let point = projection.unproject(PlanarPoint(x: Double.random(in: -half...half, using: &local), y: Double.random(in: -half...half, using: &local)))
                        _ = try await intake(client, point, external: "bench-i-\(desk)-\(index)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let intakeRate = Double(perDesk * 16) / Self.seconds(ContinuousClock.now - intakeStart)

        BenchReport.print(bench: "dispatch", title: "xunfang bench dispatch (demo county, \(units) positioned units, processes via xunfang up)",
                         parameters: ["units": Double(units)], results: [
                            ("recommend.p50", "ms", recommend[recommend.count / 2]),
                            ("recommend.p99", "ms", recommend[recommend.count * 99 / 100]),
                            ("grid-model.eta.p50", "ms", eta[eta.count / 2]),
                            ("grid-model.eta.p99", "ms", eta[eta.count * 99 / 100]),
                            ("grid-model.eta.plain-search.p50", "ms", plainEta[plainEta.count / 2]),
                            ("grid-model.eta.plain-search.p99", "ms", plainEta[plainEta.count * 99 / 100]),
                            ("intake.16-in-flight", "incidents/s", intakeRate),
                         ], jsonOnly: json)
    }

    func intake(_ client: BusClient, _ point: GeoPoint, external: String) async throws -> Xunfang_Dispatch_V1_IntakeResponse {
        var request = Xunfang_Dispatch_V1_IntakeRequest()
        request.typeCode = "theft"
        request.location.longitude = point.longitude
        request.location.latitude = point.latitude
        request.externalID = external
        return try await client.call("/xunfang.dispatch.v1.Dispatch/Intake", request, as: Xunfang_Dispatch_V1_IntakeResponse.self)
    }

    var countyYAML: String {
        """
        county: Bench County
        data_dir: data
        bus:
          socket: bus.sock
          durable_topics: ["incident.>", "dispatch.order.>"]
        plugins:
          - name: grid-model
            acl: { publish: ["grid.>"], serve: ["/xunfang.grid_model.v1.GridModel/*"] }
          - name: dispatch
            env: { DISPATCH_DEMO_CARS: "\(units)" }
            acl:
              publish: ["incident.>", "dispatch.>", "unit.status"]
              subscribe: ["unit.position"]
              serve: ["/xunfang.dispatch.v1.Dispatch/*"]
              call: ["/xunfang.grid_model.v1.GridModel/*"]
        clients:
          - name: bench
            credential: \(Self.secret)
            acl: { publish: [">"], subscribe: [">"], call: ["*"] }
        """
    }

    static func milliseconds(_ duration: Duration) -> Double { duration.seconds * 1_000 }
    static func seconds(_ duration: Duration) -> Double { duration.seconds }
}
