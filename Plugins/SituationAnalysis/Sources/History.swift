public import Foundation
import GRDB

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
    public var placeType: String

    public init(id: String, at: Int64, type: String, longitude: Double, latitude: Double, grid: String = "", station: String = "", placeType: String = "") {
        self.id = id
        self.at = at
        self.type = type
        self.longitude = longitude
        self.latitude = latitude
        self.grid = grid
        self.station = station
        self.placeType = placeType
    }
}

/// The incident history in the plugin's own SQLite file, keyed by incident id so that a
/// redelivered or re-imported incident is stored once.
public final class HistoryStore: Sendable {
    private let queue: DatabaseQueue

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)  // the import command and the running plugin may share the file
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.writeWithoutTransaction { db in _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") }
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
        try migrator.migrate(queue)
    }

    /// Stores records in one transaction; a known id keeps its row, filling in a grid,
    /// station or place type it lacked. Returns how many ids were new.
    @discardableResult
    public func upsert(_ records: [HistoryRecord]) throws -> Int {
        try queue.write { db in
            let before = try Int.fetchOne(db, sql: "SELECT count(*) FROM incident") ?? 0
            let statement = try db.cachedStatement(sql: """
                INSERT INTO incident (id, at, type, longitude, latitude, grid_id, station_id, place_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET
                  grid_id = CASE WHEN grid_id = '' THEN excluded.grid_id ELSE grid_id END,
                  station_id = CASE WHEN station_id = '' THEN excluded.station_id ELSE station_id END,
                  place_type = CASE WHEN place_type = '' THEN excluded.place_type ELSE place_type END
                """)
            for record in records {
                try statement.execute(arguments: [record.id, record.at, record.type, record.longitude, record.latitude,
                                                  record.grid, record.station, record.placeType])
            }
            return (try Int.fetchOne(db, sql: "SELECT count(*) FROM incident") ?? 0) - before
        }
    }

    public func count() throws -> Int {
        try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM incident") ?? 0 }
    }

    /// Records received in [from, to), oldest first.
    public func records(from: Int64 = .min, to: Int64 = .max) throws -> [HistoryRecord] {
        try queue.read { db in
            try Row.fetchCursor(db, sql: "SELECT * FROM incident WHERE at >= ? AND at < ? ORDER BY at", arguments: [from, to]).map { row in
                HistoryRecord(id: row["id"], at: row["at"], type: row["type"], longitude: row["longitude"], latitude: row["latitude"],
                              grid: row["grid_id"], station: row["station_id"], placeType: row["place_type"])
            }.reduce(into: []) { $0.append($1) }
        }
    }

    /// Records GridModel has not placed yet.
    public func unlocated(limit: Int) throws -> [HistoryRecord] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM incident WHERE grid_id = '' LIMIT ?", arguments: [limit]).map { row in
                HistoryRecord(id: row["id"], at: row["at"], type: row["type"], longitude: row["longitude"], latitude: row["latitude"])
            }
        }
    }

    /// Sets where incidents lie: (id, grid, station); grid "-" for outside every grid.
    public func locate(_ places: [(id: String, grid: String, station: String)]) throws {
        try queue.write { db in
            for place in places {
                try db.execute(sql: "UPDATE incident SET grid_id = ?, station_id = ? WHERE id = ?", arguments: [place.grid, place.station, place.id])
            }
        }
    }

    public func meta(_ key: String) throws -> String? {
        try queue.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) }
    }

    public func setMeta(_ key: String, _ value: String) throws {
        try queue.write { db in try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, value]) }
    }
}

/// Records as columns with interned names, for aggregation over millions of them.
public struct HistoryColumns: Sendable {
    public var at: [Int64] = []
    public var type: [Int32] = []
    public var grid: [Int32] = []
    public var station: [Int32] = []
    public var placeType: [Int32] = []
    public var types = Interner(), grids = Interner(), stations = Interner(), placeTypes = Interner()

    public init() {}

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
    }

    public mutating func append(_ record: HistoryRecord) {
        at.append(record.at)
        type.append(types.code(record.type))
        grid.append(grids.code(record.grid))
        station.append(stations.code(record.station))
        placeType.append(placeTypes.code(record.placeType))
    }
}

/// Strings to dense codes and back.
public struct Interner: Sendable {
    public private(set) var names: [String] = []
    private var codes: [String: Int32] = [:]

    public init() {}

    public mutating func code(_ name: String) -> Int32 {
        if let known = codes[name] { return known }
        let code = Int32(names.count)
        names.append(name)
        codes[name] = code
        return code
    }

    public func lookup(_ name: String) -> Int32? { codes[name] }
}

/// China time, as the bureaus count days, hours and weekdays.
public enum ChinaTime {
    static let offset: Int64 = 8 * 3_600_000
    public static let day: Int64 = 86_400_000

    /// Days since 1970-01-01 in China.
    public static func dayNumber(_ milliseconds: Int64) -> Int64 {
        let local = milliseconds + offset
        return local >= 0 ? local / day : (local - day + 1) / day
    }

    public static func hour(_ milliseconds: Int64) -> Int {
        Int((milliseconds + offset - dayNumber(milliseconds) * day) / 3_600_000)
    }

    /// 1 = Monday ... 7 = Sunday (1970-01-01 was a Thursday).
    public static func weekday(_ milliseconds: Int64) -> Int {
        Int(((dayNumber(milliseconds) + 3) % 7 + 7) % 7) + 1
    }

    /// Midnight (China) starting day `number`.
    public static func start(ofDay number: Int64) -> Int64 { number * day - offset }

    /// "yyyy-mm-dd" of a day number, and back.
    public static func label(ofDay number: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(start(ofDay: number) + offset) / 1_000)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    public static func dayNumber(label: String) -> Int64? {
        let parts = label.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        guard let date = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])),
              calendar.component(.day, from: date) == parts[2] else { return nil }
        return Int64((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }
}
