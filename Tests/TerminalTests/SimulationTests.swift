@testable import TerminalPlugin
import Foundation
import Testing
import XunfangGeo

let demoMap = RoadMap(graph: SyntheticRoads.county(.demoCounty))
let centre = SyntheticRoads.Parameters.demoCounty.origin
let start: Int64 = 1_796_180_400_000

/// A short shift's worth of ticks of `seconds`, from `start`.
func run(_ simulation: inout Simulation, ticks: Int, seconds: Double = 5, from: Int64 = start) -> [(pings: [Simulation.Ping], actions: [Simulation.Press])] {
    (1...ticks).map { simulation.tick(now: from + Int64(Double($0) * seconds * 1_000), seconds: seconds) }
}

@Suite("Terminal simulation")
struct SimulationTests {
    var quick: Simulation.Settings {
        var settings = Simulation.Settings()
        settings.noiseMetres = 0
        settings.serviceSeconds = [60...60, 60...60, 60...60]
        settings.backSeconds = 10...10
        return settings
    }

    @Test("a unit on duty patrols its beat on the roads at a patrol car's pace, never jumping")
    func patrols() {
        var simulation = Simulation(map: demoMap, settings: quick)
        simulation.keep(onDuty: ["C001": centre])
        let steps = run(&simulation, ticks: 720)
        let track = steps.map { $0.pings[0].position }
        let home = demoMap.projection.project(centre)
        #expect(track.allSatisfy { demoMap.projection.project($0).distance(to: home) < 2_000 + 1_000 }, "within its beat (2 km) and a road beyond")
        let hops = zip(track, track.dropFirst()).map { Haversine.metres($0, $1) }
        #expect(hops.allSatisfy { $0 <= 50 / 3.6 * 0.6 * 5 + 1 }, "5 s at most at 60% of 50 km/h: \(hops.max() ?? 0)")
        #expect(hops.reduce(0, +) > 5_000, "an hour of patrol covers ground: \(hops.reduce(0, +)) m")
        #expect(steps.allSatisfy { $0.actions.isEmpty })
    }

    @Test("an order: acknowledged within the deadline, driven to by road, arrived, worked, cleared, back in service")
    func order() {
        var simulation = Simulation(map: demoMap, settings: quick)
        simulation.keep(onDuty: ["C001": centre])
        let scene = demoMap.projection.unproject(PlanarPoint(x: 1_500, y: -900))
        let taken = simulation.order("C001", incident: "INC-000007", scene: scene, priority: 2, deadline: start + 30_000, now: start)
        let stranger = simulation.order("C002", incident: "INC-000007", scene: scene, priority: 2, now: start)
        let busy = simulation.order("C001", incident: "INC-000008", scene: scene, priority: 2, now: start)
        #expect(taken && !stranger && !busy, "C002 is not simulated here; C001 is busy")
        var timeline: [(at: Int64, action: Simulation.Action, where: GeoPoint)] = []
        for step in run(&simulation, ticks: 200, seconds: 2) {
            for press in step.actions { timeline.append((press.at, press.action, step.pings[0].position)) }
        }
        #expect(timeline.map(\.action) == [.acknowledge("INC-000007"), .arrive, .clear("INC-000007"), .backInService])
        guard timeline.count == 4 else { return }
        #expect((start + 8_000...start + 28_000).contains(timeline[0].at), "acknowledged 8 to 25 s after, before the deadline")
        let nearest = demoMap.points[demoMap.nearest.nearest(to: demoMap.projection.project(scene))!.index]
        #expect(demoMap.projection.project(timeline[1].where).distance(to: nearest) < 1, "arrived at the junction nearest the scene")
        let drive = Double(timeline[1].at - timeline[0].at) / 1_000
        #expect(drive > 1_750 / (50 / 3.6) && drive < 600, "driven by road at road speeds: \(drive) s")
        #expect(timeline[2].at - timeline[1].at == 60_000 && timeline[3].at - timeline[2].at == 10_000)
    }

