import Foundation
import Logging
import Synchronization
import XunfangGeo
import XunfangPluginKit
import CheckpointControlContract
import DispatchContract
import GridModelContract
import PatrolContract

/// The simulation on a bus: who is on duty (Patrol), where their stations are (Dispatch's
/// units, GridModel's station houses), orders from Dispatch's durable order topics, fixes
/// and actions through Patrol's terminal gateway, the way a county's mobile back end does.
struct Simulator: Sendable {
    static let orders = "dispatch.order.>"
    static let sealOrders = "checkpoint.order.>"
    static let sealConsumer = "terminal-seals"
    static let acknowledgeSeal = "/xunfang.checkpoint.v1.Checkpoint/Acknowledge"
    static let assignments = "patrol.assignment.>"
    /// The durable consumers of orders and assignments: after a restart, what it missed.
    static let orderConsumer = "terminal-orders"
    static let assignmentConsumer = "terminal-assignments"
    static let report = "/xunfang.patrol.v1.Patrol/Report"
    static let act = "/xunfang.patrol.v1.Patrol/Act"
    static let onDuty = "/xunfang.patrol.v1.Patrol/OnDuty"
    static let listUnits = "/xunfang.dispatch.v1.Dispatch/ListUnits"
    static let listSites = "/xunfang.grid_model.v1.GridModel/ListSites"
    static let calls = [report, act, onDuty, listUnits, listSites, acknowledgeSeal]
    /// How often the roster and the stations are read again.
    static let rosterEvery: Int64 = 60_000

    let map: RoadMap
    let settings: Simulation.Settings
    let interval: Duration
    let logger: Logger
    /// The officers' time: a harness run's simulated clock moves them as fast as it runs.
    var clock = PluginClock.real

    /// From the `TERMINAL_*` settings (see TerminalPlugin).
    init(context: PluginContext) throws {
        var settings = Simulation.Settings()
        settings.noiseMetres = try context.number("TERMINAL_NOISE_METRES", in: 0...100, default: 8, unit: "metres")
        settings.seed = UInt64(try context.number("TERMINAL_SEED", in: 0...Double(UInt32.max), default: 1, unit: "a whole number"))
        settings.scaleTimes(by: try context.number("TERMINAL_TIME_SCALE", in: 0.001...1, default: 1, unit: "a share of the officers' times"))
        settings.waitAtStation = try context.isOn("TERMINAL_WAIT_AT_STATION", default: false)
        if context.settings["TERMINAL_SCENE_EXPONENTIAL_MINUTES"]?.isEmpty == false {
            settings.sceneExponentialSeconds = try context.number("TERMINAL_SCENE_EXPONENTIAL_MINUTES", in: 0.1...600, default: 0, unit: "minutes") * 60
        }
        let roads = context.settings["TERMINAL_ROADS"] ?? ""
        let graph: RoadGraph
        do {
            graph = roads.isEmpty ? SyntheticRoads.county(.demoCounty) : try GraphFile.read(from: roads)
        } catch {
            throw SettingError("TERMINAL_ROADS: \(error)")
        }
        let interval = try context.number("TERMINAL_INTERVAL_SECONDS", in: 1...60, default: 5, unit: "seconds")
        self.init(map: RoadMap(graph: graph), settings: settings, interval: .seconds(interval), logger: context.logger)
        clock = context.clock
    }

    init(map: RoadMap, settings: Simulation.Settings, interval: Duration, logger: Logger) {
        self.map = map
        self.settings = settings
        self.interval = interval
        self.logger = logger
    }

    /// What the ticks made and the senders have not sent yet, in two lanes. Presses for
    /// Dispatch (acknowledge, arrive, clear, back in service, in position) go at once, each
    /// in turn: an acknowledgement queued behind a batch of fixes would miss its deadline
    /// on a fast simulated clock. Fixes, and the check-ins judged against them, go after
    /// them in batches; fixes beyond `maxPings` (a bus far behind) are dropped oldest first
    /// and counted; presses never are.
    final class Uplink: Sendable {
        struct Batch: Sendable {
            var pings: [Simulation.Ping] = []
            var checkIns: [Simulation.Press] = []
            var dropped = 0
        }

        static let maxPings = 50_000
        private let queue = Mutex(Batch())
        let wakeUps: AsyncStream<Void>
        private let wake: AsyncStream<Void>.Continuation
        let presses: AsyncStream<Simulation.Press>
        private let press: AsyncStream<Simulation.Press>.Continuation

