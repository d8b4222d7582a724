import Foundation
import GRDB
import XunfangGeo
import XunfangOutbox
import PatrolContract
import SituationAnalysisContract

/// The roster's facts in one SQLite file: each unit's team, leave and swaps. WAL,
/// synchronous=NORMAL: a process crash loses nothing committed.
final class PatrolStore: Sendable {
    let queue: DatabaseQueue

    init(path: String) throws {
        queue = try PluginDatabase.open(path: path)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 roster") { db in
            try db.execute(sql: """
                CREATE TABLE member (call_sign TEXT PRIMARY KEY NOT NULL, team TEXT NOT NULL);
                CREATE TABLE leave (seq INTEGER PRIMARY KEY, call_sign TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, reason TEXT NOT NULL);
                CREATE INDEX leave_end ON leave(end);
                CREATE TABLE swap (absent TEXT NOT NULL, shift_start INTEGER NOT NULL, stand_in TEXT NOT NULL, reason TEXT NOT NULL,
                                   PRIMARY KEY (absent, shift_start));
                """)
        }
        migrator.registerMigration("v2 terminals") { db in
            // Each unit's newest fix, and the fix it had when it was last flagged silent.
            try db.execute(sql: """
                CREATE TABLE terminal (call_sign TEXT PRIMARY KEY NOT NULL, at INTEGER NOT NULL, longitude REAL NOT NULL, latitude REAL NOT NULL,
                                       flagged_silent INTEGER);
                """)
        }
        migrator.registerMigration("v3 assignments") { db in
            try db.execute(sql: """
                CREATE TABLE plan (shift_start INTEGER PRIMARY KEY NOT NULL, record BLOB NOT NULL);
                CREATE TABLE assignment (call_sign TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL);
                """)
        }
        migrator.registerMigration("v4 tracks and compliance") { db in
            // Assignments by shift, so a closed shift is judged against its own; every fix,
            // kept PATROL_TRACK_DAYS; each closed shift's results per unit.
            try db.execute(sql: """
                DROP TABLE assignment;
                CREATE TABLE assignment (shift_start INTEGER NOT NULL, call_sign TEXT NOT NULL, record BLOB NOT NULL, PRIMARY KEY (shift_start, call_sign));
                CREATE TABLE fix (call_sign TEXT NOT NULL, at INTEGER NOT NULL, longitude REAL NOT NULL, latitude REAL NOT NULL,
                                  PRIMARY KEY (call_sign, at)) WITHOUT ROWID;
                CREATE INDEX fix_at ON fix (at);
                CREATE TABLE shift_compliance (shift_start INTEGER NOT NULL, call_sign TEXT NOT NULL, record BLOB NOT NULL,
                                               PRIMARY KEY (shift_start, call_sign));
                """)
        }
        migrator.registerMigration("v5 driven arcs") { db in
            // The road arcs each unit's matched track settled on, and the time of the newest
            // fix settled (the fixes after it are matched again after a restart).
            try db.execute(sql: """
                CREATE TABLE driven (seq INTEGER PRIMARY KEY, call_sign TEXT NOT NULL, entered INTEGER NOT NULL, from_node INTEGER NOT NULL,
                                     to_node INTEGER NOT NULL, from_longitude REAL NOT NULL, from_latitude REAL NOT NULL,
                                     to_longitude REAL NOT NULL, to_latitude REAL NOT NULL, metres REAL NOT NULL);
                CREATE INDEX driven_unit ON driven (call_sign, entered);
                CREATE INDEX driven_entered ON driven (entered);
                CREATE TABLE match_progress (call_sign TEXT PRIMARY KEY NOT NULL, settled INTEGER NOT NULL);
                """)
        }
        migrator.registerMigration("v6 cameras") { db in
            // The video patrol desk's cameras (grades in force in the record), when the analysis
            // last re-set them, and what operators saw on them, linked to Dispatch's incidents.
            try db.execute(sql: """
                CREATE TABLE camera (id TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL);
                CREATE TABLE grading (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);
                CREATE TABLE sighting (seq INTEGER PRIMARY KEY, external_id TEXT NOT NULL UNIQUE, camera_id TEXT NOT NULL, at INTEGER NOT NULL,
                                       operator TEXT NOT NULL, type_code TEXT NOT NULL, note TEXT NOT NULL, incident_id TEXT NOT NULL);
                CREATE INDEX sighting_camera ON sighting (camera_id, at);
                """)
        }
        migrator.registerMigration("v7 check-ins") { db in
            // Officers' check-ins at must-patrol points, each where the unit's fix put it.
            try db.execute(sql: """
                CREATE TABLE check_in (call_sign TEXT NOT NULL, site_id TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (call_sign, at, site_id)) WITHOUT ROWID;
                CREATE INDEX check_in_at ON check_in (at);
                """)
        }
        migrator.registerMigration("v8 standby spans") { db in
            // When each unit stood by for a seal plan (备勤), so that compliance knows why its patrol was cut short.
            try db.execute(sql: """
                CREATE TABLE standby (call_sign TEXT NOT NULL, plan TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, PRIMARY KEY (call_sign, start)) WITHOUT ROWID;
                CREATE INDEX standby_end ON standby (end);
                """)
        }
        try migrator.migrate(queue)
    }

    /// The unit stands by for `plan` at `time`: its latest span for the plan grows to it when it
    /// ended within `join` ms before, else a new span begins.
    func noteStandby(_ callSign: String, plan: String, at time: Int64, join: Int64) throws {
        try queue.write { db in
            let latest = try Row.fetchOne(db, sql: "SELECT start, end, plan FROM standby WHERE call_sign = ? ORDER BY start DESC LIMIT 1", arguments: [callSign])
            if let latest, latest["plan"] as String == plan, time >= latest["end"] as Int64, time - (latest["end"] as Int64) <= join {
                try db.execute(sql: "UPDATE standby SET end = ? WHERE call_sign = ? AND start = ?", arguments: [time, callSign, latest["start"] as Int64])
            } else if latest.map({ time > $0["end"] as Int64 }) ?? true {
                try db.execute(sql: "INSERT OR IGNORE INTO standby (call_sign, plan, start, end) VALUES (?, ?, ?, ?)", arguments: [callSign, plan, time, time])
            }
        }
    }

    /// A unit's standby spans overlapping `from..<to`, clipped to it, in time order.
    func standbys(of callSign: String, from: Int64, to: Int64) throws -> [(plan: String, start: Int64, end: Int64)] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT plan, start, end FROM standby WHERE call_sign = ? AND end >= ? AND start < ? ORDER BY start",
                             arguments: [callSign, from, to]).map { ($0["plan"], max(from, $0["start"]), min(to, $0["end"])) }
        }
    }

    func checkIn(_ callSign: String, at site: String, time: Int64) throws {
        try queue.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO check_in (call_sign, site_id, at) VALUES (?, ?, ?)", arguments: [callSign, site, time])
        }
    }

    /// A unit's first check-in at each site in `from..<to`.
    func checkIns(of callSign: String, from: Int64, to: Int64) throws -> [String: Int64] {
        try queue.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT site_id, min(at) AS at FROM check_in WHERE call_sign = ? AND at >= ? AND at < ? GROUP BY site_id",
                                                              arguments: [callSign, from, to]).map { ($0["site_id"], $0["at"]) })
        }
    }

    /// Adds or replaces cameras, all in one transaction.
    func put(cameras: [Xunfang_Patrol_V1_Camera]) throws {
        try queue.write { db in
            let upsert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO camera (id, record) VALUES (?, ?)")
            for camera in cameras { try upsert.execute(arguments: [camera.id, try camera.serializedBytes() as Data]) }
        }
    }

    /// Grades re-set by the analysis, and when.
    func regraded(_ cameras: [Xunfang_Patrol_V1_Camera], at: Int64) throws {
        try put(cameras: cameras)
        try queue.write { db in try db.execute(sql: "INSERT OR REPLACE INTO grading (id, at) VALUES (1, ?)", arguments: [at]) }
    }

    func cameras() throws -> [Xunfang_Patrol_V1_Camera] {
        try queue.read { db in try Data.fetchAll(db, sql: "SELECT record FROM camera ORDER BY id").map { try Xunfang_Patrol_V1_Camera(serializedBytes: $0) } }
    }

    func camera(_ id: String) throws -> Xunfang_Patrol_V1_Camera? {
        try queue.read { db in try Data.fetchOne(db, sql: "SELECT record FROM camera WHERE id = ?", arguments: [id]).map { try Xunfang_Patrol_V1_Camera(serializedBytes: $0) } }
    }

    func gradedAt() throws -> Int64 {
        try queue.read { db in try Int64.fetchOne(db, sql: "SELECT at FROM grading WHERE id = 1") ?? 0 }
    }

    /// The newest plan Situation made.
    func latestPlan() throws -> Xunfang_Situation_V1_DeploymentPlan? {
        try queue.read { db in
            try Data.fetchOne(db, sql: "SELECT record FROM plan ORDER BY shift_start DESC LIMIT 1").map { try Xunfang_Situation_V1_DeploymentPlan(serializedBytes: $0) }
        }
    }

    /// What an operator saw on a camera, with the incident it became.
    struct Sighting: Equatable, Sendable {
        var externalID: String
        var cameraID: String
        var at: Int64
        var by: String
        var typeCode: String
        var note: String
        var incidentID: String
    }

    /// Kept once per external id; the kept one when it was kept before (a retry).
    func record(_ sighting: Sighting) throws -> Sighting {
        try queue.write { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO sighting (external_id, camera_id, at, operator, type_code, note, incident_id) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [sighting.externalID, sighting.cameraID, sighting.at, sighting.by, sighting.typeCode, sighting.note, sighting.incidentID])
            return Self.sighting(try Row.fetchOne(db, sql: "SELECT * FROM sighting WHERE external_id = ?", arguments: [sighting.externalID])!)
        }
    }

    func sightings(of cameraID: String) throws -> [Sighting] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM sighting WHERE camera_id = ? ORDER BY at", arguments: [cameraID]).map(Self.sighting)
        }
    }

    static func sighting(_ row: Row) -> Sighting {
        Sighting(externalID: row["external_id"], cameraID: row["camera_id"], at: row["at"], by: row["operator"], typeCode: row["type_code"],
                 note: row["note"], incidentID: row["incident_id"])
    }

    /// A road arc a unit's matched track drove.
    struct DrivenArc: Equatable, Sendable {
        var callSign: String
        var entered: Int64
        var fromNode: Int64
        var toNode: Int64
        var from: GeoPoint
        var to: GeoPoint
        var metres: Double
    }

    /// Keeps settled arcs and each unit's newest settled fix, together.
    func record(driven arcs: [DrivenArc], progress: [String: Int64]) throws {
        guard !arcs.isEmpty || !progress.isEmpty else { return }
        try queue.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO driven (call_sign, entered, from_node, to_node, from_longitude, from_latitude, to_longitude, to_latitude, metres)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for arc in arcs {
                try insert.execute(arguments: [arc.callSign, arc.entered, arc.fromNode, arc.toNode, arc.from.longitude, arc.from.latitude,
                                               arc.to.longitude, arc.to.latitude, arc.metres])
            }
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO match_progress (call_sign, settled) VALUES (?, ?)
                ON CONFLICT (call_sign) DO UPDATE SET settled = max(settled, excluded.settled)
                """)
            for (callSign, settled) in progress { try upsert.execute(arguments: [callSign, settled]) }
        }
    }

    /// The newest settled fix of each of these units that has one, and the last arc kept.
    func matchProgress(of units: [String]) throws -> [String: (at: Int64, lastArc: [Int64]?)] {
        guard !units.isEmpty else { return [:] }
        return try queue.read { db in
            let marks = "(\(units.map { _ in "?" }.joined(separator: ",")))"
            let last = try Row.fetchAll(db, sql: """
                SELECT call_sign, from_node, to_node FROM driven WHERE seq IN (SELECT max(seq) FROM driven WHERE call_sign IN \(marks) GROUP BY call_sign)
                """, arguments: StatementArguments(units))
            let arcs = Dictionary(uniqueKeysWithValues: last.map { ($0["call_sign"] as String, [$0["from_node"] as Int64, $0["to_node"] as Int64]) })
            return Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT call_sign, settled FROM match_progress WHERE call_sign IN \(marks)",
                                                                     arguments: StatementArguments(units)).map { row in
                let callSign: String = row["call_sign"]
                return (callSign, (row["settled"] as Int64, arcs[callSign]))
            })
        }
    }

    /// The arcs a unit drove, entered in `from..<to`, in order.
    func driven(of callSign: String, from: Int64, to: Int64) throws -> [DrivenArc] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM driven WHERE call_sign = ? AND entered >= ? AND entered < ? ORDER BY entered, seq",
                             arguments: [callSign, from, to]).map { row in
                DrivenArc(callSign: row["call_sign"], entered: row["entered"], fromNode: row["from_node"], toNode: row["to_node"],
                          from: GeoPoint(longitude: row["from_longitude"], latitude: row["from_latitude"]),
                          to: GeoPoint(longitude: row["to_longitude"], latitude: row["to_latitude"]), metres: row["metres"])
            }
        }
    }

    /// The shift's plan, from Situation (the newest made for that shift).
    func plan(shiftStart: Int64) throws -> Xunfang_Situation_V1_DeploymentPlan? {
        try queue.read { db in
            try Data.fetchOne(db, sql: "SELECT record FROM plan WHERE shift_start = ?", arguments: [shiftStart])
                .map { try Xunfang_Situation_V1_DeploymentPlan(serializedBytes: $0) }
        }
    }

    /// Keeps a shift's plan in place of an older one; plans of shifts a week gone are dropped.
    func put(plan: Xunfang_Situation_V1_DeploymentPlan) throws {
        try queue.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO plan (shift_start, record) VALUES (?, ?)", arguments: [plan.shiftStart, try plan.serializedBytes() as Data])
            try db.execute(sql: "DELETE FROM plan WHERE shift_start < ?", arguments: [plan.shiftStart - 7 * 86_400_000])
        }
    }

    /// Each unit's newest assignment for the shift.
    func assignments(shiftStart: Int64) throws -> [String: Xunfang_Patrol_V1_Assignment] {
        try queue.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT call_sign, record FROM assignment WHERE shift_start = ?", arguments: [shiftStart]).map {
                ($0["call_sign"] as String, try Xunfang_Patrol_V1_Assignment(serializedBytes: $0["record"] as Data))
            })
        }
    }

    func put(assignment: Xunfang_Patrol_V1_Assignment) throws {
        try queue.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO assignment (shift_start, call_sign, record) VALUES (?, ?, ?)",
                           arguments: [assignment.shiftStart, assignment.callSign, try assignment.serializedBytes() as Data])
        }
    }

    /// A unit's fixes in `from..<to`, in time order.
    func fixes(of callSign: String, from: Int64, to: Int64) throws -> [Fix] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT at, longitude, latitude FROM fix WHERE call_sign = ? AND at >= ? AND at < ? ORDER BY at",
                             arguments: [callSign, from, to]).map { Fix(at: $0["at"], longitude: $0["longitude"], latitude: $0["latitude"]) }
        }
    }

    /// Fixes and driven arcs before `before` go (the track's retention).
    func pruneFixes(before: Int64) throws {
        try queue.write { db in
            try db.execute(sql: "DELETE FROM fix WHERE at < ?", arguments: [before])
            try db.execute(sql: "DELETE FROM driven WHERE entered < ?", arguments: [before])
            try db.execute(sql: "DELETE FROM check_in WHERE at < ?", arguments: [before])
            try db.execute(sql: "DELETE FROM standby WHERE end < ?", arguments: [before])
        }
    }

    /// A closed shift's results, kept once.
    func put(results: [Xunfang_Patrol_V1_UnitCompliance]) throws {
        try queue.write { db in
            let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO shift_compliance (shift_start, call_sign, record) VALUES (?, ?, ?)")
            for result in results { try insert.execute(arguments: [result.shiftStart, result.callSign, try result.serializedBytes() as Data]) }
        }
    }

    /// Shifts with assignments and no judged results yet, with their ends.
    func unjudgedShifts() throws -> [(start: Int64, end: Int64)] {
        try queue.read { db in
            try Data.fetchAll(db, sql: """
                SELECT record FROM assignment WHERE shift_start NOT IN (SELECT shift_start FROM shift_compliance) GROUP BY shift_start ORDER BY shift_start
                """).map { data in
                let assignment = try Xunfang_Patrol_V1_Assignment(serializedBytes: data)
                return (assignment.shiftStart, assignment.shiftEnd)
            }
        }
    }

    /// Judged results and assignments of the shifts starting in `from..<to`.
    func judged(from: Int64, to: Int64) throws -> (results: [Xunfang_Patrol_V1_UnitCompliance], assignments: [Xunfang_Patrol_V1_Assignment]) {
        try queue.read { db in
            let range: StatementArguments = [from, to]
            let results = try Data.fetchAll(db, sql: "SELECT record FROM shift_compliance WHERE shift_start >= ? AND shift_start < ? ORDER BY shift_start, call_sign",
                                            arguments: range).map { try Xunfang_Patrol_V1_UnitCompliance(serializedBytes: $0) }
            let assignments = try Data.fetchAll(db, sql: "SELECT record FROM assignment WHERE shift_start >= ? AND shift_start < ? ORDER BY shift_start, call_sign",
                                                arguments: range).map { try Xunfang_Patrol_V1_Assignment(serializedBytes: $0) }
            return (results, assignments)
        }
    }

    func results(shiftStart: Int64) throws -> [Xunfang_Patrol_V1_UnitCompliance]? {
        try queue.read { db in
            let rows = try Data.fetchAll(db, sql: "SELECT record FROM shift_compliance WHERE shift_start = ? ORDER BY call_sign", arguments: [shiftStart])
            return rows.isEmpty ? nil : try rows.map { try Xunfang_Patrol_V1_UnitCompliance(serializedBytes: $0) }
        }
    }

    struct Fix: Equatable, Sendable {
        var at: Int64
        var longitude: Double
        var latitude: Double
    }

    /// Every unit's newest fix, and the `at` of the fix it had when flagged silent (-1: never
    /// flagged, 0: flagged with no fix).
    func terminals() throws -> [String: (fix: Fix, flaggedSilent: Int64)] {
        try queue.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT * FROM terminal").map { row in
                (row["call_sign"] as String, (Fix(at: row["at"], longitude: row["longitude"], latitude: row["latitude"]), (row["flagged_silent"] as Int64?) ?? -1))
            })
        }
    }

    /// Keeps every fix in the track and each unit's newest (an older one never replaces a newer).
    func record(fixes: [(callSign: String, fix: Fix)]) throws {
        try queue.write { db in
            let track = try db.cachedStatement(sql: "INSERT OR IGNORE INTO fix (call_sign, at, longitude, latitude) VALUES (?, ?, ?, ?)")
            var newest: [String: Fix] = [:]
            for (callSign, fix) in fixes {
                try track.execute(arguments: [callSign, fix.at, fix.longitude, fix.latitude])
                if fix.at > newest[callSign]?.at ?? .min { newest[callSign] = fix }
            }
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO terminal (call_sign, at, longitude, latitude) VALUES (?, ?, ?, ?)
                ON CONFLICT (call_sign) DO UPDATE SET at = excluded.at, longitude = excluded.longitude, latitude = excluded.latitude WHERE excluded.at > terminal.at
                """)
            for (callSign, fix) in newest { try upsert.execute(arguments: [callSign, fix.at, fix.longitude, fix.latitude]) }
        }
    }

    /// Marks units flagged silent with the fix they had then (0: none).
    func flagSilent(_ units: [String: Int64]) throws {
        try queue.write { db in
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO terminal (call_sign, at, longitude, latitude, flagged_silent) VALUES (?, 0, 0, 0, ?)
                ON CONFLICT (call_sign) DO UPDATE SET flagged_silent = excluded.flagged_silent
                """)
            for (callSign, lastSeen) in units { try upsert.execute(arguments: [callSign, lastSeen]) }
        }
    }

    /// Adds or replaces units' teams, all in one transaction.
    func put(teams: [(callSign: String, team: String)]) throws {
        try queue.write { db in
            let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO member (call_sign, team) VALUES (?, ?)")
            for (callSign, team) in teams { try insert.execute(arguments: [callSign, team]) }
        }
    }

    func teams() throws -> [String: String] {
        try queue.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT call_sign, team FROM member").map { ($0["call_sign"], $0["team"]) })
        }
    }

    func add(leave: Xunfang_Patrol_V1_Leave) throws {
        try queue.write { db in
            try db.execute(sql: "INSERT INTO leave (call_sign, start, end, reason) VALUES (?, ?, ?, ?)",
                           arguments: [leave.callSign, leave.from, leave.to, leave.reason])
        }
    }

    /// A later swap of the same unit's same shift replaces the earlier.
    func add(swap: Xunfang_Patrol_V1_Swap) throws {
        try queue.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO swap (absent, shift_start, stand_in, reason) VALUES (?, ?, ?, ?)",
                           arguments: [swap.absent, swap.shiftStart, swap.standIn, swap.reason])
        }
    }

    /// Leave and swaps that may bear on `time` (a shift is at most a day long).
    func changes(around time: Int64) throws -> (leave: [Roster.Leave], swaps: [Roster.Swap]) {
        try queue.read { db in
            let leave = try Row.fetchAll(db, sql: "SELECT call_sign, start, end FROM leave WHERE start <= ? AND end > ?", arguments: [time, time])
                .map { Roster.Leave(callSign: $0["call_sign"], from: $0["start"], to: $0["end"]) }
            let swaps = try Row.fetchAll(db, sql: "SELECT absent, shift_start, stand_in FROM swap WHERE shift_start BETWEEN ? AND ?",
                                         arguments: [time - 2 * 86_400_000, time])
                .map { Roster.Swap(absent: $0["absent"], standIn: $0["stand_in"], shiftStart: $0["shift_start"]) }
            return (leave, swaps)
        }
    }
}
