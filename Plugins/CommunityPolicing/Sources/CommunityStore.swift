import Foundation
import GRDB
import XunfangOutbox
import CommunityPolicingContract

/// CommunityPolicing's own SQLite file: teams, members (their name and phone sealed in a
/// column of their own, never in the record), and the audit of every personal read and
/// every import. WAL, synchronous=NORMAL: a process crash loses nothing committed.
final class CommunityStore: Sendable {
    let queue: DatabaseQueue

    init(path: String) throws {
        queue = try PluginDatabase.open(path: path)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE team (id TEXT PRIMARY KEY NOT NULL, station TEXT NOT NULL, record BLOB NOT NULL);
                CREATE INDEX team_station ON team(station, id);
                CREATE TABLE member (id TEXT PRIMARY KEY NOT NULL, team TEXT NOT NULL, record BLOB NOT NULL, personal BLOB);
                CREATE INDEX member_team ON member(team, id);
                CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, member TEXT NOT NULL, record BLOB NOT NULL);
                CREATE INDEX audit_member ON audit(member, seq);
                """)
            try Outbox.createTables(db)
        }
        try migrator.migrate(queue)
    }

    /// Adds or replaces the teams, with an audit entry, in one transaction.
    func put(teams: [Xunfang_Community_V1_Team], audit: Xunfang_Community_V1_AuditEntry) throws {
        try queue.write { db in
            for team in teams {
                try db.execute(sql: "INSERT OR REPLACE INTO team (id, station, record) VALUES (?, ?, ?)",
                               arguments: [team.id, team.stationID, try team.serializedBytes() as Data])
            }
            try Self.append(audit, db)
        }
    }

    /// Adds or replaces the members, each with its sealed personal fields (nil: none), and
    /// an audit entry, in one transaction.
    func put(members: [(member: Xunfang_Community_V1_Member, personal: Data?)], audit: Xunfang_Community_V1_AuditEntry) throws {
        try queue.write { db in
            for (member, personal) in members {
                try db.execute(sql: "INSERT OR REPLACE INTO member (id, team, record, personal) VALUES (?, ?, ?, ?)",
                               arguments: [member.id, member.teamID, try member.serializedBytes() as Data, personal])
            }
            try Self.append(audit, db)
        }
    }

    func teams(station: String? = nil) throws -> [Xunfang_Community_V1_Team] {
        try queue.read { db in
            let counts = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT team, COUNT(*) AS n FROM member GROUP BY team")
                .map { ($0["team"] as String, $0["n"] as Int) })
            let rows = if let station {
                try Data.fetchAll(db, sql: "SELECT record FROM team WHERE station = ? ORDER BY id", arguments: [station])
            } else {
                try Data.fetchAll(db, sql: "SELECT record FROM team ORDER BY id")
            }
            return try rows.map { data in
                var team = try Xunfang_Community_V1_Team(serializedBytes: data)
                team.members = UInt32(counts[team.id] ?? 0)
                return team
            }
        }
    }

    func teamIDs() throws -> Set<String> {
        try queue.read { db in Set(try String.fetchAll(db, sql: "SELECT id FROM team")) }
    }

    func members(team: String?, limit: Int) throws -> [Xunfang_Community_V1_Member] {
        try queue.read { db in
            let rows = if let team {
                try Data.fetchAll(db, sql: "SELECT record FROM member WHERE team = ? ORDER BY id LIMIT ?", arguments: [team, limit])
            } else {
                try Data.fetchAll(db, sql: "SELECT record FROM member ORDER BY id LIMIT ?", arguments: [limit])
            }
            return try rows.map { try Xunfang_Community_V1_Member(serializedBytes: $0) }
        }
    }

    /// The member's sealed personal fields, read and audited in one transaction: a read
    /// that cannot be audited does not happen. Nil when there is no such member.
    func personal(of member: String, audit: Xunfang_Community_V1_AuditEntry) throws -> (found: Bool, sealed: Data?) {
        try queue.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT personal FROM member WHERE id = ?", arguments: [member]) else { return (false, nil) }
            try Self.append(audit, db)
            return (true, row["personal"] as Data?)
        }
    }

    /// Every member's sealed fields, for a key rotation.
    func sealedPersonal() throws -> [(member: String, sealed: Data)] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT id, personal FROM member WHERE personal IS NOT NULL").map { ($0["id"], $0["personal"]) }
        }
    }

    func reseal(_ records: [(member: String, sealed: Data)], audit: Xunfang_Community_V1_AuditEntry) throws {
        try queue.write { db in
            for (member, sealed) in records { try db.execute(sql: "UPDATE member SET personal = ? WHERE id = ?", arguments: [sealed, member]) }
            try Self.append(audit, db)
        }
    }

    func audit(member: String?, since: Int64, limit: Int) throws -> [Xunfang_Community_V1_AuditEntry] {
        try queue.read { db in
            let rows = if let member {
                try Data.fetchAll(db, sql: "SELECT record FROM audit WHERE member = ? AND at >= ? ORDER BY seq DESC LIMIT ?", arguments: [member, since, limit])
            } else {
                try Data.fetchAll(db, sql: "SELECT record FROM audit WHERE at >= ? ORDER BY seq DESC LIMIT ?", arguments: [since, limit])
            }
            return try rows.map { try Xunfang_Community_V1_AuditEntry(serializedBytes: $0) }
        }
    }

    private static func append(_ entry: Xunfang_Community_V1_AuditEntry, _ db: Database) throws {
        try db.execute(sql: "INSERT INTO audit (at, member, record) VALUES (?, ?, ?)", arguments: [entry.at, entry.memberID, try entry.serializedBytes() as Data])
    }
}