        init() {
            (wakeUps, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            (presses, press) = AsyncStream.makeStream(of: Simulation.Press.self)
        }

        func hand(_ pings: [Simulation.Ping], _ presses: [Simulation.Press]) {
            for item in presses where !item.isCheckIn { press.yield(item) }
            queue.withLock { batch in
                batch.pings += pings
                let over = batch.pings.count - Self.maxPings
                if over > 0 {
                    batch.pings.removeFirst(over)
                    batch.dropped += over
                }
                batch.checkIns += presses.filter(\.isCheckIn)
            }
            wake.yield()
        }

        func take() -> Batch { queue.withLock { batch in defer { batch = Batch() }; return batch } }
    }

    /// The simulation shared by the order taker and the driver.
    final class Shared: Sendable {
        let state: Mutex<Simulation>
        init(_ simulation: Simulation) { state = Mutex(simulation) }
        func withLock<Result: Sendable>(_ body: (inout Simulation) -> Result) -> Result { state.withLock { body(&$0) } }
    }

    func run(on bus: BusClient) async throws {
        let simulation = Shared(Simulation(map: map, settings: settings))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await takeOrders(bus, simulation) }
            group.addTask { try await takeAssignments(bus, simulation) }
            group.addTask {
                do {
                    try await takeSealOrders(bus, simulation)
                } catch {
                    // A county without CheckpointControl's durable orders: the terminals drive on without seals.
                    logger.warning("seal orders are not available; terminals answer Dispatch's orders only", metadata: ["xunfang.error": "\(error)"])
                    while !Task.isCancelled { try? await Task.sleep(for: .seconds(60)) }
                }
            }
            group.addTask { try await drive(bus, simulation) }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Orders into the simulation; an order whose deadline passed while this was down, and
    /// an alert for information only, are taken and let be.
    func takeOrders(_ bus: BusClient, _ simulation: Shared) async throws {
        try await bus.consume(Self.orders, as: Xunfang_Dispatch_V1_Order.self, durable: Self.orderConsumer) { order, _ in
            let now = clock.now()
            if !order.incidentID.isEmpty, order.ackDeadline == 0 || order.ackDeadline > now {
                let scene = GeoPoint(longitude: order.incident.location.longitude, latitude: order.incident.location.latitude)
                _ = simulation.withLock {
                    $0.order(order.callSign, incident: order.incidentID, scene: scene, priority: Int(order.incident.priority), deadline: order.ackDeadline, now: now)
                }
            } else if order.incidentID.isEmpty, order.hasRelocateTo {
                simulation.withLock { $0.relocate(order.callSign, to: GeoPoint(longitude: order.relocateTo.longitude, latitude: order.relocateTo.latitude)) }
            }
        }
    }

    /// Seal orders into the simulation: a unit drives to its position, a staffed checkpoint
    /// holds its own node; a stand-down sends them back.
    func takeSealOrders(_ bus: BusClient, _ simulation: Shared) async throws {
        try await bus.consume(Self.sealOrders, as: Xunfang_Checkpoint_V1_SealOrder.self, durable: Self.sealConsumer) { order, _ in
            let responder = order.position.responder, now = clock.now()
            simulation.withLock { simulation in
                if order.standDown {
                    simulation.standDown(responder, activation: order.activation)
                } else if !order.position.checkpoint.isEmpty, order.position.checkpoint == responder {
                    simulation.hold(checkpoint: responder, activation: order.activation, position: order.position.id, now: now)
                } else {
                    _ = simulation.post(responder, activation: order.activation, position: order.position.id,
                                        at: GeoPoint(longitude: order.position.longitude, latitude: order.position.latitude))
                }
            }
        }
    }

    /// Assignments into the simulation: each unit patrols its must-patrol points and lines
    /// in turn and makes its dosage stops.
    func takeAssignments(_ bus: BusClient, _ simulation: Shared) async throws {
        try await bus.consume(Self.assignments, as: Xunfang_Patrol_V1_Assignment.self, durable: Self.assignmentConsumer) { assignment, _ in
            guard assignment.shiftEnd > clock.now() else { return }
            func point(_ position: Xunfang_GridModel_V1_Position) -> GeoPoint { GeoPoint(longitude: position.longitude, latitude: position.latitude) }
            let targets = assignment.points.map { [point($0.position)] } + assignment.lines.map { $0.path.isEmpty ? [point($0.position)] : $0.path.map(point) }
            let checkIns = assignment.points.map { Optional($0.siteID) } + assignment.lines.map { _ in nil as String? }
            let stops = assignment.stops.map { Simulation.Beat.Stop(position: point($0.position), start: $0.start, end: $0.start + Int64($0.minutes) * 60_000) }
            let standby = assignment.hasStandby ? point(assignment.standby.position) : nil
            simulation.withLock { $0.assign(assignment.callSign, Simulation.Beat(targets: targets, checkIns: checkIns, stops: stops, standby: standby)) }
        }
    }

