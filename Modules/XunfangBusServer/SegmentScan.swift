import XunfangProto
import XunfangCodec
import XunfangWire

/// One segment file's bytes read as records: `[u32 BE length][u32 BE CRC-32C][body]`.
///
/// Reading never stops at the first bad record. After one, the scan looks for the next
/// offset where an intact record starts and carries on from there, so a flipped byte
/// costs the record it is in, not everything after it. What could not be read is
/// reported as damage: a *torn tail* when the file ends inside a record whose length
/// runs past the end (a write cut short by a crash, never acknowledged), *corruption*
/// otherwise (intact-looking bytes that fail their checksum, or bad bytes with intact
/// records after them).
struct SegmentScan {
    struct Record {
        let record: Xunfang_Bus_V1_LogRecord
        let offset: Int
        /// Including the 8-byte header.
        let length: Int
    }

    struct Damage: Equatable {
        enum Kind: String { case tornTail = "torn tail", corrupt }
        let range: Range<Int>
        let kind: Kind
    }

    static let headerBytes = 8
    /// No record is larger: a length above this is damage, not a record to wait for.
    static let maxBodyBytes = 64 * 1024 * 1024

    private(set) var records: [Record] = []
    private(set) var damage: [Damage] = []

    init(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            if let (record, length) = Self.decode(bytes, at: offset) {
                records.append(Record(record: record, offset: offset, length: length))
                offset += length
                continue
            }
            guard let next = Self.nextIntactRecord(in: bytes, after: offset) else {
                damage.append(Damage(range: offset..<bytes.count, kind: Self.isIncomplete(bytes, at: offset) ? .tornTail : .corrupt))
                break
            }
            damage.append(Damage(range: offset..<next, kind: .corrupt))
            offset = next
        }
    }

    var isIntact: Bool { damage.isEmpty }
    var hasCorruption: Bool { damage.contains { $0.kind == .corrupt } }

    /// The intact records laid end to end: the segment as it should have been.
    func salvaged(from bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(records.reduce(0) { $0 + $1.length })
        for record in records { out.append(contentsOf: bytes[record.offset..<(record.offset + record.length)]) }
        return out
    }

    /// The record at `offset` and its size including the header, if it is intact.
    static func decode(_ bytes: [UInt8], at offset: Int) -> (Xunfang_Bus_V1_LogRecord, Int)? {
        guard let length = bodyLength(bytes, at: offset), length <= maxBodyBytes,
              offset + headerBytes + length <= bytes.count else { return nil }
        let crc = UInt32(bigEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) })
        let body = bytes[(offset + headerBytes)..<(offset + headerBytes + length)]
        guard CRC32C.checksum(body) == crc,
              let record = try? Xunfang_Bus_V1_LogRecord(serializedBytes: Array(body)), record.kind != nil else { return nil }
        return (record, headerBytes + length)
    }

    private static func bodyLength(_ bytes: [UInt8], at offset: Int) -> Int? {
        guard offset + headerBytes <= bytes.count else { return nil }
        return Int(UInt32(bigEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }))
    }

    /// A record cut off by the end of the file: too short for a header, a plausible
    /// length that runs past the end, or only zeros (a file extended but never written).
    private static func isIncomplete(_ bytes: [UInt8], at offset: Int) -> Bool {
        if bytes[offset...].allSatisfy({ $0 == 0 }) { return true }
        guard let length = bodyLength(bytes, at: offset) else { return true }
        return length <= maxBodyBytes && offset + headerBytes + length > bytes.count
    }

    private static func nextIntactRecord(in bytes: [UInt8], after offset: Int) -> Int? {
        var candidate = offset + 1
        while candidate + headerBytes <= bytes.count {
            if decode(bytes, at: candidate) != nil { return candidate }
            candidate += 1
        }
        return nil
    }
}
