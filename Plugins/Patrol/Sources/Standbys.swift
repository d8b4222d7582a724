import Synchronization
import CheckpointControlContract
import PatrolContract

/// CheckpointControl's asks to stand by (备勤): each seal plan's newest readiness names the
/// units that keep an uncovered position within reach; each becomes that unit's standby
/// post in its assignment. A readiness not renewed for ten minutes (CheckpointControl
/// stopped, or no longer asks) is dropped, and with it its standbys.
final class Standbys: Sendable {
    static let topic = "checkpoint.readiness"
    static let lifetime: Int64 = 10 * 60_000
    private let newest = Mutex<[String: Xunfang_Checkpoint_V1_SealReadiness]>([:])

    func take(_ readiness: Xunfang_Checkpoint_V1_SealReadiness) {
        guard (1...64).contains(readiness.plan.utf8.count), readiness.positions.count <= 200 else { return }
        newest.withLock { kept in
            if let before = kept[readiness.plan], before.at > readiness.at { return }
            kept[readiness.plan] = readiness
        }
    }

    func posts(at now: Int64) -> [String: Xunfang_Patrol_V1_Standby] {
        Self.posts(newest.withLock { Array($0.values) }, at: now)
    }

    /// Each standing-by unit's post (a unit asked by two plans keeps the first plan's, by id).
    static func posts(_ readinesses: [Xunfang_Checkpoint_V1_SealReadiness], at now: Int64) -> [String: Xunfang_Patrol_V1_Standby] {
        var posts: [String: Xunfang_Patrol_V1_Standby] = [:]
        for readiness in readinesses.sorted(by: { $0.plan < $1.plan }) where now - readiness.at <= lifetime {
            for position in readiness.positions where !position.standby.isEmpty && posts[position.standby] == nil {
                posts[position.standby] = .with {
                    $0.plan = readiness.plan
                    $0.planName = readiness.planName
                    $0.positionID = position.id
                    $0.name = position.name
                    $0.position = .with { $0.longitude = position.longitude; $0.latitude = position.latitude }
                    $0.targetSeconds = readiness.targetSeconds
                }
            }
        }
        return posts
    }
}
