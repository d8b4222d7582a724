@testable import CheckpointControlPlugin
import CheckpointControlContract
import Foundation
import Testing
import XunfangGeo

/// The crossroads of `RegistryStack`: an east–west street (nodes 95...105, 100 m apart)
/// and a north–south one (195...205) crossing at node 100.
func crossroads() throws -> RoadGraph {
    var roads = Roads()
    for step in -5...5 {
        roads.node(Int64(100 + step), Double(step) * 100, 0)
        if step != 0 { roads.node(Int64(200 + step), 0, Double(step) * 100) }
    }
    for step in -5..<5 {
        roads.road(Int64(100 + step), Int64(101 + step))
        roads.road(step == 0 ? 100 : Int64(200 + step), step == -1 ? 100 : Int64(201 + step))
    }
    return try roads.graph()
}

/// A square of side 2 × `half` metres around the crossroads, as WGS84 vertices.
func square(_ half: Double) -> [GeoPoint] {
    let projection = LocalProjection(origin: Roads.origin)
    return [(-half, -half), (half, -half), (half, half), (-half, half)].map { projection.unproject(PlanarPoint(x: $0.0, y: $0.1)) }
}

@Suite("Seal plan rings on the road graph")
struct PlanRingTests {
    /// Inside: the nodes within 250 m of the crossing; away: beyond 350 m (reach 100 m).
    func check() throws -> (RingCheck, RoadGraph) {
        let graph = try crossroads()
        let area = try PlanArea(graph: graph, boundary: square(250), reach: 100)
        return (RingCheck(graph: graph, area: area), graph)
    }

    func nodes(_ graph: RoadGraph, _ ids: [Int64]) -> [Int] { ids.map { graph.node(osmID: $0)! } }

    @Test("a ring on all four arms seals, inside or just outside the boundary; one arm left open is the gap, named by its road")
    func gaps() throws {
        let (check, graph) = try check()
        #expect(check.area.insideCount == 9)
        #expect(check.gaps(ring: Set(nodes(graph, [97, 103, 197, 203]))).isEmpty)
        #expect(check.gaps(ring: Set(nodes(graph, [98, 102, 198, 202]))).isEmpty)
        let open = check.gaps(ring: Set(nodes(graph, [97, 103, 197])))
        #expect(open.count == 1)
        let gap = try #require(open.first)
        #expect(graph.nodeIDs[gap.insideNode] == 202 && graph.nodeIDs[Int(graph.arcHead[gap.arc])] == 203)
        #expect(graph.name(ofArc: gap.arc) == "路202-203")
        // A point beyond the reach does not hold the ring: the suspect is already away there.
        #expect(!check.gaps(ring: Set(nodes(graph, [97, 103, 197, 205]))).isEmpty)
        #expect(check.redundant(ring: nodes(graph, [97, 103, 197, 203, 100])) == nodes(graph, [100]))
    }

    @Test("a draft is a minimum ring: checkpoints where a path needs them, unit posts for the rest")
    func draft() throws {
        let (check, graph) = try check()
        let bare = try #require(check.draft(fixed: []))
        #expect(bare.fixed.isEmpty && bare.posts.count == 4)
        #expect(check.gaps(ring: Set(bare.posts)).isEmpty)
        let withCheckpoint = try #require(check.draft(fixed: nodes(graph, [97, 100])))
        // The east arm's checkpoint is used; the one at the crossing no path needs is left out.
        #expect(withCheckpoint.fixed == nodes(graph, [97]))
        #expect(withCheckpoint.posts.count == 3)
        #expect(check.gaps(ring: Set(withCheckpoint.posts + withCheckpoint.fixed)).isEmpty)
    }

    @Test("the demo county's town plan is a ring of the junctions where the town's streets meet the county's roads")
    func demoTown() throws {
        let graph = SyntheticRoads.county(.demoCounty)
        let book = PlanBook(rings: RingService(roads: graph, speeds: .default))
        let plan = try book.draft(CheckpointControlPlugin.demoTownPlan, registry: [])
        let resolved = try book.resolve(plan) { _ in nil }
        #expect(book.report(resolved).sealed)
        // Each post cuts a road out: leaving any one out opens a gap.
        #expect(resolved.check.redundant(ring: resolved.nodes).isEmpty)
        #expect((8...40).contains(plan.positions.count), "\(plan.positions.count) posts")
        print("demo town plan: \(plan.positions.count) posts, \(resolved.check.area.insideCount) nodes inside")
    }
}

@Suite("Seal activations as a state machine")
struct SealRunTests {
    static let start: Int64 = 1_800_000_000_000