    @Test("waiting at the station: a unit stays put until ordered, drives out, and is back in service only when home again; scene times are exponential of the set mean")
    func waitsAtStation() {
        var settings = quick
        settings.waitAtStation = true
        settings.sceneExponentialSeconds = 300
        var simulation = Simulation(map: demoMap, settings: settings)
        simulation.keep(onDuty: ["C001": centre])
        let waiting = run(&simulation, ticks: 60).map { $0.pings[0].position }
        #expect(Set(waiting.map { "\($0.longitude),\($0.latitude)" }).count == 1, "no patrol: the same place for five minutes")
        let home = waiting[0]
        let scene = demoMap.projection.unproject(PlanarPoint(x: 1_500, y: -900))
        var scenes: [Double] = [], from = start + 300_000
        for incident in 0..<40 {
            let taken = simulation.order("C001", incident: "INC-\(incident)", scene: scene, priority: 1, now: from)
            #expect(taken)
            var timeline: [(at: Int64, action: Simulation.Action, where: GeoPoint)] = []
            for step in run(&simulation, ticks: 2_000, seconds: 2, from: from) {
                for press in step.actions { timeline.append((press.at, press.action, step.pings[0].position)) }
                if timeline.count == 4 { from = step.pings[0].at; break }
            }
            #expect(timeline.map(\.action) == [.acknowledge("INC-\(incident)"), .arrive, .clear("INC-\(incident)"), .backInService])
            guard timeline.count == 4 else { return }
            scenes.append(Double(timeline[2].at - timeline[1].at) / 1_000)
            #expect(Haversine.metres(timeline[3].where, home) < 150, "back in service at its station: \(Haversine.metres(timeline[3].where, home)) m away")
            let out = Double(timeline[1].at - timeline[0].at), back = Double(timeline[3].at - timeline[2].at)
            #expect(abs(out - back) < 0.25 * out, "home the way it came: out \(out) ms, back \(back) ms")
        }
        let mean = scenes.reduce(0, +) / Double(scenes.count)
        // Forty exponential draws of mean 300 s: the mean's standard error is 47 s; their spread is wide.
        #expect(abs(mean - 300) < 150 && scenes.max()! > 2 * scenes.min()! + 100, "scene times \(scenes.map { Int($0) })")
    }

    @Test("a seal order: the unit drives to its position and reports in position, holds it, takes no incident meanwhile and goes back on patrol at the stand-down; a staffed checkpoint's officers report in position after closing the lanes")
    func seal() {
        var settings = quick
        settings.staffSeconds = 30...30
        var simulation = Simulation(map: demoMap, settings: settings)
        simulation.keep(onDuty: ["C001": centre, "C002": centre])
        let node = demoMap.projection.unproject(PlanarPoint(x: -1_000, y: 750))
        let ordered = simulation.order("C002", incident: "INC-000001", scene: node, priority: 1, now: start)
        let posted = simulation.post("C001", activation: "SA-1", position: "P1", at: node)
        let busy = simulation.post("C002", activation: "SA-1", position: "P2", at: node)
        let stranger = simulation.post("C404", activation: "SA-1", position: "P3", at: node)
        #expect(ordered && posted, "a patrolling unit takes its seal position")
        #expect(!busy, "a unit working an incident does not: the order passes on")
        #expect(!stranger)
        simulation.hold(checkpoint: "CP-EAST", activation: "SA-1", position: "P4", now: start)
        var seen: [(at: Int64, who: String, action: Simulation.Action, where: GeoPoint)] = []
        for (index, step) in run(&simulation, ticks: 150, seconds: 2).enumerated() {
            for press in step.actions where press.callSign != "C002" {
                seen.append((start + Int64(index + 1) * 2_000, press.callSign, press.action, step.pings.first { $0.callSign == "C001" }!.position))
            }
        }
        #expect(seen.count == 2, "the checkpoint and the unit, once each: \(seen.map(\.action))")
        let checkpoint = seen.first { $0.who == "CP-EAST" }, unit = seen.first { $0.who == "C001" }
        #expect(checkpoint?.at == start + 30_000 && checkpoint?.action == .inPosition(activation: "SA-1", position: "P4"), "the checkpoint's officers after 30 s")
        let nearest = demoMap.points[demoMap.nearest.nearest(to: demoMap.projection.project(node))!.index]
        #expect(unit.map { demoMap.projection.project($0.where).distance(to: nearest) < 1 } == true, "the unit reports from its position")
        let whileHolding = simulation.order("C001", incident: "INC-000002", scene: node, priority: 2, now: start + 300_000)
        #expect(!whileHolding, "holding a seal position, it takes no incident")
        let before = run(&simulation, ticks: 10, seconds: 2, from: start + 300_000).map { $0.pings.first { $0.callSign == "C001" }!.position }
        #expect(Set(before.map { "\($0.longitude),\($0.latitude)" }).count == 1, "it holds the position")
        simulation.standDown("C001", activation: "SA-1")
        let afterwards = simulation.order("C001", incident: "INC-000002", scene: node, priority: 2, now: start + 330_000)
        #expect(afterwards, "after the stand-down it is on patrol again")
    }

