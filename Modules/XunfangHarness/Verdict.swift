import Foundation

/// What a run saw, gathered by the runner; the checks and the report are drawn from it alone.
public struct RunFacts: Sendable, Codable {
    public struct CallOutcome: Sendable, Codable {
        public var call: Call
        /// The incident Dispatch made of it ("" when it never took the call).
        public var incident: String
        public var linked: Bool
        public var intakeAttempts: Int
        /// Dispatch's refusal of the call itself (e.g. a place outside every grid): an answer, not a loss.
        public var intakeError: String = ""
        /// The last refusal when no unit could be assigned.
        public var assignError: String

        public init(call: Call, incident: String = "", linked: Bool = false, intakeAttempts: Int = 0, assignError: String = "") {
            self.call = call
            self.incident = incident
            self.linked = linked
            self.intakeAttempts = intakeAttempts
            self.assignError = assignError
        }
    }

    /// An incident as Dispatch lists it at the end.
    public struct Incident: Sendable, Codable {
        public var id: String
        public var linked: Bool
        public var received: Int64
        public var dispatched: Int64
        public var onScene: Int64
        public var note: String
        public var escalated: Bool
        public var station: String
        public var status: String

        public init(id: String, linked: Bool, received: Int64, dispatched: Int64, onScene: Int64, note: String, escalated: Bool, station: String, status: String = "") {
            self.status = status
            self.id = id
            self.linked = linked
            self.received = received
            self.dispatched = dispatched
            self.onScene = onScene
            self.note = note
            self.escalated = escalated
            self.station = station
        }
    }

    /// One process of the stack over the run.
    public struct Process: Sendable, Codable {
        public var name: String
        public var kills: Int
        public var restarts: Int
        public var maxRssMegabytes: Double

        public init(name: String, kills: Int = 0, restarts: Int = 0, maxRssMegabytes: Double = 0) {
            self.name = name
            self.kills = kills
            self.restarts = restarts
            self.maxRssMegabytes = maxRssMegabytes
        }

        public var unexpectedRestarts: Int { max(0, restarts - kills) }
    }

    /// A fault as it happened: when (simulated), what, and when the plugin was back.
    public struct Fault: Sendable, Codable {
        public var at: Int64
        public var plugin: String
        public var pid: Int32
        /// "kill", "freeze", "slow", "drop" or "full-disk" (`Scenario.Fault.kind`).
        public var kind: String
        /// Simulated ms when it was serving again (a full disk: the log writing again); 0 when it never came back.
        public var recoveredAt: Int64
        /// What the fault did, when there is more to say (a full disk: the writes it refused).
        public var detail: String

        public init(at: Int64, plugin: String, pid: Int32, kind: String = "kill", recoveredAt: Int64 = 0, detail: String = "") {
            self.at = at
            self.plugin = plugin
            self.pid = pid
            self.kind = kind
            self.recoveredAt = recoveredAt
            self.detail = detail
        }
    }

    public var scenario: Scenario
    public var seed: UInt64
    public var calls: [CallOutcome]
    public var incidents: [Incident]
    /// Situation's count of incidents received in the calls' window (nil when it does not run).
    public var situationTotal: Int?
    /// Each incident's statuses as they reached the harness's durable subscriber on
    /// `incident.>` (nil when it did not listen).
    public var delivered: [String: [String]]?
    /// Stations' and grids' names by id, and the grids' outlines ([longitude, latitude]
    /// rings), from GridModel at the end, for the report.
    public var names: [String: String] = [:]
    /// Each seal the scenario activated, as CheckpointControl's board had it at the end.
    public var seals: [Seal] = []

    public struct Seal: Sendable, Codable, Equatable {
        public var plan: String
        public var activation: String
        public var drill: Bool
        public var activatedAt: Int64
        /// 0 until every position was in place.
        public var sealedAt: Int64
        public var targetSeconds: Int
        public var positions: Int
        public var inPosition: Int
        /// Why it did not start ("" when it did).
        public var error: String
        /// The slowest positions: who held each, how long it took, the road time predicted
        /// when ordered, and how many were ordered before (passed on at their deadline).
        public var slowest: [Position] = []