    func base(units: [String], drill: Bool = false) -> SealActivation {
        .with {
            $0.id = "TOWN-1"
            $0.plan = "TOWN"
            $0.planName = "关城门·城区"
            $0.drill = drill
            $0.activatedAt = Self.start
            $0.targetSeconds = 180
            $0.units = units.map { id in .with { $0.id = id } }
        }
    }

    func need(_ id: String, checkpoint: String = "", ready: Bool = false, preferred: String? = nil) -> SealRun.Need {
        SealRun.Need(position: .with {
            $0.id = id
            $0.checkpoint = checkpoint
        }, checkpointReady: ready, preferredUnit: preferred)
    }

    func orders(_ effects: [SealEffect]) -> [String: Xunfang_Checkpoint_V1_SealOrder] {
        var orders: [String: Xunfang_Checkpoint_V1_SealOrder] = [:]
        for case .order(let responder, let order) in effects { orders[responder] = order }
        return orders
    }

    @Test("units are matched to posts so the latest arrives as early as possible, not each post's nearest in turn")
    func bottleneck() {
        // The nearest-first choice gives P1 unit A (10 s) and leaves P2 unit B (500 s); the best has B at P1 and A at P2 (100 s).
        let eta: [[Double]] = [[10, 20], [100, 500]]
        #expect(SealRun.assign(eta, preferred: [nil, nil], units: ["A", "B"]) == [1, 0])
        // A preferred unit is kept; one that cannot get there is not.
        #expect(SealRun.assign(eta, preferred: ["A", nil], units: ["A", "B"]) == [0, 1])
        #expect(SealRun.assign([[.infinity, 5]], preferred: ["A"], units: ["A", "B"]) == [1])
        // More posts than units: as many as can be are filled.
        #expect(SealRun.assign([[10], [20]], preferred: [nil, nil], units: ["A"]).compactMap { $0 }.count == 1)
    }

