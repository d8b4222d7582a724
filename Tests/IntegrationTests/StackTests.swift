import Foundation
import Logging
import XunfangPluginKit
import Testing
import XunfangTestSupport

/// A county config for out-of-process tests: GridModel and Dispatch with the demo's grants,
/// then `plugins` (more entries, YAML at the plugin list's indentation: "  - name: …") and
/// `clients` (likewise).
func testCounty(_ name: String, durableTopics: [String], plugins: String = "", clients: String, dispatchCalls: [String] = []) -> String {
    """
    county: \(name)
    data_dir: data
    bus:
      socket: bus.sock
      durable_topics: [\(durableTopics.map { "\"\($0)\"" }.joined(separator: ", "))]
    plugins:
      - name: grid-model
        acl: { publish: ["grid.>"], serve: ["/xunfang.grid_model.v1.GridModel/*"] }
      - name: dispatch
        acl:
          publish: ["incident.>", "dispatch.>", "unit.status"]
          subscribe: ["unit.position"]
          serve: ["/xunfang.dispatch.v1.Dispatch/*"]
          call: [\((["/xunfang.grid_model.v1.GridModel/*"] + dispatchCalls).map { "\"\($0)\"" }.joined(separator: ", "))]

    """ + plugins + "clients:\n" + clients
}

/// The built executables, beside the test bundle in the build folder.
func binDirectory() -> String {
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    while url.path != "/" {
        if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("xunfang").path) { return url.path }
        url.deleteLastPathComponent()
    }
    return FileManager.default.currentDirectoryPath + "/.build/debug"
}

/// Starts `xunfang ARGUMENTS` in `directory` as a background process, its standard output
/// in `file` and its log (standard error) in `log` (or discarded).
func startXunfang(_ arguments: [String], in directory: String, output file: String? = nil, log: String? = nil) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "\(binDirectory())/xunfang")
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    if let file {
        FileManager.default.createFile(atPath: file, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
    } else {
        process.standardOutput = FileHandle.nullDevice
    }
    if let log {
        FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    } else {
        process.standardError = FileHandle.nullDevice
    }
    try process.run()
    return process
}

/// Waits for `process` to end without holding a pool thread.
func exited(_ process: Process) async throws {
    try await onOwnThread { process.waitUntilExit() }
}

