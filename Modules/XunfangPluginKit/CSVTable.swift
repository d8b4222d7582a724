import Foundation

/// A CSV ledger read against the header it must have (RFC 4180: a quoted field may hold
/// commas, doubled quotes and line breaks; a byte-order mark is dropped; unquoted fields are
/// trimmed; blank lines are skipped). Each row keeps the line it starts on, so an import's
/// errors can name it.
public struct CSVTable: Sendable {
    public struct Row: Sendable {
        public let line: Int
        let fields: [String: String]

        /// The field under `column` ("" for a column the header does not have).
        public subscript(_ column: String) -> String { fields[column] ?? "" }
    }

    public struct Error: Swift.Error, Sendable, Equatable {
        public let line: Int
        public let message: String

        public init(line: Int, message: String) {
            self.line = line
            self.message = message
        }
    }

    public let rows: [Row]

    public init(_ text: String, header: [String]) throws(CSVTable.Error) {
        let records = Self.records(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text)
        guard let first = records.first, first.fields == header else {
            throw Error(line: 1, message: "the header must be \(header.joined(separator: ","))")
        }
        var rows: [Row] = []
        for record in records.dropFirst() {
            guard record.fields.count == header.count else {
                throw Error(line: record.line, message: "\(record.fields.count) fields; a line is \(header.joined(separator: ","))")
            }
            rows.append(Row(line: record.line, fields: Dictionary(zip(header, record.fields), uniquingKeysWith: { first, _ in first })))
        }
        self.rows = rows
    }

    /// The records with the line each starts on; blank lines left out.
    static func records(_ text: String) -> [(line: Int, fields: [String])] {
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = [], field = "", quoted = false, wasQuoted = false, line = 1, start = 1
        func endField() {
            fields.append(wasQuoted ? field : field.trimmingCharacters(in: .whitespaces))
            (field, wasQuoted) = ("", false)
        }
        func endRecord() {
            endField()
            if fields.count > 1 || !fields[0].isEmpty { records.append((start, fields)) }
            fields = []
        }
        var characters = Array(text).makeIterator()
        var pending: Character? = characters.next()
        while let character = pending {
            pending = characters.next()
            if quoted {
                if character == "\"" {
                    if pending == "\"" { field.append("\""); pending = characters.next() } else { quoted = false }
                } else {
                    if character == "\n" || character == "\r\n" { line += 1 }
                    field.append(character)
                }
                continue
            }
            switch character {
            case "\"" where field.trimmingCharacters(in: .whitespaces).isEmpty: (quoted, wasQuoted, field) = (true, true, "")
            case ",": endField()
            case "\n", "\r\n", "\r":
                endRecord()
                line += 1
                start = line
            default: field.append(character)
            }
        }
        if !field.isEmpty || !fields.isEmpty || wasQuoted { endRecord() }
        return records
    }
}