    /// Every `interval`: the roster kept, every unit moved, its fixes and presses handed to the
    /// uplink. The officers' clock never waits on the bus: on a simulated clock running
    /// hundreds of times faster than the machine's, a tick that waited for Patrol's answer
    /// would let units drive on for a minute between fixes.
    func drive(_ bus: BusClient, _ simulation: Shared) async throws {
        let uplink = Uplink()
        let sender = Task { await send(uplink, bus, simulation) }
        defer { sender.cancel() }
        var onDuty = OnDuty(), readAt: Int64 = 0, last = clock.now()
        while !Task.isCancelled {
            let now = clock.now()
            if now - readAt >= Self.rosterEvery {
                do {
                    onDuty = try await onDutyUnits(bus)
                    // An empty roster (Patrol not yet seeded) is read again at the next tick.
                    if !onDuty.homes.isEmpty { readAt = now }
                } catch {
                    logger.debug("roster not read this time", metadata: ["xunfang.error": "\(error)"])
                }
            }
            let (pings, presses) = simulation.withLock { simulation in
                simulation.keep(onDuty: onDuty.homes, modes: onDuty.modes)
                return simulation.tick(now: now, seconds: Double(now - last) / 1_000)
            }
            last = now
            uplink.hand(pings, presses)
            try? await clock.sleep(for: interval)
        }
    }

    /// Sends what the ticks handed over: presses one by one as they come; fixes in batches,
    /// each batch's check-ins after its fixes (a check-in is judged against the newest fix).
    func send(_ uplink: Uplink, _ bus: BusClient, _ simulation: Shared) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await press in uplink.presses where !(await self.press(press, bus)) {
                    simulation.withLock { $0.abandon(press.callSign, refused: press.action) }
                }
            }
            group.addTask {
                for await _ in uplink.wakeUps {
                    let batch = uplink.take()
                    if batch.dropped > 0 {
                        logger.warning("fixes dropped: the bus took them slower than the terminals made them", metadata: ["xunfang.dropped": "\(batch.dropped)"])
                    }
                    await report(batch.pings, bus)
                    // A refused check-in (the fix too far from the point) leaves the patrol as it is.
                    for checkIn in batch.checkIns { _ = await self.press(checkIn, bus) }
                }
            }
        }
    }

    /// On-duty units: their stations' places (the county's middle when unknown) and how they move.
    struct OnDuty {
        var homes: [String: GeoPoint] = [:]
        var modes: [String: TravelMode] = [:]
    }

    func onDutyUnits(_ bus: BusClient) async throws -> OnDuty {
        let onDuty = try await bus.call(Self.onDuty, Xunfang_Patrol_V1_OnDutyRequest(), as: Xunfang_Patrol_V1_OnDutyResponse.self).onDuty
        let units = try await bus.call(Self.listUnits, Xunfang_Dispatch_V1_ListUnitsRequest(), as: Xunfang_Dispatch_V1_ListUnitsResponse.self).units
        var sites = Xunfang_GridModel_V1_ListSitesRequest()
        sites.kind = .stationHouse
        let houses = try await bus.call(Self.listSites, sites, as: Xunfang_GridModel_V1_ListSitesResponse.self).sites
        let stationPlace = Dictionary(houses.map { ($0.stationID, GeoPoint(longitude: $0.position.longitude, latitude: $0.position.latitude)) }, uniquingKeysWith: { first, _ in first })
        let known = Dictionary(units.map { ($0.callSign, $0) }, uniquingKeysWith: { first, _ in first })
        var result = OnDuty()
        for duty in onDuty {
            result.homes[duty.callSign] = known[duty.callSign].flatMap { stationPlace[$0.homeStation] } ?? map.projection.origin
            result.modes[duty.callSign] = known[duty.callSign]?.kind.travelModeName.flatMap(TravelMode.init(rawValue:)) ?? .car
        }
        return result
    }

    func report(_ pings: [Simulation.Ping], _ bus: BusClient) async {
        for start in stride(from: 0, to: pings.count, by: 5_000) {
            var request = Xunfang_Patrol_V1_ReportRequest()
            request.pings = pings[start..<min(start + 5_000, pings.count)].map { ping in
                var message = Xunfang_Patrol_V1_Ping()
                message.callSign = ping.callSign
                message.position.longitude = ping.position.longitude
                message.position.latitude = ping.position.latitude
                message.at = ping.at
                message.accuracyMetres = Float(settings.noiseMetres)
                return message
            }
            do {
                let answer = try await bus.call(Self.report, request, as: Xunfang_Patrol_V1_ReportResponse.self)
                if answer.refusedCount > 0 {
                    logger.debug("fixes refused", metadata: ["xunfang.refused": "\(answer.refusedCount)", "xunfang.first": "\(answer.refused.first?.reason ?? "")"])
                }
            } catch {
                logger.debug("fixes not reported", metadata: ["xunfang.error": "\(error)"])
            }
        }
    }

    /// Presses the action on the unit's terminal, stamped with when it was pressed; false
    /// when Dispatch refused it.
    func press(_ press: Simulation.Press, _ bus: BusClient) async -> Bool {
        let callSign = press.callSign
        if case .inPosition(let activation, let position) = press.action {
            return await reportInPosition(callSign, activation: activation, position: position, at: press.at, bus)
        }
        var request = Xunfang_Patrol_V1_ActRequest()
        request.callSign = callSign
        request.at = press.at
        switch press.action {
        case .acknowledge(let incident): (request.action, request.incidentID) = (.acknowledge, incident)
        case .arrive: request.action = .arrive
        case .clear(let incident): (request.action, request.incidentID) = (.clear, incident)
        case .backInService: request.action = .backInService
        case .checkIn(let site): (request.action, request.siteID) = (.checkIn, site)
        case .inPosition: return true
        }
        do {
            let answer = try await bus.call(Self.act, request, as: Xunfang_Patrol_V1_ActResponse.self)
            logger.info("terminal", metadata: ["xunfang.unit": "\(callSign)", "xunfang.action": "\(request.action)", "xunfang.note": "\(answer.note)"])
            return true
        } catch {
            logger.info("terminal action refused", metadata: ["xunfang.unit": "\(callSign)", "xunfang.action": "\(request.action)", "xunfang.error": "\(error)"])
            return false
        }
    }
}