    @Test("orders go out, positions come in, the seal closes when the last one does; late and duplicate acknowledgements are marked")
    func sealInPosition() throws {
        let needs = [need("CP1", checkpoint: "CP-1", ready: true), need("P1"), need("P2")]
        let eta: [[Double]] = [[], [30, 60], [90, 20]]
        var (run, effects) = SealRun.activate(base(units: ["A", "B"]), needs: needs, eta: eta)
        #expect(run.activation.state == .sealing)
        #expect(Set(orders(effects).keys) == ["CP-1", "A", "B"])
        #expect(effects.contains(.status(checkpoint: "CP-1", to: .alert, reason: "seal TOWN-1")))
        #expect(run.activation.positions.map(\.responder) == ["CP-1", "A", "B"])
        #expect(run.activation.positions[1].deadline == Self.start + 180_000, "the plan's target when the road time allows it")

        let first = try run.acknowledge(position: "CP1", by: "CP-1", at: Self.start + 40_000)
        #expect(!first.duplicate && first.position.secondsToSeal == 40 && !first.position.late)
        #expect(first.effects == [.status(checkpoint: "CP-1", to: .sealed, reason: "seal TOWN-1")])
        #expect(try run.acknowledge(position: "CP1", by: "CP-1", at: Self.start + 50_000).duplicate)
        #expect(throws: SealRun.Refusal.notOrdered(position: "P1", responder: "B", ordered: ["A"])) {
            try run.acknowledge(position: "P1", by: "B", at: Self.start + 50_000)
        }
        #expect(throws: SealRun.Refusal.unknownPosition("P9")) { try run.acknowledge(position: "P9", by: "A", at: Self.start) }
        _ = try run.acknowledge(position: "P1", by: "A", at: Self.start + 100_000)
        #expect(run.activation.state == .sealing)
        let last = try run.acknowledge(position: "P2", by: "B", at: Self.start + 200_000)
        #expect(last.position.late)
        #expect(run.activation.state == .sealed && run.activation.sealedAt == Self.start + 200_000 && run.activation.inPosition == 3)
        #expect(run.activation.timeline.map(\.kind).suffix(2) == ["in-position", "sealed"])
    }

    @Test("a press sent late keeps its time: the seal closes at the latest arrival, not at the last message in")
    func latePress() throws {
        var (run, _) = SealRun.activate(base(units: ["A", "B"]), needs: [need("P1"), need("P2")], eta: [[10, 20], [20, 10]])
        _ = try run.acknowledge(position: "P1", by: "A", at: Self.start + 150_000)
        // B was there at 120 s; its press comes in after A's.
        _ = try run.acknowledge(position: "P2", by: "B", at: Self.start + 120_000)
        #expect(run.activation.state == .sealed && run.activation.sealedAt == Self.start + 150_000)
        #expect(run.activation.positions.map(\.secondsToSeal) == [150, 120] && run.activation.timeline.last?.at == Self.start + 150_000)
    }

    @Test("a position not in position by its deadline passes to the nearest free unit, then to the duty officer")
    func passOnThenEscalate() throws {
        var (run, _) = SealRun.activate(base(units: ["A", "B", "C", "D"]), needs: [need("P1"), need("P2")], eta: [[10, 50, 400, 30], [20, 5, 400, 600]])
        #expect(run.activation.positions.map(\.responder) == ["A", "B"])
        #expect(run.tick(at: Self.start + 179_999) { _ in [] }.isEmpty, "nothing is due before the deadline")
        _ = try run.acknowledge(position: "P2", by: "B", at: Self.start + 60_000)
        // P1's unit A is late: D (30 s) is the nearest free unit; B holds P2.
        let passed = run.tick(at: Self.start + 180_000) { _ in [10, 50, 400, 30] }
        #expect(Set(orders(passed).keys) == ["D"])
        let p1 = run.activation.positions[0]
        #expect(p1.passedOver == ["A"] && p1.responder == "D" && p1.orderedAt == Self.start + 180_000)
        #expect(p1.deadline == Self.start + 180_000 + 90_000, "its road time and a minute's grace")
        // D is late too: C, the last free unit; then the passes are used up and the duty officer is told.
        _ = run.tick(at: Self.start + 270_000) { _ in [10, 50, 400, 30] }
        #expect(run.activation.positions[0].responder == "C")
        let escalated = run.tick(at: Self.start + 10_000_000) { _ in [10, 50, 400, 30] }
        #expect(run.activation.positions[0].state == .escalated)
        guard case .escalation(let escalation)? = escalated.first else { Issue.record("no escalation: \(escalated)"); return }
        #expect(escalation.reason.contains("passed on 2 times") && escalation.position.passedOver == ["A", "D"])
        // Whoever was ordered and arrives still holds it.
        #expect(try !run.acknowledge(position: "P1", by: "A", at: Self.start + 10_100_000).duplicate)
        #expect(run.activation.state == .sealed)
    }

    @Test("an unstaffed checkpoint gets a unit at once; no unit left is escalated at activation")
    func unstaffedCheckpoint() {
        let (run, effects) = SealRun.activate(base(units: ["A"]), needs: [need("CP1", checkpoint: "CP-1"), need("P1")], eta: [[20], [30]])
        #expect(run.activation.positions[0].responder == "A" && run.activation.positions[0].passedOver == ["CP-1"])
        #expect(run.activation.positions[1].state == .escalated)
        #expect(effects.contains { if case .escalation(let e) = $0 { e.position.id == "P1" } else { false } })
        #expect(!effects.contains { if case .status = $0 { true } else { false } }, "no status for a checkpoint no one staffs")
    }

    @Test("stand-down tells every responder ordered; a drill leaves the registry's statuses alone")
    func standDown() throws {
        var (real, _) = SealRun.activate(base(units: ["A"]), needs: [need("CP1", checkpoint: "CP-1", ready: true), need("P1")], eta: [[], [30]])
        let effects = try real.standDown(at: Self.start + 500_000, by: "desk / 王芳", reason: "suspect caught")
        #expect(orders(effects).values.allSatisfy(\.standDown) && Set(orders(effects).keys) == ["CP-1", "A"])
        #expect(effects.contains(.status(checkpoint: "CP-1", to: .standDown, reason: "seal TOWN-1 stood down")))
        #expect(real.activation.state == .stoodDown && real.activation.endedBy == "desk / 王芳")
        #expect(throws: SealRun.Refusal.ended) { try real.standDown(at: Self.start + 600_000, by: "x", reason: "") }
        #expect(throws: SealRun.Refusal.ended) { try real.acknowledge(position: "P1", by: "A", at: Self.start + 600_000) }

        var (drill, drillEffects) = SealRun.activate(base(units: ["A"], drill: true), needs: [need("CP1", checkpoint: "CP-1", ready: true)], eta: [[]])
        #expect(orders(drillEffects)["CP-1"]?.drill == true)
        #expect(!(drillEffects + (try drill.standDown(at: Self.start + 1, by: "x", reason: ""))).contains { if case .status = $0 { true } else { false } })
    }

    @Test("the after-action report puts misses first, then the slowest, and the HTML escapes what it shows")
    func afterAction() throws {
        var (run, _) = SealRun.activate(base(units: ["A", "B"]), needs: [need("P1"), need("P2"), need("P<3>")], eta: [[10, 20], [20, 10], [.infinity, .infinity]])
        _ = try run.acknowledge(position: "P1", by: "A", at: Self.start + 100_000)
        _ = try run.acknowledge(position: "P2", by: "B", at: Self.start + 200_000)
        _ = try run.standDown(at: Self.start + 300_000, by: "desk", reason: "")
        let report = AfterAction.report(run.activation)
        #expect(report.positions.map(\.position) == ["P<3>", "P2", "P1"])
        #expect(report.missed == 1 && report.late == 1 && report.slowestPosition == "P<3>" && report.secondsToSeal == 0 && !report.withinTarget)
        #expect(report.html.contains("P&lt;3&gt;") && !report.html.contains("P<3>"))
        #expect(report.html.contains("Not sealed: 1 of 3 positions never in position."))
    }
}

