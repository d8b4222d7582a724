public import Foundation
import GRDB

/// Dispatch's own SQLite file: incidents, units, and an outbox of messages to publish.
///
/// A change and the messages announcing it are written in one transaction; a publisher
/// drains the outbox with confirmed publishes and deletes what the bus acknowledged.
/// So an incident is never stored without being announced, nor announced without being
/// stored, across crashes of this plugin or the bus (at-least-once; consumers
/// de-duplicate by message id). WAL with synchronous=NORMAL: a process crash loses
/// nothing committed; a power cut may lose the last transactions.
public final class DispatchStore: Sendable {
    private let queue: DatabaseQueue

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.writeWithoutTransaction { db in _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") }
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE incident (id TEXT PRIMARY KEY NOT NULL, status INTEGER NOT NULL, received INTEGER NOT NULL, record BLOB NOT NULL);
                CREATE INDEX incident_open ON incident(status, received);
                CREATE TABLE unit (call_sign TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL);
                CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL, message_id TEXT NOT NULL);
                CREATE TABLE outbox_refused (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, message_id TEXT NOT NULL,
                                             reason TEXT NOT NULL);
                """)
        }
        try migrator.migrate(queue)
    }

    public struct OutboxMessage: Sendable, Hashable {
        public var seq: Int64
        public var topic: String
        public var payload: Data
        public var messageID: String
    }

    public func load() throws -> (incidents: [Incident], units: [Unit]) {
        let decoder = JSONDecoder()
        return try queue.read { db in
            let incidents = try Data.fetchAll(db, sql: "SELECT record FROM incident ORDER BY received, id").map { try decoder.decode(Incident.self, from: $0) }
            let units = try Data.fetchAll(db, sql: "SELECT record FROM unit ORDER BY call_sign").map { try decoder.decode(Unit.self, from: $0) }
            return (incidents, units)
        }
    }

    /// Stores the changed records and queues their announcements, atomically.
    public func save(incidents: [Incident], units: [Unit], outbox: [(topic: String, payload: Data, messageID: String)]) throws {
        let encoder = JSONEncoder()
        try queue.write { db in
            for incident in incidents {
                try db.execute(sql: "INSERT OR REPLACE INTO incident (id, status, received, record) VALUES (?, ?, ?, ?)",
                               arguments: [incident.id, incident.status.rawValue, incident.times[.received] ?? 0, try encoder.encode(incident)])
            }
            for unit in units {
                try db.execute(sql: "INSERT OR REPLACE INTO unit (call_sign, record) VALUES (?, ?)", arguments: [unit.callSign, try encoder.encode(unit)])
            }
            for message in outbox {
                try db.execute(sql: "INSERT INTO outbox (topic, payload, message_id) VALUES (?, ?, ?)",
                               arguments: [message.topic, message.payload, message.messageID])
            }
        }
    }

    public func pendingOutbox(limit: Int) throws -> [OutboxMessage] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, topic, payload, message_id FROM outbox ORDER BY seq LIMIT ?", arguments: [limit]).map {
                OutboxMessage(seq: $0["seq"], topic: $0["topic"], payload: $0["payload"], messageID: $0["message_id"])
            }
        }
    }

    public func setAside(_ message: OutboxMessage, reason: String) throws {
        try queue.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO outbox_refused (seq, topic, payload, message_id, reason) VALUES (?, ?, ?, ?, ?)",
                           arguments: [message.seq, message.topic, message.payload, message.messageID, reason])
        }
    }

    public func deleteOutbox(_ seqs: [Int64]) throws {
        guard !seqs.isEmpty else { return }
        try queue.write { db in
            try db.execute(sql: "DELETE FROM outbox WHERE seq IN (\(seqs.map { _ in "?" }.joined(separator: ",")))",
                           arguments: StatementArguments(seqs))
        }
    }
}
