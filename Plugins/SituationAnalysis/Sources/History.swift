public import Foundation
import GRDB
import GRDBSQLite
import XunfangOutbox

/// What the history keeps of one incident. No caller and no report: personal data stays
/// with Dispatch, and this plugin needs only where, when and what.
public struct HistoryRecord: Sendable, Hashable {
    public var id: String
    /// Received, Unix milliseconds.
    public var at: Int64
    public var type: String
    public var longitude: Double
    public var latitude: Double
    /// "" until located; "-" when GridModel found it outside every grid.
    public var grid: String
    public var station: String
    /// The county it came from over the bridge (`xunfang-origin-county`); "" for this bus's own.
    public var county: String = ""
    public var placeType: String
    /// The nearest road segment ("" until GridModel has placed it, "-" when none).
    public var segment: String
    /// The type's name as Dispatch's table has it ("" when the code is all there is).
    public var typeName: String

    public init(id: String, at: Int64, type: String, longitude: Double, latitude: Double, grid: String = "", station: String = "", placeType: String = "",
                segment: String = "", typeName: String = "") {
        self.id = id
        self.at = at
        self.type = type
        self.longitude = longitude
        self.latitude = latitude
        self.grid = grid
        self.station = station
        self.placeType = placeType
        self.segment = segment
        self.typeName = typeName
    }
}

/// The incident history in the plugin's own SQLite file, keyed by incident id so that a
/// redelivered or re-imported incident is stored once. Types, grids, stations and place
/// types are stored as codes into a table of names (code 0 is ""), which keeps the file
/// small and lets a year of incidents load as columns of integers. (Codes are checked by
/// this code, not by foreign keys: four lookups per insert would halve the import rate.)
public final class HistoryStore: Sendable {
    private let queue: DatabaseQueue