@Suite("Seal readiness: the plan as it would go now, and who stands by")
struct ReadinessTests {
    let plan = SealPlan.with { $0.id = "TOWN"; $0.name = "关城门·城区"; $0.targetSeconds = 180 }

    func need(_ id: String, checkpoint: String = "", ready: Bool = false) -> SealRun.Need {
        SealRun.Need(position: .with { $0.id = id; $0.checkpoint = checkpoint }, checkpointReady: ready, preferredUnit: nil)
    }

    @Test("a position is covered within the target less a quarter; an uncovered one gets the unit the activation would send as its standby")
    func uncoveredGetsStandby() {
        // P1: A at 100 s (covered, within 135). P2: B at 200 s or A at 150 s; the bottleneck gives
        // P1 A and P2 B (200 s), so P2 is uncovered and B stands by for it. CP is staffed.
        let readiness = Readiness.assess(plan, needs: [need("CP", checkpoint: "CP-1", ready: true), need("P1"), need("P2")],
                                         eta: [[], [100, 300], [150, 200]], units: ["A", "B"], standbys: [:], at: 5)
        #expect(readiness.marginSeconds == 45 && readiness.targetSeconds == 180 && readiness.availableUnits == 2 && readiness.at == 5)
        #expect(readiness.positions.map(\.responder) == ["CP-1", "A", "B"])
        #expect(readiness.positions.map(\.covered) == [true, true, false])
        #expect(readiness.positions.map(\.standby) == ["", "", "B"])
        #expect(readiness.covered == 2 && readiness.expectedSeconds == 200)
        #expect(Readiness.standbys(readiness) == ["P2": "B"])
        // A county that stands units by only at raised alert: the same assessment, no one asked.
        let quiet = Readiness.assess(plan, needs: [need("CP", checkpoint: "CP-1", ready: true), need("P1"), need("P2")],
                                     eta: [[], [100, 300], [150, 200]], units: ["A", "B"], standbys: ["P2": "B"], at: 5, asksStandbys: false)
        #expect(quiet.positions.map(\.covered) == [true, true, false] && Readiness.standbys(quiet).isEmpty)
    }

    @Test("a standby stays with its position while its unit is available and no other is near, and is taken first; a unit gone frees the position for another")
    func standbyIsSticky() {
        // B has come to P2 (40 s) and is now also nearest P1; it stays P2's.
        let kept = Readiness.assess(plan, needs: [need("P1"), need("P2")], eta: [[120, 30, 400], [300, 40, 500]],
                                    units: ["A", "B", "C"], standbys: ["P2": "B"], at: 6)
        #expect(kept.positions.map(\.responder) == ["A", "B"] && kept.positions.map(\.covered) == [true, true])
        #expect(Readiness.standbys(kept) == ["P2": "B"])
        // A, not standing by, comes within 80 s of P2 (within the target less twice the margin): B is released.
        let relieved = Readiness.assess(plan, needs: [need("P1"), need("P2")], eta: [[120, 30, 400], [80, 40, 500]],
                                        units: ["A", "B", "C"], standbys: ["P2": "B"], at: 6)
        #expect(relieved.positions.map(\.responder) == ["A", "B"] && Readiness.standbys(relieved).isEmpty)
        // B went to an incident: A keeps P1 (sending it to P2 would leave P1 to C at 600 s) and C is asked to P2.
        let moved = Readiness.assess(plan, needs: [need("P1"), need("P2")], eta: [[120, 600], [300, 500]],
                                     units: ["A", "C"], standbys: ["P2": "B"], at: 7)
        #expect(Readiness.standbys(moved) == ["P2": "C"] && moved.covered == 1)
    }

    @Test("a position no unit can reach has no responder, and the plan's expected time says so")
    func unreachable() {
        let readiness = Readiness.assess(plan, needs: [need("P1"), need("P2")], eta: [[60], [.infinity]], units: ["A"], standbys: [:], at: 8)
        #expect(readiness.positions.map(\.responder) == ["A", ""] && readiness.positions[1].etaSeconds == -1)
        #expect(readiness.expectedSeconds == -1 && readiness.covered == 1 && Readiness.standbys(readiness).isEmpty)
    }
}
