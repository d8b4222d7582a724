import Foundation
import Testing
import XunfangTestSupport
import XunfangPluginKit

/// Out of process: the roster, the terminal simulator and Dispatch run a stretch of a shift
/// as separate processes, with the officers' times shortened (TERMINAL_TIME_SCALE) so an
/// incident is worked through in seconds.
@Suite("Out of process: a shift with simulated terminals", .serialized)
struct PatrolShiftTests {
    static let secret = "harness-secret-0123456789abcdef"

    let county = testCounty("Shift County", durableTopics: ["incident.>", "dispatch.order.>", "patrol.exception", "patrol.assignment.>"], plugins: """
      - name: patrol
        env: { PATROL_DEMO_TEAMS: "on", PATROL_DEMO_CAMERAS: "on", PATROL_ASSIGNMENTS: "off" }
        acl:
          publish: ["unit.position", "patrol.>"]
          serve: ["/xunfang.patrol.v1.Patrol/*"]
          call: ["/xunfang.dispatch.v1.Dispatch/*", "/xunfang.grid_model.v1.GridModel/ListSites", "/xunfang.grid_model.v1.GridModel/ListAreas"]
      - name: terminal
        env: { TERMINAL_INTERVAL_SECONDS: "1", TERMINAL_TIME_SCALE: "0.01" }
        acl:
          subscribe: ["dispatch.order.>", "patrol.assignment.>", "checkpoint.order.>"]
          call: ["/xunfang.patrol.v1.Patrol/Report", "/xunfang.patrol.v1.Patrol/Act", "/xunfang.patrol.v1.Patrol/OnDuty",
                 "/xunfang.dispatch.v1.Dispatch/ListUnits", "/xunfang.grid_model.v1.GridModel/ListSites",
                 "/xunfang.checkpoint.v1.Checkpoint/Acknowledge"]

    """, clients: """
      - name: ctl
        acl: { publish: [">"], subscribe: [">"], call: ["*"] }

    """)

    func json(_ arguments: [String], in directory: String) async throws -> [String: Any] {
        let output = try await run(arguments, in: directory).output
        return try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
    }

    func units(in directory: String) async throws -> [[String: Any]] {
        try await json(["dispatch", "units"], in: directory)["units"] as? [[String: Any]] ?? []
    }

    @Test("on-duty units report from their terminals; an incident at one of them is recommended to on-duty units only, acknowledged, worked and cleared from the terminal, and the unit is available again; the video desk's sighting becomes an incident; the day's report answers")
    func shift() async throws {
        let directory = try countyDirectory("xf-shift", county: county)
        let up = try startXunfang(["up", "--config", "county.yaml"], in: directory)
        defer {
            if up.isRunning { up.terminate() }
            up.waitUntilExit()
        }
        // The roster puts a quarter of Dispatch's units on shift; each reports its position.
        var onDuty: Set<String> = []
        #expect(try await eventually(within: 120) {
            let roster = try await run(["patrol", "on-duty"], in: directory).output.split(separator: "\n")
            onDuty = Set(roster.dropFirst().flatMap { $0.split(separator: ": ").last?.split(separator: " ").map(String.init) ?? [] })
            let reporting = try await units(in: directory).filter { onDuty.contains($0["callSign"] as? String ?? "") && $0["positionAt"] is String }
            return !onDuty.isEmpty && reporting.count == onDuty.count
        }, "every on-duty unit has a position from its terminal: \(onDuty.count) on duty")

        // An incident right where an available on-duty unit is.
        let available = try await units(in: directory).filter { $0["status"] as? String == "UNIT_STATUS_AVAILABLE" && $0["positionAt"] is String }
        let near = try #require(available.first)
        let position = near["position"] as? [String: Any] ?? [:]
        let longitude = try #require(position["longitude"] as? Double), latitude = try #require(position["latitude"] as? Double)
        let created = try await run(["dispatch", "incident", "create", "--type", "theft", "--lon", "\(longitude)", "--lat", "\(latitude)",
                                     "--external-id", "shift-1"], in: directory)
        #expect(created.status == 0, "\(created.output)")
        let ranking = try await json(["dispatch", "recommend", "INC-000001"], in: directory)
        let ranked = (ranking["units"] as? [[String: Any]] ?? []).compactMap { $0["callSign"] as? String }
        #expect(!ranked.isEmpty && ranked.allSatisfy(onDuty.contains), "only on-duty units are recommended: \(ranked)")
        #expect(try await run(["dispatch", "assign", "INC-000001"], in: directory).output.contains("UNIT_STATUS_ASSIGNED"))
        let working = try #require(ranked.first)

        // The terminal acknowledges, drives there, works the incident (priority times × 0.01:
        // 6 to 24 s), clears it and goes back in service; Dispatch follows every step.
        var incident: [String: Any] = [:]
        #expect(try await eventually(within: 300) {
            let listed = try await json(["ctl", "call", "/xunfang.dispatch.v1.Dispatch/ListIncidents", "--data", "{}"], in: directory)
            incident = (listed["incidents"] as? [[String: Any]])?.first { $0["id"] as? String == "INC-000001" } ?? [:]
            let unit = try await units(in: directory).first { $0["callSign"] as? String == working }
            return (incident["times"] as? [String: Any])?["cleared"] is String && unit?["status"] as? String == "UNIT_STATUS_AVAILABLE"
        }, "\(working) cleared the incident from its terminal and is available again: \(incident)")
        // China time as "yyyy-mm-dd hh:mm:ss +08:00": in order as text.
        let times = incident["times"] as? [String: Any] ?? [:]
        let steps = ["acknowledged", "onScene", "cleared"].compactMap { times[$0] as? String }
        #expect(steps.count == 3 && steps == steps.sorted(), "acknowledged, on scene, cleared, in that order: \(times)")

        // The video desk: the demo registry, and a sighting that becomes an incident at the camera.
        var cameras = ""
        #expect(try await eventually(within: 60) {
            cameras = try await run(["patrol", "cameras", "--grade", "attention", "--limit", "3"], in: directory).output
            return cameras.split(separator: "\n").count >= 3
        }, "\(cameras)")
        let camera = try #require(cameras.split(separator: "\n").dropFirst(2).first?.split(separator: " ").first.map(String.init), "\(cameras)")
        let seen = try await run(["patrol", "seen-on-camera", "--camera", camera, "--type", "fight", "--operator", "视频岗", "--note", "two men fighting"], in: directory)
        #expect(seen.status == 0 && seen.output.hasPrefix("INC-000002 at camera "), "\(seen.output)")
        let unknown = try await run(["patrol", "seen-on-camera", "--camera", "NO-SUCH", "--type", "fight", "--operator", "视频岗"], in: directory, withErrors: true)
        #expect(unknown.status != 0 && unknown.output.contains("no camera NO-SUCH"), "\(unknown.output)")
        let schedule = try await run(["patrol", "video-schedule", "--hours", "1"], in: directory)
        #expect(schedule.status == 0 && schedule.output.contains("key/attention/general every 60/240/1440 min"), "\(schedule.output)")

        // Today's report (China time): nothing judged yet, and it says so.
        let today = ChinaTime.label(ofDay: ChinaTime.dayNumber(Int64(Date().timeIntervalSince1970 * 1_000)))
        let report = try await run(["patrol", "report", "--date", today], in: directory)
        #expect(report.status == 0 && report.output.contains("day \(today)") && report.output.contains("judged"), "\(report.output)")
        up.terminate()
        try await exited(up)
    }
}