    public init(path: String) throws {
        queue = try PluginDatabase.open(path: path)  // the import command and the running plugin may share the file
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE incident (
                  id TEXT PRIMARY KEY NOT NULL,
                  at INTEGER NOT NULL,
                  type TEXT NOT NULL,
                  longitude REAL NOT NULL CHECK (longitude BETWEEN -180 AND 180),
                  latitude REAL NOT NULL CHECK (latitude BETWEEN -90 AND 90),
                  grid_id TEXT NOT NULL DEFAULT '',
                  station_id TEXT NOT NULL DEFAULT '',
                  place_type TEXT NOT NULL DEFAULT ''
                );
                CREATE INDEX incident_at ON incident(at);
                CREATE INDEX incident_unlocated ON incident(grid_id) WHERE grid_id = '';
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                """)
        }
        migrator.registerMigration("v2 name codes") { db in
            try db.execute(sql: """
                CREATE TABLE name (code INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
                INSERT INTO name (code, text) VALUES (0, '');
                INSERT OR IGNORE INTO name (text)
                  SELECT type FROM incident UNION SELECT grid_id FROM incident UNION SELECT station_id FROM incident UNION SELECT place_type FROM incident;
                CREATE TABLE coded (
                  id TEXT PRIMARY KEY NOT NULL,
                  at INTEGER NOT NULL,
                  type INTEGER NOT NULL,
                  longitude REAL NOT NULL CHECK (longitude BETWEEN -180 AND 180),
                  latitude REAL NOT NULL CHECK (latitude BETWEEN -90 AND 90),
                  grid INTEGER NOT NULL DEFAULT 0,
                  station INTEGER NOT NULL DEFAULT 0,
                  place_type INTEGER NOT NULL DEFAULT 0
                );
                INSERT INTO coded SELECT id, at, (SELECT code FROM name WHERE text = type), longitude, latitude,
                  (SELECT code FROM name WHERE text = grid_id), (SELECT code FROM name WHERE text = station_id),
                  (SELECT code FROM name WHERE text = place_type) FROM incident;
                DROP TABLE incident;
                ALTER TABLE coded RENAME TO incident;
                -- Covering: a window of the history loads from the index alone, in time order.
                CREATE INDEX incident_at ON incident(at, type, grid, station, place_type);
                CREATE INDEX incident_unlocated ON incident(grid) WHERE grid = 0;
                """)
        }
        migrator.registerMigration("v3 road segments") { db in
            try db.execute(sql: """
                ALTER TABLE incident ADD COLUMN segment INTEGER NOT NULL DEFAULT 0;
                DROP INDEX incident_at;
                CREATE INDEX incident_at ON incident(at, type, grid, station, place_type, segment);
                DROP INDEX incident_unlocated;
                CREATE INDEX incident_unlocated ON incident(segment) WHERE segment = 0;
                """)
        }
        // 0.3: which stations were warned for a day, and at what colour, so a day is never warned twice.
        migrator.registerMigration("v4 warnings sent") { db in
            try db.execute(sql: "CREATE TABLE warned (day INTEGER NOT NULL, station TEXT NOT NULL, colour INTEGER NOT NULL, PRIMARY KEY (day, station))")
        }
        // 0.4: names people read (Labels), the latest of each.
        migrator.registerMigration("v5 labels") { db in
            try db.execute(sql: "CREATE TABLE label (kind TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID")
        }
        // 0.5: a city's history holds several counties' incidents (issue 19): each row says whose,
        // the county bus's own as "" (given a code first, so old rows get it).
        migrator.registerMigration("v6 counties") { db in
            try db.execute(sql: """
                INSERT INTO name (code, text) SELECT (SELECT COALESCE(MAX(code) + 1, 0) FROM name), '' WHERE NOT EXISTS (SELECT 1 FROM name WHERE text = '');
                ALTER TABLE incident ADD COLUMN county INTEGER NOT NULL DEFAULT 0;
                UPDATE incident SET county = (SELECT code FROM name WHERE text = '');
                """)
        }
        try migrator.migrate(queue)
    }

    /// Every name by code (codes are dense from 0, which is "").
    private static func names(_ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT text FROM name ORDER BY code")
    }

    /// Codes for names, adding the new ones; within one write transaction.
    private struct Coder {
        var codes: [String: Int64]
        var next: Int64

        init(_ db: Database) throws {
            let names = try HistoryStore.names(db)
            codes = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, Int64($0.offset)) })
            next = Int64(names.count)
        }

        mutating func code(_ name: String, _ db: Database) throws -> Int64 {
            if let known = codes[name] { return known }
            try db.execute(sql: "INSERT INTO name (code, text) VALUES (?, ?)", arguments: [next, name])
            codes[name] = next
            next += 1
            return next - 1
        }
    }

    /// Stores records in one transaction; a known id keeps its row, filling in a grid,
    /// station or place type it lacked. Returns how many ids were new.
    @discardableResult
    public func upsert(_ records: [HistoryRecord]) throws -> Int {
        try queue.write { db in
            var coder = try Coder(db)
            // Insert, and only where the id is known fill in what was missing: counting new
            // rows this way costs an index probe, where counting the table would scan it
            // for every incident the bus delivers.
            let insert = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO incident (id, at, type, longitude, latitude, grid, station, place_type, segment, county) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            let fill = try db.cachedStatement(sql: """
                UPDATE incident SET
                  grid = CASE WHEN grid = 0 THEN ? ELSE grid END,
                  station = CASE WHEN station = 0 THEN ? ELSE station END,
                  place_type = CASE WHEN place_type = 0 THEN ? ELSE place_type END,
                  segment = CASE WHEN segment = 0 THEN ? ELSE segment END
                WHERE id = ?
                """)
            var added = 0
            let typeNames = Dictionary(records.filter { !$0.typeName.isEmpty }.map { ($0.type, $0.typeName) }, uniquingKeysWith: { _, last in last })
            try Self.setLabels(.type, typeNames, db)
            for record in records {
                let grid = try coder.code(record.grid, db), station = try coder.code(record.station, db)
                let placeType = try coder.code(record.placeType, db), segment = try coder.code(record.segment, db)
                try insert.execute(arguments: [record.id, record.at, try coder.code(record.type, db), record.longitude, record.latitude,
                                               grid, station, placeType, segment, try coder.code(record.county, db)])
                if db.changesCount == 1 {
                    added += 1
                } else {
                    try fill.execute(arguments: [grid, station, placeType, segment, record.id])
                }
            }
            return added
        }
    }

    public func count() throws -> Int {
        try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM incident") ?? 0 }
    }

    /// Records received in [from, to), oldest first.
    public func records(from: Int64 = .min, to: Int64 = .max) throws -> [HistoryRecord] {
        try queue.read { db in
            let names = try Self.names(db)
            return try Row.fetchAll(db, sql: "SELECT id, at, type, longitude, latitude, grid, station, place_type, segment FROM incident WHERE at >= ? AND at < ? ORDER BY at",
                                    arguments: [from, to]).map { row in
                HistoryRecord(id: row[0], at: row[1], type: names[row[2] as Int], longitude: row[3], latitude: row[4],
                              grid: names[row[5] as Int], station: names[row[6] as Int], placeType: names[row[7] as Int], segment: names[row[8] as Int])
            }
        }
    }

    /// Incidents received in [from, to) as columns, for the analyses: integers straight
    /// from the file, no strings per row.
    public func columns(from: Int64 = .min, to: Int64 = .max) throws -> HistoryColumns {
        try queue.read { db in
            let names = try Self.names(db)
            var at: [Int64] = [], type: [Int32] = [], grid: [Int32] = [], station: [Int32] = [], placeType: [Int32] = [], segment: [Int32] = []
            var county: [Int32] = []
            let statement = try db.makeStatement(sql: "SELECT at, type, grid, station, place_type, segment, county FROM incident WHERE at >= ? AND at < ?")
            statement.arguments = [from, to]
            // Column by column through SQLite itself: GRDB's rows would box every value.
            let raw = statement.sqliteStatement
            var step = sqlite3_step(raw)
            while step == SQLITE_ROW {
                at.append(sqlite3_column_int64(raw, 0))
                type.append(sqlite3_column_int(raw, 1))
                grid.append(sqlite3_column_int(raw, 2))
                station.append(sqlite3_column_int(raw, 3))
                placeType.append(sqlite3_column_int(raw, 4))
                segment.append(sqlite3_column_int(raw, 5))
                county.append(sqlite3_column_int(raw, 6))
                step = sqlite3_step(raw)
            }
            guard step == SQLITE_DONE else { throw DatabaseError(resultCode: ResultCode(rawValue: step), message: String(cString: sqlite3_errmsg(db.sqliteConnection))) }
            return HistoryColumns(at: at, type: type, grid: grid, station: station, placeType: placeType, segment: segment, county: county,
                                  names: Interner(names: names))
        }
    }

    /// Records GridModel has not placed yet (no road segment; perhaps no grid either).
    public func unlocated(limit: Int) throws -> [HistoryRecord] {
        try queue.read { db in
            let names = try Self.names(db)
            return try Row.fetchAll(db, sql: "SELECT id, at, type, longitude, latitude, grid, station FROM incident WHERE segment = 0 LIMIT ?",
                                    arguments: [limit]).map { row in
                HistoryRecord(id: row[0], at: row[1], type: names[row[2] as Int], longitude: row[3], latitude: row[4],
                              grid: names[row[5] as Int], station: names[row[6] as Int])
            }
        }
    }

    /// Sets where incidents lie: grid and station where not known yet ("-" for outside
    /// every grid), and the road segment ("-" for none).
    public func locate(_ places: [(id: String, grid: String, station: String, segment: String)]) throws {
        try queue.write { db in
            var coder = try Coder(db)
            for place in places {
                try db.execute(sql: """
                    UPDATE incident SET grid = CASE WHEN grid = 0 THEN ? ELSE grid END, station = CASE WHEN station = 0 THEN ? ELSE station END,
                      segment = ? WHERE id = ?
                    """, arguments: [try coder.code(place.grid, db), try coder.code(place.station, db), try coder.code(place.segment, db), place.id])
            }
        }
    }

    /// Keeps names for keys of one kind; an empty name is no name and is not kept.
    public func setLabels(_ kind: Labels.Kind, _ names: [String: String]) throws {
        guard !names.isEmpty else { return }
        try queue.write { db in try Self.setLabels(kind, names, db) }
    }

    private static func setLabels(_ kind: Labels.Kind, _ names: [String: String], _ db: Database) throws {
        let statement = try db.cachedStatement(sql: "INSERT OR REPLACE INTO label (kind, key, name) VALUES (?, ?, ?)")
        for (key, name) in names where !name.isEmpty { try statement.execute(arguments: [kind.rawValue, key, String(name.prefix(200))]) }
    }

    public func labels() throws -> Labels {
        try queue.read { db in
            var labels = Labels()
            for row in try Row.fetchAll(db, sql: "SELECT kind, key, name FROM label") {
                switch Labels.Kind(rawValue: row[0]) {
                case .area: labels.areas[row[1]] = row[2]
                case .type: labels.types[row[1]] = row[2]
                case .road: labels.roads[row[1]] = row[2]
                case nil: break
                }
            }
            return labels
        }
    }

    public func meta(_ key: String) throws -> String? {
        try queue.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) }
    }

    /// The colour each station was last warned at for `day`.
    public func warned(day: Int64) throws -> [String: Int] {
        try queue.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT station, colour FROM warned WHERE day = ?", arguments: [day]).map {
                ($0["station"] as String, $0["colour"] as Int)
            })
        }
    }

    public func recordWarned(day: Int64, station: String, colour: Int) throws {
        try queue.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO warned (day, station, colour) VALUES (?, ?, ?)", arguments: [day, station, colour])
        }
    }

    /// Counts imports, so the running plugin sees that yesterday's colours may have changed.
    public func markImported() throws {
        try queue.write { db in
            let serial = (try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'imports'")).flatMap(Int.init) ?? 0
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('imports', ?)", arguments: [String(serial + 1)])
        }
    }

    public func setMeta(_ key: String, _ value: String) throws {
        try queue.write { db in try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, value]) }
    }
}

/// Records as columns of name codes (one interner for every column), for aggregation
/// over millions of them.
public struct HistoryColumns: Sendable {
    public var at: [Int64] = []
    public var type: [Int32] = []
    public var grid: [Int32] = []
    public var station: [Int32] = []
    public var placeType: [Int32] = []
    public var segment: [Int32] = []
    public var county: [Int32] = []
    public var names = Interner()

    public init() {}

    /// Columns as the store keeps them: codes into `names`.
    public init(at: [Int64], type: [Int32], grid: [Int32], station: [Int32], placeType: [Int32], segment: [Int32], county: [Int32], names: Interner) {
        self.at = at
        self.type = type
        self.grid = grid
        self.station = station
        self.placeType = placeType
        self.segment = segment
        self.county = county
        self.names = names
    }

    /// The distinct names a column holds, sorted, without "" and "-" (not placed).
    public func distinct(_ column: KeyPath<HistoryColumns, [Int32]>) -> [String] {
        Set(self[keyPath: column]).map { names.names[Int($0)] }.filter { $0 != "" && $0 != "-" }.sorted()
    }

    public init(_ records: [HistoryRecord]) {
        reserveCapacity(records.count)
        for record in records { append(record) }
    }

    public var count: Int { at.count }

    public mutating func reserveCapacity(_ n: Int) {
        at.reserveCapacity(n)
        type.reserveCapacity(n)
        grid.reserveCapacity(n)
        station.reserveCapacity(n)
        placeType.reserveCapacity(n)
        segment.reserveCapacity(n)
        county.reserveCapacity(n)
    }

    public mutating func append(_ record: HistoryRecord) {
        at.append(record.at)
        type.append(names.code(record.type))
        grid.append(names.code(record.grid))
        station.append(names.code(record.station))
        placeType.append(names.code(record.placeType))
        segment.append(names.code(record.segment))
        county.append(names.code(record.county))
    }
}

/// Strings to dense codes and back.
public struct Interner: Sendable {
    public private(set) var names: [String] = []
    private var codes: [String: Int32] = [:]

    public init() {}

    /// Names whose codes are their positions.
    public init(names: [String]) {
        self.names = names
        codes = Dictionary(names.enumerated().map { ($0.element, Int32($0.offset)) }, uniquingKeysWith: { first, _ in first })
    }

    public mutating func code(_ name: String) -> Int32 {
        if let known = codes[name] { return known }
        let code = Int32(names.count)
        names.append(name)
        codes[name] = code
        return code
    }

    public func lookup(_ name: String) -> Int32? { codes[name] }
}
