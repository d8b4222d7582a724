import ArgumentParser
import CheckpointControlContract
import DispatchContract
import Foundation
import GridModelContract
import Logging
import SituationAnalysisContract
import Synchronization
import XunfangHarness
import XunfangPluginKit

/// `xunfang harness`: the full stack as separate processes on the demo county, driven
/// through a simulated day on one simulated clock, with faults, judged at the end.
struct HarnessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harness", abstract: "Run a scenario against the whole stack on simulated time; judge and report it.",
        subcommands: [HarnessRunCommand.self, HarnessCompareCommand.self])
}

struct HarnessCompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare", abstract: "Run two strategies on the same seeded days; each figure's difference (B − A) with its 95% interval over the seeds.")
    @Argument(help: "Strategy A's scenario.") var a: String
    @Argument(help: "Strategy B's scenario (same start, hours and calls_scale).") var b: String
    @Option(help: "How many seeded days (2 to 30), from A's seed on.") var seeds: Int = 3
    @Option(help: "Where the runs and compare.json go (default harness-runs/compare-A-B).") var out: String?
    @Option(help: "Where the plugin executables are (default: beside xunfang).") var binDir: String?

    func run() async throws {
        let a = try Scenario.load(path: self.a), b = try Scenario.load(path: self.b)
        try Comparison.sameDay(a, b)
        guard (2...30).contains(seeds) else { throw ValidationError("--seeds must be 2 to 30") }
        let directory = out ?? "harness-runs/compare-\(a.name)-\(b.name)"
        var pairs: [(a: RunFacts, b: RunFacts)] = []
        for seed in a.seed..<a.seed + UInt64(seeds) {
            var pair: [RunFacts] = []
            for scenario in [a, b] {
                let run = "\(directory)/\(scenario.name)-\(seed)"
                let facts = try await HarnessRunner(scenario: scenario, seed: seed, directory: run, binDirectory: binDir ?? executableDirectory()).run()
                let checks = try HarnessReport.write(facts, to: run)
                print("\(scenario.name) seed \(seed): \(facts.calls.count) calls, \(checks.filter(\.passed).count) of \(checks.count) checks passed")
                pair.append(facts)
            }
            pairs.append((pair[0], pair[1]))
        }
        let rows = Comparison.rows(pairs)
        print("\nB − A over \(seeds) seeded days (95% interval); A = \(a.name), B = \(b.name)")
        for row in rows {
            print("\(row.figure.padding(toLength: 26, withPad: " ", startingAt: 0)) A \(String(format: "%7.3f", row.a))  B \(String(format: "%7.3f", row.b))  "
                  + "B − A \(String(format: "%+7.3f", row.difference)) [\(String(format: "%+.3f", row.low)), \(String(format: "%+.3f", row.high))]\(row.differs ? "  differs" : "")")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(rows).write(to: URL(fileURLWithPath: "\(directory)/compare.json"))
        print("compare: \(directory)/compare.json")
    }
}

struct HarnessRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Start the stack on the scenario's simulated clock, make its calls, inject its faults, check and report (report.json and report.html in --out).")
    @Argument(help: "The scenario, e.g. scenarios/ci-hour.yaml.") var scenario: String
    @Option(help: "Seed for the calls (default the scenario's).") var seed: UInt64?
    @Option(help: "Where the run's county, logs and report go (default harness-runs/NAME-SEED).") var out: String?
    @Option(help: "Where the plugin executables are (default: beside xunfang).") var binDir: String?

    func run() async throws {
        let scenario = try Scenario.load(path: self.scenario)
        let seed = seed ?? scenario.seed
        let directory = out ?? "harness-runs/\(scenario.name)-\(seed)"
        let runner = try HarnessRunner(scenario: scenario, seed: seed, directory: directory, binDirectory: binDir ?? executableDirectory())
        let facts = try await runner.run()
        let checks = try HarnessReport.write(facts, to: directory)
        print("xunfang harness \(scenario.name) (seed \(seed)): \(facts.calls.count) calls over \(scenario.hours) simulated hours in \(String(format: "%.0f", facts.wallSeconds)) s "
              + "(\(String(format: "%.0f", facts.simulatedSeconds / max(facts.wallSeconds, 1))) simulated seconds a second)")
        for check in checks { print("\(check.passed ? "✔" : "✘") \(check.name): \(check.detail)") }
        print("report: \(directory)/report.json, \(directory)/report.html")
        if checks.contains(where: { !$0.passed }) { throw ExitCode(1) }
    }
}

/// A run judged and reported in its directory: report.json (the facts and the checks) and
/// report.html; the checks are returned.
enum HarnessReport {
    struct File: Codable {
        var facts: RunFacts
        var checks: [Check]
        var passed: Bool
    }

    static func write(_ facts: RunFacts, to directory: String) throws -> [Check] {
        let checks = Verdict.checks(facts)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(File(facts: facts, checks: checks, passed: !checks.contains { !$0.passed })).write(to: URL(fileURLWithPath: "\(directory)/report.json"))
        try HarnessPage.html(facts, checks).write(toFile: "\(directory)/report.html", atomically: true, encoding: .utf8)
        return checks
    }
}

/// One run: its processes, its clock, its calls and faults, and what it saw.
struct HarnessRunner {
    let scenario: Scenario
    let seed: UInt64
    let directory: String
    let binDirectory: String
    let credential: String
    let quiet = Logger(label: "harness", factory: { _ in SwiftLogNoOpLogHandler() })

