import Foundation
import Synchronization
import XunfangGeo
import XunfangPluginKit
import CheckpointControlContract

/// Seal plans and their activations over the store: plans put, imported, exported,
/// checked and drafted; an activation's orders, acknowledgements, deadlines, escalations
/// and stand-down, each change written with its announcements in one transaction
/// (`Registry.transact`), so a restart finds the board as it was.
final class SealDesk: Sendable {
    let registry: Registry
    let book: PlanBook
    let settings: SealRun.Settings
    /// The city's plans that order counties (nil outside a city).
    let citySeals: CitySeals?
    /// Arc seconds for each mode, for units' road times.
    private let weights: [TravelMode: [Double]]
    /// Road seconds to each position's node, by mode (`secondsToNode`).
    private let toTargets = Mutex<[Target: [Float]]>([:])
    /// Each plan's standbys from its last readiness, by position id.
    private let standbys = Mutex<[String: [String: String]]>([:])
    static let maxUnits = 500

    /// Whether readiness asks units to stand by for positions it finds uncovered.
    let asksStandbys: Bool

    init(registry: Registry, settings: SealRun.Settings = SealRun.Settings(), citySeals: CitySeals? = nil, asksStandbys: Bool = true) {
        self.registry = registry
        self.asksStandbys = asksStandbys
        book = PlanBook(rings: registry.roads)
        self.settings = settings
        self.citySeals = citySeals
        weights = Dictionary(uniqueKeysWithValues: TravelMode.allCases.map { ($0, registry.roads.roads.weights(.time($0), speeds: registry.roads.speeds)) })
    }

    var store: CheckpointStore { registry.store }
    var now: Int64 { registry.now() }

    // MARK: Plans

    func putPlan(_ request: Xunfang_Checkpoint_V1_PutPlanRequest, caller: String) throws -> Xunfang_Checkpoint_V1_PutPlanResponse {
        try Registry.checkOfficer(request.officer)
        let resolved = try book.resolve(request.plan, checkpoint: store.checkpoint)
        try book.requireSealed(resolved)
        var plan = resolved.plan
        plan.updatedAt = now
        plan.updatedBy = Registry.who(caller, request.officer)
        let created = try registry.transact { changes in
            let known = try store.plan(plan.id) != nil
            changes.plans = [plan]
            return !known
        }
        return .with {
            $0.plan = plan
            $0.created = created
        }
    }

    func importPlan(_ request: Xunfang_Checkpoint_V1_ImportPlanRequest, caller: String) throws -> Xunfang_Checkpoint_V1_PutPlanResponse {
        let plan = try PlanBook.plan(geoJSON: request.geojson)
        return try putPlan(.with {
            $0.plan = plan
            $0.officer = request.officer
        }, caller: caller)
    }

    func plan(_ id: String) throws -> SealPlan {
        if let cityPlan = citySeals?.plan(id) { return cityPlan }
        guard let plan = try store.plan(id) else { throw BusClientError(.notFound, "no seal plan \(id.prefix(64))") }
        return plan
    }

    func exportPlan(_ request: Xunfang_Checkpoint_V1_PlanRequest) throws -> Xunfang_Checkpoint_V1_ExportPlanResponse {
        let plan = try plan(request.id)
        return .with { $0.geojson = PlanBook.geoJSON(plan) }
    }

    func listPlans() throws -> Xunfang_Checkpoint_V1_ListPlansResponse {
        try .with { $0.plans = (citySeals?.allPlans ?? []) + (try store.plans()) }
    }

    func checkPlan(_ plan: SealPlan) throws -> Xunfang_Checkpoint_V1_CheckPlanResponse {
        book.report(try book.resolve(plan, checkpoint: store.checkpoint))
    }

    func draftPlan(_ plan: SealPlan) throws -> SealPlan {
        try book.draft(plan, registry: try store.checkpoints())
    }

    // MARK: Activation

