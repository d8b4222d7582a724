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
        var reader = frame
        // Frame.publish (field 4, length-delimited) must be the only field.
        guard reader.readInteger(as: UInt8.self) == 4 << 3 | 2,
              let length = WireScan.varint(&reader), length == UInt64(reader.readableBytes) else { return nil }
        var topic: String?
        var payload: ByteBuffer?
        var messageID: String?
        var receiptRef: UInt64?
        while reader.readableBytes > 0 {
            guard let tag = reader.readInteger(as: UInt8.self) else { return nil }
            switch tag {
            case 1 << 3 | 2:
                guard topic == nil, let text = WireScan.string(&reader, reusing: &recentTopic) else { return nil }
                topic = text
            case 2 << 3 | 2:
                guard payload == nil, let bytes = WireScan.delimited(&reader) else { return nil }
                payload = bytes
            case 4 << 3 | 2:
                guard messageID == nil, let text = WireScan.string(&reader) else { return nil }
                messageID = text
            case 5 << 3:
                guard receiptRef == nil, let value = WireScan.varint(&reader) else { return nil }
                receiptRef = value
            default:
                return nil
            }
        }
        self.topic = topic ?? ""
        self.payload = payload ?? ByteBuffer()
        self.messageID = messageID ?? ""
        self.receiptRef = receiptRef ?? 0
    }

    public var payloadBytes: Int { payload.readableBytes }
}

/// The few protobuf primitives the in-place readers need. Strict where protobuf is
/// lenient (over-long varints), because a decline only means the generated decoder runs.
enum WireScan {
    static func delimited(_ reader: inout ByteBuffer) -> ByteBuffer? {
        guard let length = varint(&reader), length <= UInt64(reader.readableBytes) else { return nil }
        return reader.readSlice(length: Int(length))
    }

    static func string(_ reader: inout ByteBuffer) -> String? {
        guard let bytes = delimited(&reader) else { return nil }
        return text(bytes)
    }

    /// `string(_:)`, returning `recent` itself when the bytes spell it, and remembering
    /// what was read otherwise.
    static func string(_ reader: inout ByteBuffer, reusing recent: inout String) -> String? {
        guard let bytes = delimited(&reader) else { return nil }
        let same = bytes.withUnsafeReadableBytes { raw in
            recent.utf8.withContiguousStorageIfAvailable { known in
                known.count == raw.count && (raw.isEmpty || memcmp(known.baseAddress!, raw.baseAddress!, raw.count) == 0)
            }
        }
        if same == true { return recent }
        guard let text = text(bytes) else { return nil }
        recent = text
        return text
    }

    private static func text(_ bytes: ByteBuffer) -> String? {
        // Over a concrete buffer type the validation is specialised; over ByteBufferView
        // it ran through generic metadata lookups on every message.
        bytes.withUnsafeReadableBytes { raw in
            // Topics, ids and names are ASCII in practice, and ASCII needs no validation:
            // String(validating:) instantiates generic metadata on every call.
            if raw.allSatisfy({ $0 < 0x80 }) { return String(decoding: raw, as: UTF8.self) }
            return String(validating: raw.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
        }
    }

    static func varint(_ reader: inout ByteBuffer) -> UInt64? {
        var value: UInt64 = 0
        for shift in stride(from: UInt64(0), to: 64, by: 7) {
            guard let byte = reader.readInteger(as: UInt8.self) else { return nil }
            if shift == 63 && byte > 1 { return nil }
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 {
                if shift > 0 && byte == 0 { return nil }
                return value
            }
        }
        return nil
    }
}
