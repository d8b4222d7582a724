public import Foundation
import XunfangPluginKit
import Yams

/// What went wrong reading a scenario or running it, said so that the author can fix it.
public struct HarnessError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A scenario (`scenarios/NAME.yaml`): which plugins run, on which simulated day and how
/// fast, how many calls, which faults when, and what must hold at the end.
public struct Scenario: Sendable, Codable, Equatable {
    public var name: String
    public var summary: String
    /// When the calls begin, China time `yyyy-mm-dd hh:mm` (a past day: the calls come
    /// from the demo county's seeded history for it).
    public var start: String
    /// Simulated hours of calls (0.1 to 168).
    public var hours: Double
    /// Simulated seconds per machine second (1 to 600); with `adaptive`, the most.
    public var factor: Double
    /// The clock runs as fast as the stack keeps up with, up to `factor`: the harness times
    /// a call to Dispatch every tenth of a second and sets the pace so that it takes at most
    /// a simulated second (`ClockGovernor`); a busy hour runs slower than a quiet night.
    public var adaptive: Bool
    public var seed: UInt64
    /// The demo county's call rates times this (0.1 to 5): 1.5 for a busy night.
    public var callsScale: Double
    /// Simulated minutes the stack runs before the first call (rosters, terminals, hierarchies).
    public var warmUpMinutes: Double
    /// Simulated minutes after the last call for units to arrive and clear.
    public var drainMinutes: Double
    /// The plugins started (GridModel and Dispatch are always among them).
    public var plugins: [String]
    /// Settings per plugin, over the demo county's.
    public var env: [String: [String: String]]
    public var faults: [Fault]
    /// What the county's officers do at set times (a seal plan activated, 关城门).
    public var events: [Event]
    public var expect: Expectations
    /// A hypercube validation case: its calls and dispatching instead of the county's history.
    public var hypercube: HypercubeCase?

    public struct Event: Sendable, Codable, Equatable {
        /// Simulated minutes after the first call.
        public var atMinutes: Double
        /// A seal plan to activate (CheckpointControl's plan id, e.g. TOWN).
        public var seal: String
        /// A drill: ordered and timed like the real thing, the registry left alone.
        public var drill: Bool?
        /// Simulated minutes it stays on before the stand-down (default 30).
        public var holdMinutes: Double?

        enum CodingKeys: String, CodingKey, CaseIterable { case atMinutes = "at_minutes", seal, drill, holdMinutes = "hold_minutes" }
    }

    public struct Fault: Sendable, Codable, Equatable {
        /// Simulated minutes after the first call.
        public var atMinutes: Double
        /// `kill -9` of this plugin's process (the supervisor restarts it), or of `bus`:
        /// the bus and its supervisor, which the harness starts again on the same data.
        public var kill: String?
        /// SIGSTOP of this plugin's process for `forMinutes`, then SIGCONT: a plugin that hangs
        /// (a slow consumer, answers far too late, pings unanswered) and then goes on from where
        /// it stopped, its connection perhaps closed by the bus meanwhile.
        public var freeze: String?
        /// This plugin slowed to a fifth of its speed for `forMinutes`: stopped 80 ms of every
        /// 100 (SIGSTOP/SIGCONT), so it stays connected and answers its pings, but consumes
        /// slowly and answers calls late. The bus must hold its backlog without holding up
        /// anyone else; it catches up afterwards, nothing lost.
        public var slow: String?
        /// This plugin's connection closed by the bus without a word, as a network drops it
        /// (`Bus/DropSession`): the plugin must notice, connect again and carry on.
        public var drop: String?
        /// `bus`: the filesystem of the bus's durable log full for `forMinutes` (the log is put
        /// on a tmpfs of its own for the run, so nothing else fills; it needs root): durable
        /// publishes are refused meanwhile and must be published again, none lost, none twice.
        public var fullDisk: String?
        /// Simulated minutes a freeze or a full disk lasts (default 5).
        public var forMinutes: Double?

        public init(atMinutes: Double, kill: String? = nil, freeze: String? = nil, slow: String? = nil, drop: String? = nil, fullDisk: String? = nil, forMinutes: Double? = nil) {
            self.atMinutes = atMinutes
            self.kill = kill
            self.freeze = freeze
            self.slow = slow
            self.drop = drop
            self.fullDisk = fullDisk
            self.forMinutes = forMinutes
        }

        /// The plugin (or `bus`) the fault strikes.
        public var target: String { kill ?? freeze ?? slow ?? drop ?? fullDisk ?? "" }
        public var kind: String { kill != nil ? "kill" : freeze != nil ? "freeze" : slow != nil ? "slow" : drop != nil ? "drop" : "full-disk" }
        /// Whether it lasts `forMinutes`.
        var lasts: Bool { freeze != nil || slow != nil || fullDisk != nil }

