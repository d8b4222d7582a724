import CheckpointControlContract

typealias SealActivation = Xunfang_Checkpoint_V1_SealActivation
typealias SealPosition = Xunfang_Checkpoint_V1_SealPosition

/// What a change to an activation asks the world to do; the desk writes each with the
/// activation in one transaction.
enum SealEffect: Equatable {
    /// An order (or a stand-down) on the responder's durable topic.
    case order(responder: String, Xunfang_Checkpoint_V1_SealOrder)
    /// Put to the duty officer on "checkpoint.escalation".
    case escalation(Xunfang_Checkpoint_V1_SealEscalation)
    /// A registry checkpoint's status, for a real (not drill) seal.
    case status(checkpoint: String, to: Xunfang_Checkpoint_V1_CheckpointStatus, reason: String)
}

/// A seal plan's activation as a state machine over `SealActivation` (the live board):
/// orders out, "in position" in, passing a late position on to the next nearest free
/// unit, escalation when none is left, stand-down. Pure: the clock, the units' road times
/// and identifiers come in as values, effects go out.
struct SealRun {
    struct Settings {
        /// How often a position passes to another unit before it goes to the duty officer.
        var maxPassOns = 2
        /// A passed-on unit's deadline: its road time plus this, and never less than `minimumPassOnMilliseconds`.
        var graceMilliseconds: Int64 = 60_000
        var minimumPassOnMilliseconds: Int64 = 60_000
    }

    /// Where a position's responder comes from: a checkpoint already at its node, or units by road time.
    struct Need {
        var position: SealPosition
        /// The checkpoint holding the node is staffed and can take the order itself.
        var checkpointReady: Bool
        /// The call sign the plan asks for, when it is among the units.
        var preferredUnit: String?
    }

    var activation: SealActivation
    let settings: Settings

    init(_ activation: SealActivation, settings: Settings = Settings()) {
        self.activation = activation
        self.settings = settings
    }

    // MARK: Activation

    /// Orders every position at `now`: a ready checkpoint holds its own node; the other
    /// positions get distinct units so that the latest arrival is as early as possible
    /// (bottleneck assignment). `eta[p][u]`: unit u's road seconds to need p's node.
    static func activate(_ base: SealActivation, needs: [Need], eta: [[Double]], settings: Settings = Settings()) -> (SealRun, [SealEffect]) {
        var run = SealRun(base, settings: settings)
        run.activation.state = .sealing
        let start = base.activatedAt
        run.event("activated", at: start, detail: base.drill ? "drill" : base.reason)
        var effects: [SealEffect] = []
        let unitNeeds = needs.indices.filter { !needs[$0].checkpointReady }
        let assigned = Self.assign(unitNeeds.map { need in eta[need] }, preferred: unitNeeds.map { needs[$0].preferredUnit },
                                   units: base.units.map(\.id))
        // Need index → the unit it was given.
        let assignment = Dictionary(uniqueKeysWithValues: zip(unitNeeds, assigned)).compactMapValues { $0 }
        for (index, need) in needs.enumerated() {
            var position = need.position
            if need.checkpointReady {
                run.order(&position, to: position.checkpoint, at: start, eta: 0, deadline: start + Int64(base.targetSeconds) * 1_000, effects: &effects)
                if !base.drill { effects.append(.status(checkpoint: position.checkpoint, to: .alert, reason: "seal \(base.id)")) }
            } else {
                if !position.checkpoint.isEmpty { position.passedOver.append(position.checkpoint) }
                if let unit = assignment[index] {
                    let seconds = eta[index][unit]
                    run.order(&position, to: base.units[unit].id, at: start, eta: seconds, deadline: run.unitDeadline(eta: seconds, from: start), effects: &effects)
                } else {
                    run.activation.positions.append(position)
                    run.escalate(run.activation.positions.count - 1, at: start, reason: "no unit can reach it", effects: &effects)
                    continue
                }
            }
            run.activation.positions.append(position)
        }
        return (run, effects)
    }

    /// A unit's deadline: the plan's target, or its road time and the grace when that is later.
    private func unitDeadline(eta seconds: Double, from start: Int64) -> Int64 {
        start + max(Int64(activation.targetSeconds) * 1_000, Int64(seconds * 1_000) + settings.graceMilliseconds)
    }

    private mutating func order(_ position: inout SealPosition, to responder: String, at now: Int64, eta: Double, deadline: Int64,
                                effects: inout [SealEffect]) {
        position.responder = responder
        position.orderedAt = now
        position.deadline = deadline
        position.etaSeconds = eta
        position.state = .ordered
        event("ordered", at: now, position: position.id, responder: responder, detail: eta > 0 ? "road time \(Int(eta.rounded())) s" : "")
        effects.append(.order(responder: responder, orderMessage(position)))
    }

