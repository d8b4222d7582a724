@testable import PatrolPlugin
import GridModelContract
import PatrolContract
import SituationAnalysisContract
import CheckpointControlContract
import Testing

@Suite("Assignments from the shift's plan")
struct AssignerTests {
    let shiftStart = china("2026-12-02 08:00")

    func part(_ callSign: String, grids: [String], onPatrol: Bool = true, stops: [(String, String)] = []) -> Xunfang_Situation_V1_PatrolAssignment {
        var part = Xunfang_Situation_V1_PatrolAssignment()
        part.callSign = callSign
        part.stationID = "S1"
        part.onPatrol = onPatrol
        part.gridIds = grids
        part.stops = stops.map { cell, at in
            var stop = Xunfang_Situation_V1_PatrolStop()
            stop.cellID = cell
            stop.start = china("2026-12-02 \(at)")
            stop.minutes = 12
            return stop
        }
        return part
    }

    func duty(_ callSign: String, note: String = "") -> Xunfang_Patrol_V1_UnitDuty {
        var duty = Xunfang_Patrol_V1_UnitDuty()
        duty.callSign = callSign
        duty.shiftStart = shiftStart
        duty.note = note
        return duty
    }

    func site(_ id: String, _ kind: Xunfang_GridModel_V1_SiteKind, grid: String) -> Xunfang_GridModel_V1_Site {
        var site = Xunfang_GridModel_V1_Site()
        site.id = id
        site.kind = kind
        site.gridID = grid
        return site
    }

    var input: Assigner.Input {
        var plan = Xunfang_Situation_V1_DeploymentPlan()
        plan.shiftStart = shiftStart
        plan.shiftEnd = shiftStart + 8 * 3_600_000
        plan.assignments = [part("A", grids: ["G1", "G2"], stops: [("c1_1", "09:00"), ("c2_2", "13:00")]), part("B", grids: ["G3"], stops: [("c3_3", "10:00")]),
                            part("C", grids: [], onPatrol: false), part("E", grids: ["G4"])]
        var cell = Xunfang_Situation_V1_HotCell()
        cell.id = "c3_3"
        cell.longitude = 104.3
        cell.latitude = 30.9
        plan.hotCells = [cell]
        let sites = [site("P1", .patrolPoint, grid: "G1"), site("P2", .patrolPoint, grid: "G3"), site("L1", .patrolLine, grid: "G3"),
                     site("P4", .patrolPoint, grid: "G4"), site("K1", .checkpoint, grid: "G1"), site("P9", .patrolPoint, grid: "G9")]
        // B is on leave with no stand-in; D stands in for E; F came on and is not in the plan.
        return Assigner.Input(plan: plan, onDuty: [duty("A"), duty("C"), duty("D", note: "替 E"), duty("F")],
                              stations: ["A": "S1", "B": "S1", "C": "S1", "D": "S1", "E": "S1", "F": "S1"], sites: sites)
    }

    @Test("each on-duty unit gets its part with its grids' must-patrol sites and timed stops; a stand-in takes the absent's part; an absent unit's grids go to its station's least-loaded unit")
    func assignments() {
        let made = Dictionary(uniqueKeysWithValues: Assigner.assignments(input).map { ($0.callSign, $0) })
        #expect(made.keys.sorted() == ["A", "C", "D", "F"])
        #expect(made["A"]?.gridIds == ["G1", "G2"] && made["A"]?.points.map(\.siteID) == ["P1"] && made["A"]?.lines.isEmpty == true)
        #expect(made["A"]?.stops.map(\.cellID) == ["c1_1", "c2_2"] && made["A"]?.note == "shift plan")
        let d = made["D"]
        #expect(d?.gridIds == ["G4", "G3"] && d?.points.map(\.siteID) == ["P4", "P2"] && d?.lines.map(\.siteID) == ["L1"], "E's grid and B's, B's line too")
        #expect(d?.note == "stands in for E; takes over B's grids (off duty)")
        #expect(d?.stops.first?.cellID == "c3_3" && d?.stops.first?.position.longitude == 104.3, "B's stop, placed at its hot cell")
        #expect(made["C"]?.onPatrol == false && made["C"]?.gridIds.isEmpty == true)
        #expect(made["F"]?.onPatrol == false && made["F"]?.note.contains("station duties") == true)
        #expect(made.values.allSatisfy { $0.shiftStart == shiftStart && $0.stationID == "S1" })
    }