        public struct Position: Sendable, Codable, Equatable {
            public var id: String
            public var responder: String
            public var seconds: Double
            public var etaSeconds: Double
            public var passedOver: Int

            public init(id: String, responder: String, seconds: Double, etaSeconds: Double, passedOver: Int) {
                self.id = id
                self.responder = responder
                self.seconds = seconds
                self.etaSeconds = etaSeconds
                self.passedOver = passedOver
            }
        }

        public init(plan: String, activation: String = "", drill: Bool = false, activatedAt: Int64 = 0, sealedAt: Int64 = 0, targetSeconds: Int = 180,
                    positions: Int = 0, inPosition: Int = 0, error: String = "") {
            self.plan = plan
            self.activation = activation
            self.drill = drill
            self.activatedAt = activatedAt
            self.sealedAt = sealedAt
            self.targetSeconds = targetSeconds
            self.positions = positions
            self.inPosition = inPosition
            self.error = error
        }
    }
    public var outlines: [[[Double]]] = []
    public var processes: [Process]
    public var faults: [Fault]
    public var wallSeconds: Double
    public var simulatedSeconds: Double
    /// A hypercube case's observations.
    public var hypercube: HypercubeObservation?

    public init(scenario: Scenario, seed: UInt64, calls: [CallOutcome], incidents: [Incident], situationTotal: Int?, processes: [Process],
                faults: [Fault], wallSeconds: Double, simulatedSeconds: Double) {
        self.scenario = scenario
        self.seed = seed
        self.calls = calls
        self.incidents = incidents
        self.situationTotal = situationTotal
        self.delivered = nil
        self.processes = processes
        self.faults = faults
        self.wallSeconds = wallSeconds
        self.simulatedSeconds = simulatedSeconds
    }
}

/// One assertion at the end of a run: passed or not, and what was seen.
public struct Check: Sendable, Codable, Equatable {
    public var name: String
    public var passed: Bool
    public var detail: String

    public init(_ name: String, _ passed: Bool, _ detail: String) {
        self.name = name
        self.passed = passed
        self.detail = detail
    }
}

/// The checks a run is judged by.
public enum Verdict {
    /// How a fault's target is said in the report.
    static let struck = ["freeze": "frozen", "slow": "slowed", "drop": "connection dropped", "full-disk": "its log's disk full"]

    public static func checks(_ facts: RunFacts) -> [Check] {
        var checks = [storedOnce(facts), dispatchedOrExplained(facts)]
        if let total = facts.situationTotal { checks.append(situationOnce(facts, total: total)) }
        if let delivered = facts.delivered { checks.append(nothingLost(facts, delivered: delivered)) }
        if !facts.seals.isEmpty { checks.append(sealsInTime(facts.seals)) }
        let shares = responseShares(facts)
        for (minutes, expected) in [(1, facts.scenario.expect.within1Minute), (3, facts.scenario.expect.within3Minutes), (5, facts.scenario.expect.within5Minutes)] {
            let share = shares[minutes] ?? 0
            let detail = "\(percent(share)) of \(answered(facts).count) calls had a unit on scene within \(minutes) min"
            checks.append(expected.map { Check("on scene within \(minutes) min", share >= $0, detail + " (at least \(percent($0)) expected)") }
                          ?? Check("on scene within \(minutes) min", true, detail + " (not judged)"))
        }
        if let lag = keptUp(facts) { checks.append(lag) }
        let recovered = facts.faults.filter { $0.recoveredAt > 0 }.count
        checks.append(Check("every fault recovered from", recovered == facts.faults.count,
                            "\(recovered) of \(facts.faults.count) serving again" + facts.faults.map { fault in
                                let what = fault.kind == "kill" ? fault.plugin : "\(fault.plugin) (\(Self.struck[fault.kind] ?? fault.kind))"
                                return (fault.recoveredAt > 0 ? "; \(what) in \(seconds(fault.recoveredAt - fault.at)) simulated" : "; \(what) never")
                                    + (fault.detail.isEmpty ? "" : " (\(fault.detail))")
                            }.joined()))
        let unexpected = facts.processes.map(\.unexpectedRestarts).reduce(0, +)
        checks.append(Check("no unexpected restarts", unexpected <= (facts.scenario.expect.unexpectedRestarts ?? 0),
                            unexpected == 0 ? "none" : facts.processes.filter { $0.unexpectedRestarts > 0 }.map { "\($0.name) \($0.unexpectedRestarts)" }.joined(separator: ", ")))
        if let observation = facts.hypercube, let hypercube = facts.scenario.hypercube { checks += observation.checks(hypercube) }
        if let limit = facts.scenario.expect.maxRssMegabytes {
            let largest = facts.processes.max { $0.maxRssMegabytes < $1.maxRssMegabytes }
            checks.append(Check("memory bounded", (largest?.maxRssMegabytes ?? 0) <= limit,
                                "largest \(largest.map { "\($0.name) \(Int($0.maxRssMegabytes)) MB" } ?? "-") (at most \(Int(limit)) MB)"))
        }
        return checks
    }

