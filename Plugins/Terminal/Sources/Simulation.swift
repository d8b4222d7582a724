import Foundation
import XunfangGeo

/// The county's terminals, simulated: every on-duty unit patrols its beat on the roads and
/// reports where it is (with GPS noise); an order is acknowledged after a while, the unit
/// drives to the scene, arrives, works the incident for a time that depends on its
/// priority, clears it and goes back in service. A seal order (关城门) sends a unit to its
/// position, where it reports in position and stays until the seal stands down; a staffed
/// checkpoint's officers report in position after a short while. Pure and seeded: the same orders at the
/// same instants give the same drive, so the harness and the tests can replay it.
struct Simulation: Sendable {
    /// An officer this near the scene is there.
    static let arrivalMetres = 50.0

    struct Settings: Sendable {
        /// Share of each road's speed (in the unit's mode) while patrolling (cruising, looking); to a scene: all of it.
        var patrolShare = 0.6
        /// How far from its station a unit patrols, metres.
        var beatMetres = 2_000.0
        /// How far from a seal position a unit standing by for it patrols, metres.
        var standbyMetres = 300.0
        /// GPS error, metres (the standard deviation of each coordinate's error).
        var noiseMetres = 8.0
        /// Seconds from an order to the officer's acknowledgement.
        var acknowledgeSeconds: ClosedRange<Double> = 8...25
        /// Seconds on scene by priority (1, 2, and any other).
        var serviceSeconds: [ClosedRange<Double>] = [1_200...2_400, 900...1_800, 600...1_200]
        /// Seconds from clearing to back in service.
        var backSeconds: ClosedRange<Double> = 30...120
        /// Seconds an officer stays at a must-patrol point after checking in (compliance counts a
        /// visit from a minute's dwell).
        var pointDwellSeconds: ClosedRange<Double> = 60...120
        /// Seconds for a staffed checkpoint's officers to close their lanes and report in position.
        var staffSeconds: ClosedRange<Double> = 20...60
        /// Units wait at their stations (no beat, no points, no stops) and are back in
        /// service when home again.
        var waitAtStation = false
        /// Time on scene from an exponential distribution of this mean, seconds; nil: by priority.
        var sceneExponentialSeconds: Double?
        var seed: UInt64 = 1

        /// The officers' times (acknowledging, on scene, back in service) times `factor`: a
        /// drill or a test runs a shift's incidents in minutes instead of hours.
        mutating func scaleTimes(by factor: Double) {
            func scaled(_ range: ClosedRange<Double>) -> ClosedRange<Double> { range.lowerBound * factor...range.upperBound * factor }
            acknowledgeSeconds = scaled(acknowledgeSeconds)
            serviceSeconds = serviceSeconds.map(scaled)
            backSeconds = scaled(backSeconds)
            staffSeconds = scaled(staffSeconds)
        }
    }

    enum Phase: Sendable, Equatable {
        case patrolling
        /// Ordered; the officer acknowledges at `at` (Unix ms).
        case ordered(incident: String, scene: GeoPoint, priority: Int, at: Int64)
        case toScene(incident: String, priority: Int)
        case onScene(incident: String, until: Int64)
        /// Cleared; back in service at `at`.
        case cleared(at: Int64)
        /// Cleared, driving home (the station-wait mode); back in service on arrival.
        case returningHome
        /// A move-up: driving to a post, then patrolling there.
        case relocating
        /// A dosage stop: driving to the hot cell, then staying until `until`.
        case toStop(until: Int64)
        case atStop(until: Int64)
        /// A seal position: driving there, then holding it until the seal stands down.
        case toPost(activation: String, position: String)
        case atPost(activation: String, position: String)
    }

