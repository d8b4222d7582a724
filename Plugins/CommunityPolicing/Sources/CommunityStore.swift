import Foundation
import GRDB
import XunfangOutbox
import XunfangPluginKit
import CommunityPolicingContract

/// CommunityPolicing's own SQLite file: teams, members (their name and phone sealed in a
/// column of their own, never in the record), and the audit of every personal read and
/// every import. WAL, synchronous=NORMAL: a process crash loses nothing committed.
final class CommunityStore: Sendable {
    let queue: DatabaseQueue

    init(path: String) throws {
        queue = try PluginDatabase.open(path: path)
        try Self.migrator.migrate(queue)
    }

    /// The schema, one step a release; a store of any earlier release opens into the newest.
    static var migrator: DatabaseMigrator {
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
        migrator.registerMigration("v2 alerts") { db in
            try db.execute(sql: """
                CREATE TABLE member_status (id TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL);
                CREATE TABLE alert (seq INTEGER PRIMARY KEY, member TEXT NOT NULL, source TEXT NOT NULL, created INTEGER NOT NULL,
                                    send_at INTEGER NOT NULL, delivered INTEGER NOT NULL DEFAULT 0, expires INTEGER NOT NULL,
                                    record BLOB NOT NULL, cap TEXT NOT NULL);
                CREATE INDEX alert_member ON alert(member, created);
                CREATE INDEX alert_undelivered ON alert(delivered, send_at);
                CREATE INDEX alert_source ON alert(source, seq);
                CREATE INDEX alert_recent ON alert(created);
                CREATE TABLE warning_handled (source TEXT PRIMARY KEY NOT NULL, at INTEGER NOT NULL, alerts INTEGER NOT NULL);
                """)
        }
        migrator.registerMigration("v3 record books") { db in
            try db.execute(sql: """
                CREATE TABLE signer (id TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL);
                CREATE TABLE record (team TEXT NOT NULL, seq INTEGER NOT NULL, record BLOB NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (team, seq));
                """)
        }
        migrator.registerMigration("v4 tips") { db in
            try db.execute(sql: """
                CREATE TABLE tip (seq INTEGER PRIMARY KEY, member TEXT NOT NULL, status INTEGER NOT NULL, record BLOB NOT NULL);
                CREATE INDEX tip_member ON tip (member, seq);
                """)
        }
        migrator.registerMigration("v5 duty") { db in
            try db.execute(sql: """
                CREATE TABLE duty_post (id TEXT PRIMARY KEY NOT NULL, station TEXT NOT NULL, record BLOB NOT NULL);
                CREATE TABLE duty_record (officer TEXT NOT NULL, place TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
                                          PRIMARY KEY (officer, place, start));
                CREATE INDEX duty_record_end ON duty_record(end);
                CREATE TABLE compliance_published (label TEXT PRIMARY KEY NOT NULL, at INTEGER NOT NULL, exceptions INTEGER NOT NULL);
                """)
        }
        migrator.registerMigration("v6 watches") { db in
            try db.execute(sql: "CREATE TABLE watch (seq INTEGER PRIMARY KEY, incident TEXT NOT NULL UNIQUE, record BLOB NOT NULL)")
        }
        migrator.registerMigration("v7 signed pages") { db in
            try db.execute(sql: """
                CREATE TABLE record_page (team TEXT NOT NULL, number INTEGER NOT NULL, last_seq INTEGER NOT NULL, record BLOB NOT NULL,
                                          PRIMARY KEY (team, number));
                CREATE INDEX record_page_last ON record_page (team, last_seq);
                """)
        }
        migrator.registerMigration("v8 delivery") { db in
            // Only the alerts still to deliver, in issue order: a delivery batch reads its
            // thousand rows from here instead of sorting every undelivered alert each time.
            // The CAP documents in a table of their own: marking an alert delivered then
            // rewrites a small row, not its 1.5 KB document.
            try db.execute(sql: """
                DROP INDEX alert_undelivered;
                CREATE INDEX alert_pending ON alert(seq, send_at) WHERE delivered = 0;
                CREATE TABLE alert_cap (seq INTEGER PRIMARY KEY, cap TEXT NOT NULL);
                INSERT INTO alert_cap (seq, cap) SELECT seq, cap FROM alert;
                ALTER TABLE alert DROP COLUMN cap;
                """)
        }
        return migrator
    }