    func isRunning(plan: String) throws -> Bool {
        try store.runningActivations().contains { $0.plan == plan }
    }

    /// The running activation of `plan` whose reason starts with `reasonPrefix`, if any.
    func running(plan: String, reasonPrefix: String) throws -> String? {
        try store.runningActivations().first { $0.plan == plan && $0.reason.hasPrefix(reasonPrefix) }?.id
    }

    /// Activates a plan with the request's units (the plugin fills in Dispatch's available ones when it names none).
    func activate(_ request: Xunfang_Checkpoint_V1_ActivateRequest, caller: String) async throws -> SealActivation {
        try Registry.checkOfficer(request.officer)
        guard request.reason.utf8.count <= 256 else { throw BusClientError(.invalidArgument, "reason is longer than 256 bytes") }
        guard request.units.count <= Self.maxUnits else { throw BusClientError(.invalidArgument, "more than \(Self.maxUnits) units") }
        if let counties = citySeals?.plans[request.plan] { return try activateCity(request, counties: counties, caller: caller) }
        let plan = try plan(request.plan)
        var units = request.units
        var travellers: [Traveller] = []
        for (index, unit) in units.enumerated() {
            guard (1...64).contains(unit.id.utf8.count) else { throw BusClientError(.invalidArgument, "units[\(index)]: id must be 1 to 64 bytes") }
            let node = try registry.roads.node(unit.node, unit.longitude, unit.latitude, what: "units[\(index)] (\(unit.id))")
            let mode = try registry.roads.mode(unit.mode, what: "units[\(index)] (\(unit.id)) mode")
            units[index].node = registry.roads.roads.nodeIDs[node]
            units[index].mode = mode.rawValue
            travellers.append(Traveller(node: node, mode: mode))
        }
        guard Set(units.map(\.id)).count == units.count else { throw BusClientError(.invalidArgument, "a unit appears twice") }
        let found = travellers
        let eta = try await onOwnThread { [self] in try roadTimes(to: plan, from: found) }
        let who = Registry.who(caller, request.officer)
        return try registry.transact { changes in
            let base = try newActivation(of: plan, request, units: units, by: who)
            let (run, effects) = SealRun.activate(base, needs: try needs(of: plan), eta: eta, settings: settings)
            try apply(run.activation, effects, by: who, into: &changes)
            return run.activation
        }
    }

    /// A city plan's activation: its board (which the bridge carries to the counties) is the order.
    private func activateCity(_ request: Xunfang_Checkpoint_V1_ActivateRequest, counties: [String], caller: String) throws -> SealActivation {
        guard request.units.isEmpty else { throw BusClientError(.invalidArgument, "city plan \(request.plan) orders counties, not units") }
        let plan = try plan(request.plan)
        let who = Registry.who(caller, request.officer)
        return try registry.transact { changes in
            let activation = CitySeals.activate(try newActivation(of: plan, request, units: [], by: who), counties: counties)
            try apply(activation, [], by: who, into: &changes)
            return activation
        }
    }

    /// The next activation of `plan`, before any order; refused while one is running. Inside a transaction.
    private func newActivation(of plan: SealPlan, _ request: Xunfang_Checkpoint_V1_ActivateRequest, units: [Xunfang_Checkpoint_V1_RingUnit],
                               by who: String) throws -> SealActivation {
        if let running = try store.runningActivations().first(where: { $0.plan == plan.id }) {
            throw BusClientError(.failedPrecondition, "plan \(plan.id) is already active (activation \(running.id)); stand it down first")
        }
        // Numbered per plan; a failed count must not reuse an id (the row would be replaced).
        let number = try store.activationCount(plan: plan.id) + 1
        return .with {
            $0.id = "\(plan.id)-\(number)"
            $0.plan = plan.id
            $0.planName = plan.name
            $0.drill = request.drill
            $0.activatedAt = now
            $0.activatedBy = who
            $0.reason = request.reason
            $0.targetSeconds = plan.targetSeconds
            $0.units = units
        }
    }

