public import NIOCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A `Frame{publish}` without headers, read in place from the receive buffer.
///
/// Most traffic is plain publishes that the bus passes through untouched. Reading them
/// without building a `Frame` (no message storage, no payload copy) and encoding the
/// subscribers' `Deliver` fields straight from the received bytes halves the bus's work
/// per message. Anything unusual (headers, unknown or repeated fields, bad UTF-8) is
/// left to the generated decoder, so both paths accept and refuse exactly the same frames.
public struct PlainPublish {
    public let topic: String
    public let messageID: String
    public let receiptRef: UInt64
    public let payload: ByteBuffer

    /// `frame` is one frame's protobuf bytes (after the 5-byte prefix and inflation).
    public init?(frame: ByteBuffer) {
        var recentTopic = ""
        self.init(frame: frame, recentTopic: &recentTopic)
    }

    /// Reuses `recentTopic` when the frame's topic spells it: a publisher mostly repeats
    /// a few topics, and then reading one allocates nothing.
    public init?(frame: ByteBuffer, recentTopic: inout String) {
        var topic = ""
        var payload: Range<Int>?
        var messageID = ""
        var receiptRef: UInt64 = 0
        let read = RawReader.fields(of: 4, in: frame) { tag, reader in
            switch tag {
            case 1 << 3 | 2:
                guard let range = reader.delimited(), let text = reader.string(range, reusing: &recentTopic) else { return false }
                topic = text
            case 2 << 3 | 2:
                payload = reader.delimited()
                return payload != nil
            case 4 << 3 | 2:
                guard let range = reader.delimited(), let text = reader.string(range) else { return false }
                messageID = text
            case 5 << 3:
                guard let value = reader.varint() else { return false }
                receiptRef = value
            default:
                return false
            }
            return true
        }
        guard read else { return nil }
        self.topic = topic
        self.payload = RawReader.slice(frame, payload)
        self.messageID = messageID
        self.receiptRef = receiptRef
    }
}

/// Reads the few protobuf primitives the in-place readers need from raw bytes. Strict
/// where protobuf is lenient (over-long varints), because a decline only means the
/// generated decoder runs.
struct RawReader {
    private let raw: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ raw: UnsafeRawBufferPointer) {
        self.raw = raw
    }

    /// Reads `frame` as a `Frame` whose only field is `kind`, a message, handing each of
    /// that message's fields to `field`: its tag, and the reader at its value. A field
    /// number seen twice declines (protobuf's last-one-wins is the generated decoder's
    /// business), as does `field` returning false.
    static func fields(of kind: UInt8, in frame: ByteBuffer, _ field: (_ tag: UInt8, _ reader: inout RawReader) -> Bool) -> Bool {
        frame.withUnsafeReadableBytes { raw in
            var reader = RawReader(raw)
            guard reader.byte() == kind << 3 | 2, let length = reader.varint(), length == UInt64(reader.remaining) else { return false }
            var seen: UInt32 = 0
            while !reader.isAtEnd {
                guard let tag = reader.byte(), seen & (1 << (tag >> 3)) == 0 else { return false }
                seen |= 1 << (tag >> 3)
                guard field(tag, &reader) else { return false }
            }
            return true
        }
    }

    /// The bytes at `range` of what `fields(of:in:_:)` read, as a slice of `frame`.
    static func slice(_ frame: ByteBuffer, _ range: Range<Int>?) -> ByteBuffer {
        guard let range else { return ByteBuffer() }
        return frame.getSlice(at: frame.readerIndex + range.lowerBound, length: range.count)!
    }

    var remaining: Int { raw.count - offset }
    var isAtEnd: Bool { offset >= raw.count }

    mutating func byte() -> UInt8? {
        guard offset < raw.count else { return nil }
        defer { offset += 1 }
        return raw[offset]
    }

    mutating func uint32() -> UInt32? {
        varint().flatMap { UInt32(exactly: $0) }
    }

    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        for shift in stride(from: UInt64(0), to: 64, by: 7) {
            guard let byte = byte() else { return nil }
            if shift == 63 && byte > 1 { return nil }
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 {
                if shift > 0 && byte == 0 { return nil }
                return value
            }
        }
        return nil
    }

    /// A length-delimited field's bytes, as offsets into the frame.
    mutating func delimited() -> Range<Int>? {
        guard let length = varint(), length <= UInt64(remaining) else { return nil }
        defer { offset += Int(length) }
        return offset..<(offset + Int(length))
    }

    func string(_ range: Range<Int>) -> String? {
        let bytes = UnsafeRawBufferPointer(rebasing: raw[range])
        // Topics, ids and names are ASCII in practice, and ASCII needs no validation.
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        return String(validating: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
    }

    /// `string(_:)`, returning `recent` itself when the bytes spell it (no allocation),
    /// and remembering what was read otherwise.
    func string(_ range: Range<Int>, reusing recent: inout String) -> String? {
        let same = recent.utf8.withContiguousStorageIfAvailable { known in
            known.count == range.count && (range.isEmpty || memcmp(known.baseAddress!, raw.baseAddress! + range.lowerBound, range.count) == 0)
        }
        if same == true { return recent }
        guard let text = string(range) else { return nil }
        recent = text
        return text
    }
}