    /// What a unit's assignment asks of its patrol: the must-patrol points (one position)
    /// and lines (their route), visited in turn, and the timed dosage stops.
    struct Beat: Sendable, Equatable {
        struct Stop: Sendable, Equatable {
            let position: GeoPoint
            let start: Int64
            let end: Int64
        }
        var targets: [[GeoPoint]]
        /// Per target, the must-patrol point's site id the officer checks in at on reaching it
        /// (nil for a line).
        var checkIns: [String?]
        var stops: [Stop]
        /// A seal position to keep within reach (备勤): patrolled around instead of the targets and stops.
        var standby: GeoPoint?
        /// The next target to visit.
        var next = 0
        /// Stops already made.
        var made: Set<Int> = []

        init(targets: [[GeoPoint]], checkIns: [String?] = [], stops: [Stop], standby: GeoPoint? = nil) {
            let kept = targets.indices.filter { !targets[$0].isEmpty }
            self.targets = kept.map { targets[$0] }
            self.checkIns = kept.map { $0 < checkIns.count ? checkIns[$0] : nil }
            self.stops = stops.sorted { $0.start < $1.start }
            self.standby = standby
        }
    }

    struct Unit: Sendable {
        var drive: Drive
        var phase: Phase
        /// The must-patrol point being driven to (its site and place), checked in at on arrival.
        var heading: (site: String, point: GeoPoint)? = nil
        /// Where the officer stands, on foot, while the car waits at the road nearest a must-patrol point.
        var onFoot: PlanarPoint? = nil
        /// Where the car came on duty, on the road by its station: where it waits between
        /// orders when units wait at their stations.
        var parked: GeoPoint? = nil

        /// Where its terminal is.
        func position(on map: RoadMap) -> PlanarPoint { onFoot ?? drive.position(on: map) }
    }

    enum Action: Sendable, Equatable {
        case acknowledge(String), arrive, clear(String), backInService, checkIn(String)
        /// In position at a seal's position (for a unit, or for a staffed checkpoint's officers).
        case inPosition(activation: String, position: String)
    }

    /// An action pressed on a unit's terminal, with the moment the officer pressed it (within
    /// the tick that found it: an arrival halfway through a tick is stamped halfway).
    struct Press: Sendable, Equatable {
        let callSign: String
        let action: Action
        let at: Int64

        var isCheckIn: Bool { if case .checkIn = action { true } else { false } }
    }

    struct Ping: Sendable, Equatable {
        let callSign: String
        let position: GeoPoint
        let at: Int64
    }

    let map: RoadMap
    let settings: Settings
    private(set) var units: [String: Unit] = [:]
    /// Each unit's assignment, kept for a unit that comes on duty later too.
    private(set) var beats: [String: Beat] = [:]
    /// Staffed checkpoints ordered to hold their own node: who reports in position when.
    private(set) var staffed: [(responder: String, activation: String, position: String, at: Int64)] = []
    private var random: SyntheticRoads.Generator

    init(map: RoadMap, settings: Settings = Settings()) {
        self.map = map
        self.settings = settings
        random = SyntheticRoads.Generator(state: settings.seed)
    }

    /// Puts units that came on duty on the road at their station; takes off those that went
    /// off duty, once they are not working an incident.
    mutating func keep(onDuty homes: [String: GeoPoint], modes: [String: TravelMode] = [:]) {
        for callSign in units.keys where homes[callSign] == nil {
            switch units[callSign]!.phase {
            case .patrolling, .toStop, .atStop, .relocating: units[callSign] = nil
            // A unit holding a seal position stays until the seal stands down.
            default: break
            }
        }
        for (callSign, home) in homes.sorted(by: { $0.key < $1.key }) where units[callSign] == nil {
            let mode = modes[callSign] ?? .car
            guard let arc = map.arc(near: home, mode: mode) else { continue }
            var drive = Drive(arc: arc, home: map.projection.project(home), beat: settings.beatMetres, mode: mode)
            drive.standBy(at: beats[callSign]?.standby.map(map.projection.project), radius: settings.standbyMetres)
            units[callSign] = Unit(drive: drive, phase: .patrolling, parked: map.projection.unproject(drive.position(on: map)))
        }
    }