/// Runs a command to its end: its status and standard output (with its standard error too
/// when `withErrors`).
@discardableResult
func run(_ arguments: [String], in directory: String, executable: String? = nil, withErrors: Bool = false) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable ?? "\(binDirectory())/xunfang")
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    return try await onOwnThread {
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = withErrors ? pipe : FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// The pid of the plugin `executable` spawned by `parent`, if it runs.
func pluginChild(_ executable: String, of parent: pid_t) async throws -> pid_t? {
    let output = try await run(["-P", "\(parent)", "-f", executable], in: "/", executable: "/usr/bin/pgrep").output
    return output.split(separator: "\n").first.flatMap { pid_t($0) }
}

/// A fresh directory with `county` as its county.yaml.
func countyDirectory(_ prefix: String, county: String) throws -> String {
    let directory = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try county.write(toFile: "\(directory)/county.yaml", atomically: true, encoding: .utf8)
    return directory
}

/// An out-of-process test's own client, joined to the bus of the stack in `directory` once
/// it is up (nil: it never came up).
func harnessClient(in directory: String, secret: String) async -> BusClient? {
    let client = BusClient(transport: .socket(.unixSocket("\(directory)/data/bus.sock")), manifest: PluginManifest(name: "harness", version: "1.0.0"),
                           credential: secret, logger: Logger(label: "harness", factory: { _ in SwiftLogNoOpLogHandler() }), callTimeout: .seconds(120))
    return await eventually { (try? await client.start()) != nil } ? client : nil
}

@Suite("Out of process: xunfang up with real plugin processes", .serialized)
struct StackTests {
    @Test("up starts the bus and the template plugin; ctl calls it over the socket; a killed plugin is restarted")
    func stack() async throws {
        let directory = NSTemporaryDirectory() + "xf-stack-\(UUID().uuidString.prefix(8))"
        // A data directory made beforehand by someone with umask 022: the bus tightens it.
        try FileManager.default.createDirectory(atPath: "\(directory)/data", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let up = try startXunfang(["up"], in: directory)
        defer {
            if up.isRunning { up.terminate() }
            up.waitUntilExit()
        }
        let echo = ["ctl", "call", "/xunfang.template.v1.Template/Echo", "--data", #"{"text":"巡防"}"#]
        #expect(try await eventually { try await run(echo, in: directory).output.contains("巡防") })
        // GridModel runs as its own process on the demo county: the county centre is core area.
        let locate = ["ctl", "call", "/xunfang.grid_model.v1.GridModel/Locate", "--data",
                      #"{"position":{"longitude":104.2817,"latitude":30.9769}}"#]
        #expect(try await eventually { try await run(locate, in: directory).output.contains("PLACE_CLASS_CORE") })

        // Patrol as its own process puts Dispatch's units into four teams, about a quarter on
        // shift, and Dispatch's availability follows: the others go off duty.
        var onDuty: [String] = []
        #expect(try await eventually {
            // Read again each time: a shift may change while the test runs.
            let roster = try await run(["patrol", "on-duty"], in: directory).output.split(separator: "\n")
            onDuty = roster.dropFirst().flatMap { $0.split(separator: ": ").last?.split(separator: " ").map(String.init) ?? [] }
            let units = try await run(["dispatch", "units"], in: directory).output
            return !onDuty.isEmpty && units.components(separatedBy: "UNIT_STATUS_AVAILABLE").count - 1 == onDuty.count
        }, "Dispatch's units on shift are available, the others off duty: \(onDuty.count) on shift")
        #expect((44...52).contains(onDuty.count), "192 units in four teams, one team on shift")
        let resting = try #require(["C001", "C002", "C003"].first { !onDuty.contains($0) })

        // The simulated terminals (xunfang-plugin-terminal) report every on-duty unit's
        // position through Patrol; an off-duty unit reports right at the scene.
        #expect(try await eventually(within: 60) {
            try await run(["dispatch", "units"], in: directory).output.components(separatedBy: #""positionAt":"20"#).count - 1 >= onDuty.count
        }, "every on-duty unit has a position from its terminal")
        #expect(try await eventually {
            _ = try await run(["ctl", "publish", "unit.position", "--type", "xunfang.dispatch.v1.UnitPosition", "--data",
                               #"{"callSign":"\#(resting)","position":{"longitude":104.2841,"latitude":30.9781}}"#], in: directory)
            return try await run(["dispatch", "units"], in: directory).output.components(separatedBy: #""positionAt":"20"#).count - 1 > onDuty.count
        })
        let created = try await run(["dispatch", "incident", "create", "--type", "theft", "--lon", "104.284", "--lat", "30.978", "--external-id", "t-1"], in: directory)
        #expect(created.output.contains(#""stationId":"510000-01-01""#) && created.output.contains(#""typeName":"盗窃""#))
        let recommended = try await run(["dispatch", "recommend", "INC-000001"], in: directory)
        let ranking = try JSONSerialization.jsonObject(with: Data(recommended.output.utf8)) as? [String: Any] ?? [:]
        let ranked = (ranking["units"] as? [[String: Any]] ?? []).compactMap { $0["callSign"] as? String }
        #expect(!ranked.isEmpty && ranked.allSatisfy(onDuty.contains) && recommended.output.contains(#""straightLineEstimates":false"#), "only on-duty units: \(ranked)")
        let passedOver = ranking["passedOver"] as? [[String: Any]] ?? []
        #expect(passedOver.contains { $0["callSign"] as? String == resting && $0["reason"] as? String == "SKIP_REASON_OFF_DUTY" }, "\(recommended.output)")
        let assigned = try await run(["dispatch", "assign", "INC-000001"], in: directory)
        #expect(assigned.output.contains("UNIT_STATUS_ASSIGNED"))
        let working = try #require(ranked.first)
        // The unit's terminal acknowledges the order: en route.
        #expect(try await eventually(within: 60) {
            let units = try JSONSerialization.jsonObject(with: Data(try await run(["dispatch", "units"], in: directory).output.utf8)) as? [String: Any]
            let unit = (units?["units"] as? [[String: Any]])?.first { $0["callSign"] as? String == working }
            return unit?["status"] as? String == "UNIT_STATUS_EN_ROUTE"
        }, "\(working) acknowledged from its terminal")
        // Patrol turns Situation's plan for the shift into the on-duty units' assignments.
        var planned = ""
        #expect(try await eventually(within: 60) {
            planned = try await run(["patrol", "assignments"], in: directory).output
            return planned.contains("Situation's plan for the shift") && planned.split(separator: "\n").count == onDuty.count + 1
        }, "\(planned)")
        #expect(planned.contains(" r1  grids "), "units on patrol have grids: \(planned)")
        // Compliance so far, from the terminals' fixes against the assignments.
        let judged = try await run(["patrol", "compliance"], in: directory)
        #expect(judged.status == 0 && judged.output.contains("(so far, to ") && judged.output.split(separator: "\n").count == onDuty.count + 2, "\(judged.output)")
        let cleared = try await run(["dispatch", "clear", "INC-000001", "--close"], in: directory)
        #expect(cleared.output.contains("INCIDENT_STATUS_CLOSED"))
        #expect(try await run(["dispatch", "clear", "INC-000001"], in: directory).status == 9, "closing twice is FAILED_PRECONDITION")
        // SituationAnalysis as its own process keeps the incident from the durable topic, once.
        let breakdown = ["ctl", "call", "/xunfang.situation.v1.Situation/Breakdown", "--data", #"{"by":["DIMENSION_STATION"]}"#]
        #expect(try await eventually { try await run(breakdown, in: directory).output.contains(#""key":["510000-01-01"]"#) })
        #expect(try await run(breakdown, in: directory).output.contains(#""total":1"#))
        try await tipReachesDispatch(in: directory)
        // CheckpointControl as its own process seeds its registry from GridModel's sites:
        // the demo county's 8 public-security checkpoints and 5 city exits, by name, open.
        let checkpoints = ["ctl", "call", "/xunfang.checkpoint.v1.Checkpoint/List", "--data", "{}"]
        #expect(try await eventually { try await run(checkpoints, in: directory).output.contains("出城卡口5") })
        let registry = try await run(checkpoints, in: directory).output
        #expect(registry.components(separatedBy: "CHECKPOINT_KIND_PUBLIC_SECURITY").count - 1 == 8 && registry.contains("治安卡点8"))
        #expect(registry.components(separatedBy: "CHECKPOINT_KIND_CITY_EXIT").count - 1 == 5)
        #expect(registry.components(separatedBy: "CHECKPOINT_STATUS_OPEN").count - 1 == 13)
        try await sealDrillSurvivesKill(up, in: directory)

        var attributes = stat()
        #expect(stat("\(directory)/data/bus.sock", &attributes) == 0)
        #expect(attributes.st_mode & 0o777 == 0o600, "the socket is private to its owner")
        // Every file the stack wrote is 0600 and every directory 0700, the data directory too.
        let written = (FileManager.default.enumerator(atPath: "\(directory)/data")?.allObjects as? [String] ?? []).map { "\(directory)/data/\($0)" }
        #expect(written.contains { $0.hasSuffix(".sqlite") }, "the plugins' stores are there: \(written)")
        for path in written + ["\(directory)/data"] {
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let isDirectory = info.st_mode & S_IFMT == S_IFDIR
            #expect(info.st_mode & 0o777 == (isDirectory ? 0o700 : 0o600), "\(path) is \(String(info.st_mode & 0o777, radix: 8))")
        }

        let missing = try await run(["ctl", "call", "/xunfang.checkpoint_control.v1.CheckpointControl/Activate"], in: directory)
        #expect(missing.status == 14)
        #expect(missing.output.contains("UNAVAILABLE"))

        // Kill the plugin process the hard way; the supervisor brings it back.
        let pids = try await run(["ctl", "stats"], in: directory)
        #expect(pids.output.contains("\"instance\":\"template\""))
        // Only this stack's plugin: other tests may run their own stacks meanwhile.
        let first = try #require(try await pluginChild("xunfang-plugin-template", of: up.processIdentifier), "the plugin runs as a child process of up")
        #expect(kill(first, SIGKILL) == 0)
        #expect(try await eventually { try await run(echo, in: directory).output.contains("巡防") })
        let second = try #require(try await pluginChild("xunfang-plugin-template", of: up.processIdentifier))
        #expect(second != first, "a new process answers")

        // Graceful stop: SIGTERM to up stops the plugin too.
        up.terminate()
        try await exited(up)
        #expect(await eventually { kill(second, 0) != 0 })
    }

    @Test("a bad config is refused before anything starts, naming the key and line")
    func badConfig() async throws {
        let directory = NSTemporaryDirectory() + "xf-bad-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "county: x\nbus:\n  ping_intervl_ms: 5\n".write(toFile: "\(directory)/county.yaml", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(binDirectory())/xunfang")
        process.arguments = ["up", "--config", "county.yaml"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        let message = try await onOwnThread {
            try process.run()
            defer { process.waitUntilExit() }
            return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }
        #expect(process.terminationStatus != 0)
        #expect(message.contains("line 3"))
        #expect(message.contains("bus.ping_intervl_ms"))
    }
}