    /// A county's board answering the city's activation `cityActivation`: its first
    /// "sealing" is noted on the city's timeline, its "sealed" puts the county in position
    /// (the city's board is sealed when every county is). Repeats change nothing.
    func countyReported(_ board: SealActivation, county: String, cityActivation: String) throws {
        try registry.transact { changes in
            guard let current = try store.activation(cityActivation), current.state != .stoodDown,
                  citySeals?.plans[current.plan]?.contains(county) == true else { return }
            var run = SealRun(current, settings: settings)
            switch board.state {
            case .sealing:
                guard run.noteOnce("county-activated", position: county, at: now, detail: board.id) else { return }
                try apply(run.activation, [], by: county, into: &changes)
            case .sealed:
                guard let answer = try? run.acknowledge(position: county, by: county, at: now), !answer.duplicate else { return }
                try apply(run.activation, answer.effects, by: county, into: &changes)
            default:
                return
            }
        }
    }

    func acknowledge(_ request: Xunfang_Checkpoint_V1_AcknowledgeRequest, caller: String) throws -> Xunfang_Checkpoint_V1_AcknowledgeResponse {
        try Registry.checkOfficer(request.officer)
        return try registry.transact { changes in
            var run = SealRun(try activation(request.activation, requireID: true), settings: settings)
            let now = self.now
            guard let pressed = PressTime.kept(request.at, after: run.activation.activatedAt, now: now) else {
                throw BusClientError(.invalidArgument, PressTime.refusal(request.at, now: now))
            }
            let answer: (position: SealPosition, duplicate: Bool, effects: [SealEffect])
            do throws(SealRun.Refusal) {
                answer = try run.acknowledge(position: request.position, by: request.responder, at: pressed)
            } catch {
                throw Self.busError(error, activation: run.activation.id)
            }
            if !answer.duplicate { try apply(run.activation, answer.effects, by: Registry.who(caller, request.officer), into: &changes) }
            return .with {
                $0.position = answer.position
                $0.duplicate = answer.duplicate
            }
        }
    }

    func board(_ request: Xunfang_Checkpoint_V1_SealBoardRequest) throws -> SealActivation {
        try activation(request.activation, requireID: false)
    }

    func standDown(_ request: Xunfang_Checkpoint_V1_StandDownRequest, caller: String) throws -> SealActivation {
        try Registry.checkOfficer(request.officer)
        guard request.reason.utf8.count <= 256 else { throw BusClientError(.invalidArgument, "reason is longer than 256 bytes") }
        let who = Registry.who(caller, request.officer)
        return try registry.transact { changes in
            var run = SealRun(try activation(request.activation, requireID: true), settings: settings)
            let effects: [SealEffect]
            do throws(SealRun.Refusal) {
                effects = try run.standDown(at: now, by: who, reason: request.reason)
            } catch {
                throw Self.busError(error, activation: run.activation.id)
            }
            try apply(run.activation, effects, by: who, into: &changes)
            return run.activation
        }
    }

    func afterAction(_ request: Xunfang_Checkpoint_V1_AfterActionRequest) throws -> Xunfang_Checkpoint_V1_AfterActionReport {
        AfterAction.report(try activation(request.activation, requireID: false))
    }

