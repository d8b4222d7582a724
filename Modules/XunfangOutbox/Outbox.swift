public import Foundation
public import GRDB
public import Logging
public import XunfangPluginKit

/// A plugin's own SQLite file, opened one way: WAL with synchronous=NORMAL (a process
/// crash loses nothing committed; a power cut may lose the last transactions) and a 5 s
/// busy timeout (a command and the running plugin may share the file). `prepare` adds
/// the plugin's own pragmas for every connection.
public enum PluginDatabase {
    public static func open(path: String, prepare: (@Sendable (Database) throws -> Void)? = nil) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try prepare?(db)
        }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.writeWithoutTransaction { db in _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") }
        return queue
    }
}

/// A plugin's transactional outbox in its own SQLite file: a change and the messages that
/// announce it are written in one transaction, and `drain` publishes them in order with
/// confirmed publishes, deleting what the bus acknowledged. So nothing is stored without
/// being announced, nor announced without being stored, across crashes of the plugin or
/// the bus (at-least-once; consumers de-duplicate by message id).
public enum Outbox {
    public struct Message: Sendable, Hashable {
        public var seq: Int64
        public var topic: String
        public var payload: Data
        public var messageID: String
    }

    /// The tables, for a plugin's first migration.
    public static func createTables(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL, message_id TEXT NOT NULL);
            CREATE TABLE outbox_refused (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, message_id TEXT NOT NULL,
                                         reason TEXT NOT NULL);
            """)
    }

    /// Queues messages inside the caller's transaction.
    public static func append(_ db: Database, _ messages: [(topic: String, payload: Data, messageID: String)]) throws {
        let insert = try db.cachedStatement(sql: "INSERT INTO outbox (topic, payload, message_id) VALUES (?, ?, ?)")
        for message in messages { try insert.execute(arguments: [message.topic, message.payload, message.messageID]) }
    }

    public static func pending(_ database: any DatabaseWriter, limit: Int) throws -> [Message] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, topic, payload, message_id FROM outbox ORDER BY seq LIMIT ?", arguments: [limit]).map {
                Message(seq: $0["seq"], topic: $0["topic"], payload: $0["payload"], messageID: $0["message_id"])
            }
        }
    }

    public static func setAside(_ database: any DatabaseWriter, _ message: Message, reason: String) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO outbox_refused (seq, topic, payload, message_id, reason) VALUES (?, ?, ?, ?, ?)",
                           arguments: [message.seq, message.topic, message.payload, message.messageID, reason])
        }
    }

    public static func delete(_ database: any DatabaseWriter, _ seqs: [Int64]) throws {
        guard !seqs.isEmpty else { return }
        try database.write { db in
            try db.execute(sql: "DELETE FROM outbox WHERE seq IN (\(seqs.map { _ in "?" }.joined(separator: ",")))", arguments: StatementArguments(seqs))
        }
    }

    /// Publishes the outbox in order until cancelled or `bus()` is nil; waits on `wake`
    /// when empty. A failure (bus away) is retried after a pause, nothing is skipped; a
    /// message the bus refuses for good (bad topic, missing ACL) is set aside in
    /// `outbox_refused`, kept and reported, so it does not hold up every later one.
    public static func drain(_ database: any DatabaseWriter, bus: @Sendable () -> BusClient?, wake: AsyncStream<Void>, logger: Logger) async {
        var iterator = wake.makeAsyncIterator()
        while !Task.isCancelled {
            guard let bus = bus() else { return }
            do {
                let batch = try pending(database, limit: 256)
                if batch.isEmpty {
                    _ = await iterator.next()
                    continue
                }
                var done: [Int64] = []
                for message in batch {
                    do {
                        try await bus.publishConfirmed(message.topic, payload: message.payload, messageID: message.messageID)
                    } catch let error as BusClientError where error.code == .invalidArgument || error.code == .permissionDenied {
                        logger.critical("the bus refused an outbox message; kept in outbox_refused", metadata: [
                            "xunfang.topic": "\(message.topic)", "xunfang.error": "\(error)"])
                        try setAside(database, message, reason: error.description)
                    }
                    done.append(message.seq)
                }
                try delete(database, done)
            } catch {
                logger.warning("outbox publish failed; retrying", metadata: ["xunfang.error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}
