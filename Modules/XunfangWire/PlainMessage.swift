public import Foundation
public import NIOCore

/// A message's payload as it arrived: a slice of a socket read, or an in-process
/// publisher's `Data`.
public enum PlainPayload {
    case received(ByteBuffer)
    case data(Data)

    public var count: Int {
        switch self {
        case .received(let buffer): buffer.readableBytes
        case .data(let data): data.count
        }
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch self {
        case .received(let buffer): buffer.withUnsafeReadableBytes(body)
        case .data(let data): data.withUnsafeBytes(body)
        }
    }
}

/// A message the bus passes through without decoding it: what `PlainPublish` read in
/// place (or an in-process client handed over), plus what the bus adds. Socket
/// deliveries are written straight from its parts, so the payload is copied once, from
/// the publisher's read buffer to the subscriber's write buffer, and nothing is
/// allocated for the encoding.
public struct PlainMessage {
    public var topic: String
    public var payload: PlainPayload
    /// The publisher's id, or empty when the bus numbered the message (`number`).
    public var givenID: String
    public var number: UInt64
    public var ids: MessageIDs
    public var publisher: String
    public var publishedAtUnixMs: Int64

    public init(topic: String, payload: PlainPayload, givenID: String, number: UInt64, ids: MessageIDs, publisher: String, publishedAtUnixMs: Int64) {
        self.topic = topic
        self.payload = payload
        self.givenID = givenID
        self.number = number
        self.ids = ids
        self.publisher = publisher
        self.publishedAtUnixMs = publishedAtUnixMs
    }

    public var messageID: String { givenID.isEmpty ? ids.string(number) : givenID }
}

/// The ids a bus gives messages published without one: its boot id, a dash and a
/// counter in base 36. Seven random characters and up to seven digits keep every id
/// within 15 bytes, which Swift stores inline: no allocation where an id is read.
public struct MessageIDs: Sendable {
    /// The boot id and the dash, eight bytes kept in an integer so that copying a
    /// message's parts retains nothing for it.
    private let prefix: UInt64
    static let prefixBytes = 8
    static let maximumBytes = 15

    /// `bootID` is seven ASCII characters.
    public init(bootID: String) {
        let bytes = Array(bootID.utf8.prefix(7)) + [UInt8(ascii: "-")]
        precondition(bytes.count == Self.prefixBytes, "a boot id has seven characters")
        prefix = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    /// The id as text; up to 36^7 - 1 it is within 15 bytes and allocates nothing.
    public func string(_ number: UInt64) -> String {
        let count = byteCount(number)
        guard count <= Self.maximumBytes else {
            return withUnsafeBytes(of: prefix) { String(decoding: $0, as: UTF8.self) } + String(number, radix: 36)
        }
        return String(unsafeUninitializedCapacity: count) { space in
            let raw = UnsafeMutableRawBufferPointer(space)
            var writer = RawWriter(raw)
            write(number, into: &writer)
            return writer.offset
        }
    }

    func byteCount(_ number: UInt64) -> Int {
        var digits = 1
        var rest = number / 36
        while rest > 0 {
            digits += 1
            rest /= 36
        }
        return Self.prefixBytes + digits
    }

    func write(_ number: UInt64, into writer: inout RawWriter) {
        withUnsafeBytes(of: prefix) { writer.bytes($0) }
        writer.base36(number, digits: byteCount(number) - Self.prefixBytes)
    }
}

extension PlainMessage {
    /// The bytes of `Deliver` fields 2, 3, 5, 7 and 9: everything but the subscription id
    /// and the attempt, as `FrameEncoder.writeDeliver(sharedFields:)` takes them.
    public var sharedFieldsSize: Int {
        let topicBytes = topic.utf8.count
        let payloadBytes = payload.count
        let idBytes = givenID.isEmpty ? ids.byteCount(number) : givenID.utf8.count
        let publisherBytes = publisher.utf8.count
        var size = fieldSize(topicBytes) + fieldSize(idBytes)
        if payloadBytes > 0 { size += fieldSize(payloadBytes) }
        if publisherBytes > 0 { size += fieldSize(publisherBytes) }
        if publishedAtUnixMs != 0 { size += 1 + FrameEncoder.varintSize(UInt64(bitPattern: publishedAtUnixMs)) }
        return size
    }

    func writeSharedFields(into writer: inout RawWriter) {
        writer.field(2, topic)
        if payload.count > 0 { writer.field(3, payload) }
        if givenID.isEmpty {
            writer.byte(5 << 3 | 2)
            writer.varint(UInt64(ids.byteCount(number)))
            ids.write(number, into: &writer)
        } else {
            writer.field(5, givenID)
        }
        if !publisher.isEmpty { writer.field(7, publisher) }
        if publishedAtUnixMs != 0 {
            writer.byte(9 << 3)
            writer.varint(UInt64(bitPattern: publishedAtUnixMs))
        }
    }

    /// The shared fields in a buffer of their own, for a message bound for many
    /// subscribers or for a queue.
    public var sharedFields: ByteBuffer {
        let size = sharedFieldsSize
        var out = ByteBufferAllocator().buffer(capacity: size)
        out.writeFrame(size: size) { writeSharedFields(into: &$0) }
        return out
    }
}

extension FrameEncoder {
    /// Appends `Frame{deliver}` for `message`, the fields in the order
    /// `writeDeliver(sharedFields:)` uses.
    public static func writeDeliver(_ message: PlainMessage, subscriptionID: UInt64, attempt: UInt32, into out: inout ByteBuffer) {
        writeDeliver(subscriptionID: subscriptionID, attempt: attempt, sharedSize: message.sharedFieldsSize, into: &out) {
            message.writeSharedFields(into: &$0)
        }
    }
}