    /// Passes on or escalates every position whose deadline has come.
    func tick() throws {
        let due = try store.runningActivations().filter { SealRun($0).nextDeadline.map { $0 <= now } ?? false }
        guard !due.isEmpty else { return }
        try registry.transact { changes in
            for stored in due {
                // Read again under the lock: an acknowledgement may have come in since.
                guard let current = try store.activation(stored.id) else { continue }
                var run = SealRun(current, settings: settings)
                if citySeals?.plans[current.plan] != nil {
                    // A county cannot be passed on to another: it goes to the city's duty officer.
                    let effects = run.escalateOverdue(at: now, reason: "the county has not reported sealed by the target")
                    if !effects.isEmpty { try apply(run.activation, effects, by: "checkpoint", into: &changes) }
                    continue
                }
                let travellers = run.activation.units.map {
                    Traveller(node: registry.roads.roads.node(osmID: $0.node) ?? 0, mode: TravelMode(rawValue: $0.mode) ?? .car)
                }
                let effects = run.tick(at: now) { position in
                    roadTimes(to: registry.roads.roads.node(osmID: position.node) ?? 0, from: travellers)
                }
                if !effects.isEmpty { try apply(run.activation, effects, by: "checkpoint", into: &changes) }
            }
        }
    }

    // MARK: Readiness

    /// Every plan not running (or `only`), as it would go with `units` now; the standbys
    /// each asks for are kept for the next assessment. Runs searches: off the connection's threads.
    /// Whether some plan is drafted and not running: one a readiness assessment is for.
    func hasIdlePlans() throws -> Bool {
        let running = Set(try store.runningActivations().map(\.plan))
        return try store.plans().contains { !running.contains($0.id) }
    }

    /// Each idle plan's readiness against `units`; `keep`: the standbys it asks for become the
    /// ones the next assessment holds to (the minute's publication; an RPC only reads).
    func readiness(units: [Xunfang_Checkpoint_V1_RingUnit], only: String = "", keep: Bool = false) throws -> [SealReadiness] {
        let running = Set(try store.runningActivations().map(\.plan))
        let plans = try store.plans().filter { (only.isEmpty || $0.id == only) && !running.contains($0.id) }
        if !only.isEmpty, plans.isEmpty {
            guard try store.plan(only) != nil else { throw BusClientError(.notFound, "no seal plan \(only.prefix(64))") }
            throw BusClientError(.failedPrecondition, "plan \(only) is active: its board says where each position stands")
        }
        var travellers: [Traveller] = [], ids: [String] = []
        for unit in units {
            guard let node = try? registry.roads.node(unit.node, unit.longitude, unit.latitude, what: unit.id),
                  let mode = try? registry.roads.mode(unit.mode, what: unit.id) else { continue }
            travellers.append(Traveller(node: node, mode: mode))
            ids.append(unit.id)
        }
        let now = self.now
        return try plans.map { plan in
            let eta = try roadTimes(to: plan, from: travellers)
            let readiness = Readiness.assess(plan, needs: try needs(of: plan), eta: eta, units: ids, standbys: standbys.withLock { $0[plan.id] ?? [:] },
                                               at: now, asksStandbys: asksStandbys)
            if keep { standbys.withLock { $0[plan.id] = Readiness.standbys(readiness) } }
            return readiness
        }
    }

    // MARK: Helpers

    /// What each of the plan's positions needs: its staffed checkpoint, or a unit.
    private func needs(of plan: SealPlan) throws -> [SealRun.Need] {
        try plan.positions.map { position in
            let record = position.checkpoint.isEmpty ? nil : try store.checkpoint(position.checkpoint)
            return SealRun.Need(
                position: .with {
                    $0.id = position.id
                    $0.name = position.name
                    $0.checkpoint = position.checkpoint
                    $0.node = position.node
                    $0.longitude = position.longitude
                    $0.latitude = position.latitude
                },
                checkpointReady: record.map { $0.status != .unstaffed } ?? false,
                preferredUnit: position.unit.isEmpty ? nil : position.unit)
        }
    }

    /// Road times from every unit to every position of the plan: one backward search a position.
    private func roadTimes(to plan: SealPlan, from units: [Traveller]) throws -> [[Double]] {
        try plan.positions.map { roadTimes(to: try registry.roads.node($0.node, 0, 0, what: "plan \(plan.id) position \($0.id)"), from: units) }
    }

