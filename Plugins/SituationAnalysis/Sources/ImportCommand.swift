import Foundation
import XunfangPluginKit

/// `xunfang situation import FILE.csv`: old incidents into the history, for counties
/// starting with data from before Xunfang. Works on the store file directly; the running
/// plugin asks GridModel where the new rows lie.
public enum ImportCommand {
    static let usage = """
    usage: xunfang situation import FILE.csv [--data-dir DIR]
    Columns: id,time,type,lon,lat[,place_type] (WGS84). time is ISO 8601 with an offset
    (2026-01-05T13:45:00+08:00), "yyyy-mm-dd hh:mm[:ss]" in China time, or Unix milliseconds.
    A header line starting with "id," is skipped; LF or CRLF line ends. A bad line, a time
    before 2000 or after tomorrow, an offset beyond ±14:00, or a file without a single row
    refuses the whole file.
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
            let store = try HistoryStore(path: "\(directory)/situation.sqlite")
            let added = try store.upsert(records)
            if added > 0 { try store.markImported() }
            print("imported \(records.count) incidents (\(added) new, \(records.count - added) already known)"
                + (added > 0 ? "; the running plugin recomputes yesterday's colours and warns of any rise" : ""))
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

    /// The earliest time an imported incident may have: 2000-01-01T00:00:00Z.
    static let earliest: Int64 = 946_684_800_000

    /// Every row, or an error naming the first bad line; a file without rows is an error.
    public static func parse(csv text: String, now: Int64? = nil) throws(ImportError) -> [HistoryRecord] {
        let now = now ?? Int64(Date().timeIntervalSince1970 * 1_000)
        var records: [HistoryRecord] = []
        var seen: Set<String> = []
        var number = 0
        // Character-wise: "\r\n" is one Character, so splitting on "\n" alone would see one line.
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            number += 1
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || (number == 1 && line.hasPrefix("id,")) { continue }
            func bad(_ why: String) -> ImportError { ImportError(message: "line \(number): \(why)") }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 5 || fields.count == 6 else { throw bad("expected id,time,type,lon,lat[,place_type], got \(fields.count) fields") }
            guard (1...64).contains(fields[0].utf8.count) else { throw bad("id must be 1 to 64 bytes") }
            guard seen.insert(fields[0]).inserted else { throw bad("id \(fields[0]) appears twice") }
            guard let at = time(fields[1]) else {
                throw bad("time \"\(fields[1])\" is not ISO 8601 with an offset within ±14:00, yyyy-mm-dd hh:mm[:ss] or Unix milliseconds")
            }
            guard (earliest...now + 86_400_000).contains(at) else { throw bad("time \"\(fields[1])\" is before 2000 or after tomorrow") }
            guard (1...32).contains(fields[2].utf8.count) else { throw bad("type must be 1 to 32 bytes") }
            guard let lon = Double(fields[3]), let lat = Double(fields[4]), (-180...180).contains(lon), (-90...90).contains(lat) else {
                throw bad("lon,lat \(fields[3]),\(fields[4]) is not a WGS84 position")
            }
            let placeType = fields.count == 6 ? fields[5] : ""
            guard placeType.utf8.count <= 32 else { throw bad("place_type longer than 32 bytes") }
            records.append(HistoryRecord(id: fields[0], at: at, type: fields[2], longitude: lon, latitude: lat, placeType: placeType))
            guard records.count <= maxRows else { throw bad("more than \(maxRows) rows; split the file") }
        }
        guard !records.isEmpty else { throw ImportError(message: "no incident rows (expected id,time,type,lon,lat[,place_type] lines)") }
        return records
    }

    /// Unix milliseconds of a time written as ISO 8601 with an offset, as China-time
    /// "yyyy-mm-dd hh:mm[:ss]", or as Unix milliseconds.
    static func time(_ text: String) -> Int64? {
        if let milliseconds = Int64(text), milliseconds > 0 { return milliseconds }
        if text.contains("T") {
            guard hasPlausibleOffset(text) else { return nil }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1_000).rounded()) }
        }
        return ChinaTime.parse(text)
    }

    /// "Z", or an offset of at most ±14:00 (the widest in use); the formatter takes +99:00.
    static func hasPlausibleOffset(_ text: String) -> Bool {
        if text.hasSuffix("Z") { return true }
        let tail = text.suffix(6)
        guard tail.count == 6, tail.first == "+" || tail.first == "-", tail.dropFirst(3).first == ":",
              let hours = Int(tail.dropFirst().prefix(2)), let minutes = Int(tail.suffix(2)) else { return false }
        return hours * 60 + minutes <= 14 * 60 && minutes < 60
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang situation import: \(message)\n".utf8))
        return 1
    }
}