    /// An order for `callSign`, acknowledged before `deadline` (0: none); false when it is
    /// not a unit simulated here or it is busy.
    mutating func order(_ callSign: String, incident: String, scene: GeoPoint, priority: Int, deadline: Int64 = 0, now: Int64) -> Bool {
        guard var unit = units[callSign] else { return false }
        switch unit.phase {
        case .patrolling, .cleared, .returningHome, .relocating, .toStop, .atStop: break
        default: return false
        }
        var at = now + milliseconds(in: settings.acknowledgeSeconds)
        if deadline > now { at = min(at, max(now, deadline - 2_000)) }
        unit.phase = .ordered(incident: incident, scene: scene, priority: priority, at: at)
        units[callSign] = unit
        return true
    }

    /// A seal order for a unit: it drives to the position and reports in position there;
    /// false when it is not simulated here or is working an incident (the order passes on
    /// at its deadline).
    mutating func post(_ callSign: String, activation: String, position: String, at node: GeoPoint) -> Bool {
        guard var unit = units[callSign] else { return false }
        switch unit.phase {
        case .patrolling, .cleared, .returningHome, .relocating, .toStop, .atStop, .toPost, .atPost: break
        default: return false
        }
        _ = unit.drive.head(to: node, on: map)
        unit.phase = .toPost(activation: activation, position: position)
        units[callSign] = unit
        return true
    }

    /// A staffed checkpoint ordered to hold its own node: its officers report in position
    /// after closing the lanes.
    mutating func hold(checkpoint responder: String, activation: String, position: String, now: Int64) {
        guard !staffed.contains(where: { $0.activation == activation && $0.position == position }) else { return }
        staffed.append((responder, activation, position, now + milliseconds(in: settings.staffSeconds)))
    }

    /// The seal is over: units holding its positions go back to patrolling.
    mutating func standDown(_ responder: String, activation: String) {
        staffed.removeAll { $0.activation == activation && $0.responder == responder }
        guard var unit = units[responder] else { return }
        switch unit.phase {
        case .toPost(let held, _), .atPost(let held, _):
            guard held == activation else { return }
            unit.drive.follow(nil)
            unit.phase = .patrolling
            units[responder] = unit
        default: break
        }
    }

    /// The unit's assignment from now on: its patrol turns to it at once.
    /// A standby post changes the beat's centre whatever the unit is doing; a unit patrolling
    /// (or on a dosage stop) when told to stand by drives to the post at once.
    mutating func assign(_ callSign: String, _ beat: Beat) {
        guard beats[callSign] != beat else { return }
        let wasStandingBy = beats[callSign]?.standby
        beats[callSign] = beat
        guard var unit = units[callSign] else { return }
        unit.drive.standBy(at: beat.standby.map(map.projection.project), radius: settings.standbyMetres)
        switch unit.phase {
        case .patrolling, .toStop, .atStop:
            unit.phase = .patrolling
            unit.heading = nil
            unit.drive.follow(nil)
            if let post = beat.standby, post != wasStandingBy, unit.drive.head(to: post, on: map) { unit.phase = .relocating }
        default: break
        }
        units[callSign] = unit
    }

    /// A move-up: drive to `post` and patrol from there.
    mutating func relocate(_ callSign: String, to post: GeoPoint) {
        guard var unit = units[callSign], unit.drive.head(to: post, on: map) else { return }
        unit.phase = .relocating
        units[callSign] = unit
    }

    /// Dispatch refused what the officer pressed (the order moved on, the duty officer
    /// cleared the incident meanwhile): back to patrolling, pressing back in service once
    /// in case the unit was left returning.
    mutating func abandon(_ callSign: String, refused action: Action) {
        guard var unit = units[callSign] else { return }
        unit.drive.follow(nil)
        unit.phase = action == .backInService ? .patrolling : settings.waitAtStation ? .returningHome : .cleared(at: 0)
        units[callSign] = unit
    }