    init(scenario: Scenario, seed: UInt64, directory: String, binDirectory: String) throws {
        self.scenario = scenario
        self.seed = seed
        self.directory = directory
        self.binDirectory = binDirectory
        credential = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    var countyDirectory: String { "\(directory)/county" }

    func run() async throws -> RunFacts {
        let began = ContinuousClock.now
        // A hypercube case's calls come from places on the county's roads, read from the stack.
        var calls = scenario.hypercube == nil ? try makeCalls() : []
        try FileManager.default.createDirectory(atPath: countyDirectory, withIntermediateDirectories: true)
        try HarnessCounty.yaml(demo: DemoCounty.yaml, scenario: scenario, credential: credential)
            .write(toFile: "\(countyDirectory)/county.yaml", atomically: true, encoding: .utf8)
        // A full-disk fault fills a filesystem of the log's own, never the machine's.
        let disk = scenario.faults.contains { $0.fullDisk != nil } ? LogDisk(path: "\(countyDirectory)/data/bus-log") : nil
        try disk?.mount()
        defer { disk?.unmount() }
        // The clock reads the warm-up's start as the stack starts.
        let clock = try makeClock()
        let stack = try StackProcess { try startStack(clock: clock) }
        defer { stack.stop() }
        let client = BusClient(transport: .socket(.unixSocket("\(countyDirectory)/data/bus.sock")), manifest: PluginManifest(name: "harness", version: "0.1.0"),
                               credential: credential, logger: quiet, callTimeout: .seconds(30))
        try await PluginMain.connectWithRetry(client, logger: quiet)
        let watch = ProcessWatch(parent: stack.pid, plugins: scenario.plugins)
        let watching = Task { await watch.run() }
        defer { watching.cancel() }

        // A durable subscriber of its own on Dispatch's incident changes, from before the
        // first call: what it receives across the kills is checked against Dispatch at the end.
        let delivered = IncidentLog()
        let listening = Task { try await delivered.follow(client) }
        defer { listening.cancel() }
        let pacing = Task { if clock.governor != nil { await govern(clock, client: client) } }
        defer { pacing.cancel() }
        let hypercube = scenario.hypercube.map { HypercubeDesk($0, client: client, clock: clock) }
        let following = Task { try await hypercube?.follow() }
        defer { following.cancel() }
        if let hypercube, let start = scenario.startMilliseconds {
            calls = try await hypercube.calls(from: start, to: scenario.endMilliseconds, seed: seed)
            try await clock.sleep(untilMilliseconds: start - 30_000)
            try await hypercube.prepare()
        }
        let desk = CallDesk(client: client, clock: clock, hypercube: hypercube)
        let seals = SealDesk(scenario: scenario)
        let outcomes = try await withThrowingTaskGroup(of: [RunFacts.CallOutcome].self) { group in
            group.addTask { [calls] in await desk.take(calls) }
            group.addTask { try await injectFaults(stack: stack, watch: watch, client: client, clock: clock, disk: disk); return [] }
            group.addTask { await seals.activate(client: client, clock: clock); return [] }
            var outcomes: [RunFacts.CallOutcome] = []
            for try await part in group { outcomes += part }
            return outcomes
        }
        try await clock.sleep(untilMilliseconds: scenario.endMilliseconds + Int64(scenario.drainMinutes * 60_000))
        let incidents = try await listIncidents(client)
        let situation = scenario.plugins.contains("situation") ? try? await situationTotal(client) : nil
        await delivered.wait(for: incidents)
        let areas = try? await client.call("/xunfang.grid_model.v1.GridModel/ListAreas", Xunfang_GridModel_V1_ListAreasRequest.with { $0.withOutlines = true },
                                           as: Xunfang_GridModel_V1_ListAreasResponse.self).areas
        let sealBoards = await seals.boards(client: client)
        var observed: HypercubeObservation?
        if let hypercube { observed = hypercube.observation(incidents: try await rawIncidents(client)) }
        watching.cancel()
        await client.close()
        try await onOwnThread { stack.stop() }
        let wall = (ContinuousClock.now - began).seconds
        var facts = RunFacts(scenario: scenario, seed: seed, calls: outcomes.sorted { $0.call.at < $1.call.at }, incidents: incidents, situationTotal: situation,
                             processes: watch.processes(), faults: watch.faults(), wallSeconds: wall,
                             simulatedSeconds: Double(clock.now() - clock.start) / 1_000)
        facts.delivered = delivered.statuses()
        facts.hypercube = observed
        facts.seals = sealBoards
        facts.names = Dictionary((areas ?? []).map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        facts.outlines = (areas ?? []).filter { $0.kind == .grid }.flatMap(\.outline).map { $0.points.map { [$0.longitude, $0.latitude] } }
        return facts
    }

    /// The scenario's calls: the demo county's seeded history for its days, from Situation's
    /// own generator (`xunfang situation demo-history`), one history per whole multiple of
    /// the scale.
    func makeCalls() throws -> [Call] {
        guard let start = scenario.startMilliseconds else { return [] }
        let days = Calls.days(from: start, to: scenario.endMilliseconds)
        var draws: [[Call]] = []
        for draw in 0..<Calls.draws(for: scenario.callsScale) {
            let file = "\(directory)/history-\(draw).csv"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let status = try runTool("\(binDirectory)/xunfang-plugin-situation",
                                     ["demo-history", "--days", "\(days.count)", "--end", ChinaTime.label(ofDay: days.upperBound), "--seed", "\(seed &+ UInt64(draw) &* 7_919)", "--out", file])
            guard status == 0, let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw HarnessError("xunfang situation demo-history failed (status \(status)): is xunfang-plugin-situation built in \(binDirectory)?")
            }
            draws.append(try Calls.parse(csv: text))
        }
        return Calls.select(draws, from: start, to: scenario.endMilliseconds, scale: scenario.callsScale, seed: seed)
    }

    func runTool(_ path: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The run's clock: at the scenario's factor, or governed through a clock file in the
    /// run's directory that every process of the stack reads.
    func makeClock() throws -> PluginClock {
        let start = (scenario.startMilliseconds ?? 0) - Int64(scenario.warmUpMinutes * 60_000), origin = Int64(Date().timeIntervalSince1970 * 1_000)
        guard scenario.adaptive else { return PluginClock(start: start, origin: origin, factor: scenario.factor) }
        let path = URL(fileURLWithPath: directory).standardizedFileURL.path + "/clock"
        let governor = ClockGovernor(ceiling: scenario.factor)
        return try PluginClock(governedBy: ClockFile.create(at: path, ClockFile.Segment(start: start, origin: origin, factor: governor.factor)))
    }

    /// Every tenth of a machine second: a call to Dispatch timed, and the clock's pace set
    /// from it (`ClockGovernor`). A call that fails or takes over a second (a fault) leaves
    /// the pace as it is: the governor follows load, not outages.
    func govern(_ clock: PluginClock, client: BusClient) async {
        guard let file = clock.governor else { return }
        var governor = ClockGovernor(ceiling: scenario.factor)
        var probe = Xunfang_Dispatch_V1_ListIncidentsRequest()
        probe.ids = ["-"]
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
            let began = ContinuousClock.now
            guard (try? await client.call("/xunfang.dispatch.v1.Dispatch/ListIncidents", probe, as: Xunfang_Dispatch_V1_ListIncidentsResponse.self, timeout: .seconds(1))) != nil else { continue }
            let before = governor.factor, after = governor.observe(roundTrip: (ContinuousClock.now - began).seconds)
            guard abs(after - before) > before * 0.02 else { continue }
            let machine = Int64(Date().timeIntervalSince1970 * 1_000)
            try? file.write(ClockFile.Segment(start: clock.segment.simulated(at: machine), origin: machine, factor: after))
        }
    }

    /// `xunfang up` on the run's county with the simulated clock; its log in stack.log.
    func startStack(clock: PluginClock) throws -> Process {
        let up = Process()
        up.executableURL = URL(fileURLWithPath: "\(binDirectory)/xunfang")
        up.arguments = ["up", "--config", "county.yaml", "--bin-dir", binDirectory, "--simulated-clock", clock.encoded]
        up.currentDirectoryURL = URL(fileURLWithPath: countyDirectory)
        let log = "\(directory)/stack.log"
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try handle.seekToEnd()
        up.standardOutput = handle
        up.standardError = handle
        try up.run()
        return up
    }

    /// Each fault at its own time, in step with the others (a kill may come while another
    /// plugin is frozen or the log's disk is full).
    func injectFaults(stack: StackProcess, watch: ProcessWatch, client: BusClient, clock: PluginClock, disk: LogDisk?) async throws {
        guard let start = scenario.startMilliseconds else { return }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for fault in scenario.faults {
                group.addTask {
                    try await clock.sleep(untilMilliseconds: start + Int64(fault.atMinutes * 60_000))
                    try await inject(fault, stack: stack, watch: watch, client: client, clock: clock, disk: disk)
                }
            }
            try await group.waitForAll()
        }
    }