extension Simulator {
    /// In position at a seal's position, through CheckpointControl.
    func reportInPosition(_ responder: String, activation: String, position: String, at: Int64, _ bus: BusClient) async -> Bool {
        var request = Xunfang_Checkpoint_V1_AcknowledgeRequest()
        request.activation = activation
        request.position = position
        request.responder = responder
        request.at = at
        request.officer = "terminal \(responder)"
        do {
            _ = try await bus.call(Self.acknowledgeSeal, request, as: Xunfang_Checkpoint_V1_AcknowledgeResponse.self)
            logger.info("in position", metadata: ["xunfang.unit": "\(responder)", "xunfang.seal": "\(activation)", "xunfang.position": "\(position)"])
            return true
        } catch {
            logger.info("in position refused", metadata: ["xunfang.unit": "\(responder)", "xunfang.error": "\(error)"])
            return false
        }
    }
}

/// `xunfang terminal simulate`: the same simulation from a shell, against a running stack,
/// as the ctl client, until interrupted.
enum SimulateCommand {
    static let usage = "usage: xunfang terminal simulate [--interval SECONDS] [--noise METRES] [--roads GRAPH] [--seed N] [--time-scale 0.001-1] [--data-dir DIR] [--bus ENDPOINT]"

    static func run(_ arguments: [String]) async -> Int32 {
        guard let options = commandOptions(arguments, allowed: ["--interval", "--noise", "--roads", "--seed", "--data-dir", "--bus"]) else { return fail(usage) }
        let names = ["--interval": "TERMINAL_INTERVAL_SECONDS", "--noise": "TERMINAL_NOISE_METRES", "--roads": "TERMINAL_ROADS", "--seed": "TERMINAL_SEED", "--time-scale": "TERMINAL_TIME_SCALE"]
        var logger = Logger(label: "terminal")
        logger.logLevel = .info
        do {
            let settings = Dictionary(uniqueKeysWithValues: options.compactMap { key, value in names[key].map { ($0, value) } })
            let simulator = try Simulator(context: PluginContext(instance: "terminal", dataDirectory: "", settings: settings, logger: logger))
            let bus = try await ToolConnection(options: options).connect()
            print("simulating the on-duty units' terminals every \(simulator.interval); Ctrl-C to stop")
            try await simulator.run(on: bus)
            return 0
        } catch {
            return fail("\(error)")
        }
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang terminal simulate: \(message)\n".utf8))
        return 1
    }
}