    /// `seconds` more of the shift, ending at `now`: every unit's fix, and what officers press.
    mutating func tick(now: Int64, seconds: Double) -> (pings: [Ping], actions: [Press]) {
        var pings: [Ping] = [], actions: [Press] = []
        for callSign in units.keys.sorted() {
            var unit = units[callSign]!
            actions += step(&unit, callSign: callSign, now: now, seconds: seconds).map { Press(callSign: callSign, action: $0.0, at: $0.1) }
            units[callSign] = unit
            pings.append(Ping(callSign: callSign, position: noisy(unit.position(on: map)), at: now))
        }
        for post in staffed where post.at <= now {
            actions.append(Press(callSign: post.responder, action: .inPosition(activation: post.activation, position: post.position), at: post.at))
        }
        staffed.removeAll { $0.at <= now }
        return (pings, actions)
    }

    /// What the officer presses in the `seconds` up to `now`, and when within them.
    private mutating func step(_ unit: inout Unit, callSign: String, now: Int64, seconds: Double) -> [(Action, Int64)] {
        // Back in the car once the dwell is over (or an order cut it short).
        if case .atStop = unit.phase {} else { unit.onFoot = nil }
        /// The moment the path's end was reached in this tick's advance.
        func arrived(_ drive: Drive) -> Int64 { now - Int64((drive.overshoot * 1_000).rounded()) }
        switch unit.phase {
        case .patrolling where settings.waitAtStation:
            // Home, or driving home from a move it was ordered.
            if unit.drive.isOnPath { _ = unit.drive.advance(seconds, share: 1, on: map, random: &random) }
        case .patrolling:
            if let post = beats[callSign]?.standby {
                // Standing by: back to the post when an incident took it away, else around it.
                if !unit.drive.isOnPath, unit.drive.position(on: map).distance(to: unit.drive.home) > unit.drive.beat {
                    _ = unit.drive.head(to: post, on: map)
                }
            } else if let until = startStop(&unit, callSign: callSign, now: now) {
                unit.phase = .toStop(until: until)
            } else if !unit.drive.isOnPath {
                headForNextTarget(&unit, callSign: callSign)
            }
            if unit.drive.advance(seconds, share: settings.patrolShare, on: map, random: &random), let target = unit.heading {
                // At the road nearest the point: the officer walks to it, checks in there and
                // looks round before moving on.
                let at = arrived(unit.drive)
                unit.heading = nil
                unit.onFoot = map.projection.project(target.point)
                unit.phase = .atStop(until: at + milliseconds(in: settings.pointDwellSeconds))
                return [(.checkIn(target.site), at)]
            }
        case .toStop(let until):
            if now >= until {
                unit.phase = .patrolling
            } else if unit.drive.advance(seconds, share: settings.patrolShare, on: map, random: &random) {
                unit.phase = .atStop(until: until)
            }
        case .atStop(let until):
            if now >= until { unit.phase = .patrolling }
        case .relocating:
            if unit.drive.advance(seconds, share: 1, on: map, random: &random) { unit.phase = .patrolling }
        case .toPost(let activation, let position):
            guard unit.drive.advance(seconds, share: 1, on: map, random: &random) else { return [] }
            unit.phase = .atPost(activation: activation, position: position)
            return [(.inPosition(activation: activation, position: position), arrived(unit.drive))]
        case .atPost:
            break
        case .ordered(let incident, let scene, let priority, let at):
            // On patrol until the acknowledgement, then towards the scene for the rest of the tick.
            let sinceAcknowledged = min(seconds, max(0, Double(now - at) / 1_000))
            if !settings.waitAtStation {
                _ = unit.drive.advance(seconds - sinceAcknowledged, share: settings.patrolShare, on: map, random: &random)
            }
            guard now >= at else { return [] }
            // An incident where the unit already is: there as it acknowledges.
            if unit.drive.position(on: map).distance(to: map.projection.project(scene)) <= Self.arrivalMetres {
                workScene(&unit, incident: incident, priority: priority, from: at)
                return [(.acknowledge(incident), at), (.arrive, at)]
            }
            // No road there: the officer reports arriving where the roads end nearest it.
            _ = unit.drive.head(to: scene, on: map)
            unit.phase = .toScene(incident: incident, priority: priority)
            return [(.acknowledge(incident), at)] + step(&unit, callSign: callSign, now: now, seconds: sinceAcknowledged)
        case .toScene(let incident, let priority):
            // There when the route's end is reached (the moment within the tick it was).
            guard unit.drive.advance(seconds, share: 1, on: map, random: &random) else { return [] }
            let at = arrived(unit.drive)
            workScene(&unit, incident: incident, priority: priority, from: at)
            return [(.arrive, at)]
        case .onScene(let incident, let until):
            guard now >= until else { return [] }
            if settings.waitAtStation {
                // Home at once, for the rest of the tick; back in service on arrival.
                _ = unit.drive.head(to: unit.parked ?? map.projection.unproject(unit.drive.station), on: map)
                unit.phase = .returningHome
                return [(.clear(incident), until)] + step(&unit, callSign: callSign, now: now, seconds: Double(now - until) / 1_000)
            }
            unit.phase = .cleared(at: until + milliseconds(in: settings.backSeconds))
            return [(.clear(incident), until)]
        case .returningHome:
            guard unit.drive.advance(seconds, share: 1, on: map, random: &random) else { return [] }
            unit.phase = .patrolling
            return [(.backInService, arrived(unit.drive))]
        case .cleared(let at):
            _ = unit.drive.advance(seconds, share: settings.patrolShare, on: map, random: &random)
            guard now >= at else { return [] }
            unit.phase = .patrolling
            return [(.backInService, at)]
        }
        return []
    }