    /// One fault: the plugin killed with SIGKILL, then watched until it serves again; a
    /// plugin frozen (SIGSTOP) and thawed, or its connection dropped, then watched the same
    /// way; the bus's log disk filled and freed, then watched until it writes again; or the
    /// bus killed, started again on the same data, and watched until every plugin has joined it.
    func inject(_ fault: Scenario.Fault, stack: StackProcess, watch: ProcessWatch, client: BusClient, clock: PluginClock, disk: LogDisk?) async throws {
        if let plugin = fault.freeze { return try await freeze(plugin, minutes: fault.forMinutes ?? 5, watch: watch, client: client, clock: clock) }
        if let plugin = fault.slow { return try await slow(plugin, minutes: fault.forMinutes ?? 5, watch: watch, client: client, clock: clock) }
        if let plugin = fault.drop { return try await drop(plugin, watch: watch, client: client, clock: clock) }
        if let disk, fault.fullDisk != nil { return try await fill(disk, minutes: fault.forMinutes ?? 5, bus: stack.pid, watch: watch, client: client, clock: clock) }
        if fault.kill == "bus" { return try await crashBus(stack: stack, watch: watch, client: client, clock: clock) }
        guard let plugin = fault.kill, let pid = watch.kill(plugin, at: clock.now()) else { return }
        // Back when a new process of it has joined the bus again; after two machine
        // minutes it is judged never back (and the check says so) rather than waited for.
        let giveUp = ContinuousClock.now + .seconds(120)
        while !Task.isCancelled, ContinuousClock.now < giveUp {
            try await Task.sleep(for: .milliseconds(100))
            if let now = try? await joined(plugin, client: client, other: pid, watch: watch, clock: clock) {
                watch.recovered(plugin, pid: pid, at: now, clock: clock)
                return
            }
        }
    }

