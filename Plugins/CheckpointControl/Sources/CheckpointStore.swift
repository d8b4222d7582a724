public import Foundation
import GRDB
import XunfangOutbox
import CheckpointControlContract

/// CheckpointControl's own SQLite file: the registry, every status change with who and
/// when, the aggregated check reports, and the outbox that announces changes. A change
/// and its announcement are one transaction (see `Outbox`). WAL, synchronous=NORMAL: a
/// process crash loses nothing committed.
final class CheckpointStore: Sendable {
    let queue: DatabaseQueue

    init(path: String) throws {
        queue = try PluginDatabase.open(path: path)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE checkpoint (id TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL);
                CREATE TABLE status_change (seq INTEGER PRIMARY KEY AUTOINCREMENT, checkpoint TEXT NOT NULL, record BLOB NOT NULL);
                CREATE INDEX status_change_checkpoint ON status_change(checkpoint, seq);
                CREATE TABLE report (checkpoint TEXT NOT NULL, "from" INTEGER NOT NULL, "to" INTEGER NOT NULL, record BLOB NOT NULL,
                                     PRIMARY KEY (checkpoint, "from", "to"));
                CREATE INDEX report_to ON report("to");
                """)
            try Outbox.createTables(db)
        }
        try migrator.migrate(queue)
    }

    func checkpoints() throws -> [Xunfang_Checkpoint_V1_CheckpointRecord] {
        try queue.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM checkpoint ORDER BY id").map { try Xunfang_Checkpoint_V1_CheckpointRecord(serializedBytes: $0) }
        }
    }

    func checkpoint(_ id: String) throws -> Xunfang_Checkpoint_V1_CheckpointRecord? {
        try queue.read { db in
            try Data.fetchOne(db, sql: "SELECT record FROM checkpoint WHERE id = ?", arguments: [id]).map { try Xunfang_Checkpoint_V1_CheckpointRecord(serializedBytes: $0) }
        }
    }

    var isEmpty: Bool {
        get throws { try queue.read { db in try Int.fetchOne(db, sql: "SELECT 1 FROM checkpoint LIMIT 1") == nil } }
    }

    func history(of id: String, limit: Int) throws -> [Xunfang_Checkpoint_V1_StatusChange] {
        try queue.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM status_change WHERE checkpoint = ? ORDER BY seq DESC LIMIT ?", arguments: [id, limit])
                .map { try Xunfang_Checkpoint_V1_StatusChange(serializedBytes: $0) }
        }
    }

    /// Reports whose interval ends at or after `since` (unix ms).
    func reports(endingFrom since: Int64) throws -> [Xunfang_Checkpoint_V1_CheckReport] {
        try queue.read { db in
            try Data.fetchAll(db, sql: #"SELECT record FROM report WHERE "to" >= ? ORDER BY "to""#, arguments: [since])
                .map { try Xunfang_Checkpoint_V1_CheckReport(serializedBytes: $0) }
        }
    }

    /// Writes checkpoints, status changes and a report with their announcements in one
    /// transaction. Returns false (and writes nothing) when the report's interval was
    /// already reported.
    @discardableResult
    func save(checkpoints: [Xunfang_Checkpoint_V1_CheckpointRecord], changes: [Xunfang_Checkpoint_V1_StatusChange] = [],
              report: Xunfang_Checkpoint_V1_CheckReport? = nil, outbox: [(topic: String, payload: Data, messageID: String)]) throws -> Bool {
        try queue.write { db in
            if let report {
                let known = try Int.fetchOne(db, sql: #"SELECT 1 FROM report WHERE checkpoint = ? AND "from" = ? AND "to" = ?"#,
                                             arguments: [report.checkpoint, report.from, report.to])
                guard known == nil else { return false }
                try db.execute(sql: #"INSERT INTO report (checkpoint, "from", "to", record) VALUES (?, ?, ?, ?)"#,
                               arguments: [report.checkpoint, report.from, report.to, try report.serializedData()])
            }
            for checkpoint in checkpoints {
                try db.execute(sql: "INSERT OR REPLACE INTO checkpoint (id, record) VALUES (?, ?)", arguments: [checkpoint.id, try checkpoint.serializedData()])
            }
            for change in changes {
                try db.execute(sql: "INSERT INTO status_change (checkpoint, record) VALUES (?, ?)", arguments: [change.checkpoint, try change.serializedData()])
            }
            try Outbox.append(db, outbox)
            return true
        }
    }
}
