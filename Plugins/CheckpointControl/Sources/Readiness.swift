import CheckpointControlContract

typealias SealReadiness = Xunfang_Checkpoint_V1_SealReadiness

/// A plan as it would go if activated now, and the units asked to stand by (备勤) so that it
/// would go within its target. Pure: the units' road times and the standbys kept so far
/// come in as values.
///
/// A position is covered when the unit the activation would send (the same bottleneck
/// assignment as `SealRun.activate`) is within the target less the margin: estimates are
/// from the unit's last fix, and a unit finishes its road and turns before it drives off.
/// An uncovered position gets that unit as its standby, kept first when units are assigned
/// again, while its unit is available and until a unit not standing by would be there
/// within the target less twice the margin (a unit released the moment the position looks
/// covered would drift away and be asked back a minute later).
enum Readiness {
    /// The share of the target kept as margin: 45 s of the 3-minute target.
    static let marginShare = 0.25

    /// `asksStandbys` false: the assessment alone (a county that stands units by only at raised alert).
    static func assess(_ plan: SealPlan, needs: [SealRun.Need], eta: [[Double]], units: [String], standbys kept: [String: String],
                       at now: Int64, asksStandbys: Bool = true) -> SealReadiness {
        let target = Double(plan.targetSeconds > 0 ? plan.targetSeconds : 180)
        let margin = (target * marginShare).rounded()
        let unitNeeds = needs.indices.filter { !needs[$0].checkpointReady }
        let standing = unitNeeds.map { kept[needs[$0].position.id].flatMap { units.contains($0) ? $0 : nil } }
        let preferred = zip(unitNeeds, standing).map { need, standby in standby ?? needs[need].preferredUnit }
        let assigned = Dictionary(uniqueKeysWithValues: zip(unitNeeds, SealRun.assign(unitNeeds.map { eta[$0] }, preferred: preferred, units: units)))
        let standbyOf = Dictionary(uniqueKeysWithValues: zip(unitNeeds, standing))
        let standingBy = Set(standing.compactMap { $0 })
        func released(_ need: Int) -> Bool {
            let others = units.indices.filter { !standingBy.contains(units[$0]) }.map { eta[need][$0] }
            return (others.min() ?? .infinity) <= target - 2 * margin
        }
        var readiness = SealReadiness.with {
            $0.plan = plan.id
            $0.planName = plan.name
            $0.at = now
            $0.targetSeconds = Int32(target)
            $0.marginSeconds = margin
            $0.availableUnits = Int32(units.count)
        }
        for (index, need) in needs.enumerated() {
            var position = Xunfang_Checkpoint_V1_ReadinessPosition.with {
                $0.id = need.position.id
                $0.name = need.position.name
                $0.checkpoint = need.position.checkpoint
                $0.longitude = need.position.longitude
                $0.latitude = need.position.latitude
                $0.etaSeconds = -1
            }
            if need.checkpointReady {
                position.responder = need.position.checkpoint
                position.etaSeconds = 0
                position.covered = true
            } else if let unit = assigned[index] ?? nil {
                position.responder = units[unit]
                position.etaSeconds = eta[index][unit]
                position.covered = eta[index][unit] <= target - margin
                if !asksStandbys {
                    position.standby = ""
                } else if let kept = standbyOf[index] ?? nil {
                    position.standby = released(index) ? "" : kept
                } else {
                    position.standby = position.covered ? "" : units[unit]
                }
            }
            readiness.positions.append(position)
        }
        readiness.covered = Int32(readiness.positions.filter(\.covered).count)
        let times = readiness.positions.map(\.etaSeconds)
        readiness.expectedSeconds = times.contains(-1) ? -1 : times.max() ?? 0
        return readiness
    }

    /// The standbys a readiness asks for, by position id.
    static func standbys(_ readiness: SealReadiness) -> [String: String] {
        Dictionary(readiness.positions.filter { !$0.standby.isEmpty }.map { ($0.id, $0.standby) }, uniquingKeysWith: { first, _ in first })
    }
}