    @Test("presses are stamped when they happen within a tick: ticks of 30 s and of 1 s give the same acknowledgement, arrival, clearance and back-in-service times (a fast simulated clock stretches ticks)")
    func pressTimesIndependentOfTicks() {
        var settings = quick
        // Acknowledged at once, so that both runs start driving from the same place (a patrol
        // before it would take random turns in a different order).
        settings.acknowledgeSeconds = 0...0
        func presses(tick seconds: Double) -> [Simulation.Press] {
            var simulation = Simulation(map: demoMap, settings: settings)
            simulation.keep(onDuty: ["C001": centre])
            let scene = demoMap.projection.unproject(PlanarPoint(x: 1_500, y: -900))
            _ = simulation.order("C001", incident: "INC-000011", scene: scene, priority: 2, now: start)
            return run(&simulation, ticks: Int(900 / seconds), seconds: seconds).flatMap(\.actions)
        }
        let fine = presses(tick: 1), coarse = presses(tick: 30)
        #expect(fine.map(\.action) == [.acknowledge("INC-000011"), .arrive, .clear("INC-000011"), .backInService])
        #expect(coarse.map(\.action) == fine.map(\.action))
        guard fine.count == 4, coarse.count == 4 else { return }
        #expect(fine[0].at == start && coarse[0].at == start, "acknowledged when the officer did, not at the tick's end")
        #expect(abs(coarse[1].at - fine[1].at) <= 1, "arrived at the same moment: \(coarse[1].at - start) and \(fine[1].at - start) ms")
        #expect(coarse[2].at - coarse[1].at == 60_000 && coarse[3].at - coarse[2].at == 10_000, "service and the way back timed from the arrival")
    }

    @Test("each unit moves in its mode: an e-bike never goes faster than 25 km/h and reaches a scene across the county's main roads well after a car")
    func modes() {
        var settings = quick
        settings.acknowledgeSeconds = 0...0
        var simulation = Simulation(map: demoMap, settings: settings)
        simulation.keep(onDuty: ["C001": centre, "E001": centre], modes: ["E001": .eBike])
        let scene = demoMap.projection.unproject(PlanarPoint(x: 6_000, y: 4_000))
        for callSign in ["C001", "E001"] { _ = simulation.order(callSign, incident: "I-\(callSign)", scene: scene, priority: 2, now: start) }
        let steps = run(&simulation, ticks: 360)
        func arrival(_ callSign: String) -> Int64? { steps.flatMap(\.actions).first { $0.callSign == callSign && $0.action == .arrive }?.at }
        let car = arrival("C001") ?? 0, bike = arrival("E001") ?? 0
        #expect(car > start && bike > start + (car - start) * 13 / 10, "car \((car - start) / 1_000) s, e-bike \((bike - start) / 1_000) s")
        let track = steps.map { step in step.pings.first { $0.callSign == "E001" }!.position }
        let hops = zip(track, track.dropFirst()).map { Haversine.metres($0, $1) }
        #expect(hops.allSatisfy { $0 <= 25 / 3.6 * 5 + 1 }, "at most 5 s at 25 km/h: \(hops.max() ?? 0) m")
    }