        enum CodingKeys: String, CodingKey, CaseIterable { case atMinutes = "at_minutes", kill, freeze, slow, drop, fullDisk = "full_disk", forMinutes = "for_minutes" }
    }

    /// What must hold at the end; a check left out is reported, not judged.
    public struct Expectations: Sendable, Codable, Equatable {
        /// Shares of calls (linked ones aside) with a unit on scene within 1, 3 and 5 minutes.
        public var within1Minute: Double?
        public var within3Minutes: Double?
        public var within5Minutes: Double?
        /// Largest resident memory of any process of the stack.
        public var maxRssMegabytes: Double?
        /// Restarts nobody caused (a fault's restart is expected).
        public var unexpectedRestarts: Int?
        /// The median simulated seconds from a call to Dispatch holding it (default 10): more
        /// means the clock ran faster than the stack keeps up with, and every time measured is
        /// stretched by it.
        public var maxLagSeconds: Double?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case within1Minute = "within_1_minute", within3Minutes = "within_3_minutes", within5Minutes = "within_5_minutes"
            case maxRssMegabytes = "max_rss_megabytes", unexpectedRestarts = "unexpected_restarts", maxLagSeconds = "max_lag_seconds"
        }

        public init() {}
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, summary, start, hours, factor, adaptive, seed, callsScale = "calls_scale", warmUpMinutes = "warm_up_minutes", drainMinutes = "drain_minutes"
        case plugins, env, faults, events, expect, hypercube
    }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        name = try values.decode(String.self, forKey: .name)
        summary = try values.decodeIfPresent(String.self, forKey: .summary) ?? ""
        start = try values.decode(String.self, forKey: .start)
        hours = try values.decode(Double.self, forKey: .hours)
        factor = try values.decodeIfPresent(Double.self, forKey: .factor) ?? 60
        adaptive = try values.decodeIfPresent(Bool.self, forKey: .adaptive) ?? false
        seed = try values.decodeIfPresent(UInt64.self, forKey: .seed) ?? 1
        callsScale = try values.decodeIfPresent(Double.self, forKey: .callsScale) ?? 1
        warmUpMinutes = try values.decodeIfPresent(Double.self, forKey: .warmUpMinutes) ?? 10
        drainMinutes = try values.decodeIfPresent(Double.self, forKey: .drainMinutes) ?? 30
        plugins = try values.decode([String].self, forKey: .plugins)
        env = try values.decodeIfPresent([String: [String: String]].self, forKey: .env) ?? [:]
        faults = try values.decodeIfPresent([Fault].self, forKey: .faults) ?? []
        events = try values.decodeIfPresent([Event].self, forKey: .events) ?? []
        expect = try values.decodeIfPresent(Expectations.self, forKey: .expect) ?? Expectations()
        hypercube = try values.decodeIfPresent(HypercubeCase.self, forKey: .hypercube)
    }

    /// The scenario in `text`, checked: every error names its field.
    public static func parse(yaml text: String) throws(HarnessError) -> Scenario {
        let scenario: Scenario
        do {
            // A misspelt key would be passed over in silence: every key must be known.
            guard let top = try Yams.load(yaml: text) as? [String: Any] else { throw HarnessError("scenario: not a YAML mapping") }
            try Self.allowOnly(top, CodingKeys.allCases.map(\.rawValue), at: "")
            if let expect = top["expect"] as? [String: Any] { try Self.allowOnly(expect, Expectations.CodingKeys.allCases.map(\.rawValue), at: "expect.") }
            for (index, fault) in (top["faults"] as? [[String: Any]] ?? []).enumerated() {
                try Self.allowOnly(fault, Fault.CodingKeys.allCases.map(\.rawValue), at: "faults[\(index)].")
            }
            for (index, event) in (top["events"] as? [[String: Any]] ?? []).enumerated() {
                try Self.allowOnly(event, Event.CodingKeys.allCases.map(\.rawValue), at: "events[\(index)].")
            }
            if let hypercube = top["hypercube"] as? [String: Any] {
                try Self.allowOnly(hypercube, HypercubeCase.keys, at: "hypercube.")
                for (index, atom) in (hypercube["atoms"] as? [[String: Any]] ?? []).enumerated() {
                    try Self.allowOnly(atom, HypercubeCase.atomKeys, at: "hypercube.atoms[\(index)].")
                }
            }
            scenario = try YAMLDecoder().decode(Scenario.self, from: text)
        } catch let error as HarnessError {
            throw error
        } catch let error as DecodingError {
            throw HarnessError("scenario: \(Self.describe(error))")
        } catch {
            throw HarnessError("scenario: \(error)")
        }
        try scenario.validate()
        return scenario
    }

    public static func load(path: String) throws(HarnessError) -> Scenario {
        guard let data = FileManager.default.contents(atPath: path) else { throw HarnessError("cannot read the scenario \(path)") }
        do {
            return try parse(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            throw HarnessError("\(path): \(error.description)")
        }
    }

    static let knownPlugins: Set<String> = ["grid-model", "dispatch", "situation", "patrol", "terminal", "checkpoint", "community", "console"]

    func validate() throws(HarnessError) {
        guard (1...64).contains(name.count), name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw HarnessError("name: 1 to 64 letters, digits, - or _")
        }
        guard startMilliseconds != nil else { throw HarnessError("start: \"\(start)\" is not yyyy-mm-dd hh:mm (China time)") }
        guard (0.1...168).contains(hours) else { throw HarnessError("hours: \(hours) is not 0.1 to 168") }
        guard (1...600).contains(factor) else { throw HarnessError("factor: \(factor) is not 1 to 600") }
        guard (0.1...5).contains(callsScale) else { throw HarnessError("calls_scale: \(callsScale) is not 0.1 to 5") }
        guard (0...120).contains(warmUpMinutes), (0...240).contains(drainMinutes) else { throw HarnessError("warm_up_minutes 0 to 120, drain_minutes 0 to 240") }
        for plugin in plugins + Array(env.keys) + faults.map(\.target).filter({ $0 != "bus" }) where !Self.knownPlugins.contains(plugin) {
            throw HarnessError("plugin \"\(plugin)\" is not one of \(Self.knownPlugins.sorted().joined(separator: ", "))")
        }
        for required in ["grid-model", "dispatch"] where !plugins.contains(required) {
            throw HarnessError("plugins: \(required) is needed (the calls go to Dispatch, which places them with GridModel)")
        }
        for fault in faults {
            guard [fault.kill, fault.freeze, fault.slow, fault.drop, fault.fullDisk].compactMap({ $0 }).count == 1 else {
                throw HarnessError("faults: each is one of kill: NAME, freeze: NAME, slow: NAME, drop: NAME or full_disk: bus")
            }
            guard fault.fullDisk == nil || fault.fullDisk == "bus" else { throw HarnessError("faults: full_disk is bus (its durable log), not \(fault.target)") }
            let struck = ["kill": "killed", "freeze": "frozen", "slow": "slowed", "drop": "dropped", "full-disk": "filled"][fault.kind] ?? fault.kind
            guard plugins.contains(fault.target) || fault.kill == "bus" || fault.fullDisk == "bus" else {
                throw HarnessError("faults: \(fault.target) is \(struck) but not in plugins")
            }
            guard fault.lasts ? (0.1...60).contains(fault.forMinutes ?? 5) : fault.forMinutes == nil else {
                throw HarnessError("faults: for_minutes is for a freeze, a slowdown or a full disk, 0.1 to 60 simulated minutes")
            }
            guard fault.atMinutes >= 0, fault.atMinutes <= hours * 60 else { throw HarnessError("faults: at_minutes \(fault.atMinutes) is outside the \(hours) hours of calls") }
        }
        for event in events {
            guard plugins.contains("checkpoint") else { throw HarnessError("events: a seal needs the checkpoint plugin") }
            guard event.atMinutes >= 0, event.atMinutes <= hours * 60, (1...64).contains(event.seal.utf8.count) else {
                throw HarnessError("events: a seal needs its plan and at_minutes within the \(hours) hours of calls")
            }
            guard (event.holdMinutes ?? 30) > 0 else { throw HarnessError("events: hold_minutes must be above 0") }
        }
        for share in [expect.within1Minute, expect.within3Minutes, expect.within5Minutes].compactMap({ $0 }) where !(0...1).contains(share) {
            throw HarnessError("expect: a share must be 0 to 1, not \(share)")
        }
        if let hypercube {
            try hypercube.validate()
            // Patrol says who is on duty and the terminals drive them; a fault or a seal would leave the model's world.
            for required in ["patrol", "terminal"] where !plugins.contains(required) {
                throw HarnessError("plugins: a hypercube case needs \(required) (who is on duty, and the units driven)")
            }
            guard faults.isEmpty, events.isEmpty else { throw HarnessError("a hypercube case runs without faults and seals: they are outside the model") }
        }
    }

    /// When the calls begin, Unix ms.
    public var startMilliseconds: Int64? { ChinaTime.parse(start) }
    /// When the calls end.
    public var endMilliseconds: Int64 { (startMilliseconds ?? 0) + Int64(hours * 3_600_000) }

    static func allowOnly(_ mapping: [String: Any], _ keys: [String], at path: String) throws(HarnessError) {
        for key in mapping.keys.sorted() where !keys.contains(key) {
            throw HarnessError("scenario: \(path)\(key) is not a scenario key (\(keys.joined(separator: ", ")))")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String { context.codingPath.map(\.stringValue).joined(separator: ".") }
        switch error {
        case .keyNotFound(let key, let context): return "\((path(context).isEmpty ? "" : path(context) + ".") + key.stringValue) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
