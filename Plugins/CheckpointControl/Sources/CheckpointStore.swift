import Foundation
import GRDB
import XunfangOutbox
import CheckpointControlContract

/// CheckpointControl's own SQLite file: the registry, every status change with who and
/// when, the aggregated check reports, seal plans and their activations (each the live
/// board, rewritten whole at every change), and the outbox that announces changes. A change
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
        migrator.registerMigration("v2: seal plans") { db in
            try db.execute(sql: """
                CREATE TABLE plan (id TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL);
                CREATE TABLE activation (id TEXT PRIMARY KEY NOT NULL, plan TEXT NOT NULL, activated_at INTEGER NOT NULL,
                                         ended INTEGER NOT NULL, record BLOB NOT NULL);
                CREATE INDEX activation_running ON activation(ended, id);
                """)
        }
        migrator.registerMigration("v3: live containment") { db in
            try db.execute(sql: "CREATE TABLE containment (id TEXT PRIMARY KEY NOT NULL, active INTEGER NOT NULL, started_at INTEGER NOT NULL, record BLOB NOT NULL)")
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

    func plan(_ id: String) throws -> Xunfang_Checkpoint_V1_SealPlan? {
        try queue.read { db in
            try Data.fetchOne(db, sql: "SELECT record FROM plan WHERE id = ?", arguments: [id]).map { try Xunfang_Checkpoint_V1_SealPlan(serializedBytes: $0) }
        }
    }

    func plans() throws -> [Xunfang_Checkpoint_V1_SealPlan] {
        try queue.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM plan ORDER BY id").map { try Xunfang_Checkpoint_V1_SealPlan(serializedBytes: $0) }
        }
    }

    /// An activation by id, or the newest when `id` is empty.
    func activation(_ id: String) throws -> Xunfang_Checkpoint_V1_SealActivation? {
        try queue.read { db in
            let sql = id.isEmpty ? "SELECT record FROM activation ORDER BY activated_at DESC, id DESC LIMIT 1" : "SELECT record FROM activation WHERE id = ?"
            return try Data.fetchOne(db, sql: sql, arguments: id.isEmpty ? [] : [id]).map { try Xunfang_Checkpoint_V1_SealActivation(serializedBytes: $0) }
        }
    }

    /// Activations not stood down.
    func runningActivations() throws -> [Xunfang_Checkpoint_V1_SealActivation] {
        try queue.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM activation WHERE ended = 0 ORDER BY id").map { try Xunfang_Checkpoint_V1_SealActivation(serializedBytes: $0) }
        }
    }

    func activationCount(plan: String) throws -> Int {
        try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM activation WHERE plan = ?", arguments: [plan]) ?? 0 }
    }

    /// A containment by id, or the newest when `id` is empty.
    func containment(_ id: String) throws -> Xunfang_Checkpoint_V1_LiveContainment? {
        try queue.read { db in
            let sql = id.isEmpty ? "SELECT record FROM containment ORDER BY started_at DESC, rowid DESC LIMIT 1" : "SELECT record FROM containment WHERE id = ?"
            return try Data.fetchOne(db, sql: sql, arguments: id.isEmpty ? [] : [id]).map { try Xunfang_Checkpoint_V1_LiveContainment(serializedBytes: $0) }
        }
    }

    func runningContainments() throws -> [Xunfang_Checkpoint_V1_LiveContainment] {
        try queue.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM containment WHERE active = 1 ORDER BY id").map { try Xunfang_Checkpoint_V1_LiveContainment(serializedBytes: $0) }
        }
    }

    func containmentCount() throws -> Int {
        try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM containment") ?? 0 }
    }

    /// Everything one change writes, with the messages that announce it.
    struct Changes {
        var checkpoints: [Xunfang_Checkpoint_V1_CheckpointRecord] = []
        var statusChanges: [Xunfang_Checkpoint_V1_StatusChange] = []
        var report: Xunfang_Checkpoint_V1_CheckReport?
        var plans: [Xunfang_Checkpoint_V1_SealPlan] = []
        var activations: [Xunfang_Checkpoint_V1_SealActivation] = []
        var containments: [Xunfang_Checkpoint_V1_LiveContainment] = []
        var outbox: [(topic: String, payload: Data, messageID: String)] = []
    }

    /// Writes a change with its announcements in one transaction. Returns false (and
    /// writes nothing) when the report's interval was already reported.
    @discardableResult
    func save(_ changes: Changes) throws -> Bool {
        try queue.write { db in
            if let report = changes.report {
                let known = try Int.fetchOne(db, sql: #"SELECT 1 FROM report WHERE checkpoint = ? AND "from" = ? AND "to" = ?"#,
                                             arguments: [report.checkpoint, report.from, report.to])
                guard known == nil else { return false }
                try db.execute(sql: #"INSERT INTO report (checkpoint, "from", "to", record) VALUES (?, ?, ?, ?)"#,
                               arguments: [report.checkpoint, report.from, report.to, try report.serializedData()])
            }
            for checkpoint in changes.checkpoints {
                try db.execute(sql: "INSERT OR REPLACE INTO checkpoint (id, record) VALUES (?, ?)", arguments: [checkpoint.id, try checkpoint.serializedData()])
            }
            for change in changes.statusChanges {
                try db.execute(sql: "INSERT INTO status_change (checkpoint, record) VALUES (?, ?)", arguments: [change.checkpoint, try change.serializedData()])
            }
            for plan in changes.plans {
                try db.execute(sql: "INSERT OR REPLACE INTO plan (id, record) VALUES (?, ?)", arguments: [plan.id, try plan.serializedData()])
            }
            for activation in changes.activations {
                try db.execute(sql: "INSERT OR REPLACE INTO activation (id, plan, activated_at, ended, record) VALUES (?, ?, ?, ?, ?)",
                               arguments: [activation.id, activation.plan, activation.activatedAt, activation.state == .stoodDown ? 1 : 0,
                                           try activation.serializedData()])
            }
            for containment in changes.containments {
                try db.execute(sql: "INSERT OR REPLACE INTO containment (id, active, started_at, record) VALUES (?, ?, ?, ?)",
                               arguments: [containment.id, containment.active ? 1 : 0, containment.startedAt, try containment.serializedData()])
            }
            try Outbox.append(db, changes.outbox)
            return true
        }
    }
}