    @Test("an incident where the unit already is: it arrives within a second of acknowledging, not after driving round the block; times scale for drills")
    func orderWhereItIs() {
        var settings = quick
        settings.scaleTimes(by: 0.1)
        #expect(settings.serviceSeconds == [6...6, 6...6, 6...6] && settings.backSeconds == 1...1 && settings.acknowledgeSeconds == 0.8...2.5)
        var simulation = Simulation(map: demoMap, settings: settings)
        simulation.keep(onDuty: ["C001": centre])
        let here = run(&simulation, ticks: 30, seconds: 2).last!.pings[0].position
        let taken = simulation.order("C001", incident: "INC-000009", scene: here, priority: 1, now: start + 60_000)
        #expect(taken)
        var timeline: [(at: Int64, action: Simulation.Action)] = []
        for step in run(&simulation, ticks: 20, seconds: 1, from: start + 60_000) {
            for press in step.actions { timeline.append((press.at, press.action)) }
        }
        #expect(timeline.map(\.action) == [.acknowledge("INC-000009"), .arrive, .clear("INC-000009"), .backInService], "\(timeline)")
        guard timeline.count == 4 else { return }
        #expect(timeline[1].at - timeline[0].at <= 1_000, "arrived within the tick it acknowledged in or the next: \(timeline)")
    }

    @Test("a unit going off duty finishes its incident first; the same seed drives the same way; the GPS error is as set")
    func rosterSeedNoise() {
        var simulation = Simulation(map: demoMap, settings: quick)
        simulation.keep(onDuty: ["C001": centre, "C002": centre])
        _ = simulation.order("C001", incident: "INC-1", scene: demoMap.projection.unproject(PlanarPoint(x: 400, y: 400)), priority: 1, now: start)
        simulation.keep(onDuty: [:])
        #expect(simulation.units.keys.sorted() == ["C001"], "C002 went off; C001 works its order")
        _ = run(&simulation, ticks: 200, seconds: 2)
        simulation.keep(onDuty: [:])
        #expect(simulation.units.isEmpty, "off once back in service")

        var noisy = quick, exact = quick
        noisy.noiseMetres = 8
        var first = Simulation(map: demoMap, settings: noisy), again = Simulation(map: demoMap, settings: noisy), truth = Simulation(map: demoMap, settings: exact)
        first.keep(onDuty: ["C001": centre])
        again.keep(onDuty: ["C001": centre])
        truth.keep(onDuty: ["C001": centre])
        let a = run(&first, ticks: 600).map { $0.pings[0].position }, b = run(&again, ticks: 600).map { $0.pings[0].position }
        let t = run(&truth, ticks: 600).map { $0.pings[0].position }
        #expect(a == b)
        let squares = zip(a, t).map { pow(Haversine.metres($0, $1), 2) }
        let rms = (squares.reduce(0, +) / Double(squares.count)).squareRoot()
        #expect(abs(rms - 8 * 2.0.squareRoot()) < 2.5, "radial RMS of 8 m per coordinate is 11.3 m: \(rms)")
    }
}

@Suite("Terminal simulation: assignments")
struct AssignmentDriveTests {
    @Test("with an assignment a unit visits its must-patrol points (checking in at each) and drives its line in turn, and makes its dosage stop from start to end")
    func followsAssignment() {
        var settings = Simulation.Settings()
        settings.noiseMetres = 0
        var simulation = Simulation(map: demoMap, settings: settings)
        func at(_ x: Double, _ y: Double) -> GeoPoint { demoMap.projection.unproject(PlanarPoint(x: x, y: y)) }
        let points = [at(600, 400), at(-500, 700)], line = [at(-800, -300), at(-800, -900), at(-200, -900)]
        let stop = Simulation.Beat.Stop(position: at(300, -600), start: start + 3_600_000, end: start + 3_600_000 + 12 * 60_000)
        simulation.keep(onDuty: ["C001": centre])
        simulation.assign("C001", Simulation.Beat(targets: points.map { [$0] } + [line], checkIns: ["P1", "P2", nil], stops: [stop]))
        let steps = run(&simulation, ticks: 1_440)
        let track = steps.map { (at: $0.pings[0].at, where: $0.pings[0].position) }
        let checkIns = steps.flatMap { $0.actions.map(\.action) }
        #expect(Array(checkIns.prefix(2)) == [.checkIn("P1"), .checkIn("P2")] && !checkIns.contains(.checkIn("")), "the officer checks in at each point on reaching it: \(checkIns.prefix(4))")
        // The officer walks from the road to the point and stays a minute at least, so the fixes
        // sent with the check-in are at the point (a 30 s fix interval included).
        let pointOne = demoMap.projection.project(points[0])
        if let checkedIn = steps.flatMap(\.actions).first(where: { $0.action == .checkIn("P1") })?.at {
            let dwell = track.filter { $0.at >= checkedIn && $0.at <= checkedIn + 60_000 }
            #expect(!dwell.isEmpty && dwell.allSatisfy { demoMap.projection.project($0.where).distance(to: pointOne) < 1 }, "at P1 for a minute after checking in")
        }
        func passes(_ point: GeoPoint) -> Bool {
            let node = demoMap.points[demoMap.nearest.nearest(to: demoMap.projection.project(point))!.index]
            return track.contains { demoMap.projection.project($0.where).distance(to: node) < 25 || demoMap.projection.project($0.where).distance(to: demoMap.projection.project(point)) < 1 }
        }
        #expect(points.allSatisfy(passes) && line.allSatisfy(passes), "every point visited, the line driven end to end")
        let stopNode = demoMap.points[demoMap.nearest.nearest(to: demoMap.projection.project(stop.position))!.index]
        let during = track.filter { $0.at >= stop.start + 6 * 60_000 && $0.at < stop.end }
        #expect(!during.isEmpty && during.allSatisfy { demoMap.projection.project($0.where).distance(to: stopNode) < 1 }, "at the hot cell until the stop ends")
        let after = track.filter { $0.at > stop.end + 5 * 60_000 }
        #expect(after.contains { demoMap.projection.project($0.where).distance(to: stopNode) > 100 }, "and on its way after")
    }