    private func activation(_ id: String, requireID: Bool) throws -> SealActivation {
        guard !(requireID && id.isEmpty) else { throw BusClientError(.invalidArgument, "activation is empty") }
        guard let activation = try store.activation(id) else {
            throw BusClientError(.notFound, id.isEmpty ? "no plan has been activated" : "no activation \(id.prefix(64))")
        }
        return activation
    }

    /// The activation and its effects as rows and outbox messages: orders and escalations
    /// on durable topics, the board on "checkpoint.seal", registry statuses the machine allows.
    private func apply(_ activation: SealActivation, _ effects: [SealEffect], by who: String, into changes: inout CheckpointStore.Changes) throws {
        let stamp = "\(activation.id)-\(activation.timeline.count)"
        let isCity = citySeals?.plans[activation.plan] != nil
        for (index, effect) in effects.enumerated() {
            switch effect {
            case .order(let responder, let order):
                // A city's counties follow its board; they have no order topic on the city's bus.
                guard !isCity else { continue }
                changes.outbox.append(("checkpoint.order.\(Topic.token(responder))", try order.serializedData(), "\(stamp)-\(index)"))
            case .escalation(let escalation):
                changes.outbox.append(("checkpoint.escalation", try escalation.serializedData(), "\(stamp)-\(index)"))
            case .status(let id, let status, let reason):
                guard var record = try store.checkpoint(id), StatusMachine.refusal(from: record.status, to: status) == nil else { continue }
                _ = try registry.change(&record, to: status, by: who, reason: reason, into: &changes)
            }
        }
        changes.activations.append(activation)
        changes.outbox.append(("checkpoint.seal", try activation.serializedData(), "\(stamp)-board"))
    }

    struct Traveller {
        var node: Int
        var mode: TravelMode
    }

    /// Each unit's road seconds in its mode to `target` (infinity where it cannot get there within an hour).
    func roadTimes(to target: Int, from units: [Traveller]) -> [Double] {
        var times = [Double](repeating: .infinity, count: units.count)
        for mode in Set(units.map(\.mode)) {
            let costs = secondsToNode(target, mode: mode)
            for (index, unit) in units.enumerated() where unit.mode == mode { times[index] = Double(costs[unit.node]) }
        }
        return times
    }

    struct Target: Hashable {
        let node: Int
        let mode: TravelMode
    }

    /// Road seconds from every node to `target` in `mode`: one backward search, kept (a plan's
    /// positions do not move, and readiness asks about them every minute). At most
    /// `keptTargets` are kept, about 240 KB each on the demo county's roads.
    private func secondsToNode(_ target: Int, mode: TravelMode) -> [Float] {
        let key = Target(node: target, mode: mode)
        if let kept = toTargets.withLock({ $0[key] }) { return kept }
        let search = ShortestPathSearch(graph: registry.roads.roads, weights: weights[mode]!, direction: .backward, recordsPaths: false)
        search.run(from: [(target, 0)], limit: 3_600)
        var seconds = [Float](repeating: .infinity, count: registry.roads.roads.nodeCount)
        for node in search.reached { seconds[node] = Float(search.cost(node)) }
        toTargets.withLock { kept in
            if kept.count >= Self.keptTargets { kept.removeAll() }
            kept[key] = seconds
        }
        return seconds
    }

    static let keptTargets = 200

    static func busError(_ refusal: SealRun.Refusal, activation: String) -> BusClientError {
        switch refusal {
        case .ended: BusClientError(.failedPrecondition, "activation \(activation) has been stood down")
        case .unknownPosition(let id): BusClientError(.notFound, "activation \(activation) has no position \(id.prefix(64))")
        case .notOrdered(let position, let responder, let ordered):
            BusClientError(.permissionDenied, "\(responder.prefix(64)) was not ordered to position \(position) (ordered: \(ordered.filter { !$0.isEmpty }.joined(separator: ", ")))")
        }
    }
}