    /// On scene from `at`, for a time by the incident's priority.
    private mutating func workScene(_ unit: inout Unit, incident: String, priority: Int, from at: Int64) {
        unit.drive.follow(nil)
        if let mean = settings.sceneExponentialSeconds {
            unit.phase = .onScene(incident: incident, until: at + Int64(-log(1 - uniform()) * mean * 1_000))
            return
        }
        let service = settings.serviceSeconds[min(max(priority, 1), settings.serviceSeconds.count) - 1]
        unit.phase = .onScene(incident: incident, until: at + milliseconds(in: service))
    }

    /// A dosage stop due now and not yet made: the unit heads there; returns when it ends.
    private mutating func startStop(_ unit: inout Unit, callSign: String, now: Int64) -> Int64? {
        guard var beat = beats[callSign],
              let index = beat.stops.indices.first(where: { !beat.made.contains($0) && beat.stops[$0].start <= now && now < beat.stops[$0].end }) else { return nil }
        beat.made.insert(index)
        beats[callSign] = beat
        unit.drive.follow(map.route(after: unit.drive.arc, to: beat.stops[index].position, mode: unit.drive.mode) ?? [])
        return beat.stops[index].end
    }

    /// The next must-patrol point or line, in turn: a point is driven to, a line along.
    private mutating func headForNextTarget(_ unit: inout Unit, callSign: String) {
        guard var beat = beats[callSign], !beat.targets.isEmpty else { return }
        let target = beat.targets[beat.next % beat.targets.count]
        unit.heading = beat.checkIns[beat.next % beat.targets.count].map { ($0, target[0]) }
        beat.next += 1
        beats[callSign] = beat
        var arcs: [Int] = [], at = unit.drive.arc
        for point in target {
            guard let leg = map.route(after: at, to: point, mode: unit.drive.mode) else { continue }
            arcs += leg
            at = leg.last ?? at
        }
        unit.drive.follow(arcs)
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
