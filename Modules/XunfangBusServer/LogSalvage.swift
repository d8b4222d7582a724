import Foundation
import XunfangProto

/// Checking and repairing the durable log's segment files, for the bus at start (its last
/// segment) and for `xunfang bus log check` / `repair` (every segment).
///
/// Damaged bytes are never thrown away: they are copied to `<log>/quarantine/` before a
/// segment is rewritten with its intact records only.
public enum LogSalvage {
    /// What one segment holds, and what of it could not be read.
    public struct SegmentReport: Sendable {
        public let number: Int
        public let path: String
        public let bytes: Int
        public let records: Int
        public let messages: ClosedRange<UInt64>?
        public let damage: [DamagedRange]
        public var isIntact: Bool { damage.isEmpty }
    }

    public struct DamagedRange: Sendable {
        public let offset: Int
        public let length: Int
        /// "torn tail" (an unacknowledged write cut short by a crash) or "corrupt".
        public let kind: String
        /// Messages whose record headers could still be read inside the damage.
        public let recognisable: [(sequence: UInt64, topic: String)]
        /// Sequences between the intact messages on either side of the damage: what it most likely held.
        public let missingSequences: ClosedRange<UInt64>?
        /// Where the bytes were copied, after a repair.
        public var quarantinedTo: String?
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    static func segmentPath(_ directory: String, _ number: Int) -> String {
        "\(directory)/\(String(format: "%020d", number)).log"
    }

    static func segmentNumbers(in directory: String) throws -> [Int] {
        try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".log") }
            .compactMap { Int($0.dropLast(4)) }
            .sorted()
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure(description: "cannot read \(path)") }
        return [UInt8](data)
    }

    /// Every segment, read but not changed.
    public static func check(directory: String) throws -> [SegmentReport] {
        try segmentNumbers(in: directory).map { number in
            let path = segmentPath(directory, number)
            let bytes = try read(path)
            return report(number: number, path: path, bytes: bytes, scan: SegmentScan(bytes))
        }
    }

    /// Every damaged segment quarantined and rewritten; returns what was found.
    public static func repair(directory: String, files: any SegmentFiles = SystemSegmentFiles()) throws -> [SegmentReport] {
        try segmentNumbers(in: directory).map { number in
            let path = segmentPath(directory, number)
            let bytes = try read(path)
            return try salvage(number: number, path: path, bytes: bytes, scan: SegmentScan(bytes), directory: directory, files: files).report
        }
    }

    /// For the log fuzzer: reading `bytes` as a segment accounts for every byte exactly
    /// once (as a record or as damage, in order), and the salvaged segment reads back as
    /// the same records with no damage. Traps when either does not hold.
    public static func checkScanInvariants(_ bytes: [UInt8]) {
        let scan = SegmentScan(bytes)
        var pieces = scan.records.map { $0.offset..<($0.offset + $0.length) } + scan.damage.map(\.range)
        pieces.sort { $0.lowerBound < $1.lowerBound }
        var covered = 0
        for piece in pieces {
            precondition(piece.lowerBound == covered && !piece.isEmpty, "segment scan skipped or overlapped bytes at \(covered)")
            covered = piece.upperBound
        }
        precondition(covered == bytes.count, "segment scan stopped at \(covered) of \(bytes.count)")
        let again = SegmentScan(scan.salvaged(from: bytes))
        precondition(again.isIntact && again.records.count == scan.records.count, "salvage does not read back as its records")
    }

    /// Copies the damage aside and rewrites the segment with its intact records.
    static func salvage(number: Int, path: String, bytes: [UInt8], scan: SegmentScan, directory: String,
                        files: any SegmentFiles) throws -> (report: SegmentReport, scan: SegmentScan) {
        var report = report(number: number, path: path, bytes: bytes, scan: scan)
        guard !scan.isIntact else { return (report, scan) }
        let quarantine = "\(directory)/quarantine"
        try FileManager.default.createDirectory(atPath: quarantine, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var damage = report.damage
        for index in damage.indices {
            let range = scan.damage[index].range
            let side = "\(quarantine)/\(String(format: "%020d", number))-at-\(range.lowerBound).bad"
            try writeDurably(Array(bytes[range]), to: side, files: files)
            damage[index].quarantinedTo = side
        }
        files.syncDirectory(quarantine)
        let salvaged = scan.salvaged(from: bytes)
        try writeDurably(salvaged, to: path + ".salvaged", files: files)
        guard rename(path + ".salvaged", path) == 0 else { throw SegmentFileError("rename", path, code: errno) }
        files.syncDirectory(directory)
        report = SegmentReport(number: number, path: path, bytes: bytes.count, records: report.records, messages: report.messages, damage: damage)
        return (report, SegmentScan(salvaged))
    }

    private static func writeDurably(_ bytes: [UInt8], to path: String, files: any SegmentFiles) throws {
        try? files.remove(path)
        let descriptor = try files.openForAppend(path, create: true)
        defer { files.close(descriptor) }
        try bytes.withUnsafeBytes { try files.write(descriptor, $0, path: path) }
        try files.sync(descriptor, path: path)
    }

    static func report(number: Int, path: String, bytes: [UInt8], scan: SegmentScan) -> SegmentReport {
        let sequences = scan.records.compactMap { record -> UInt64? in
            if case .message(let message)? = record.record.kind { return message.sequence }
            return nil
        }
        let placed = scan.records.compactMap { record -> (offset: Int, sequence: UInt64)? in
            if case .message(let message)? = record.record.kind { return (record.offset, message.sequence) }
            return nil
        }
        let damage = scan.damage.map { damaged in
            let before = placed.last { $0.offset < damaged.range.lowerBound }?.sequence
            let after = placed.first { $0.offset >= damaged.range.upperBound }?.sequence
            var missing: ClosedRange<UInt64>?
            if let before, let after, after > before + 1 { missing = (before + 1)...(after - 1) }
            return DamagedRange(offset: damaged.range.lowerBound, length: damaged.range.count, kind: damaged.kind.rawValue,
                                recognisable: recognisableMessages(in: Array(bytes[damaged.range])), missingSequences: missing)
        }
        return SegmentReport(number: number, path: path, bytes: bytes.count, records: scan.records.count,
                             messages: sequences.min().flatMap { low in sequences.max().map { low...$0 } }, damage: damage)
    }

    /// Messages in damaged bytes whose bodies still parse though their checksums fail:
    /// their sequence and topic tell an operator what was lost (they may be garbled).
    static func recognisableMessages(in bytes: [UInt8]) -> [(sequence: UInt64, topic: String)] {
        var found: [(UInt64, String)] = []
        var offset = 0
        while offset + SegmentScan.headerBytes <= bytes.count {
            let length = Int(UInt32(bigEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }))
            let end = offset + SegmentScan.headerBytes + length
            guard length > 0, end <= bytes.count,
                  let record = try? Xunfang_Bus_V1_LogRecord(serializedBytes: Array(bytes[(offset + SegmentScan.headerBytes)..<end])) else {
                offset += 1
                continue
            }
            if case .message(let message)? = record.kind, message.sequence > 0 { found.append((message.sequence, message.topic)) }
            offset = end
        }
        return found
    }
}