    /// Every call became exactly one incident, and Dispatch holds nothing else.
    static func storedOnce(_ facts: RunFacts) -> Check {
        let taken = facts.calls.filter { !$0.incident.isEmpty }
        var listed: [String: Int] = [:]
        for incident in facts.incidents { listed[incident.id, default: 0] += 1 }
        let missing = taken.filter { listed[$0.incident] == nil }.map(\.incident)
        let twice = listed.filter { $0.value > 1 }.map(\.key)
        let shared = Dictionary(grouping: taken, by: \.incident).filter { $0.value.count > 1 }.map(\.key)
        let extra = Set(listed.keys).subtracting(taken.map(\.incident))
        let refused = facts.calls.filter { $0.incident.isEmpty && !$0.intakeError.isEmpty }
        let untaken = facts.calls.count - taken.count - refused.count
        let passed = untaken == 0 && missing.isEmpty && twice.isEmpty && shared.isEmpty && extra.isEmpty
        var detail = "\(facts.calls.count) calls, \(taken.count) taken, \(facts.incidents.count) incidents in Dispatch"
        if !refused.isEmpty { detail += "; \(refused.count) refused with a reason (\(refused[0].call.id): \(refused[0].intakeError))" }
        if untaken > 0 { detail += "; \(untaken) never answered" }
        if !missing.isEmpty { detail += "; missing \(missing.prefix(5).joined(separator: ", "))" }
        if !twice.isEmpty || !shared.isEmpty { detail += "; stored twice \((twice + shared).prefix(5).joined(separator: ", "))" }
        if !extra.isEmpty { detail += "; not from a call \(extra.sorted().prefix(5).joined(separator: ", "))" }
        return Check("every call stored exactly once in Dispatch", passed, detail)
    }

    /// Calls that are incidents of their own (not joined to another).
    static func answered(_ facts: RunFacts) -> [RunFacts.Incident] { facts.incidents.filter { !$0.linked } }

    static func dispatchedOrExplained(_ facts: RunFacts) -> Check {
        let errors = Dictionary(facts.calls.map { ($0.incident, $0.assignError) }, uniquingKeysWith: { first, _ in first })
        let own = answered(facts)
        let dispatched = own.filter { $0.dispatched > 0 }.count
        let silent = own.filter { $0.dispatched == 0 && $0.note.isEmpty && !$0.escalated && (errors[$0.id] ?? "").isEmpty }
        return Check("every incident dispatched or explained", silent.isEmpty,
                     "\(dispatched) of \(own.count) dispatched, \(own.count - dispatched - silent.count) explained" + (silent.isEmpty ? "" : "; silent \(silent.prefix(5).map(\.id).joined(separator: ", "))"))
    }

    /// Dispatch publishes every incident change durably: each incident it holds, in its
    /// final status, reached a durable subscriber across every kill.
    static func nothingLost(_ facts: RunFacts, delivered: [String: [String]]) -> Check {
        let missing = facts.incidents.filter { !(delivered[$0.id] ?? []).contains($0.status) }
        let changes = delivered.values.map(\.count).reduce(0, +)
        return Check("no acknowledged message lost", missing.isEmpty,
                     "\(changes) incident changes delivered to a durable subscriber; \(facts.incidents.count - missing.count) of \(facts.incidents.count) incidents seen in their final status"
                        + (missing.isEmpty ? "" : "; not: " + missing.prefix(5).map { "\($0.id) \($0.status)" }.joined(separator: ", ")))
    }