    @Test("a unit asked to stand by drives to the seal position at once and patrols within reach of it instead of its points and stops, goes back to it after an incident, and returns to its beat when the ask ends")
    func standsBy() {
        var settings = Simulation.Settings()
        settings.noiseMetres = 0
        settings.serviceSeconds = [60...60, 60...60, 60...60]
        settings.backSeconds = 10...10
        var simulation = Simulation(map: demoMap, settings: settings)
        func at(_ x: Double, _ y: Double) -> GeoPoint { demoMap.projection.unproject(PlanarPoint(x: x, y: y)) }
        let post = at(3_500, 2_500), postNode = demoMap.points[demoMap.nearest.nearest(to: demoMap.projection.project(post))!.index]
        func fromPost(_ point: GeoPoint) -> Double { demoMap.projection.project(point).distance(to: postNode) }
        simulation.keep(onDuty: ["C001": centre])
        let stop = Simulation.Beat.Stop(position: at(-300, -600), start: start, end: start + 8 * 3_600_000)
        simulation.assign("C001", Simulation.Beat(targets: [[at(-600, 400)]], checkIns: ["P1"], stops: [stop], standby: post))
        let standing = run(&simulation, ticks: 720).map { $0.pings[0] }
        let arrived = standing.firstIndex { fromPost($0.position) < 50 }
        // 6 km by road at a car's full pace (the post is 4.3 km off as the crow flies).
        #expect(arrived.map { $0 < 120 } == true, "at the post within 10 minutes of the ask: tick \(arrived ?? -1)")
        let later = standing.dropFirst(180)
        #expect(later.allSatisfy { fromPost($0.position) < 300 + 500 }, "within reach of it (300 m and a road beyond): \(later.map { fromPost($0.position) }.max() ?? 0)")
        #expect(later.contains { fromPost($0.position) > 150 }, "patrolling round it, not parked")
        // An incident 2 km away: worked, then back to the post.
        let hour = start + 3_600_000
        let ordered = simulation.order("C001", incident: "I1", scene: at(1_500, 2_500), priority: 3, now: hour)
        #expect(ordered)
        let after = run(&simulation, ticks: 360, from: hour).map { $0.pings[0] }
        #expect(after.suffix(60).allSatisfy { fromPost($0.position) < 300 + 500 }, "back within reach after clearing")
        // The ask ends: back to its beat round the station.
        simulation.assign("C001", Simulation.Beat(targets: [], stops: []))
        let home = demoMap.projection.project(centre)
        let released = run(&simulation, ticks: 720, from: hour + 1_800_000).map { $0.pings[0] }
        #expect(released.suffix(120).allSatisfy { demoMap.projection.project($0.position).distance(to: home) < 2_000 + 1_000 }, "on its station's beat again")
    }
}