    /// The plugin stopped where it stands for `minutes` (simulated), then let go on; back
    /// when the bus lists its session again (the same process, or one the supervisor started).
    func freeze(_ plugin: String, minutes: Double, watch: ProcessWatch, client: BusClient, clock: PluginClock) async throws {
        guard let pid = watch.freeze(plugin, at: clock.now()) else { return }
        do {
            try await clock.sleep(for: .seconds(minutes * 60))
        } catch {
            Foundation.kill(pid, SIGCONT)   // never leave a stopped process behind
            throw error
        }
        Foundation.kill(pid, SIGCONT)
        try await servingAgain(plugin, pid: pid, watch: watch, client: client, clock: clock)
    }

    /// Back when the bus lists the plugin's session again; after two machine minutes it is
    /// judged never back (the check says so) rather than waited for.
    func servingAgain(_ plugin: String, pid: Int32, watch: ProcessWatch, client: BusClient, clock: PluginClock, then: () -> Void = {}) async throws {
        let giveUp = ContinuousClock.now + .seconds(120)
        while !Task.isCancelled, ContinuousClock.now < giveUp {
            if (try? await sessions(client).contains(plugin)) == true {
                then()
                watch.recovered(plugin, pid: pid, at: clock.now(), clock: clock)
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The plugin run a fifth of the time for `minutes` (simulated): stopped 80 ms of every
    /// 100, so it lives, answers pings in time and keeps its session, but falls behind.
    /// Back when, let run again, it still holds its session (the bus never dropped it) or
    /// has joined again; the detail says whether the bus kept it.
    func slow(_ plugin: String, minutes: Double, watch: ProcessWatch, client: BusClient, clock: PluginClock) async throws {
        guard let pid = watch.pid(of: plugin) else { return }
        watch.note(RunFacts.Fault(at: clock.now(), plugin: plugin, pid: pid, kind: "slow"))
        let until = clock.now() + Int64(minutes * 60_000)
        defer { Foundation.kill(pid, SIGCONT) }   // never leave a stopped process behind
        while clock.now() < until {
            Foundation.kill(pid, SIGSTOP)
            try await Task.sleep(for: .milliseconds(80))
            Foundation.kill(pid, SIGCONT)
            try await Task.sleep(for: .milliseconds(20))
        }
        Foundation.kill(pid, SIGCONT)
        try await servingAgain(plugin, pid: pid, watch: watch, client: client, clock: clock) {
            watch.detail(pid, watch.pid(of: plugin) == pid ? "the same process served on" : "restarted")
        }
    }

    /// The plugin's connection closed by the bus as a network would drop it; back when the
    /// bus lists its session again (the old one is gone when DropSession answers).
    func drop(_ plugin: String, watch: ProcessWatch, client: BusClient, clock: PluginClock) async throws {
        guard let pid = watch.pid(of: plugin) else { return }
        watch.note(RunFacts.Fault(at: clock.now(), plugin: plugin, pid: pid, kind: "drop"))
        _ = try await client.callRaw("/xunfang.bus.v1.Bus/DropSession", payload: Data("{\"instance\":\"\(plugin)\"}".utf8))
        try await servingAgain(plugin, pid: pid, watch: watch, client: client, clock: clock)
    }

    /// The log's disk full for `minutes` (simulated), then freed; back when the log has
    /// taken a write again. The writes it refused meanwhile are the fault's detail.
    func fill(_ disk: LogDisk, minutes: Double, bus: Int32, watch: ProcessWatch, client: BusClient, clock: PluginClock) async throws {
        let before = try? await logCounts(client)
        watch.note(RunFacts.Fault(at: clock.now(), plugin: "bus", pid: bus, kind: "full-disk"))
        let filled = try disk.fill()
        defer { disk.free() }
        try await clock.sleep(for: .seconds(minutes * 60))
        let during = try? await logCounts(client)
        disk.free()
        let refused = (during?.failures ?? 0) - min(during?.failures ?? 0, before?.failures ?? 0)
        watch.detail(bus, "\(refused) durable writes refused; \(filled / 1_048_576) MB filled")
        let giveUp = ContinuousClock.now + .seconds(120)
        while !Task.isCancelled, ContinuousClock.now < giveUp {
            if let now = try? await logCounts(client), now.appended > during?.appended ?? 0 {
                watch.recovered("bus", pid: bus, at: clock.now(), clock: clock)
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The bus's durable log so far: messages appended, writes failed.
    func logCounts(_ client: BusClient) async throws -> (appended: UInt64, failures: UInt64) {
        let counters = try await busStats(client).bus
        return (counters.durableAppended, counters.durableWriteFailures)
    }

    func crashBus(stack: StackProcess, watch: ProcessWatch, client: BusClient, clock: PluginClock) async throws {
        let orphans = watch.pids()
        let pid = stack.pid
        watch.killedBus(pid: pid, at: clock.now())
        try await onOwnThread { stack.kill() }
        // Its plugins leave by themselves when their supervisor's pipe closes.
        for _ in 0..<300 where orphans.contains(where: { FileManager.default.fileExists(atPath: "/proc/\($0)") }) {
            try await Task.sleep(for: .milliseconds(100))
        }
        watch.reparent(try stack.restart())
        let giveUp = ContinuousClock.now + .seconds(120)
        while !Task.isCancelled, ContinuousClock.now < giveUp {
            try await Task.sleep(for: .milliseconds(200))
            if let sessions = try? await sessions(client), Set(scenario.plugins).isSubset(of: sessions) {
                watch.recovered("bus", pid: pid, at: clock.now(), clock: clock)
                return
            }
        }
    }

    /// The part of the bus's `Stats` the harness watches: who is connected, how the durable log writes.
    struct BusStats: Decodable {
        struct Session: Decodable { let instance: String }
        struct Counters: Decodable {
            let durableAppended: UInt64
            let durableWriteFailures: UInt64
        }
        let sessions: [Session]
        let bus: Counters
    }

    func busStats(_ client: BusClient) async throws -> BusStats {
        try JSONDecoder().decode(BusStats.self, from: try await client.callRaw("/xunfang.bus.v1.Bus/Stats", payload: Data("{}".utf8)))
    }

    func sessions(_ client: BusClient) async throws -> Set<String> {
        Set(try await busStats(client).sessions.map(\.instance))
    }

    /// The plugin's new process is connected (the bus's own list of sessions).
    func joined(_ plugin: String, client: BusClient, other pid: Int32, watch: ProcessWatch, clock: PluginClock) async throws -> Int64? {
        guard let current = watch.pid(of: plugin), current != pid else { return nil }
        return try await sessions(client).contains(plugin) ? clock.now() : nil
    }

    func rawIncidents(_ client: BusClient) async throws -> [Xunfang_Dispatch_V1_Incident] {
        var request = Xunfang_Dispatch_V1_ListIncidentsRequest()
        request.limit = 10_000
        return try await client.call("/xunfang.dispatch.v1.Dispatch/ListIncidents", request, as: Xunfang_Dispatch_V1_ListIncidentsResponse.self).incidents
    }

    func listIncidents(_ client: BusClient) async throws -> [RunFacts.Incident] {
        try await rawIncidents(client).map { incident in
            RunFacts.Incident(id: incident.id, linked: incident.status == .linked, received: incident.times.received, dispatched: incident.times.dispatched,
                              onScene: incident.times.onScene, note: incident.note, escalated: incident.escalatedAt > 0, station: incident.stationID,
                              status: IncidentLog.name(incident.status))
        }
    }

    func situationTotal(_ client: BusClient) async throws -> Int {
        var request = Xunfang_Situation_V1_BreakdownRequest()
        request.from = scenario.startMilliseconds ?? 0
        request.to = scenario.endMilliseconds + 1
        return Int(try await client.call("/xunfang.situation.v1.Situation/Breakdown", request, as: Xunfang_Situation_V1_BreakdownResponse.self).total)
    }
}

/// The county's officers closing the town (关城门) at the scenario's times: each seal plan
/// activated, stood down after its hold, and read back from CheckpointControl's board.
final class SealDesk: Sendable {
    let scenario: Scenario
    private let started = Mutex<[RunFacts.Seal]>([])

    init(scenario: Scenario) { self.scenario = scenario }

    func activate(client: BusClient, clock: PluginClock) async {
        guard let start = scenario.startMilliseconds else { return }
        await withTaskGroup(of: Void.self) { group in
            for event in scenario.events.sorted(by: { $0.atMinutes < $1.atMinutes }) {
                try? await clock.sleep(untilMilliseconds: start + Int64(event.atMinutes * 60_000))
                group.addTask { await self.run(event, client: client, clock: clock) }
            }
        }
    }

    func run(_ event: Scenario.Event, client: BusClient, clock: PluginClock) async {
        var request = Xunfang_Checkpoint_V1_ActivateRequest()
        request.plan = event.seal
        request.drill = event.drill ?? false
        request.officer = "harness"
        request.reason = "scenario \(scenario.name)"
        var seal = RunFacts.Seal(plan: event.seal, drill: event.drill ?? false)
        for attempt in 1...60 {
            do {
                let activation = try await client.call("/xunfang.checkpoint.v1.Checkpoint/Activate", request, as: Xunfang_Checkpoint_V1_SealActivation.self)
                seal.activation = activation.id
                seal.error = ""
                break
            } catch let error as BusClientError {
                seal.error = error.message
                guard [.unavailable, .deadlineExceeded].contains(error.code), attempt < 60 else { break }
                try? await Task.sleep(for: .milliseconds(500))
            } catch {
                seal.error = "\(error)"
                break
            }
        }
        started.withLock { $0.append(seal) }
        guard !seal.activation.isEmpty else { return }
        try? await clock.sleep(for: .seconds((event.holdMinutes ?? 30) * 60))
        var standDown = Xunfang_Checkpoint_V1_StandDownRequest()
        standDown.activation = seal.activation
        standDown.officer = "harness"
        standDown.reason = "the scenario's hold is over"
        _ = try? await client.call("/xunfang.checkpoint.v1.Checkpoint/StandDown", standDown, as: Xunfang_Checkpoint_V1_SealActivation.self)
    }

    /// Each seal as CheckpointControl's board has it now.
    func boards(client: BusClient) async -> [RunFacts.Seal] {
        var seals = started.withLock { $0 }
        for index in seals.indices where !seals[index].activation.isEmpty {
            var request = Xunfang_Checkpoint_V1_SealBoardRequest()
            request.activation = seals[index].activation
            guard let board = try? await client.call("/xunfang.checkpoint.v1.Checkpoint/SealBoard", request, as: Xunfang_Checkpoint_V1_SealActivation.self) else { continue }
            seals[index].activatedAt = board.activatedAt
            seals[index].sealedAt = board.sealedAt
            seals[index].targetSeconds = Int(board.targetSeconds)
            seals[index].positions = board.positions.count
            seals[index].inPosition = board.positions.filter { $0.inPositionAt > 0 }.count
            seals[index].slowest = board.positions.filter { $0.inPositionAt > 0 }.sorted { $0.secondsToSeal > $1.secondsToSeal }.prefix(5).map {
                RunFacts.Seal.Position(id: $0.id, responder: $0.acknowledgedBy.isEmpty ? $0.responder : $0.acknowledgedBy, seconds: $0.secondsToSeal,
                                       etaSeconds: $0.etaSeconds, passedOver: $0.passedOver.count)
            }
        }
        return seals
    }
}

/// Every incident change delivered to the harness's durable consumer on `incident.>`.
final class IncidentLog: Sendable {
    private let seen = Mutex<[String: [String]]>([:])

    static func name(_ status: Xunfang_Dispatch_V1_IncidentStatus) -> String { "\(status)" }

    func follow(_ client: BusClient) async throws {
        try await client.consume("incident.>", as: Xunfang_Dispatch_V1_Incident.self, durable: "harness-incidents") { incident, _ in
            seen.withLock { $0[incident.id, default: []].append(Self.name(incident.status)) }
        }
    }

    func statuses() -> [String: [String]] { seen.withLock { $0 } }

    /// Until every listed incident's final status has arrived, or 30 s: what is missing then is lost.
    func wait(for incidents: [RunFacts.Incident]) async {
        for _ in 0..<300 {
            let all = seen.withLock { seen in incidents.allSatisfy { (seen[$0.id] ?? []).contains($0.status) } }
            if all { return }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// The 110 desk of the simulated county: each call taken by Dispatch at its time (retried
/// with the same id while Dispatch is down, so a retry never makes a second incident), and
/// the best unit assigned; when no unit can be, asked again each simulated minute for half
/// an hour, and the refusal kept as the explanation.
struct CallDesk: Sendable {
    let client: BusClient
    let clock: PluginClock
    /// A hypercube case dispatches by its fixed preferences instead, and loses calls when all are busy.
    var hypercube: HypercubeDesk?

    func take(_ calls: [Call]) async -> [RunFacts.CallOutcome] {
        await withTaskGroup(of: RunFacts.CallOutcome.self) { group in
            for call in calls {
                try? await clock.sleep(untilMilliseconds: call.at)
                group.addTask { await handle(call) }
            }
            var outcomes: [RunFacts.CallOutcome] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
    }

    func handle(_ call: Call) async -> RunFacts.CallOutcome {
        var outcome = RunFacts.CallOutcome(call: call)
        var request = Xunfang_Dispatch_V1_IntakeRequest()
        request.typeCode = call.type
        request.source = .call110
        request.location.longitude = call.longitude
        request.location.latitude = call.latitude
        request.externalID = call.id
        while outcome.incident.isEmpty, outcome.intakeError.isEmpty, outcome.intakeAttempts < 600 {
            outcome.intakeAttempts += 1
            do {
                let answer = try await client.call("/xunfang.dispatch.v1.Dispatch/Intake", request, as: Xunfang_Dispatch_V1_IntakeResponse.self)
                outcome.incident = answer.incident.id
                outcome.linked = answer.linked
            } catch let error as BusClientError where ![.unavailable, .deadlineExceeded, .resourceExhausted].contains(error.code) {
                // Refused, not lost: asking again would be refused again.
                outcome.intakeError = error.message
            } catch {
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        guard !outcome.incident.isEmpty, !outcome.linked else { return outcome }
        if let hypercube {
            outcome.assignError = await hypercube.dispatch(call, incident: outcome.incident)
            return outcome
        }
        var assign = Xunfang_Dispatch_V1_AssignRequest()
        assign.incidentID = outcome.incident
        for _ in 0..<30 {
            do {
                _ = try await client.call("/xunfang.dispatch.v1.Dispatch/Assign", assign, as: Xunfang_Dispatch_V1_AssignResponse.self)
                outcome.assignError = ""
                break
            } catch let error as BusClientError {
                outcome.assignError = error.message
                // A lost answer may hide an assignment that was made: look before asking again.
                if error.code == .unavailable || error.code == .deadlineExceeded, (try? await dispatched(outcome.incident)) == true { outcome.assignError = ""; break }
                try? await clock.sleep(for: .seconds(60))
            } catch {
                outcome.assignError = "\(error)"
                try? await clock.sleep(for: .seconds(60))
            }
        }
        return outcome
    }

    func dispatched(_ incident: String) async throws -> Bool {
        var request = Xunfang_Dispatch_V1_ListIncidentsRequest()
        request.limit = 10_000
        let listed = try await client.call("/xunfang.dispatch.v1.Dispatch/ListIncidents", request, as: Xunfang_Dispatch_V1_ListIncidentsResponse.self)
        return listed.incidents.first { $0.id == incident }.map { $0.times.dispatched > 0 } ?? false
    }
}

/// The stack's processes, read from /proc every half second: each plugin's pid, its
/// largest resident memory, restarts; and the kills the harness made.
final class ProcessWatch: Sendable {
    struct State {
        var parent: Int32
        var pids: [String: Int32] = [:]
        var processes: [String: RunFacts.Process] = [:]
        var faults: [RunFacts.Fault] = []
    }

    let plugins: [String]
    private let state: Mutex<State>

    init(parent: Int32, plugins: [String]) {
        self.plugins = plugins
        state = Mutex(State(parent: parent))
        state.withLock { state in
            for name in plugins + ["bus"] { state.processes[name] = RunFacts.Process(name: name) }
        }
    }

    func run() async {
        while !Task.isCancelled {
            look()
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// One look at the bus's process and its children.
    func look() {
        let parent = state.withLock { $0.parent }
        let children = Self.children(of: parent)
        let busMemory = Self.residentMegabytes(parent)
        let memory = children.mapValues(Self.residentMegabytes)
        state.withLock { state in
            state.processes["bus"]?.maxRssMegabytes.formMax(busMemory)
            for (name, pid) in children where plugins.contains(name) {
                if let known = state.pids[name], known != pid { state.processes[name]?.restarts += 1 }
                state.pids[name] = pid
                state.processes[name]?.maxRssMegabytes.formMax(memory[name] ?? 0)
            }
        }
    }

    func pid(of plugin: String) -> Int32? {
        look()
        return state.withLock { $0.pids[plugin] }
    }

    /// SIGKILL to the plugin's process; its pid, or nil when it is not running.
    func kill(_ plugin: String, at time: Int64) -> Int32? {
        guard let pid = pid(of: plugin) else { return nil }
        Foundation.kill(pid, SIGKILL)
        state.withLock { state in
            state.processes[plugin]?.kills += 1
            state.faults.append(RunFacts.Fault(at: time, plugin: plugin, pid: pid))
        }
        return pid
    }

    /// SIGSTOP to the plugin's process; its pid, or nil when it is not running.
    func freeze(_ plugin: String, at time: Int64) -> Int32? {
        guard let pid = pid(of: plugin) else { return nil }
        Foundation.kill(pid, SIGSTOP)
        state.withLock { $0.faults.append(RunFacts.Fault(at: time, plugin: plugin, pid: pid, kind: "freeze")) }
        return pid
    }

    /// A fault that strikes no process (a dropped connection, a full disk), as it happens.
    func note(_ fault: RunFacts.Fault) {
        state.withLock { $0.faults.append(fault) }
    }

    /// What the latest fault struck at `pid` did.
    func detail(_ pid: Int32, _ text: String) {
        state.withLock { state in
            if let index = state.faults.lastIndex(where: { $0.pid == pid }) { state.faults[index].detail = text }
        }
    }

    func pids() -> [Int32] { state.withLock { Array($0.pids.values) + [$0.parent] } }

    /// The bus killed: its fault, and its plugins' pids forgotten (their new ones are no restart).
    func killedBus(pid: Int32, at time: Int64) {
        state.withLock { state in
            state.processes["bus"]?.kills += 1
            state.faults.append(RunFacts.Fault(at: time, plugin: "bus", pid: pid))
            state.pids = [:]
        }
    }

    /// The bus started again as `pid`.
    func reparent(_ pid: Int32) {
        state.withLock { state in
            state.parent = pid
            state.processes["bus"]?.restarts += 1
            state.pids = [:]
        }
    }

    func recovered(_ plugin: String, pid: Int32, at time: Int64, clock: PluginClock) {
        state.withLock { state in
            if let index = state.faults.lastIndex(where: { $0.plugin == plugin && $0.pid == pid }) { state.faults[index].recoveredAt = time }
        }
    }

    func processes() -> [RunFacts.Process] { state.withLock { $0.processes.values.sorted { $0.name < $1.name } } }
    func faults() -> [RunFacts.Fault] { state.withLock { $0.faults } }

    /// The parent's children by plugin name (`xunfang-plugin-NAME`).
    static func children(of parent: Int32) -> [String: Int32] {
        var found: [String: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == parent else { continue }
            let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?.split(separator: "\0").first.map(String.init) ?? ""
            let name = URL(fileURLWithPath: command).lastPathComponent
            if name.hasPrefix("xunfang-plugin-") { found[String(name.dropFirst("xunfang-plugin-".count))] = pid }
        }
        return found
    }

    static func residentMegabytes(_ pid: Int32) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return 0 }
        return kilobytes / 1_024
    }
}

extension Double {
    mutating func formMax(_ other: Double) { self = Swift.max(self, other) }
}

/// The stack's `xunfang up`: killed and started again for a bus fault, stopped at the end.
final class StackProcess: Sendable {
    private let process: Mutex<Process>
    private let start: @Sendable () throws -> Process

    init(start: @escaping @Sendable () throws -> Process) throws {
        self.start = start
        process = Mutex(try start())
    }

    var pid: Int32 { process.withLock { $0.processIdentifier } }

    /// SIGKILL, then its exit reaped.
    func kill() {
        let current = process.withLock { $0 }
        Foundation.kill(current.processIdentifier, SIGKILL)
        current.waitUntilExit()
    }

    func restart() throws -> Int32 {
        let next = try start()
        process.withLock { $0 = next }
        return next.processIdentifier
    }

    func stop() {
        let current = process.withLock { $0 }
        if current.isRunning {
            current.terminate()
            current.waitUntilExit()
        }
    }
}

/// The bus's durable log on a tmpfs of its own for a run with a full-disk fault, so filling
/// it fills nothing else of the machine. Mounting needs root (CI runs as root).
struct LogDisk: Sendable {
    let path: String
    static let size = "256m"
    /// Not a segment (`<n>.log`): the log leaves it alone.
    var filler: String { "\(path)/harness-filler" }

    func mount() throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let status = Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(Self.size),mode=0700", "xunfang-harness-log", path])
        guard status == 0 else {
            throw HarnessError("a full_disk fault puts the bus's durable log on a tmpfs of its own at \(path); mount failed (status \(status)): it needs root")
        }
    }

    func unmount() { _ = Self.run("/bin/umount", ["-l", path]) }

    /// Writes zeros until the filesystem refuses a byte more; the bytes written.
    func fill() throws -> Int {
        let descriptor = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw HarnessError("cannot create \(filler): errno \(errno)") }
        defer { close(descriptor) }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        for size in [1 << 20, 4_096, 1] {
            while true {
                let written = zeros.withUnsafeBytes { write(descriptor, $0.baseAddress, size) }
                guard written > 0 else { break }
                total += written
            }
        }
        return total
    }

    func free() { unlink(filler) }

    static func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// `xunfang bench harness`: the speed goal and what it costs. A simulated day of the demo
/// county on the adaptive clock (its wall time and simulated seconds a second), and beside
/// it the baseline: the same busy evening at a fixed 60 times and on the adaptive clock, on
/// the same seeded calls, each figure's paired difference with its 95% interval. A clock
/// that ran faster than the stack would show here as longer times to scene.
struct HarnessBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harness", abstract: "A simulated day's wall time on the adaptive clock, and an evening at 60x beside the adaptive clock (paired, over seeds).")
    @Option(help: "The day's scenario.") var day: String = "scenarios/quiet-weekday.yaml"
    @Option(help: "Seeded evenings for the paired comparison (2 to 30).") var seeds: Int = 3
    @Option(help: "Where the runs go (default harness-runs/bench).") var out: String = "harness-runs/bench"
    @Option(help: "Where the plugin executables are (default: beside xunfang).") var binDir: String?
    @Flag(help: "Print only the JSON line.") var json = false

    /// Three busy evening hours (three times the usual calls), no faults.
    static let evening = """
        name: bench-evening
        summary: A busy Friday evening, for the clock's fidelity
        start: "2026-11-13 17:00"
        hours: 3
        factor: 60
        seed: 7
        calls_scale: 3
        warm_up_minutes: 15
        drain_minutes: 30
        plugins: [grid-model, dispatch, situation, patrol, terminal, checkpoint]
        env:
          terminal: { TERMINAL_INTERVAL_SECONDS: "10" }
        """

    func run() async throws {
        guard (2...30).contains(seeds) else { throw ValidationError("--seeds must be 2 to 30") }
        let bin = binDir ?? executableDirectory()
        let day = try Scenario.load(path: self.day)
        let dayFacts = try await HarnessRunner(scenario: day, seed: day.seed, directory: "\(out)/day", binDirectory: bin).run()
        let dayChecks = try HarnessReport.write(dayFacts, to: "\(out)/day")
        let fixed = try Scenario.parse(yaml: Self.evening)
        var adaptive = fixed
        adaptive.name = "bench-evening-adaptive"
        adaptive.factor = 600
        adaptive.adaptive = true
        var pairs: [(a: RunFacts, b: RunFacts)] = []
        var wall = (fixed: 0.0, adaptive: 0.0)
        for seed in fixed.seed..<fixed.seed + UInt64(seeds) {
            let a = try await HarnessRunner(scenario: fixed, seed: seed, directory: "\(out)/fixed-\(seed)", binDirectory: bin).run()
            let b = try await HarnessRunner(scenario: adaptive, seed: seed, directory: "\(out)/adaptive-\(seed)", binDirectory: bin).run()
            wall.fixed += a.wallSeconds
            wall.adaptive += b.wallSeconds
            pairs.append((a, b))
        }
        let rows = Comparison.rows(pairs)
        var results: [(String, String, Double)] = [
            ("a simulated day (\(day.name)): wall time", "s", dayFacts.wallSeconds),
            ("a simulated day: simulated seconds a second", "x", dayFacts.simulatedSeconds / max(dayFacts.wallSeconds, 0.001)),
            ("a simulated day: checks passed", "of \(dayChecks.count)", Double(dayChecks.filter(\.passed).count)),
            ("evening at 60x: wall time a run", "s", wall.fixed / Double(seeds)),
            ("evening adaptive: wall time a run", "s", wall.adaptive / Double(seeds)),
        ]
        for row in rows {
            results.append(("\(row.figure): 60x", "", row.a))
            results.append(("\(row.figure): adaptive - 60x (95% interval \(String(format: "%+.3f", row.low)) to \(String(format: "%+.3f", row.high)))", "", row.difference))
        }
        BenchReport.print(bench: "harness", title: "xunfang bench harness: \(day.name) on the adaptive clock; \(seeds) busy evenings at 60x beside adaptive (<= 600x)",
                          parameters: ["seeds": Double(seeds)], results: results, jsonOnly: json)
    }
}
