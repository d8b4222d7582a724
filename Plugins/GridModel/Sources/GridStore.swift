import Foundation
import GRDB
import XunfangGeo

/// GridModel's own SQLite file: the hierarchy and the sites, with a revision that every
/// change raises. The road graph is not stored here (it is a graph file or the demo's).
public final class GridStore: Sendable {
    private let queue: DatabaseQueue
    public let path: String

    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)  // the CLI and the running plugin may share the file
        queue = try DatabaseQueue(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE area (
                  id TEXT PRIMARY KEY NOT NULL,
                  name TEXT NOT NULL,
                  level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 4),
                  parent_id TEXT REFERENCES area(id) DEFERRABLE INITIALLY DEFERRED,
                  place_class INTEGER CHECK (place_class BETWEEN 1 AND 3),
                  boundary TEXT
                );
                CREATE TABLE site (
                  id TEXT PRIMARY KEY NOT NULL,
                  name TEXT NOT NULL,
                  kind INTEGER NOT NULL,
                  longitude REAL NOT NULL CHECK (longitude BETWEEN -180 AND 180),
                  latitude REAL NOT NULL CHECK (latitude BETWEEN -90 AND 90)
                );
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                INSERT INTO meta VALUES ('revision', '0');
                """)
        }
        migrator.registerMigration("v2 patrol lines") { db in
            // A patrol line's route as JSON [[lon, lat], ...]; NULL for point sites.
            try db.execute(sql: "ALTER TABLE site ADD COLUMN path TEXT")
        }
        migrator.registerMigration("v3 kept revisions") { db in
            // What each replaced revision held, so an import or edit can be rolled back.
            try db.execute(sql: """
                CREATE TABLE kept_revision (revision INTEGER PRIMARY KEY NOT NULL, replaced_at INTEGER NOT NULL, reason TEXT NOT NULL,
                                            areas BLOB NOT NULL, sites BLOB NOT NULL)
                """)
        }
        try migrator.migrate(queue)
    }

    /// How many replaced revisions are kept for `rollback`.
    public static let keptRevisions = 20

    public struct Snapshot: Sendable {
        public var revision: UInt64
        public var areas: [AreaRecord]
        public var sites: [SiteRecord]
    }

    public func revision() throws -> UInt64 {
        try queue.read { db in try UInt64(String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'revision'") ?? "0") ?? 0 }
    }

    /// Everything stored, or nil when nothing has been stored yet.
    public func load() throws -> Snapshot? {
        try queue.read { db in try Self.load(db) }
    }

    private static func load(_ db: Database) throws -> Snapshot? {
        let revision = try UInt64(String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'revision'") ?? "0") ?? 0
        guard revision > 0 else { return nil }
        let decoder = JSONDecoder()
        let areas = try Row.fetchAll(db, sql: "SELECT * FROM area ORDER BY level, id").map { row -> AreaRecord in
            let boundary: String? = row["boundary"]
            return AreaRecord(
                id: row["id"], name: row["name"], level: AreaLevel(rawValue: row["level"]) ?? .grid, parentID: row["parent_id"],
                placeClass: (row["place_class"] as Int?).flatMap(PlaceClass.init(rawValue:)),
                boundary: try boundary.map { try decoder.decode([[[GeoPoint]]].self, from: Data($0.utf8)) })
        }
        let sites = try Row.fetchAll(db, sql: "SELECT * FROM site ORDER BY id").map { row in
            let path: String? = row["path"]
            return SiteRecord(id: row["id"], name: row["name"], kind: SiteKind(rawValue: row["kind"]) ?? .patrolPoint,
                              position: GeoPoint(longitude: row["longitude"], latitude: row["latitude"]),
                              path: try path.map { try decoder.decode([GeoPoint].self, from: Data($0.utf8)) })
        }
        return Snapshot(revision: revision, areas: areas, sites: sites)
    }

    /// Replaces everything in one transaction and returns the new revision; what it
    /// replaced is kept (the newest `keptRevisions`) for `rollback`.
    @discardableResult
    public func replace(areas: [AreaRecord], sites: [SiteRecord], reason: String = "replace") throws -> UInt64 {
        let encoder = JSONEncoder()
        return try queue.write { db in
            if let current = try Self.load(db) {
                try db.execute(sql: "INSERT OR REPLACE INTO kept_revision (revision, replaced_at, reason, areas, sites) VALUES (?, ?, ?, ?, ?)",
                               arguments: [current.revision, Int64(Date().timeIntervalSince1970 * 1_000), reason,
                                           try encoder.encode(current.areas), try encoder.encode(current.sites)])
                try db.execute(sql: "DELETE FROM kept_revision WHERE revision NOT IN (SELECT revision FROM kept_revision ORDER BY revision DESC LIMIT ?)",
                               arguments: [Self.keptRevisions])
            }
            try db.execute(sql: "DELETE FROM site")
            try db.execute(sql: "DELETE FROM area")
            for area in areas {
                let boundary = try area.boundary.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
                try db.execute(sql: "INSERT INTO area (id, name, level, parent_id, place_class, boundary) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [area.id, area.name, area.level.rawValue, area.parentID, area.placeClass?.rawValue, boundary])
            }
            for site in sites {
                let path = try site.path.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
                try db.execute(sql: "INSERT INTO site (id, name, kind, longitude, latitude, path) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [site.id, site.name, site.kind.rawValue, site.position.longitude, site.position.latitude, path])
            }
            let next = (try UInt64(String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'revision'") ?? "0") ?? 0) + 1
            try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'revision'", arguments: [String(next)])
            return next
        }
    }

    public struct KeptRevision: Sendable {
        public var revision: UInt64
        /// When a later revision replaced it, Unix ms; and what did (the later revision's reason).
        public var replacedAt: Int64
        public var reason: String
        public var areas: Int
        public var sites: Int
    }

    /// The replaced revisions that can be restored, newest first.
    public func keptRevisions() throws -> [KeptRevision] {
        let decoder = JSONDecoder()
        return try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM kept_revision ORDER BY revision DESC").map { row in
                KeptRevision(revision: UInt64(row["revision"] as Int64), replacedAt: row["replaced_at"], reason: row["reason"],
                             areas: try decoder.decode([AreaRecord].self, from: row["areas"] as Data).count,
                             sites: try decoder.decode([SiteRecord].self, from: row["sites"] as Data).count)
            }
        }
    }

    /// What a kept revision held, or nil when it is not kept.
    public func kept(_ revision: UInt64) throws -> Snapshot? {
        let decoder = JSONDecoder()
        return try queue.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT areas, sites FROM kept_revision WHERE revision = ?", arguments: [Int64(revision)]) else {
                return nil
            }
            return Snapshot(revision: revision, areas: try decoder.decode([AreaRecord].self, from: row["areas"] as Data),
                            sites: try decoder.decode([SiteRecord].self, from: row["sites"] as Data))
        }
    }
}