    private func orderMessage(_ position: SealPosition, standDown: Bool = false) -> Xunfang_Checkpoint_V1_SealOrder {
        .with {
            $0.activation = activation.id
            $0.planName = activation.planName
            $0.drill = activation.drill
            $0.position = position
            $0.standDown = standDown
        }
    }

    /// Distinct units for the needs, minimising the latest road time; a preferred unit
    /// is kept where given. Nil for a need no unit can take.
    static func assign(_ eta: [[Double]], preferred: [String?], units: [String]) -> [Int?] {
        var taken = Set<Int>(), result = [Int?](repeating: nil, count: eta.count)
        for (need, name) in preferred.enumerated() {
            if let name, let unit = units.firstIndex(of: name), !taken.contains(unit), eta[need][unit].isFinite {
                result[need] = unit
                taken.insert(unit)
            }
        }
        let open = eta.indices.filter { result[$0] == nil }
        let limits = Set(open.flatMap { need in eta[need].enumerated().filter { !taken.contains($0.offset) && $0.element.isFinite }.map(\.element) }).sorted()
        guard let largest = limits.last else { return result }
        let most = match(open, eta: eta, taken: taken, limit: largest).count
        // The smallest limit at which as many needs are matched as with every unit.
        var low = 0, high = limits.count - 1
        while low < high {
            let middle = (low + high) / 2
            if match(open, eta: eta, taken: taken, limit: limits[middle]).count == most { high = middle } else { low = middle + 1 }
        }
        for (need, unit) in match(open, eta: eta, taken: taken, limit: limits[low]) { result[need] = unit }
        return result
    }

    /// A maximum matching of needs to untaken units within `limit` seconds (augmenting paths).
    private static func match(_ needs: [Int], eta: [[Double]], taken: Set<Int>, limit: Double) -> [Int: Int] {
        var owner: [Int: Int] = [:]
        func augment(_ need: Int, _ seen: inout Set<Int>) -> Bool {
            let candidates = eta[need].indices.filter { !taken.contains($0) && eta[need][$0] <= limit }.sorted { eta[need][$0] < eta[need][$1] }
            for unit in candidates where seen.insert(unit).inserted {
                if let holder = owner[unit] {
                    guard augment(holder, &seen) else { continue }
                }
                owner[unit] = need
                return true
            }
            return false
        }
        for need in needs {
            var seen = Set<Int>()
            _ = augment(need, &seen)
        }
        return Dictionary(uniqueKeysWithValues: owner.map { ($0.value, $0.key) })
    }

    // MARK: Changes

    enum Refusal: Error, Equatable {
        case unknownPosition(String)
        case notOrdered(position: String, responder: String, ordered: [String])
        case ended
    }

    /// "In position" from a responder ordered to the position (the current one, or one it
    /// was passed on from: whoever is there holds it), at the moment it was pressed. The
    /// first acknowledgement stands.
    mutating func acknowledge(position id: String, by responder: String, at now: Int64) throws(Refusal) -> (position: SealPosition, duplicate: Bool, effects: [SealEffect]) {
        guard activation.state != .stoodDown else { throw .ended }
        guard let index = activation.positions.firstIndex(where: { $0.id == id }) else { throw .unknownPosition(id) }
        var position = activation.positions[index]
        let ordered = position.passedOver + [position.responder]
        guard ordered.contains(responder) else { throw .notOrdered(position: id, responder: responder, ordered: ordered) }
        if position.state == .inPosition { return (position, true, []) }
        position.state = .inPosition
        position.inPositionAt = now
        position.acknowledgedBy = responder
        position.secondsToSeal = Double(now - activation.activatedAt) / 1_000
        position.late = position.secondsToSeal > Double(activation.targetSeconds)
        activation.positions[index] = position
        activation.inPosition += 1
        event("in-position", at: now, position: id, responder: responder, detail: String(format: "%.0f s", position.secondsToSeal))
        var effects: [SealEffect] = []
        if !activation.drill, responder == position.checkpoint {
            effects.append(.status(checkpoint: position.checkpoint, to: .sealed, reason: "seal \(activation.id)"))
        }
        if activation.state == .sealing, activation.positions.allSatisfy({ $0.state == .inPosition }) {
            // A press sent late keeps its time: the last position in may not be the last to arrive.
            let sealedAt = activation.positions.map(\.inPositionAt).max() ?? now
            activation.state = .sealed
            activation.sealedAt = sealedAt
            event("sealed", at: sealedAt, detail: String(format: "%.0f s", Double(sealedAt - activation.activatedAt) / 1_000))
        }
        return (position, false, effects)
    }

