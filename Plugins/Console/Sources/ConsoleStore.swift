import Foundation
import GRDB
import Crypto
import _CryptoExtras
import XunfangOutbox

/// The console's officers (name, role, scrypt password hash) and its audit log in one SQLite
/// file: every sign-in, every action, every refusal, with who, when and what.
final class ConsoleStore: Sendable {
    let queue: DatabaseQueue

    init(path: String) throws {
        queue = try PluginDatabase.open(path: path)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 officers and audit") { db in
            try db.execute(sql: """
                CREATE TABLE officer (name TEXT PRIMARY KEY NOT NULL, role TEXT NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL);
                CREATE TABLE audit (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, officer TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL,
                                    target TEXT NOT NULL, outcome TEXT NOT NULL);
                CREATE INDEX audit_at ON audit (at);
                """)
        }
        // A station chief's station: what the console shows them and where they may act.
        migrator.registerMigration("v2 officer station") { db in
            try db.execute(sql: "ALTER TABLE officer ADD COLUMN station TEXT NOT NULL DEFAULT ''")
        }
        try migrator.migrate(queue)
    }

    /// scrypt (N = 2^14, r = 8, p = 1): a stolen file does not give passwords away cheaply.
    static func hash(_ password: String, salt: Data) throws -> Data {
        let key = try KDF.Scrypt.deriveKey(from: Data(password.utf8), salt: salt, outputByteCount: 32, rounds: 1 << 14, blockSize: 8, parallelism: 1)
        return key.withUnsafeBytes { Data($0) }
    }

    /// Adds or replaces an officer; a station chief names their station (GridModel's id), no one else does.
    func put(officer name: String, role: Role, password: String, station: String = "") throws {
        guard (role == .chief) == !station.isEmpty, station.utf8.count <= 64 else {
            throw ConsoleError(role == .chief ? "a station chief needs their station (its id, at most 64 bytes)" : "only a station chief has a station")
        }
        let salt = Data((0..<16).map { _ in UInt8.random(in: 0...255) })
        let hash = try Self.hash(password, salt: salt)
        try queue.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO officer (name, role, salt, hash, station) VALUES (?, ?, ?, ?, ?)",
                           arguments: [name, role.rawValue, salt, hash, station])
        }
    }

    struct Officer: Equatable, Sendable {
        let role: Role
        /// A station chief's station; "" for the whole county.
        let station: String
    }

    /// The officer's role (and a chief's station) when the password is theirs.
    func signIn(_ name: String, password: String) throws -> Officer? {
        guard let row = try queue.read({ db in try Row.fetchOne(db, sql: "SELECT role, salt, hash, station FROM officer WHERE name = ?", arguments: [name]) }) else {
            // The same work for an unknown name, so timing does not tell names apart.
            _ = try Self.hash(password, salt: Data(count: 16))
            return nil
        }
        let expected: Data = row["hash"]
        let given = try Self.hash(password, salt: row["salt"])
        // Compared in constant time.
        guard expected.count == given.count, zip(expected, given).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else { return nil }
        return Role(rawValue: row["role"]).map { Officer(role: $0, station: row["station"]) }
    }

    func officerCount() throws -> Int {
        try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM officer") ?? 0 }
    }

    struct Entry: Equatable, Sendable {
        var at: Int64
        var officer: String
        var role: String
        var action: String
        var target: String
        var outcome: String
    }

    func audit(_ entry: Entry) throws {
        try queue.write { db in
            try db.execute(sql: "INSERT INTO audit (at, officer, role, action, target, outcome) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [entry.at, entry.officer, entry.role, entry.action, entry.target, entry.outcome])
        }
    }

    /// The newest entries first, at most `limit`.
    func audit(limit: Int) throws -> [Entry] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM audit ORDER BY seq DESC LIMIT ?", arguments: [limit]).map { row in
                Entry(at: row["at"], officer: row["officer"], role: row["role"], action: row["action"], target: row["target"], outcome: row["outcome"])
            }
        }
    }
}

struct ConsoleError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What an officer may do in the console.
enum Role: String, CaseIterable, Sendable {
    /// 值班员: takes calls, assigns units, activates plans.
    case duty
    /// 所长: as the duty officer, for the station.
    case chief
    /// 研判员: reads everything, changes nothing.
    case analyst
    /// 查看: the map and boards, nothing else.
    case viewer

    var acts: Bool { self == .duty || self == .chief }

    var label: String {
        switch self {
        case .duty: "值班员 duty officer"
        case .chief: "所长 station chief"
        case .analyst: "研判员 analyst"
        case .viewer: "查看 viewer"
        }
    }
}
