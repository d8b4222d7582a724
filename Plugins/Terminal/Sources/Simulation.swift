import Foundation
import XunfangGeo

/// The county's terminals, simulated: every on-duty unit patrols its beat on the roads and
/// reports where it is (with GPS noise); an order is acknowledged after a while, the unit
/// drives to the scene, arrives, works the incident for a time that depends on its
/// priority, clears it and goes back in service. Pure and seeded: the same orders at the
/// same instants give the same drive, so the harness and the tests can replay it.
struct Simulation: Sendable {
    struct Settings: Sendable {
        /// Share of each road's car speed while patrolling (cruising, looking); to a scene: all of it.
        var patrolShare = 0.6
        /// How far from its station a unit patrols, metres.
        var beatMetres = 2_000.0
        /// GPS error, metres (the standard deviation of each coordinate's error).
        var noiseMetres = 8.0
        /// Seconds from an order to the officer's acknowledgement.
        var acknowledgeSeconds: ClosedRange<Double> = 8...25
        /// Seconds on scene by priority (1, 2, and any other).
        var serviceSeconds: [ClosedRange<Double>] = [1_200...2_400, 900...1_800, 600...1_200]
        /// Seconds from clearing to back in service.
        var backSeconds: ClosedRange<Double> = 30...120
        var seed: UInt64 = 1
    }

    enum Phase: Sendable, Equatable {
        case patrolling
        /// Ordered; the officer acknowledges at `at` (Unix ms).
        case ordered(incident: String, scene: GeoPoint, priority: Int, at: Int64)
        case toScene(incident: String, priority: Int)
        case onScene(incident: String, until: Int64)
        /// Cleared; back in service at `at`.
        case cleared(at: Int64)
        /// A move-up: driving to a post, then patrolling there.
        case relocating
    }

    struct Unit: Sendable {
        var drive: Drive
        var phase: Phase
    }

    enum Action: Sendable, Equatable {
        case acknowledge(String), arrive, clear(String), backInService
    }

    struct Ping: Sendable, Equatable {
        let callSign: String
        let position: GeoPoint
        let at: Int64
    }

    let map: RoadMap
    let settings: Settings
    private(set) var units: [String: Unit] = [:]
    private var random: SyntheticRoads.Generator

    init(map: RoadMap, settings: Settings = Settings()) {
        self.map = map
        self.settings = settings
        random = SyntheticRoads.Generator(state: settings.seed)
    }

    /// Puts units that came on duty on the road at their station; takes off those that went
    /// off duty, once they are not working an incident.
    mutating func keep(onDuty homes: [String: GeoPoint]) {
        for callSign in units.keys where homes[callSign] == nil {
            if case .patrolling = units[callSign]!.phase { units[callSign] = nil }
        }
        for (callSign, home) in homes.sorted(by: { $0.key < $1.key }) where units[callSign] == nil {
            guard let arc = map.arc(near: home) else { continue }
            units[callSign] = Unit(drive: Drive(arc: arc, home: map.projection.project(home), beat: settings.beatMetres), phase: .patrolling)
        }
    }

    /// An order for `callSign`, acknowledged before `deadline` (0: none); false when it is
    /// not a unit simulated here or it is busy.
    mutating func order(_ callSign: String, incident: String, scene: GeoPoint, priority: Int, deadline: Int64 = 0, now: Int64) -> Bool {
        guard var unit = units[callSign] else { return false }
        switch unit.phase {
        case .patrolling, .cleared, .relocating: break
        default: return false
        }
        var at = now + milliseconds(in: settings.acknowledgeSeconds)
        if deadline > now { at = min(at, max(now, deadline - 2_000)) }
        unit.phase = .ordered(incident: incident, scene: scene, priority: priority, at: at)
        units[callSign] = unit
        return true
    }

    /// A move-up: drive to `post` and patrol from there.
    mutating func relocate(_ callSign: String, to post: GeoPoint) {
        guard var unit = units[callSign], let path = map.route(after: unit.drive.arc, to: post) else { return }
        unit.drive.follow(path)
        unit.phase = .relocating
        units[callSign] = unit
    }

    /// Dispatch refused what the officer pressed (the order moved on, the duty officer
    /// cleared the incident meanwhile): back to patrolling, pressing back in service once
    /// in case the unit was left returning.
    mutating func abandon(_ callSign: String, refused action: Action) {
        guard var unit = units[callSign] else { return }
        unit.drive.follow(nil)
        unit.phase = action == .backInService ? .patrolling : .cleared(at: 0)
        units[callSign] = unit
    }

    /// `seconds` more of the shift, ending at `now`: every unit's fix, and what officers press.
    mutating func tick(now: Int64, seconds: Double) -> (pings: [Ping], actions: [(callSign: String, action: Action)]) {
        var pings: [Ping] = [], actions: [(String, Action)] = []
        for callSign in units.keys.sorted() {
            var unit = units[callSign]!
            if let action = step(&unit, now: now, seconds: seconds) { actions.append((callSign, action)) }
            units[callSign] = unit
            pings.append(Ping(callSign: callSign, position: noisy(unit.drive.position(on: map)), at: now))
        }
        return (pings, actions)
    }

    private mutating func step(_ unit: inout Unit, now: Int64, seconds: Double) -> Action? {
        switch unit.phase {
        case .patrolling:
            _ = unit.drive.advance(seconds, share: settings.patrolShare, on: map, random: &random)
        case .relocating:
            if unit.drive.advance(seconds, share: 1, on: map, random: &random) { unit.phase = .patrolling }
        case .ordered(let incident, let scene, let priority, let at):
            _ = unit.drive.advance(seconds, share: settings.patrolShare, on: map, random: &random)
            guard now >= at else { return nil }
            // No road there: the officer reports arriving where the roads end nearest it.
            unit.drive.follow(map.route(after: unit.drive.arc, to: scene) ?? [])
            unit.phase = .toScene(incident: incident, priority: priority)
            return .acknowledge(incident)
        case .toScene(let incident, let priority):
            guard unit.drive.advance(seconds, share: 1, on: map, random: &random) else { return nil }
            let service = settings.serviceSeconds[min(max(priority, 1), settings.serviceSeconds.count) - 1]
            unit.phase = .onScene(incident: incident, until: now + milliseconds(in: service))
            return .arrive
        case .onScene(let incident, let until):
            guard now >= until else { return nil }
            unit.phase = .cleared(at: now + milliseconds(in: settings.backSeconds))
            return .clear(incident)
        case .cleared(let at):
            _ = unit.drive.advance(seconds, share: settings.patrolShare, on: map, random: &random)
            guard now >= at else { return nil }
            unit.phase = .patrolling
            return .backInService
        }
        return nil
    }

    private mutating func milliseconds(in range: ClosedRange<Double>) -> Int64 {
        Int64((range.lowerBound + (range.upperBound - range.lowerBound) * uniform()) * 1_000)
    }

    private mutating func uniform() -> Double { Double(random.next() >> 11) / Double(1 << 53) }

    /// The point with a GPS error: each coordinate off by a normal deviate (Box–Muller).
    private mutating func noisy(_ point: PlanarPoint) -> GeoPoint {
        let radius = (-2 * log(max(uniform(), .leastNonzeroMagnitude))).squareRoot() * settings.noiseMetres, angle = 2 * Double.pi * uniform()
        return map.projection.unproject(PlanarPoint(x: point.x + radius * cos(angle), y: point.y + radius * sin(angle)))
    }
}