    // MARK: - Watches

    /// Keeps a new watch, numbering it, unless the incident has one: that one is answered.
    func insert(watch: Xunfang_Community_V1_Watch) throws -> Xunfang_Community_V1_Watch {
        try queue.write { db in
            if let kept = try Data.fetchOne(db, sql: "SELECT record FROM watch WHERE incident = ?", arguments: [watch.incidentID]) {
                return try Xunfang_Community_V1_Watch(serializedBytes: kept)
            }
            var numbered = watch
            numbered.id = "W-\((try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM watch") ?? 0) + 1)"
            try db.execute(sql: "INSERT INTO watch (seq, incident, record) VALUES (?, ?, ?)",
                           arguments: [Int64(numbered.id.dropFirst(2)), numbered.incidentID, try numbered.serializedBytes() as Data])
            return numbered
        }
    }

    func watch(incident: String) throws -> Xunfang_Community_V1_Watch? {
        try queue.read { db in
            try Data.fetchOne(db, sql: "SELECT record FROM watch WHERE incident = ?", arguments: [incident]).map { try Xunfang_Community_V1_Watch(serializedBytes: $0) }
        }
    }

    /// Closes a watch early and ends its alerts' windows now, so its members count as free
    /// again; in one transaction. Nil when there is no such watch.
    func close(watch id: String, at time: Int64, change: (inout Xunfang_Community_V1_Watch) throws -> Void) throws -> Xunfang_Community_V1_Watch? {
        try queue.write { db in
            guard let seq = Int64(id.dropFirst(2)), id.hasPrefix("W-"),
                  let kept = try Data.fetchOne(db, sql: "SELECT record FROM watch WHERE seq = ?", arguments: [seq]) else { return nil }
            var watch = try Xunfang_Community_V1_Watch(serializedBytes: kept)
            try change(&watch)
            try db.execute(sql: "UPDATE watch SET record = ? WHERE seq = ?", arguments: [try watch.serializedBytes() as Data, seq])
            try db.execute(sql: "UPDATE alert SET expires = ? WHERE source = ? AND expires > ?", arguments: [time, "watch \(watch.incidentID)", time])
            return watch
        }
    }

    func watches(limit: Int) throws -> [Xunfang_Community_V1_Watch] {
        try queue.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM watch ORDER BY seq DESC LIMIT ?", arguments: [limit]).map { try Xunfang_Community_V1_Watch(serializedBytes: $0) }
        }
    }

    // MARK: - Duty

    func put(posts: [Xunfang_Community_V1_DutyPost], audit: Xunfang_Community_V1_AuditEntry) throws {
        try queue.write { db in
            for post in posts {
                try db.execute(sql: "INSERT OR REPLACE INTO duty_post (id, station, record) VALUES (?, ?, ?)",
                               arguments: [post.id, post.stationID, try post.serializedBytes() as Data])
            }
            try Self.append(audit, db)
        }
    }

    /// Records are keyed by officer, place and start: importing a roster again replaces them.
    func put(dutyRecords records: [Xunfang_Community_V1_DutyRecord], audit: Xunfang_Community_V1_AuditEntry) throws {
        try queue.write { db in
            let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO duty_record (officer, place, start, end) VALUES (?, ?, ?, ?)")
            for record in records { try insert.execute(arguments: [record.officerID, record.placeID, record.start, record.end]) }
            try Self.append(audit, db)
        }
    }

    func dutyPosts(station: String? = nil) throws -> [Xunfang_Community_V1_DutyPost] {
        try queue.read { db in
            let rows = if let station {
                try Data.fetchAll(db, sql: "SELECT record FROM duty_post WHERE station = ? ORDER BY id", arguments: [station])
            } else {
                try Data.fetchAll(db, sql: "SELECT record FROM duty_post ORDER BY id")
            }
            return try rows.map { try Xunfang_Community_V1_DutyPost(serializedBytes: $0) }
        }
    }

    /// Duty records overlapping `from..<to`.
    func dutyRecords(from: Int64, to: Int64) throws -> [Xunfang_Community_V1_DutyRecord] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT officer, place, start, end FROM duty_record WHERE end > ? AND start < ?", arguments: [from, to]).map { row in
                var record = Xunfang_Community_V1_DutyRecord()
                record.officerID = row["officer"]
                record.placeID = row["place"]
                record.start = row["start"]
                record.end = row["end"]
                return record
            }
        }
    }

    /// A closed period's exceptions, once: the messages go out through the outbox, written
    /// with the mark that they were. False when the period was published before.
    func publishCompliance(label: String, at time: Int64, exceptions: [Xunfang_Community_V1_ComplianceException]) throws -> Bool {
        try queue.write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM compliance_published WHERE label = ?", arguments: [label]) == nil else { return false }
            try db.execute(sql: "INSERT INTO compliance_published (label, at, exceptions) VALUES (?, ?, ?)", arguments: [label, time, exceptions.count])
            try Outbox.append(db, try exceptions.map { exception in
                (topic: "community.compliance.\(exception.item.stationID)", payload: try exception.serializedBytes(),
                 messageID: "compliance \(label) \(exception.item.postID)")
            })
            return true
        }
    }

    // MARK: - Tips

    /// Stores a new tip, numbering it; returns it with its id.
    func insert(tip: Xunfang_Community_V1_Tip) throws -> Xunfang_Community_V1_Tip {
        try queue.write { db in
            let seq = (try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM tip") ?? 0) + 1
            var tip = tip
            tip.id = String(format: "TIP-%06lld", seq)
            try db.execute(sql: "INSERT INTO tip (seq, member, status, record) VALUES (?, ?, ?, ?)",
                           arguments: [seq, tip.memberID, tip.status.rawValue, try tip.serializedBytes() as Data])
            return tip
        }
    }

    func tip(_ id: String) throws -> Xunfang_Community_V1_Tip? {
        guard let seq = Self.tipSeq(id) else { return nil }
        return try queue.read { db in
            try Data.fetchOne(db, sql: "SELECT record FROM tip WHERE seq = ?", arguments: [seq]).map { try Xunfang_Community_V1_Tip(serializedBytes: $0) }
        }
    }

    /// Rewrites a tip with what `change` makes of the stored one, in one transaction.
    func update(tip id: String, _ change: (Xunfang_Community_V1_Tip) throws -> Xunfang_Community_V1_Tip) throws -> Xunfang_Community_V1_Tip? {
        guard let seq = Self.tipSeq(id) else { return nil }
        return try queue.write { db in
            guard let data = try Data.fetchOne(db, sql: "SELECT record FROM tip WHERE seq = ?", arguments: [seq]) else { return nil }
            let tip = try change(try Xunfang_Community_V1_Tip(serializedBytes: data))
            try db.execute(sql: "UPDATE tip SET status = ?, record = ? WHERE seq = ?", arguments: [tip.status.rawValue, try tip.serializedBytes() as Data, seq])
            return tip
        }
    }

    /// Newest first, by member and status when given.
    func tips(member: String?, status: Xunfang_Community_V1_TipStatus?, limit: Int) throws -> [Xunfang_Community_V1_Tip] {
        try queue.read { db in
            var conditions: [String] = [], arguments: StatementArguments = []
            if let member { conditions.append("member = ?"); arguments += [member] }
            if let status { conditions.append("status = ?"); arguments += [status.rawValue] }
            arguments += [limit]
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            return try Data.fetchAll(db, sql: "SELECT record FROM tip \(filter) ORDER BY seq DESC LIMIT ?", arguments: arguments)
                .map { try Xunfang_Community_V1_Tip(serializedBytes: $0) }
        }
    }

    static func tipSeq(_ id: String) -> Int64? {
        id.hasPrefix("TIP-") ? Int64(id.dropFirst(4)) : nil
    }

    // MARK: - Record books

    /// Keeps a signer's key; false (nothing changed) when the signer has another key already.
    func put(signer: Xunfang_Community_V1_Signer) throws -> Bool {
        try queue.write { db in
            if let kept = try Data.fetchOne(db, sql: "SELECT record FROM signer WHERE id = ?", arguments: [signer.id]) {
                return try Xunfang_Community_V1_Signer(serializedBytes: kept) == signer
            }
            try db.execute(sql: "INSERT INTO signer (id, record) VALUES (?, ?)", arguments: [signer.id, try signer.serializedBytes() as Data])
            return true
        }
    }

    func signers(_ ids: Set<String>) throws -> [Xunfang_Community_V1_Signer] {
        guard !ids.isEmpty else { return [] }
        return try queue.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM signer WHERE id IN (\(Array(repeating: "?", count: ids.count).joined(separator: ","))) ORDER BY id",
                              arguments: StatementArguments(ids.sorted())).map { try Xunfang_Community_V1_Signer(serializedBytes: $0) }
        }
    }

    func member(_ id: String) throws -> Xunfang_Community_V1_Member? {
        try queue.read { db in
            try Data.fetchOne(db, sql: "SELECT record FROM member WHERE id = ?", arguments: [id]).map { try Xunfang_Community_V1_Member(serializedBytes: $0) }
        }
    }

    /// Appends `record` if `check` (given the team's newest entry and its hash) passes, in
    /// one transaction: two appends at once cannot both follow the same entry.
    func append(_ record: Xunfang_Community_V1_Record, hash: String, check: ((record: Xunfang_Community_V1_Record, hash: String)?) throws -> Void) throws {
        try queue.write { db in
            let last = try Row.fetchOne(db, sql: "SELECT record, hash FROM record WHERE team = ? ORDER BY seq DESC LIMIT 1", arguments: [record.teamID])
            try check(try last.map { (record: try Xunfang_Community_V1_Record(serializedBytes: $0["record"] as Data), hash: $0["hash"]) })
            try db.execute(sql: "INSERT INTO record (team, seq, record, hash) VALUES (?, ?, ?, ?)",
                           arguments: [record.teamID, record.seq, try record.serializedBytes() as Data, hash])
        }
    }

    /// Up to `limit` entries after `afterSeq`, the pages that end among them, and the hash of
    /// the team's newest entry.
    func records(team: String, afterSeq: Int64, limit: Int) throws -> (records: [Xunfang_Community_V1_Record], pages: [Xunfang_Community_V1_RecordPage], lastHash: String) {
        try queue.read { db in
            let records = try Data.fetchAll(db, sql: "SELECT record FROM record WHERE team = ? AND seq > ? ORDER BY seq LIMIT ?", arguments: [team, afterSeq, limit])
                .map { try Xunfang_Community_V1_Record(serializedBytes: $0) }
            let pages = try Data.fetchAll(db, sql: "SELECT record FROM record_page WHERE team = ? AND last_seq > ? AND last_seq <= ? ORDER BY number",
                                          arguments: [team, afterSeq, records.last?.seq ?? afterSeq])
                .map { try Xunfang_Community_V1_RecordPage(serializedBytes: $0) }
            let last = try String.fetchOne(db, sql: "SELECT hash FROM record WHERE team = ? ORDER BY seq DESC LIMIT 1", arguments: [team]) ?? ""
            return (records, pages, last)
        }
    }

    /// The team's newest signed page, and the entries `from...to` with their hashes.
    func unsignedRecords(team: String, from: Int64, to: Int64) throws -> (lastPage: Xunfang_Community_V1_RecordPage?, entries: [(record: Xunfang_Community_V1_Record, hash: String)]) {
        try queue.read { db in
            let lastPage = try Data.fetchOne(db, sql: "SELECT record FROM record_page WHERE team = ? ORDER BY number DESC LIMIT 1", arguments: [team])
                .map { try Xunfang_Community_V1_RecordPage(serializedBytes: $0) }
            let entries = try Row.fetchAll(db, sql: "SELECT record, hash FROM record WHERE team = ? AND seq BETWEEN ? AND ? ORDER BY seq", arguments: [team, from, to])
                .map { (record: try Xunfang_Community_V1_Record(serializedBytes: $0["record"] as Data), hash: $0["hash"] as String) }
            return (lastPage, entries)
        }
    }

    /// Keeps a signed page unless another was signed since `after` (the number of the page
    /// before it, 0 for the first): false then, and nothing is written.
    func put(page: Xunfang_Community_V1_RecordPage, after: Int64) throws -> Bool {
        try queue.write { db in
            let last = try Int64.fetchOne(db, sql: "SELECT MAX(number) FROM record_page WHERE team = ?", arguments: [page.teamID]) ?? 0
            guard last == after else { return false }
            try db.execute(sql: "INSERT INTO record_page (team, number, last_seq, record) VALUES (?, ?, ?, ?)",
                           arguments: [page.teamID, page.number, page.lastSeq, try page.serializedBytes() as Data])
            return true
        }
    }

    // MARK: - Member status and alerts

    func setStatus(_ status: Xunfang_Community_V1_MemberStatus) throws -> Bool {
        try queue.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM member WHERE id = ?", arguments: [status.memberID]) != nil else { return false }
            try db.execute(sql: "INSERT OR REPLACE INTO member_status (id, record) VALUES (?, ?)", arguments: [status.memberID, try status.serializedBytes() as Data])
            return true
        }
    }

    /// What an issue decides from, read inside its transaction.
    struct AlertState {
        var statuses: [String: Xunfang_Community_V1_MemberStatus]
        /// Each member's alerts created since `since` or still open.
        var recent: [String: [AlertPolicy.Recent]]
    }

    /// Issues the alerts `draft` makes from the members' state, once per `source`: in one
    /// transaction with their CAP documents, the `community.alert.<station>` messages and
    /// the source marked handled. Nil when the source was handled before. `draft` gets the
    /// state and the first free alert number; it numbers its alerts from there.
    func issue(source: String, now: Int64, members: [String],
               draft: (AlertState, Int64) throws -> [(alert: Xunfang_Community_V1_Alert, cap: String)]) throws -> [Xunfang_Community_V1_Alert]? {
        try queue.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM warning_handled WHERE source = ?", arguments: [source]) == nil else { return nil }
            let wanted = Set(members)
            var state = AlertState(statuses: [:], recent: [:])
            for row in try Row.fetchAll(db, sql: "SELECT id, record FROM member_status") where wanted.contains(row["id"]) {
                state.statuses[row["id"]] = try Xunfang_Community_V1_MemberStatus(serializedBytes: row["record"] as Data)
            }
            // An alert stays open at most a day after it is made (its windows lie in the coming
            // 24 hours, a watch's in 12): two days back holds every open one, found by the
            // index instead of reading every alert ever issued.
            for row in try Row.fetchAll(db, sql: "SELECT member, created, expires FROM alert WHERE created > ? AND (created > ? OR expires > ?)",
                                        arguments: [now - 2 * ChinaTime.day, now - ChinaTime.day, now]) where wanted.contains(row["member"]) {
                state.recent[row["member"], default: []].append(AlertPolicy.Recent(created: row["created"], expires: row["expires"]))
            }
            let first = (try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM alert") ?? 0) + 1
            let drafted = try draft(state, first)
            let insert = try db.cachedStatement(sql: """
                INSERT INTO alert (seq, member, source, created, send_at, expires, record) VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            let insertCap = try db.cachedStatement(sql: "INSERT INTO alert_cap (seq, cap) VALUES (?, ?)")
            var messages: [(topic: String, payload: Data, messageID: String)] = []
            for (alert, cap) in drafted {
                let record: Data = try alert.serializedBytes()
                try insert.execute(arguments: [Self.seq(alert.id), alert.memberID, source, alert.createdAt, alert.sendAt, alert.expires, record])
                try insertCap.execute(arguments: [Self.seq(alert.id), cap])
                messages.append((topic: "community.alert.\(alert.stationID)", payload: record, messageID: alert.id))
            }
            try Outbox.append(db, messages)
            try db.execute(sql: "INSERT INTO warning_handled (source, at, alerts) VALUES (?, ?, ?)", arguments: [source, now, drafted.count])
            return drafted.map(\.alert)
        }
    }

    /// "CA-12" → 12.
    static func seq(_ id: String) -> Int64 { Int64(id.dropFirst(3)) ?? -1 }

    /// Alerts due by `now` the notifier has not taken, oldest first.
    func undelivered(dueBy now: Int64, limit: Int) throws -> [DeliverableAlert] {
        try queue.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT record, cap FROM alert JOIN alert_cap USING (seq) WHERE delivered = 0 AND send_at <= ? ORDER BY seq LIMIT ?
                """, arguments: [now, limit])
            var due: [DeliverableAlert] = []
            while let row = try rows.next() { due.append(DeliverableAlert(alert: try Xunfang_Community_V1_Alert(serializedBytes: row[0] as Data), cap: row[1])) }
            return due
        }
    }

    /// When the next undelivered alert falls due (nil: none is waiting).
    func nextDue() throws -> Int64? {
        try queue.read { db in try Int64.fetchOne(db, sql: "SELECT MIN(send_at) FROM alert WHERE delivered = 0") }
    }

    /// The record keeps the alert as issued; when it was delivered is the column's.
    func markDelivered(_ ids: [String], at time: Int64) throws {
        try queue.write { db in
            let update = try db.cachedStatement(sql: "UPDATE alert SET delivered = ? WHERE seq = ?")
            for id in ids { try update.execute(arguments: [time, Self.seq(id)]) }
        }
    }

    private static func alert(_ row: Row) throws -> Xunfang_Community_V1_Alert {
        var alert = try Xunfang_Community_V1_Alert(serializedBytes: row["record"] as Data)
        alert.deliveredAt = row["delivered"]
        return alert
    }

    func alerts(member: String?, since: Int64, limit: Int) throws -> [Xunfang_Community_V1_Alert] {
        try queue.read { db in
            let rows = if let member {
                try Row.fetchAll(db, sql: "SELECT record, delivered FROM alert WHERE member = ? AND created >= ? ORDER BY seq DESC LIMIT ?",
                                 arguments: [member, since, limit])
            } else {
                try Row.fetchAll(db, sql: "SELECT record, delivered FROM alert WHERE created >= ? ORDER BY seq DESC LIMIT ?", arguments: [since, limit])
            }
            return try rows.map(Self.alert)
        }
    }

    /// The alerts an earlier issue of `source` made.
    func alerts(source: String) throws -> [Xunfang_Community_V1_Alert] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT record, delivered FROM alert WHERE source = ? ORDER BY seq", arguments: [source]).map(Self.alert)
        }
    }

    /// Every member, for the alert matcher.
    func allMembers() throws -> [Xunfang_Community_V1_Member] {
        try queue.read { db in try Data.fetchAll(db, sql: "SELECT record FROM member ORDER BY id").map { try Xunfang_Community_V1_Member(serializedBytes: $0) } }
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

    /// Members by id after `after` ("" from the first), at most `limit`.
    func members(team: String?, after: String = "", limit: Int) throws -> [Xunfang_Community_V1_Member] {
        try queue.read { db in
            let rows = if let team {
                try Data.fetchAll(db, sql: "SELECT record FROM member WHERE team = ? AND id > ? ORDER BY id LIMIT ?", arguments: [team, after, limit])
            } else {
                try Data.fetchAll(db, sql: "SELECT record FROM member WHERE id > ? ORDER BY id LIMIT ?", arguments: [after, limit])
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

    /// Several members' sealed personal fields, each read audited, all in one transaction
    /// (a batch of texts to send). Members without personal fields are left out.
    func personal(audits: [Xunfang_Community_V1_AuditEntry]) throws -> [(member: String, sealed: Data)] {
        try queue.write { db in
            let select = try db.cachedStatement(sql: "SELECT personal FROM member WHERE id = ?")
            return try audits.compactMap { audit in
                guard let sealed = try Data.fetchOne(select, arguments: [audit.memberID]) else { return nil }
                try Self.append(audit, db)
                return (member: audit.memberID, sealed: sealed)
            }
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

    /// Writes one audit entry on its own (a read answered only once it is written).
    func append(audit entry: Xunfang_Community_V1_AuditEntry) throws {
        try queue.write { db in try Self.append(entry, db) }
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