    /// 关城门: every position held within the plan's target (the documents' 3 minutes).
    static func sealsInTime(_ seals: [RunFacts.Seal]) -> Check {
        let late = seals.filter { $0.sealedAt == 0 || $0.sealedAt - $0.activatedAt > Int64($0.targetSeconds) * 1_000 }
        let detail = seals.map { seal in
            !seal.error.isEmpty ? "\(seal.plan) not started: \(seal.error)"
                : seal.sealedAt > 0 ? "\(seal.plan)\(seal.drill ? " (drill)" : "") sealed in \((seal.sealedAt - seal.activatedAt) / 1_000) s of \(seal.targetSeconds)" + slowest(seal)
                : "\(seal.plan)\(seal.drill ? " (drill)" : "") never sealed: \(seal.inPosition) of \(seal.positions) in position"
        }.joined(separator: "; ")
        return Check("every seal in place within its target", late.isEmpty, detail)
    }

    /// The positions that kept the seal waiting, slowest first.
    static func slowest(_ seal: RunFacts.Seal) -> String {
        let late = seal.slowest.filter { $0.seconds > Double(seal.targetSeconds) }
        guard !late.isEmpty else { return "" }
        return "; late: " + late.prefix(3).map { position in
            "\(position.id) \(position.responder) \(Int(position.seconds)) s (road time \(Int(position.etaSeconds)) s\(position.passedOver > 0 ? ", \(position.passedOver) passed over" : ""))"
        }.joined(separator: ", ")
    }

    /// The clock ran no faster than the stack keeps up with: calls Dispatch took at the first
    /// try (none held up by a fault) reached it a median of at most `maxLagSeconds` simulated
    /// seconds after they were made. A machine's millisecond is the factor's milliseconds of
    /// simulated time, and each is added to every response time measured.
    static func keptUp(_ facts: RunFacts) -> Check? {
        let received = Dictionary(facts.incidents.map { ($0.id, $0.received) }, uniquingKeysWith: { first, _ in first })
        let lags = facts.calls.filter { $0.intakeAttempts == 1 && !$0.linked }.compactMap { outcome in
            received[outcome.incident].map { Double($0 - outcome.call.at) / 1_000 }
        }.sorted()
        guard !lags.isEmpty else { return nil }
        let limit = facts.scenario.expect.maxLagSeconds ?? 10, median = lags[lags.count / 2], p90 = lags[lags.count * 9 / 10]
        return Check("the stack kept up with the clock", median <= limit,
                     String(format: "calls reached Dispatch a median %.1f s (p90 %.1f s) of simulated time after they were made", median, p90)
                        + ", at \(pace(facts))" + String(format: " (at most %.0f s)", limit) + (median <= limit ? "" : "; run it slower: every time measured is stretched"))
    }

    /// The clock's pace as a run had it.
    static func pace(_ facts: RunFacts) -> String {
        let average = facts.wallSeconds > 0 ? facts.simulatedSeconds / facts.wallSeconds : 0
        return facts.scenario.adaptive ? String(format: "%.0f× on average (adaptive, at most %.0f×)", average, facts.scenario.factor)
            : String(format: "%.0f×", facts.scenario.factor)
    }

    static func situationOnce(_ facts: RunFacts, total: Int) -> Check {
        let own = answered(facts).count
        return Check("every incident recorded once by Situation", total == own, "Situation counts \(total), Dispatch has \(own) (linked calls aside)")
    }

    /// Share of calls (linked aside) with a unit on scene within 1, 3 and 5 minutes.
    public static func responseShares(_ facts: RunFacts) -> [Int: Double] {
        let own = answered(facts)
        var shares: [Int: Double] = [:]
        for minutes in [1, 3, 5] {
            let within = own.filter { $0.onScene > 0 && $0.onScene - $0.received <= Int64(minutes) * 60_000 }.count
            shares[minutes] = own.isEmpty ? 0 : Double(within) / Double(own.count)
        }
        return shares
    }

    static func percent(_ share: Double) -> String { String(format: "%.1f%%", share * 100) }
    static func seconds(_ milliseconds: Int64) -> String { "\(milliseconds / 1_000) s" }
}