    @Test("only new or changed assignments go out, each with its next revision; a new shift starts again at 1")
    func revisions() {
        let first = Assigner.changes(Assigner.assignments(input), kept: [:])
        #expect(first.count == 4 && first.allSatisfy { $0.revision == 1 })
        let kept = Dictionary(uniqueKeysWithValues: first.map { ($0.callSign, $0) })
        #expect(Assigner.changes(Assigner.assignments(input), kept: kept).isEmpty)
        var changed = input
        changed.plan.assignments[0].stops[0].start += 1_800_000
        let second = Assigner.changes(Assigner.assignments(changed), kept: kept)
        #expect(second.map { "\($0.callSign) r\($0.revision)" } == ["A r2"])
        var next = input
        next.plan.shiftStart += 8 * 3_600_000
        #expect(Assigner.changes(Assigner.assignments(next), kept: kept).allSatisfy { $0.revision == 1 })
    }

    func readiness(_ plan: String, at: Int64, standbys: [(position: String, unit: String)]) -> Xunfang_Checkpoint_V1_SealReadiness {
        .with {
            $0.plan = plan
            $0.planName = "关城门 \(plan)"
            $0.at = at
            $0.targetSeconds = 180
            $0.positions = standbys.map { entry in .with { $0.id = entry.position; $0.name = "路口 \(entry.position)"; $0.longitude = 104.1; $0.latitude = 30.8; $0.standby = entry.unit } }
                + [.with { $0.id = "covered"; $0.covered = true }]
        }
    }

    @Test("a unit CheckpointControl asks to stand by gets the seal position in its assignment, as a change with its next revision, and loses it when the ask ends")
    func standbys() {
        let now = shiftStart + 3_600_000
        // D is asked by two plans: the first plan by id keeps it; an ask ten minutes old is dropped.
        let posts = Standbys.posts([readiness("TOWN", at: now - 60_000, standbys: [("P3", "D")]), readiness("EAST", at: now, standbys: [("E1", "D"), ("E2", "C")]),
                                    readiness("OLD", at: now - 11 * 60_000, standbys: [("O1", "A")])], at: now)
        #expect(posts.keys.sorted() == ["C", "D"] && posts["D"]?.plan == "EAST" && posts["D"]?.positionID == "E1" && posts["C"]?.targetSeconds == 180)
        #expect(posts["D"]?.position.longitude == 104.1 && posts["D"]?.name == "路口 E1")
        let kept = Dictionary(uniqueKeysWithValues: Assigner.changes(Assigner.assignments(input), kept: [:]).map { ($0.callSign, $0) })
        var asked = input
        asked.standbys = posts
        let changed = Assigner.changes(Assigner.assignments(asked), kept: kept)
        #expect(changed.map { "\($0.callSign) r\($0.revision)" } == ["C r2", "D r2"])
        #expect(changed.first { $0.callSign == "D" }?.note == "stands in for E; takes over B's grids (off duty); stands by at E1 路口 E1 for EAST")
        #expect(changed.first { $0.callSign == "D" }?.gridIds == ["G4", "G3"], "its beat is kept for when the ask ends")
        let standing = kept.merging(changed.map { ($0.callSign, $0) }, uniquingKeysWith: { _, new in new })
        let released = Assigner.changes(Assigner.assignments(input), kept: standing)
        #expect(released.map { "\($0.callSign) r\($0.revision)" } == ["C r3", "D r3"] && released.allSatisfy { !$0.hasStandby })
    }
}
