public import Foundation
public import XunfangPluginKit
public import GRDB
import XunfangOutbox

/// Dispatch's own SQLite file: incidents, units, and an outbox of messages to publish.
///
/// A change and the messages announcing it are written in one transaction; a publisher
/// drains the outbox with confirmed publishes and deletes what the bus acknowledged.
/// So an incident is never stored without being announced, nor announced without being
/// stored, across crashes of this plugin or the bus (at-least-once; consumers
/// de-duplicate by message id). WAL with synchronous=NORMAL: a process crash loses
/// nothing committed; a power cut may lose the last transactions.
///
/// Personal data (what the caller said, their phone number) is never in an incident
/// record: it is sealed with `keys` in its own table, every read of it writes an audit
/// row in the same transaction, and erasing it overwrites the bytes (secure_delete).
public final class DispatchStore: Sendable {
    private let queue: DatabaseQueue
    public let keys: SealingKeys

    public init(path: String, keys: SealingKeys) throws {
        self.keys = keys
        queue = try PluginDatabase.open(path: path) { db in try db.execute(sql: "PRAGMA secure_delete = ON") }
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE incident (id TEXT PRIMARY KEY NOT NULL, status INTEGER NOT NULL, received INTEGER NOT NULL, record BLOB NOT NULL);
                CREATE INDEX incident_open ON incident(status, received);
                CREATE TABLE unit (call_sign TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL);
                """)
            try Outbox.createTables(db)
        }
        // 0.2: the report moves out of the incident record into a sealed row; reads are audited.
        migrator.registerMigration("v2-personal") { db in
            try db.execute(sql: """
                CREATE TABLE personal (incident_id TEXT PRIMARY KEY NOT NULL, sealed BLOB, stored_at INTEGER NOT NULL, erased_at INTEGER);
                CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, who TEXT NOT NULL, on_behalf_of TEXT NOT NULL,
                                    action TEXT NOT NULL, incident_id TEXT NOT NULL, fields TEXT NOT NULL, purpose TEXT NOT NULL);
                CREATE INDEX audit_incident ON audit(incident_id, seq);
                """)
            let decoder = JSONDecoder(), encoder = JSONEncoder()
            for row in try Row.fetchAll(db, sql: "SELECT id, received, record FROM incident") {
                var incident = try decoder.decode(Incident.self, from: row["record"] as Data)
                guard !incident.report.isEmpty else { continue }
                let sealed = try keys.seal(try encoder.encode(PersonalFields(report: incident.report, callerPhone: "")), boundTo: incident.id)
                try db.execute(sql: "INSERT INTO personal (incident_id, sealed, stored_at) VALUES (?, ?, ?)",
                               arguments: [incident.id, sealed, row["received"] as Int64])
                try Self.audit(db, AuditRecord(at: row["received"], who: "upgrade", action: "store", incidentID: incident.id,
                                               fields: "report", purpose: "sealed at the upgrade to 0.2"))
                incident.report = ""
                try db.execute(sql: "UPDATE incident SET record = ? WHERE id = ?", arguments: [try encoder.encode(incident), incident.id])
            }
        }
        try migrator.migrate(queue)
    }

    public func load() throws -> (incidents: [Incident], units: [Unit]) {
        let decoder = JSONDecoder()
        return try queue.read { db in
            let incidents = try Data.fetchAll(db, sql: "SELECT record FROM incident ORDER BY received, id").map { try decoder.decode(Incident.self, from: $0) }
            let units = try Data.fetchAll(db, sql: "SELECT record FROM unit ORDER BY call_sign").map { try decoder.decode(Unit.self, from: $0) }
            return (incidents, units)
        }
    }

    /// Stores the changed records and queues their announcements, atomically; `personal`
    /// is sealed now and stored with its audit row in the same transaction.
    public func save(incidents: [Incident], units: [Unit], outbox: [(topic: String, payload: Data, messageID: String)],
                     personal: [(fields: PersonalFields, audit: AuditRecord)] = []) throws {
        let encoder = JSONEncoder()
        let sealed = try personal.map { (try keys.seal(try encoder.encode($0.fields), boundTo: $0.audit.incidentID), $0.audit) }
        try queue.write { db in
            for (bytes, audit) in sealed {
                try db.execute(sql: "INSERT OR REPLACE INTO personal (incident_id, sealed, stored_at) VALUES (?, ?, ?)",
                               arguments: [audit.incidentID, bytes, audit.at])
                try Self.audit(db, audit)
            }
            for incident in incidents {
                try db.execute(sql: "INSERT OR REPLACE INTO incident (id, status, received, record) VALUES (?, ?, ?, ?)",
                               arguments: [incident.id, incident.status.rawValue, incident.times[.received] ?? 0, try encoder.encode(incident.withoutPersonalData)])
            }
            for unit in units {
                try db.execute(sql: "INSERT OR REPLACE INTO unit (call_sign, record) VALUES (?, ?)", arguments: [unit.callSign, try encoder.encode(unit)])
            }
            try Outbox.append(db, outbox)
        }
    }

    /// The outbox, for `Outbox.drain`.
    public var outboxDatabase: any DatabaseWriter { queue }

    // MARK: - Personal data and its audit trail

    /// The personal fields of an incident, with the audit row of this read written first
    /// in the same transaction: no read without its trace. Nil when nothing was stored.
    public func readPersonal(_ audit: AuditRecord) throws -> PersonalReading? {
        let row = try queue.write { db -> Row? in
            guard let row = try Row.fetchOne(db, sql: "SELECT sealed, erased_at FROM personal WHERE incident_id = ?", arguments: [audit.incidentID]) else {
                return nil
            }
            try Self.audit(db, audit)
            return row
        }
        guard let row else { return nil }
        if let erasedAt = row["erased_at"] as Int64? { return .erased(at: erasedAt) }
        let plain = try keys.open(row["sealed"], boundTo: audit.incidentID)
        return .fields(try JSONDecoder().decode(PersonalFields.self, from: plain))
    }

    /// Erases the personal fields of these incidents (kept: that they existed and when they went).
    public func erasePersonal(_ incidentIDs: [String], at now: Int64, reason: String) throws -> Int {
        try queue.write { db in
            var erased = 0
            for id in incidentIDs {
                try db.execute(sql: "UPDATE personal SET sealed = NULL, erased_at = ? WHERE incident_id = ? AND erased_at IS NULL", arguments: [now, id])
                guard db.changesCount > 0 else { continue }
                erased += 1
                try Self.audit(db, AuditRecord(at: now, who: "retention", action: "erase", incidentID: id, fields: "report,caller_phone", purpose: reason))
            }
            return erased
        }
    }

    /// Incidents whose personal fields are still held, for the retention sweep.
    public func heldPersonal() throws -> Set<String> {
        try queue.read { db in Set(try String.fetchAll(db, sql: "SELECT incident_id FROM personal WHERE erased_at IS NULL")) }
    }

    /// Seals every held record again under the current key, in one transaction; then the
    /// older keys open nothing and may be retired.
    public func resealAll(audit: AuditRecord) throws -> Int {
        try queue.write { db in
            var count = 0
            for row in try Row.fetchAll(db, sql: "SELECT incident_id, sealed FROM personal WHERE sealed IS NOT NULL") {
                let id: String = row["incident_id"]
                let sealed: Data = row["sealed"]
                guard SealingKeys.keyID(of: sealed) != keys.currentID else { continue }
                let resealed = try keys.seal(try keys.open(sealed, boundTo: id), boundTo: id)
                try db.execute(sql: "UPDATE personal SET sealed = ? WHERE incident_id = ?", arguments: [resealed, id])
                count += 1
            }
            var entry = audit
            entry.fields = "\(count) record(s)"
            try Self.audit(db, entry)
            return count
        }
    }

    /// The audit trail, newest first.
    public func auditTrail(incidentID: String?, since: Int64, limit: Int) throws -> [AuditRecord] {
        try queue.read { db in
            let filter = incidentID == nil ? "" : "AND incident_id = ?"
            var arguments: StatementArguments = [since]
            if let incidentID { arguments += [incidentID] }
            arguments += [limit]
            return try Row.fetchAll(db, sql: """
                SELECT at, who, on_behalf_of, action, incident_id, fields, purpose FROM audit WHERE at >= ? \(filter) ORDER BY seq DESC LIMIT ?
                """, arguments: arguments).map {
                AuditRecord(at: $0["at"], who: $0["who"], onBehalfOf: $0["on_behalf_of"], action: $0["action"], incidentID: $0["incident_id"],
                            fields: $0["fields"], purpose: $0["purpose"])
            }
        }
    }

    /// Adds one row to the audit trail on its own (a read of the trail itself, a key rotation).
    public func appendAudit(_ record: AuditRecord) throws {
        try queue.write { db in try Self.audit(db, record) }
    }

    private static func audit(_ db: Database, _ record: AuditRecord) throws {
        try db.execute(sql: "INSERT INTO audit (at, who, on_behalf_of, action, incident_id, fields, purpose) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       arguments: [record.at, record.who, record.onBehalfOf, record.action, record.incidentID, record.fields, record.purpose])
    }
}

/// What a caller told the desk about themselves and the incident: personal data.
public struct PersonalFields: Sendable, Hashable, Codable {
    public var report: String
    public var callerPhone: String

    public init(report: String, callerPhone: String) {
        self.report = report
        self.callerPhone = callerPhone
    }
}

public enum PersonalReading: Sendable, Hashable {
    case fields(PersonalFields)
    case erased(at: Int64)
}

/// One row of the audit trail: who touched which personal fields of which incident, when and why.
public struct AuditRecord: Sendable, Hashable {
    public var at: Int64
    public var who: String
    public var onBehalfOf: String
    public var action: String
    public var incidentID: String
    public var fields: String
    public var purpose: String

    public init(at: Int64, who: String, onBehalfOf: String = "", action: String, incidentID: String, fields: String, purpose: String) {
        self.at = at
        self.who = who
        self.onBehalfOf = onBehalfOf
        self.action = action
        self.incidentID = incidentID
        self.fields = fields
        self.purpose = purpose
    }
}

extension Incident {
    /// The record as stored and published: the report lives only in the sealed store.
    var withoutPersonalData: Incident {
        var copy = self
        copy.report = ""
        return copy
    }
}