extension StackTests {
    /// The demo's seal plan TOWN as a drill, with Dispatch's units (at their station houses
    /// until their terminals report): half the positions acknowledge, the checkpoint plugin
    /// is killed with SIGKILL, and the restarted one has the board and every acknowledgement.
    /// A member's tip through CommunityPolicing's states into Dispatch, both plugins their
    /// own processes: the incident comes from the tip, and the tip keeps the incident.
    func tipReachesDispatch(in directory: String) async throws {
        let service = "/xunfang.community.v1.Community/"
        func call(_ method: String, _ data: String) async throws -> (status: Int32, output: String) {
            try await run(["ctl", "call", service + method, "--data", data], in: directory)
        }
        let submit = #"{"memberId":"M-000001","text":"两名男子在撬电动车锁","longitude":104.284,"latitude":30.978}"#
        // The demo ledger is seeded once GridModel answers.
        #expect(try await eventually { try await call("SubmitTip", submit).status == 0 })
        let submitted = try await call("ListTips", #"{"memberId":"M-000001"}"#).output
        let id = try #require(submitted.firstMatch(of: /"id":"(TIP-\d+)"/)?.1).description
        if submitted.contains("TIP_STATUS_SUBMITTED") {
            for status in ["TIP_STATUS_VERIFYING", "TIP_STATUS_VERIFIED"] {
                #expect(try await call("UpdateTip", #"{"tipId":"\#(id)","status":"\#(status)","by":"王芳","why":"联系报告人核实"}"#).status == 0)
            }
        }
        let forwarded = try await call("UpdateTip", #"{"tipId":"\#(id)","status":"TIP_STATUS_FORWARDED","by":"王芳","why":"转110","typeCode":"theft"}"#)
        #expect(forwarded.output.contains("TIP_STATUS_FORWARDED") && forwarded.output.contains(#""incidentId":"INC-"#), "\(forwarded.output)")
        let incident = try #require(forwarded.output.firstMatch(of: /"incidentId":"(INC-\d+)"/)?.1).description
        // The report is personal data Dispatch does not list; the source and the id link them.
        let incidents = try await run(["ctl", "call", "/xunfang.dispatch.v1.Dispatch/ListIncidents", "--data", "{}"], in: directory).output
        let record = incidents.components(separatedBy: #"{"escalatedAt""#).first { $0.contains(#""id":"\#(incident)""#) }
        #expect(record?.contains(#""source":"INCIDENT_SOURCE_TIP""#) == true && record?.contains(#""typeCode":"theft""#) == true, "\(incidents)")
    }

    func sealDrillSurvivesKill(_ up: Process, in directory: String) async throws {
        let service = "/xunfang.checkpoint.v1.Checkpoint/"
        func call(_ method: String, _ data: String) async throws -> (status: Int32, json: [String: Any]) {
            let result = try await run(["ctl", "call", service + method, "--data", data], in: directory)
            let object = (try? JSONSerialization.jsonObject(with: Data(result.output.utf8))) as? [String: Any]
            return (result.status, object ?? [:])
        }
        func positions(_ board: [String: Any]) -> [[String: Any]] { board["positions"] as? [[String: Any]] ?? [] }
        #expect(try await eventually { try await run(["ctl", "call", service + "ListPlans", "--data", "{}"], in: directory).output.contains("关城门·城区") })
        let activated = try await call("Activate", #"{"plan":"TOWN","drill":true,"officer":"王芳","reason":"演练"}"#)
        #expect(activated.status == 0)
        let ordered = positions(activated.json)
        #expect(ordered.count >= 8 && ordered.allSatisfy { ($0["state"] as? String) == "POSITION_STATE_ORDERED" && !(($0["responder"] as? String) ?? "").isEmpty },
                "every post has a unit: \(activated.json)")
        let id = try #require(activated.json["id"] as? String)
        let held = Array(ordered.prefix(ordered.count / 2))
        for position in held {
            let ack = try await call("Acknowledge", #"{"activation":"\#(id)","position":"\#(position["id"]!)","responder":"\#(position["responder"]!)"}"#)
            #expect(ack.status == 0)
        }
        let first = try #require(try await pluginChild("xunfang-plugin-checkpoint", of: up.processIdentifier))
        #expect(kill(first, SIGKILL) == 0)
        #expect(try await eventually(within: 60) { try await pluginChild("xunfang-plugin-checkpoint", of: up.processIdentifier).map { $0 != first } ?? false })
        #expect(try await eventually(within: 60) { try await call("SealBoard", "{}").status == 0 })
        let board = try await call("SealBoard", "{}").json
        let heldIDs = Set(held.map { $0["id"] as! String })
        #expect(positions(board).count == ordered.count)
        for position in positions(board) {
            let isHeld = heldIDs.contains(position["id"] as! String)
            #expect((position["state"] as? String == "POSITION_STATE_IN_POSITION") == isHeld, "\(position)")
        }
        #expect(board["inPosition"] as? Int == held.count)
        for position in ordered.dropFirst(held.count) {
            #expect(try await call("Acknowledge", #"{"activation":"\#(id)","position":"\#(position["id"]!)","responder":"\#(position["responder"]!)"}"#).status == 0)
        }
        let sealed = try await call("SealBoard", #"{"activation":"\#(id)"}"#).json
        #expect(sealed["state"] as? String == "SEAL_STATE_SEALED")
        let report = try await call("AfterAction", #"{"activation":"\#(id)"}"#).json
        #expect((report["html"] as? String)?.contains("关城门·城区") == true && (report["missed"] as? Int ?? 0) == 0 && report["withinTarget"] as? Bool == true)
        // A drill leaves the registry's statuses alone.
        let registry = try await run(["ctl", "call", service + "List", "--data", "{}"], in: directory).output
        #expect(registry.components(separatedBy: "CHECKPOINT_STATUS_OPEN").count - 1 == 13)

        // Dispatch's one call for a major incident also closes the gates and asks the
        // community's members around it to watch and report.
        #expect(try await call("StandDown", #"{"activation":"\#(id)"}"#).status == 0)
        _ = try await run(["dispatch", "incident", "create", "--type", "theft", "--lon", "104.282", "--lat", "30.977", "--external-id", "t-2"], in: directory)
        let major = try await run(["ctl", "call", "/xunfang.dispatch.v1.Dispatch/MajorIncident", "--data",
                             #"{"incidentId":"INC-000002","units":2,"sealPlan":"TOWN","sealDrill":true,"watchHours":6}"#], in: directory)
        #expect(major.status == 0 && major.output.contains(#""sealActivation":"TOWN-2""#) && major.output.contains(#""watchId":"W-1""#), "\(major.output)")
        #expect(try await call("SealBoard", "{}").json["drill"] as? Bool == true)
    }
}