    /// Passes every position whose deadline has come on to the nearest free unit, or puts
    /// it to the duty officer when passes are used up or no unit is free. `eta(p)`: each
    /// unit's road seconds to position p's node.
    mutating func tick(at now: Int64, eta: (SealPosition) -> [Double]) -> [SealEffect] {
        guard activation.state == .sealing else { return [] }
        var effects: [SealEffect] = []
        for index in activation.positions.indices where activation.positions[index].state == .ordered && activation.positions[index].deadline <= now {
            var position = activation.positions[index]
            let busy = Set(activation.positions.flatMap { $0.passedOver + [$0.responder] })
            let times = eta(position)
            let free = activation.units.indices.filter { !busy.contains(activation.units[$0].id) && times[$0].isFinite }
            guard position.passedOver.count < settings.maxPassOns, let next = free.min(by: { times[$0] < times[$1] }) else {
                let reason = position.passedOver.count >= settings.maxPassOns ? "passed on \(settings.maxPassOns) times" : "no free unit left to send"
                escalate(index, at: now, reason: reason, effects: &effects)
                continue
            }
            event("passed-on", at: now, position: position.id, responder: position.responder, detail: "not in position by the deadline")
            position.passedOver.append(position.responder)
            let deadline = now + max(settings.minimumPassOnMilliseconds, Int64(times[next] * 1_000) + settings.graceMilliseconds)
            order(&position, to: activation.units[next].id, at: now, eta: times[next], deadline: deadline, effects: &effects)
            activation.positions[index] = position
        }
        return effects
    }

    /// Puts every ordered position past its deadline to the duty officer, with no pass-on
    /// (a city's county has no one to pass to).
    mutating func escalateOverdue(at now: Int64, reason: String) -> [SealEffect] {
        guard activation.state == .sealing else { return [] }
        var effects: [SealEffect] = []
        for index in activation.positions.indices where activation.positions[index].state == .ordered && activation.positions[index].deadline <= now {
            escalate(index, at: now, reason: reason, effects: &effects)
        }
        return effects
    }

    /// Adds an event of `kind` for `position` unless one is there; true when added.
    mutating func noteOnce(_ kind: String, position: String, at now: Int64, detail: String) -> Bool {
        guard !activation.timeline.contains(where: { $0.kind == kind && $0.position == position }) else { return false }
        event(kind, at: now, position: position, detail: detail)
        return true
    }

    private mutating func escalate(_ index: Int, at now: Int64, reason: String, effects: inout [SealEffect]) {
        activation.positions[index].state = .escalated
        let position = activation.positions[index]
        event("escalated", at: now, position: position.id, responder: position.responder, detail: reason)
        effects.append(.escalation(.with {
            $0.activation = activation.id
            $0.planName = activation.planName
            $0.drill = activation.drill
            $0.position = position
            $0.reason = reason
        }))
    }

    /// Ends the seal: every responder ordered is told to stand down; real checkpoints go to stand-down.
    mutating func standDown(at now: Int64, by who: String, reason: String) throws(Refusal) -> [SealEffect] {
        guard activation.state != .stoodDown else { throw .ended }
        activation.state = .stoodDown
        activation.endedAt = now
        activation.endedBy = who
        event("stood-down", at: now, responder: who, detail: reason)
        var effects: [SealEffect] = []
        for position in activation.positions {
            for responder in Set(position.passedOver + [position.responder]).sorted() where !responder.isEmpty {
                effects.append(.order(responder: responder, orderMessage(position, standDown: true)))
            }
            if !activation.drill, !position.checkpoint.isEmpty {
                effects.append(.status(checkpoint: position.checkpoint, to: .standDown, reason: "seal \(activation.id) stood down"))
            }
        }
        return effects
    }

    /// The soonest deadline still open.
    var nextDeadline: Int64? {
        activation.state == .sealing ? activation.positions.filter { $0.state == .ordered }.map(\.deadline).min() : nil
    }

    private mutating func event(_ kind: String, at time: Int64, position: String = "", responder: String = "", detail: String = "") {
        activation.timeline.append(.with {
            $0.at = time
            $0.kind = kind
            $0.position = position
            $0.responder = responder
            $0.detail = detail
        })
    }
}
