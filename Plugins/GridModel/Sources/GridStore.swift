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
        try migrator.migrate(queue)
    }

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
        try queue.read { db in
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
    }

    /// Replaces everything in one transaction and returns the new revision.
    @discardableResult
    public func replace(areas: [AreaRecord], sites: [SiteRecord]) throws -> UInt64 {
        let encoder = JSONEncoder()
        return try queue.write { db in
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
}
