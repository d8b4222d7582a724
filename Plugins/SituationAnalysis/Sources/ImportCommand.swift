import Foundation

/// `xunfang situation import FILE.csv`: old incidents into the history, for counties
/// starting with data from before Xunfang. Works on the store file directly; the running
/// plugin asks GridModel where the new rows lie.
public enum ImportCommand {
    static let usage = """
    usage: xunfang situation import FILE.csv [--data-dir DIR]
    Columns: id,time,type,lon,lat[,place_type] (WGS84). time is ISO 8601 with an offset
    (2026-01-05T13:45:00+08:00), "yyyy-mm-dd hh:mm[:ss]" in China time, or Unix milliseconds.
    A header line starting with "id," is skipped. A bad line refuses the whole file.
    The store is DIR/situation/situation.sqlite (DIR: --data-dir, $XUNFANG_DATA_DIR or ./data).
    """

    public static func run(_ arguments: [String], environment: [String: String]? = nil) -> Int32 {
        let environment = environment ?? ProcessInfo.processInfo.environment
        var rest = arguments
        var dataDirectory = environment["XUNFANG_DATA_DIR"] ?? "data"
        if let index = rest.firstIndex(of: "--data-dir"), index + 1 < rest.count {
            dataDirectory = rest[index + 1]
            rest.removeSubrange(index...index + 1)
        }
        guard rest.count == 1 else { return fail(usage) }
        do {
            guard let data = FileManager.default.contents(atPath: rest[0]) else { return fail("cannot read \(rest[0])") }
            let records = try parse(csv: String(decoding: data, as: UTF8.self))
            let directory = "\(dataDirectory)/situation"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let added = try HistoryStore(path: "\(directory)/situation.sqlite").upsert(records)
            print("imported \(records.count) incidents (\(added) new, \(records.count - added) already known)")
            return 0
        } catch let error as ImportError {
            return fail(error.message)
        } catch {
            return fail("\(error)")
        }
    }

    public struct ImportError: Error, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    static let maxRows = 10_000_000

    /// Every row, or an error naming the first bad line.
    public static func parse(csv text: String) throws(ImportError) -> [HistoryRecord] {
        var records: [HistoryRecord] = []
        var seen: Set<String> = []
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || (number == 1 && line.hasPrefix("id,")) { continue }
            func bad(_ why: String) -> ImportError { ImportError(message: "line \(number): \(why)") }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 5 || fields.count == 6 else { throw bad("expected id,time,type,lon,lat[,place_type], got \(fields.count) fields") }
            guard (1...64).contains(fields[0].utf8.count) else { throw bad("id must be 1 to 64 bytes") }
            guard seen.insert(fields[0]).inserted else { throw bad("id \(fields[0]) appears twice") }
            guard let at = time(fields[1]) else { throw bad("time \"\(fields[1])\" is not ISO 8601, yyyy-mm-dd hh:mm[:ss] or Unix milliseconds") }
            guard (1...32).contains(fields[2].utf8.count) else { throw bad("type must be 1 to 32 bytes") }
            guard let lon = Double(fields[3]), let lat = Double(fields[4]), (-180...180).contains(lon), (-90...90).contains(lat) else {
                throw bad("lon,lat \(fields[3]),\(fields[4]) is not a WGS84 position")
            }
            let placeType = fields.count == 6 ? fields[5] : ""
            guard placeType.utf8.count <= 32 else { throw bad("place_type longer than 32 bytes") }
            records.append(HistoryRecord(id: fields[0], at: at, type: fields[2], longitude: lon, latitude: lat, placeType: placeType))
            guard records.count <= maxRows else { throw bad("more than \(maxRows) rows; split the file") }
        }
        return records
    }

    /// Unix milliseconds of a time written as ISO 8601 with an offset, as China-time
    /// "yyyy-mm-dd hh:mm[:ss]", or as Unix milliseconds.
    static func time(_ text: String) -> Int64? {
        if let milliseconds = Int64(text), milliseconds > 0 { return milliseconds }
        if text.contains("T") {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1_000).rounded()) }
        }
        let parts = text.split(separator: " ")
        guard parts.count == 2, let day = ChinaTime.dayNumber(label: String(parts[0])) else { return nil }
        let clock = parts[1].split(separator: ":").compactMap { Int($0) }
        guard (2...3).contains(clock.count), (0..<24).contains(clock[0]), (0..<60).contains(clock[1]),
              clock.count == 2 || (0..<60).contains(clock[2]) else { return nil }
        let seconds = clock[0] * 3_600 + clock[1] * 60 + (clock.count == 3 ? clock[2] : 0)
        return ChinaTime.start(ofDay: day) + Int64(seconds) * 1_000
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang situation import: \(message)\n".utf8))
        return 1
    }
}
