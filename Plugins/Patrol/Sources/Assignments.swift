import Foundation
import XunfangPluginKit
import DispatchContract
import GridModelContract
import CheckpointControlContract
import PatrolContract
import SituationAnalysisContract

/// Assignments on the bus: the shift's plan asked of Situation once a shift (or taken from
/// `situation.deployment` when the duty officer plans again), the must-patrol sites from
/// GridModel, and each unit's changed assignment on its durable topic.
extension PatrolPlugin {
    /// Optional calls and subscription (a county may run Patrol without Situation), so not
    /// in the manifest.
    static let plan = "/xunfang.situation.v1.Situation/Plan"
    static let listSites = "/xunfang.grid_model.v1.GridModel/ListSites"
    static let deploymentTopic = "situation.deployment"
    static let planConsumer = "patrol-plans"
    static let assignmentTopic = "patrol.assignment.>"

    static func assignmentTopic(_ callSign: String) -> String { "patrol.assignment.\(callSign)" }

    /// One pass: the current shift's assignments made and each change published.
    func keepAssignments(_ roster: Xunfang_Patrol_V1_OnDutyResponse, units: [Xunfang_Dispatch_V1_Unit], _ bus: BusClient) async throws {
        guard let shiftStart = roster.onDuty.map(\.shiftStart).max() else { return }
        let stations = Dictionary(units.map { ($0.callSign, $0.homeStation) }, uniquingKeysWith: { first, _ in first })
        let plan: Xunfang_Situation_V1_DeploymentPlan
        if let kept = try duty.store.plan(shiftStart: shiftStart) {
            plan = kept
        } else {
            var request = Xunfang_Situation_V1_PlanRequest()
            request.shiftStart = shiftStart
            request.units = roster.onDuty.map { duty in
                var unit = Xunfang_Situation_V1_PlanUnit()
                unit.callSign = duty.callSign
                unit.stationID = stations[duty.callSign] ?? ""
                return unit
            }
            plan = try await bus.call(Self.plan, request, as: Xunfang_Situation_V1_DeploymentPlan.self)
            try duty.store.put(plan: plan)
            try await regradeCameras(plan)
        }
        var sites: [Xunfang_GridModel_V1_Site] = []
        for kind in [Xunfang_GridModel_V1_SiteKind.patrolPoint, .patrolLine] {
            var request = Xunfang_GridModel_V1_ListSitesRequest()
            request.kind = kind
            sites += try await bus.call(Self.listSites, request, as: Xunfang_GridModel_V1_ListSitesResponse.self).sites
        }
        let now = duty.now(), posts = standbys.posts(at: now)
        let fresh = Assigner.assignments(Assigner.Input(plan: plan, onDuty: roster.onDuty, stations: stations, sites: sites, standbys: posts))
        // Kept for compliance: a pass a minute, so a span goes on across a pass or two missed.
        for (callSign, post) in posts where fresh.contains(where: { $0.callSign == callSign }) {
            try duty.store.noteStandby(callSign, plan: post.plan, at: now, join: 5 * 60_000)
        }
        // Published before it is kept: after a crash between the two the same revision goes
        // out again, which a terminal takes as it is.
        for assignment in Assigner.changes(fresh, kept: try duty.store.assignments(shiftStart: shiftStart)) {
            _ = try await bus.publishConfirmed(Self.assignmentTopic(assignment.callSign), assignment)
            try duty.store.put(assignment: assignment)
        }
    }

    /// Plans made by the duty officer: the current shift's replaces the kept one.
    func takePlans(_ bus: BusClient) async {
        do {
            try await bus.consume(Self.deploymentTopic, as: Xunfang_Situation_V1_DeploymentPlan.self, durable: Self.planConsumer) { plan, _ in
                guard plan.shiftEnd > duty.now() else { return }
                try duty.store.put(plan: plan)
                try await regradeCameras(plan)
            }
        } catch {
            logger.info("situation.deployment not followed (no ACL grant?): assignments keep the shift's first plan", metadata: ["xunfang.error": "\(error)"])
        }
    }

    /// CheckpointControl's readiness, whose standbys go into the next pass's assignments
    /// (optional: a county may run Patrol without CheckpointControl).
    func takeStandbys(_ bus: BusClient) async {
        do {
            try await bus.consume(Standbys.topic, as: Xunfang_Checkpoint_V1_SealReadiness.self) { readiness, _ in standbys.take(readiness) }
        } catch {
            logger.info("checkpoint.readiness not followed (no ACL grant?): no unit stands by for a seal", metadata: ["xunfang.error": "\(error)"])
        }
    }

    func assignments(_ request: Xunfang_Patrol_V1_AssignmentsRequest) throws -> Xunfang_Patrol_V1_AssignmentsResponse {
        let roster = try duty.onDuty(Xunfang_Patrol_V1_OnDutyRequest())
        var response = Xunfang_Patrol_V1_AssignmentsResponse()
        response.shiftStart = roster.onDuty.map(\.shiftStart).max() ?? 0
        let onDuty = Set(roster.onDuty.map(\.callSign))
        response.assignments = try duty.store.assignments(shiftStart: response.shiftStart).values
            .filter { onDuty.contains($0.callSign) && (request.callSign.isEmpty || $0.callSign == request.callSign) }
            .sorted { $0.callSign < $1.callSign }
        if try duty.store.plan(shiftStart: response.shiftStart) == nil {
            response.planNote = assignsUnits ? "no plan from Situation for this shift yet" : "PATROL_ASSIGNMENTS is off"
        } else {
            response.planNote = "Situation's plan for the shift from \(ChinaTime.format(milliseconds: response.shiftStart))"
        }
        return response
    }
}
